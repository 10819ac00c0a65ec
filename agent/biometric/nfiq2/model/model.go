// Package model holds NIST's NFIQ 2 random forest in a compact binary form and evaluates
// it the way OpenCV's RTrees do for the NFIQ 2 reference implementation.
//
// The forest is a two-class classifier (class labels 0 and 1) of 100 trees over 69
// features. NIST asks OpenCV for the raw output, which for a two-class forest is the sum
// of the leaf values of all trees (the number of trees voting for class 1); the unified
// quality score is that sum as a float32, plus one half, truncated to an integer.
//
// Features are compared as float32 (OpenCV stores samples and split thresholds as
// float), an ordered split sends a sample left when value <= threshold, and a NaN
// feature goes right, as in OpenCV.
//
// The embedded forest is generated from NIST's nist_plain_tir-ink.yaml (public domain)
// by ./internal/gen; the md5 of that source file is recorded in SOURCE.md5 beside the
// binary and inside it.
package model

//go:generate go run ./internal/gen -o nist_plain_tir-ink.rf

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sync"
)

// File format (all integers little-endian):
//
//	magic      8 bytes  "NFIQ2RF\x01"
//	features   uint16   number of features (at most MaxFeatures)
//	trees      uint16   number of trees (at least 1, at most MaxTrees)
//	values     uint8    number of distinct leaf values (1..MaxValues)
//	value      float64  × values
//	sourceMD5  16 bytes md5 of the model file the forest was converted from
//	per tree:
//	  nodes    uint32   number of nodes of the tree
//	  node     × nodes, in pre-order (node, left subtree, right subtree):
//	           split: one byte feature index (< features), then float32 threshold
//	           leaf:  one byte 0x80 | leaf value index
//	crc        uint32   CRC-32 (IEEE) of every byte before it
const (
	magic       = "NFIQ2RF\x01"
	leafTag     = 0x80
	MaxFeatures = 0x80 // a split byte below 0x80 names the feature
	MaxValues   = 0x80
	MaxTrees    = 4096
	// MaxNodes bounds the total node count a decoder accepts, so hostile input cannot
	// make it allocate without bound.
	MaxNodes = 1 << 22
)

// Node is one node of a tree given to New, in pre-order.
type Node struct {
	Leaf      bool
	Feature   int     // split feature index (splits)
	Threshold float32 // split threshold: value <= Threshold goes left (splits)
	Value     float64 // leaf value (leaves)
}

type node struct {
	thr   float32
	right int32 // index of the right child; the left child is the next node
	feat  int16 // feature index, or -1 for a leaf
	leaf  uint8 // index into values for a leaf
}

// Forest is a decoded random forest. It is immutable and safe for concurrent use.
type Forest struct {
	nFeatures int
	roots     []int32
	nodes     []node
	values    []float64
	sourceMD5 [16]byte
}

// New builds a forest from trees given in pre-order. It checks that every tree is a
// complete binary tree and that feature indices are in range.
func New(nFeatures int, trees [][]Node, sourceMD5 [16]byte) (*Forest, error) {
	if nFeatures <= 0 || nFeatures > MaxFeatures {
		return nil, fmt.Errorf("model: %d features, want 1..%d", nFeatures, MaxFeatures)
	}
	if len(trees) == 0 || len(trees) > MaxTrees {
		return nil, fmt.Errorf("model: %d trees, want 1..%d", len(trees), MaxTrees)
	}
	f := &Forest{nFeatures: nFeatures, sourceMD5: sourceMD5}
	valueIndex := map[uint64]uint8{}
	var stack []int32
	for ti, t := range trees {
		if len(t) == 0 {
			return nil, fmt.Errorf("model: tree %d is empty", ti)
		}
		root := int32(len(f.nodes))
		f.roots = append(f.roots, root)
		stack = stack[:0]
		pending := 1 // subtrees still to read
		for ni, n := range t {
			if pending == 0 {
				return nil, fmt.Errorf("model: tree %d: %d nodes after the tree is complete", ti, len(t)-ni)
			}
			idx := int32(len(f.nodes))
			if n.Leaf {
				bits := math.Float64bits(n.Value)
				vi, ok := valueIndex[bits]
				if !ok {
					if len(f.values) >= MaxValues {
						return nil, fmt.Errorf("model: more than %d distinct leaf values", MaxValues)
					}
					vi = uint8(len(f.values))
					valueIndex[bits] = vi
					f.values = append(f.values, n.Value)
				}
				f.nodes = append(f.nodes, node{feat: -1, leaf: vi})
				pending--
				if len(stack) == 0 {
					continue
				}
				p := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				f.nodes[p].right = idx + 1
				continue
			}
			if n.Feature < 0 || n.Feature >= nFeatures {
				return nil, fmt.Errorf("model: tree %d node %d: feature %d out of range", ti, ni, n.Feature)
			}
			f.nodes = append(f.nodes, node{feat: int16(n.Feature), thr: n.Threshold})
			stack = append(stack, idx)
			pending++
		}
		if pending != 0 {
			return nil, fmt.Errorf("model: tree %d is incomplete", ti)
		}
		if len(f.nodes) > MaxNodes {
			return nil, fmt.Errorf("model: more than %d nodes", MaxNodes)
		}
	}
	return f, nil
}

// Features is the number of features a sample must have.
func (f *Forest) Features() int { return f.nFeatures }

// Trees is the number of trees.
func (f *Forest) Trees() int { return len(f.roots) }

// Nodes is the total number of nodes.
func (f *Forest) Nodes() int { return len(f.nodes) }

// SourceMD5 is the md5 (hex) of the model file the forest was converted from.
func (f *Forest) SourceMD5() string { return hex.EncodeToString(f.sourceMD5[:]) }

// Sum returns OpenCV's raw output for a two-class forest: the sum over all trees of
// the value of the leaf the sample reaches. x must have Features() values.
func (f *Forest) Sum(x []float32) float64 {
	_ = x[f.nFeatures-1]
	sum := 0.0
	nodes := f.nodes
	for _, r := range f.roots {
		i := r
		for {
			n := &nodes[i]
			if n.feat < 0 {
				sum += f.values[n.leaf]
				break
			}
			// NaN compares false and goes right, as in OpenCV.
			if x[n.feat] <= n.thr {
				i++
			} else {
				i = n.right
			}
		}
	}
	return sum
}

// Score evaluates the forest on the features (in the forest's order) with NIST's
// arithmetic: the raw sum as float32, plus 0.5 in double, truncated to an integer.
func (f *Forest) Score(features []float64) (int, error) {
	if len(features) != f.nFeatures {
		return 0, fmt.Errorf("model: %d features, the forest needs %d", len(features), f.nFeatures)
	}
	var buf [MaxFeatures]float32
	x := buf[:f.nFeatures]
	for i, v := range features {
		x[i] = float32(v)
	}
	prob := float32(f.Sum(x))
	q := float64(prob) + 0.5
	if math.IsNaN(q) || q < 0 || q > math.MaxInt32 {
		return 0, fmt.Errorf("model: raw output %v out of range", prob)
	}
	return int(q), nil
}

// MarshalBinary encodes the forest in the package's file format.
func (f *Forest) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(magic)
	le := binary.LittleEndian
	b.Write(le.AppendUint16(nil, uint16(f.nFeatures)))
	b.Write(le.AppendUint16(nil, uint16(len(f.roots))))
	b.WriteByte(byte(len(f.values)))
	for _, v := range f.values {
		b.Write(le.AppendUint64(nil, math.Float64bits(v)))
	}
	b.Write(f.sourceMD5[:])
	for ti, r := range f.roots {
		end := int32(len(f.nodes))
		if ti+1 < len(f.roots) {
			end = f.roots[ti+1]
		}
		b.Write(le.AppendUint32(nil, uint32(end-r)))
		for i := r; i < end; i++ {
			n := f.nodes[i]
			if n.feat < 0 {
				b.WriteByte(leafTag | n.leaf)
				continue
			}
			b.WriteByte(byte(n.feat))
			b.Write(le.AppendUint32(nil, math.Float32bits(n.thr)))
		}
	}
	b.Write(le.AppendUint32(nil, crc32.ChecksumIEEE(b.Bytes())))
	return b.Bytes(), nil
}

// Decode parses a forest in the package's file format. It never panics; malformed
// input gives an error that says what was wrong.
func Decode(data []byte) (*Forest, error) {
	const fixed = len(magic) + 2 + 2 + 1
	if len(data) < fixed+16+4 {
		return nil, errors.New("model: file too short")
	}
	if string(data[:len(magic)]) != magic {
		return nil, errors.New("model: not an NFIQ 2 forest (bad magic)")
	}
	body, tail := data[:len(data)-4], data[len(data)-4:]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(tail) {
		return nil, errors.New("model: checksum mismatch (corrupt file)")
	}
	r := reader{b: body, off: len(magic)}
	nFeatures := int(r.u16())
	nTrees := int(r.u16())
	nValues := int(r.u8())
	if r.err != nil {
		return nil, r.err
	}
	if nFeatures == 0 || nFeatures > MaxFeatures {
		return nil, fmt.Errorf("model: %d features, want 1..%d", nFeatures, MaxFeatures)
	}
	if nTrees == 0 || nTrees > MaxTrees {
		return nil, fmt.Errorf("model: %d trees, want 1..%d", nTrees, MaxTrees)
	}
	if nValues == 0 || nValues > MaxValues {
		return nil, fmt.Errorf("model: %d leaf values, want 1..%d", nValues, MaxValues)
	}
	f := &Forest{nFeatures: nFeatures, values: make([]float64, nValues), roots: make([]int32, 0, nTrees)}
	for i := range f.values {
		f.values[i] = math.Float64frombits(r.u64())
	}
	copy(f.sourceMD5[:], r.bytes(16))
	if r.err != nil {
		return nil, r.err
	}
	// A leaf takes one byte and a split five; about half the nodes are leaves. The
	// estimate is bounded by the input size, and append grows it if needed.
	f.nodes = make([]node, 0, min((len(body)-r.off)/3+16, MaxNodes))
	stack := make([]int32, 0, 64)
	for ti := 0; ti < nTrees; ti++ {
		count := int(r.u32())
		if r.err != nil {
			return nil, fmt.Errorf("model: tree %d: %w", ti, r.err)
		}
		if count == 0 || count > len(body)-r.off || len(f.nodes)+count > MaxNodes {
			return nil, fmt.Errorf("model: tree %d: bad node count %d", ti, count)
		}
		root := int32(len(f.nodes))
		f.roots = append(f.roots, root)
		stack = stack[:0]
		pending := 1
		for k := 0; k < count; k++ {
			if pending == 0 {
				return nil, fmt.Errorf("model: tree %d: complete after %d of %d nodes", ti, k, count)
			}
			idx := int32(len(f.nodes))
			tag := r.u8()
			if r.err != nil {
				return nil, fmt.Errorf("model: tree %d: %w", ti, r.err)
			}
			if tag&leafTag != 0 {
				vi := tag &^ leafTag
				if int(vi) >= nValues {
					return nil, fmt.Errorf("model: tree %d node %d: leaf value %d out of range", ti, k, vi)
				}
				f.nodes = append(f.nodes, node{feat: -1, leaf: vi})
				pending--
				if len(stack) == 0 {
					continue
				}
				p := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				f.nodes[p].right = idx + 1
				continue
			}
			if int(tag) >= nFeatures {
				return nil, fmt.Errorf("model: tree %d node %d: feature %d out of range", ti, k, tag)
			}
			thr := math.Float32frombits(r.u32())
			if r.err != nil {
				return nil, fmt.Errorf("model: tree %d: %w", ti, r.err)
			}
			f.nodes = append(f.nodes, node{feat: int16(tag), thr: thr})
			stack = append(stack, idx)
			pending++
		}
		if pending != 0 {
			return nil, fmt.Errorf("model: tree %d is incomplete after %d nodes", ti, count)
		}
	}
	if r.off != len(body) {
		return nil, fmt.Errorf("model: %d unexpected bytes after the last tree", len(body)-r.off)
	}
	return f, nil
}

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b)-r.off < n {
		r.err = errors.New("truncated")
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() byte {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

//go:embed nist_plain_tir-ink.rf
var nistPlainTIRInk []byte

// SourceMD5NISTPlainTIRInk is the md5 of NIST's nist_plain_tir-ink.yaml, the file the
// embedded forest was converted from (as NIST's model descriptor states it).
const SourceMD5NISTPlainTIRInk = "b4a1e7586b3be906f9770e4b77768038"

// NISTPlainTIRInkBytes returns the embedded encoded forest (a copy).
func NISTPlainTIRInkBytes() []byte { return bytes.Clone(nistPlainTIRInk) }

var (
	defaultOnce   sync.Once
	defaultForest *Forest
	defaultErr    error
)

// LoadNISTPlainTIRInk decodes the embedded NIST forest (plain optical TIR and ink,
// 100 trees, 69 features) and checks it was converted from the expected source.
func LoadNISTPlainTIRInk() (*Forest, error) {
	f, err := Decode(nistPlainTIRInk)
	if err != nil {
		return nil, err
	}
	if f.SourceMD5() != SourceMD5NISTPlainTIRInk {
		return nil, fmt.Errorf("model: embedded forest was converted from %s, want %s", f.SourceMD5(), SourceMD5NISTPlainTIRInk)
	}
	return f, nil
}

// Default returns the embedded NIST forest, decoded once.
func Default() (*Forest, error) {
	defaultOnce.Do(func() { defaultForest, defaultErr = LoadNISTPlainTIRInk() })
	return defaultForest, defaultErr
}
