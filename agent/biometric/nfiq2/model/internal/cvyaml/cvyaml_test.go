package cvyaml

import (
	"strings"
	"testing"
)

const header = `%YAML:1.0
---
my_random_trees:
   format: 3
   is_classifier: 1
   var_all: 3
   var_count: 2
   ord_var_count: 2
   cat_var_count: 1
   training_params:
      use_surrogates: 0
   global_var_idx: 1
   var_idx: [ 0, 1 ]
   var_type: [ 0, 0,
       1 ]
   class_labels: [ 0, 1 ]
   ntrees: 2
   trees:
`

const trees = `      -
         nodes:
            -
               depth: 0
               value: 1.
               norm_class_idx: 1
               splits:
                  - { var:1, quality:3.75e+03,
                      le:2.7647501230239868e-01 }
            -
               depth: 1
               value: 0.
               norm_class_idx: 0
            -
               depth: 1
               value: 1.
               norm_class_idx: 1
      -
         nodes:
            -
               depth: 0
               value: 0.
               norm_class_idx: 0
`

func TestParse(t *testing.T) {
	f, err := Parse(strings.NewReader(header + trees))
	if err != nil {
		t.Fatal(err)
	}
	if f.Features != 2 || len(f.Trees) != 2 || len(f.Trees[0]) != 3 || len(f.Trees[1]) != 1 {
		t.Fatalf("%+v", f)
	}
	root := f.Trees[0][0]
	if root.Leaf || root.Feature != 1 || root.Threshold != float32(0.27647501230239868) {
		t.Errorf("root %+v", root)
	}
	if !f.Trees[0][2].Leaf || f.Trees[0][2].Value != 1 || f.Trees[1][0].Value != 0 {
		t.Errorf("leaves %+v %+v", f.Trees[0][2], f.Trees[1][0])
	}
}

func TestParseRejects(t *testing.T) {
	for name, src := range map[string]string{
		"regression":  strings.Replace(header, "is_classifier: 1", "is_classifier: 0", 1) + trees,
		"three class": strings.Replace(header, "[ 0, 1 ]\n   ntrees", "[ 0, 1, 2 ]\n   ntrees", 1) + trees,
		"categorical": strings.Replace(header, "var_type: [ 0, 0,", "var_type: [ 0, 1,", 1) + trees,
		"var_idx":     strings.Replace(header, "var_idx: [ 0, 1 ]", "var_idx: [ 1, 0 ]", 1) + trees,
		"ntrees":      strings.Replace(header, "ntrees: 2", "ntrees: 3", 1) + trees,
		"gt split":    header + strings.Replace(trees, "le:2.76", "gt:2.76", 1),
		"bad depth":   header + strings.Replace(trees, "depth: 1\n               value: 1.", "depth: 2\n               value: 1.", 1),
		"var range":   header + strings.Replace(trees, "var:1,", "var:5,", 1),
		"incomplete":  header + trees[:strings.LastIndex(trees, "      -\n         nodes:")-1] + "\n" + strings.Replace(trees[strings.LastIndex(trees, "      -\n         nodes:"):], "value: 0.", "value: 0.\n               splits:\n                  - { var:0, quality:1., le:1. }", 1),
		"truncated":   header + trees[:strings.Index(trees, "le:")],
		"unknown key": header + strings.Replace(trees, "norm_class_idx: 0", "weird: 0", 1),
	} {
		if _, err := Parse(strings.NewReader(src)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
