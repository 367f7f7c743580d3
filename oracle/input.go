package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// document is one YAML document of an input file, with where it came from.
type document struct {
	file  string
	index int // 0-based position in its file's stream
	json  []byte
	meta  struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
}

// readDocuments splits every file into its YAML documents (empty ones skipped, as kubectl does).
func readDocuments(files []string) ([]document, error) {
	var docs []document
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for index := 0; ; index++ {
			chunk, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", file, index+1, err)
			}
			js, err := yaml.YAMLToJSON(chunk)
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", file, index+1, err)
			}
			if len(bytes.TrimSpace(js)) == 0 || string(bytes.TrimSpace(js)) == "null" {
				index--
				continue
			}
			doc := document{file: file, index: index, json: js}
			if err := yaml.Unmarshal(js, &doc.meta); err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", file, index+1, err)
			}
			docs = append(docs, doc)
		}
	}
	return docs, nil
}

// readConfigMaps reads a YAML stream of ConfigMaps, by name.
func readConfigMaps(file string) (map[string]*corev1.ConfigMap, error) {
	out := map[string]*corev1.ConfigMap{}
	if file == "" {
		return out, nil
	}
	docs, err := readDocuments([]string{file})
	if err != nil {
		return nil, err
	}
	for _, doc := range docs {
		cm := &corev1.ConfigMap{}
		if err := yaml.UnmarshalStrict(doc.json, cm); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, doc.index+1, err)
		}
		out[cm.Name] = cm
	}
	return out, nil
}

// history is the part of kservice's RevisionHistory file (lib/cli/history.ts) the oracle needs:
// each service's Configuration generation and the templates of its earlier revisions, i.e. what
// Knative's Configuration would have stamped out on earlier applies.
type history struct {
	Services []struct {
		Namespace  string `json:"namespace"`
		Name       string `json:"name"`
		Generation int64  `json:"generation"`
		Revisions  []struct {
			Name       string          `json:"name"`
			Generation int64           `json:"generation"`
			Template   json.RawMessage `json:"template"`
		} `json:"revisions"`
	} `json:"services"`
}

func readHistory(file string) (*history, error) {
	h := &history{}
	if file == "" {
		return h, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(raw, h); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return h, nil
}
