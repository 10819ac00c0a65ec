package model_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/nfiq2/model"
)

// FuzzDecode: the decoder never panics, and what it accepts encodes back to the same
// bytes and decodes again to the same forest. Half of the inputs get a valid checksum
// appended so that the fuzzer reaches the structure parser.
func FuzzDecode(f *testing.F) {
	small, err := model.New(2, [][]model.Node{
		{{Feature: 1, Threshold: 0.5}, {Leaf: true, Value: 0}, {Feature: 0, Threshold: -1}, {Leaf: true, Value: 1}, {Leaf: true, Value: 0}},
		{{Leaf: true, Value: 1}},
	}, [16]byte{1, 2, 3})
	if err != nil {
		f.Fatal(err)
	}
	sb, err := small.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sb, false)
	f.Add(sb[:len(sb)-4], true)
	f.Add(sb[:len(sb)-5], true)
	f.Add([]byte("NFIQ2RF\x01"), true)
	f.Add(model.NISTPlainTIRInkBytes()[:4096], true)
	f.Fuzz(func(t *testing.T, data []byte, addCRC bool) {
		if addCRC {
			data = binary.LittleEndian.AppendUint32(bytes.Clone(data), crc32.ChecksumIEEE(data))
		}
		fr, err := model.Decode(data)
		if err != nil {
			return
		}
		enc, err := fr.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("re-encoding differs: %d bytes vs %d", len(enc), len(data))
		}
		again, err := model.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		if again.Nodes() != fr.Nodes() || again.Trees() != fr.Trees() || again.Features() != fr.Features() {
			t.Fatal("second decode differs")
		}
		x := make([]float32, fr.Features())
		_ = fr.Sum(x)
	})
}
