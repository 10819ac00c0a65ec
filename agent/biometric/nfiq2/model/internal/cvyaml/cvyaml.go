// Package cvyaml reads a random forest from the YAML that OpenCV's FileStorage writes for
// cv::ml::RTrees (format 3), the form NIST distributes the NFIQ 2 model in. It reads
// only what the NFIQ 2 forest uses and refuses anything else (categorical splits,
// surrogate splits, a non-identity variable index, more than two classes), so a model
// it accepts is evaluated exactly as OpenCV would.
package cvyaml

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/captura-claim/captura/agent/biometric/nfiq2/model"
)

// Forest is what the parser found.
type Forest struct {
	Features int
	Trees    [][]model.Node
}

type rawNode struct {
	depth    int
	value    float64
	hasValue bool
	splits   []map[string]string
}

// Parse reads an OpenCV RTrees YAML file.
func Parse(r io.Reader) (*Forest, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var (
		header    = map[string]string{}
		inTrees   bool
		trees     [][]*rawNode
		cur       *rawNode
		pendingKV string // a flow mapping continued on the next line
		listKey   string // a flow sequence continued on the next lines
		listVal   strings.Builder
		lineNo    int
	)
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "%YAML") || line == "---" {
			continue
		}
		if listKey != "" {
			listVal.WriteString(" " + line)
			if strings.HasSuffix(line, "]") {
				header[listKey] = listVal.String()
				listKey = ""
			}
			continue
		}
		if pendingKV != "" {
			pendingKV += " " + line
			if !strings.HasSuffix(line, "}") {
				continue
			}
			m, err := flowMap(pendingKV)
			if err != nil {
				return nil, fmt.Errorf("cvyaml: line %d: %w", lineNo, err)
			}
			cur.splits = append(cur.splits, m)
			pendingKV = ""
			continue
		}
		if !inTrees {
			key, val, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("cvyaml: line %d: unexpected %q", lineNo, line)
			}
			val = strings.TrimSpace(val)
			switch {
			case key == "trees":
				inTrees = true
			case strings.HasPrefix(val, "[") && !strings.HasSuffix(val, "]"):
				listKey = key
				listVal.Reset()
				listVal.WriteString(val)
			default:
				header[key] = val
			}
			continue
		}
		switch {
		case line == "-":
			// A new tree or a new node; "nodes:" follows a new tree.
			cur = nil
		case line == "nodes:":
			trees = append(trees, nil)
		case strings.HasPrefix(line, "- {"):
			if cur == nil {
				return nil, fmt.Errorf("cvyaml: line %d: split outside a node", lineNo)
			}
			pendingKV = strings.TrimPrefix(line, "- ")
			if strings.HasSuffix(line, "}") {
				m, err := flowMap(pendingKV)
				if err != nil {
					return nil, fmt.Errorf("cvyaml: line %d: %w", lineNo, err)
				}
				cur.splits = append(cur.splits, m)
				pendingKV = ""
			}
		case line == "splits:":
			if cur == nil {
				return nil, fmt.Errorf("cvyaml: line %d: splits outside a node", lineNo)
			}
		default:
			key, val, ok := strings.Cut(line, ":")
			if !ok || len(trees) == 0 {
				return nil, fmt.Errorf("cvyaml: line %d: unexpected %q", lineNo, line)
			}
			val = strings.TrimSpace(val)
			if cur == nil {
				cur = &rawNode{depth: -1}
				t := &trees[len(trees)-1]
				*t = append(*t, cur)
			}
			switch key {
			case "depth":
				d, err := strconv.Atoi(val)
				if err != nil {
					return nil, fmt.Errorf("cvyaml: line %d: depth: %w", lineNo, err)
				}
				cur.depth = d
			case "value":
				v, err := strconv.ParseFloat(val, 64)
				if err != nil {
					return nil, fmt.Errorf("cvyaml: line %d: value: %w", lineNo, err)
				}
				cur.value, cur.hasValue = v, true
			case "norm_class_idx":
			default:
				return nil, fmt.Errorf("cvyaml: line %d: unknown node key %q", lineNo, key)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cvyaml: %w", err)
	}
	if pendingKV != "" || listKey != "" {
		return nil, errors.New("cvyaml: truncated file")
	}
	return build(header, trees)
}

func build(h map[string]string, raw [][]*rawNode) (*Forest, error) {
	want := map[string]string{"format": "3", "is_classifier": "1", "class_labels": "[ 0, 1 ]"}
	for k, v := range want {
		if h[k] != v {
			return nil, fmt.Errorf("cvyaml: %s is %q, want %q", k, h[k], v)
		}
	}
	nvars, err := strconv.Atoi(h["var_count"])
	if err != nil || nvars <= 0 || nvars > model.MaxFeatures {
		return nil, fmt.Errorf("cvyaml: bad var_count %q", h["var_count"])
	}
	idx, err := intList(h["var_idx"])
	if err != nil {
		return nil, fmt.Errorf("cvyaml: var_idx: %w", err)
	}
	if len(idx) != nvars {
		return nil, fmt.Errorf("cvyaml: var_idx has %d entries, want %d", len(idx), nvars)
	}
	for i, v := range idx {
		if v != i {
			return nil, errors.New("cvyaml: var_idx is not the identity; not supported")
		}
	}
	types, err := intList(h["var_type"])
	if err != nil {
		return nil, fmt.Errorf("cvyaml: var_type: %w", err)
	}
	if len(types) < nvars {
		return nil, errors.New("cvyaml: var_type too short")
	}
	for i := 0; i < nvars; i++ {
		if types[i] != 0 {
			return nil, fmt.Errorf("cvyaml: variable %d is categorical; not supported", i)
		}
	}
	ntrees, err := strconv.Atoi(h["ntrees"])
	if err != nil || ntrees != len(raw) {
		return nil, fmt.Errorf("cvyaml: ntrees %q but %d trees found", h["ntrees"], len(raw))
	}
	f := &Forest{Features: nvars}
	for ti, t := range raw {
		nodes := make([]model.Node, len(t))
		// Rebuild the tree as OpenCV's reader does (pre-order, a node with a split
		// has a left then a right child) and check the recorded depths against it.
		var stack []int // depths of split nodes waiting for their right child
		depth, pending := 0, 1
		for ni, rn := range t {
			if !rn.hasValue || rn.depth < 0 {
				return nil, fmt.Errorf("cvyaml: tree %d node %d: missing depth or value", ti, ni)
			}
			if pending == 0 {
				return nil, fmt.Errorf("cvyaml: tree %d: nodes after the tree is complete", ti)
			}
			if rn.depth != depth {
				return nil, fmt.Errorf("cvyaml: tree %d node %d: depth %d, structure says %d", ti, ni, rn.depth, depth)
			}
			switch len(rn.splits) {
			case 0:
				nodes[ni] = model.Node{Leaf: true, Value: rn.value}
				pending--
				if len(stack) > 0 {
					depth = stack[len(stack)-1] + 1
					stack = stack[:len(stack)-1]
				}
			case 1:
				s := rn.splits[0]
				v, err := strconv.Atoi(s["var"])
				if err != nil || v < 0 || v >= nvars {
					return nil, fmt.Errorf("cvyaml: tree %d node %d: bad var %q", ti, ni, s["var"])
				}
				le, ok := s["le"]
				if !ok {
					return nil, fmt.Errorf("cvyaml: tree %d node %d: only 'le' splits are supported", ti, ni)
				}
				c, err := strconv.ParseFloat(le, 64)
				if err != nil {
					return nil, fmt.Errorf("cvyaml: tree %d node %d: bad threshold %q", ti, ni, le)
				}
				// OpenCV keeps the threshold as a float.
				nodes[ni] = model.Node{Feature: v, Threshold: float32(c)}
				stack = append(stack, depth)
				depth++
				pending++
			default:
				return nil, fmt.Errorf("cvyaml: tree %d node %d: surrogate splits are not supported", ti, ni)
			}
		}
		if pending != 0 {
			return nil, fmt.Errorf("cvyaml: tree %d is incomplete", ti)
		}
		f.Trees = append(f.Trees, nodes)
	}
	return f, nil
}

// flowMap parses "{ a:1, b:2 }".
func flowMap(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("bad mapping %q", s)
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s[1:len(s)-1], ",") {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return nil, fmt.Errorf("bad mapping entry %q", kv)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m, nil
}

func intList(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("not a list: %q", s)
	}
	var out []int
	for _, f := range strings.Split(s[1:len(s)-1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
