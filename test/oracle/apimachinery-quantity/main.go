// Command apimachinery-quantity prints what Kubernetes writes for each quantity it is given: the
// real k8s.io/apimachinery resource.Quantity, decoded from JSON as the API server decodes an
// object (UnmarshalJSON: a JSON string or a JSON number, surrounding space trimmed) and encoded
// again as it stores the object (MarshalJSON: the canonical form, see Quantity.CanonicalizeBytes
// in pkg/api/resource/quantity.go). test/oracle/quantity-apimachinery.test.ts compares
// lib/contract/quantity.ts with it.
//
// Input (stdin): a JSON array of quantities, each a JSON string or number.
// Output (stdout): a JSON array, one entry per input: {"quantity": "..."} or {"error": "..."}.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/api/resource"
)

type result struct {
	Quantity *string `json:"quantity,omitempty"`
	Error    string  `json:"error,omitempty"`
}

func canonical(raw json.RawMessage) result {
	var q resource.Quantity
	if err := json.Unmarshal(raw, &q); err != nil {
		return result{Error: err.Error()}
	}
	out, err := json.Marshal(q)
	if err != nil {
		return result{Error: err.Error()}
	}
	var s string
	if err := json.Unmarshal(out, &s); err != nil {
		return result{Error: err.Error()}
	}
	return result{Quantity: &s}
}

func main() {
	var inputs []json.RawMessage
	if err := json.NewDecoder(os.Stdin).Decode(&inputs); err != nil {
		fmt.Fprintln(os.Stderr, "apimachinery-quantity: stdin must be a JSON array:", err)
		os.Exit(2)
	}
	results := make([]result, len(inputs))
	for i, raw := range inputs {
		results[i] = canonical(raw)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "apimachinery-quantity:", err)
		os.Exit(1)
	}
}
