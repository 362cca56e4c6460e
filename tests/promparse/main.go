// promparse: Prometheus's own PromQL parser (github.com/prometheus/prometheus/promql/parser, pinned in
// go.mod to the version Debian's prometheus package is built from) as a filter for the differential
// test of webscale's namespace confiner (tests/unit/test_promql_differential.py).
//
// Input: one JSON string per line on stdin (a PromQL query). Output: one JSON object per line, in order:
//
//	{"error": "<parse error>"}
//	{"expr": "<expr.String()>", "selectors": [{"kind": "vector"|"matrix", "name": "...",
//	  "matchers": [{"type": "=", "name": "namespace", "value": "shop"}, ...]}, ...]}
//
// Every VectorSelector and MatrixSelector of the AST is listed (a MatrixSelector's matchers are those of
// the VectorSelector it wraps, which is listed too). A line that is not a JSON string gets
// {"error": "bad input: ..."}; the program stops only at the end of its input.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

type matcher struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

type selector struct {
	Kind     string    `json:"kind"`
	Name     string    `json:"name"`
	Matchers []matcher `json:"matchers"`
}

type result struct {
	Error     string     `json:"error,omitempty"`
	Expr      string     `json:"expr,omitempty"`
	Selectors []selector `json:"selectors,omitempty"`
}

func describe(kind string, vs *parser.VectorSelector) selector {
	out := selector{Kind: kind, Name: vs.Name, Matchers: []matcher{}}
	for _, m := range vs.LabelMatchers {
		out.Matchers = append(out.Matchers, matcher{Type: matchType(m.Type), Name: m.Name, Value: m.Value})
	}
	return out
}

func matchType(t labels.MatchType) string {
	return t.String()
}

func parse(query string) (res result) {
	defer func() {
		if r := recover(); r != nil {
			res = result{Error: fmt.Sprintf("panic: %v", r)}
		}
	}()
	expr, err := parser.ParseExpr(query)
	if err != nil {
		return result{Error: err.Error()}
	}
	res.Expr = expr.String()
	res.Selectors = []selector{}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			res.Selectors = append(res.Selectors, describe("vector", n))
		case *parser.MatrixSelector:
			if vs, ok := n.VectorSelector.(*parser.VectorSelector); ok {
				res.Selectors = append(res.Selectors, describe("matrix", vs))
			} else {
				res.Selectors = append(res.Selectors, selector{Kind: "matrix", Matchers: []matcher{}})
			}
		}
		return nil
	})
	return res
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<16), 1<<26)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		var query string
		res := result{}
		if err := json.Unmarshal(in.Bytes(), &query); err != nil {
			res.Error = "bad input: " + err.Error()
		} else {
			res = parse(query)
		}
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, "promparse:", err)
			os.Exit(1)
		}
		if err := out.Flush(); err != nil {
			fmt.Fprintln(os.Stderr, "promparse:", err)
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "promparse:", err)
		os.Exit(1)
	}
}
