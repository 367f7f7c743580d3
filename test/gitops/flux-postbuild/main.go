// flux-postbuild runs Flux's post-build variable substitution over a YAML stream: the function
// kustomize-controller calls on every object after `kustomize build` (github.com/fluxcd/pkg/kustomize
// SubstituteVariables), as a Flux Kustomization whose spec.postBuild.substitute holds the
// NAME=VALUE arguments would. Test support for test/gitops/flux-postbuild.test.ts: it shows which
// strings of a compiled graph Flux would rewrite, with Flux's own code rather than a guess.
//
// Usage: flux-postbuild [NAME=VALUE...] < stream.yaml > substituted.yaml
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/provider"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "flux-postbuild:", err)
		os.Exit(1)
	}
}

func run(args []string, in io.Reader, out io.Writer) error {
	vars := map[string]interface{}{}
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("argument %q: want NAME=VALUE", a)
		}
		vars[name] = value
	}
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	// Only spec.postBuild.substitute is read; dry run keeps substituteFrom (ConfigMaps, Secrets
	// read from a cluster) out of it.
	kustomization := unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
		"kind":       "Kustomization",
		"spec":       map[string]interface{}{"postBuild": map[string]interface{}{"substitute": vars}},
	}}
	resources, err := provider.NewDefaultDepProvider().GetResourceFactory().SliceFromBytes(data)
	if err != nil {
		return err
	}
	for i, res := range resources {
		substituted, err := kustomize.SubstituteVariables(context.Background(), nil, kustomization, res, kustomize.SubstituteWithDryRun(true))
		if err != nil {
			return fmt.Errorf("document %d (%s %s): %w", i+1, res.GetKind(), res.GetName(), err)
		}
		if substituted == nil { // the object opted out (kustomize.toolkit.fluxcd.io/substitute: disabled)
			substituted = res
		}
		text, err := substituted.AsYAML()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "---\n%s", text)
	}
	return nil
}
