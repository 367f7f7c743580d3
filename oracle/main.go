// Command knative-oracle runs Knative Serving's own code on serving.knative.dev/v1 YAML and
// prints the objects Knative would create, for the differential suite in test/oracle.
//
//	knative-oracle [--config configmaps.yaml] [--history history.yaml] file.yaml...
//
// It does what the webhook and the controllers do, in the order they do it, but without a
// cluster: defaulting and validation (the webhook), then the Service, Configuration, Revision,
// PodAutoscaler, ServerlessService and Route reconcilers' builders, ending at the KIngress a
// networking plugin would turn into gateway configuration. Objects that only exist in a cluster
// (UIDs, the Ingress' load balancer status, the activator's endpoints) are fixed fake values;
// see fakes.go.
//
// Output (stdout, JSON): {"objects": [...], "rejected": [{"file", "document", "kind", "name",
// "message"}]}. Exit code 0 when it ran (even if Knative rejected a document), 2 on usage or
// I/O errors.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	// The controllers run in knative-serving; system.Namespace() reads it from the downward API.
	if os.Getenv("SYSTEM_NAMESPACE") == "" {
		os.Setenv("SYSTEM_NAMESPACE", "knative-serving")
	}
	configFile := flag.String("config", "", "YAML stream of Knative config-* ConfigMaps")
	historyFile := flag.String("history", "", "kservice RevisionHistory file (earlier revisions)")
	flag.BoolVar(&ownRevisionDocuments, "own-revision-documents", false,
		"give Revision documents labelled with a Configuration the ownerReference (and service label) an exported Revision carries")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: knative-oracle [--config configmaps.yaml] [--history history.yaml] file.yaml...")
		os.Exit(2)
	}
	result, err := run(*configFile, *historyFile, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "knative-oracle:", err)
		os.Exit(2)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(result); err != nil {
		fmt.Fprintln(os.Stderr, "knative-oracle:", err)
		os.Exit(2)
	}
}
