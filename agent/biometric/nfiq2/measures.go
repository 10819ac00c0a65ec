package nfiq2

import "fmt"

// NumMeasures is the number of native quality measures (the forest's features).
const NumMeasures = 69

// Measure indices, in NIST's order (the order of NIST's CSV columns and of the forest's
// features).
const (
	FDABin0 = iota
	_
	_
	_
	_
	_
	_
	_
	_
	_
	FDAMean
	FDAStdDev
	MinutiaeCountCOM // FingerJetFX_MinCount_COMMinRect200x200
	MinutiaeCount    // FingerJetFX_MinutiaeCount
	MinutiaeQualityMu2
	MinutiaeQualityOCL80
	ROIMean // ImgProcROIArea_Mean
	LCSBin0
	_
	_
	_
	_
	_
	_
	_
	_
	_
	LCSMean
	LCSStdDev
	MMB
	Mu
	OCLBin0
	_
	_
	_
	_
	_
	_
	_
	_
	_
	OCLMean
	OCLStdDev
	OFBin0
	_
	_
	_
	_
	_
	_
	_
	_
	_
	OFMean
	OFStdDev
	CoherenceRel // OrientationMap_ROIFilter_CoherenceRel
	CoherenceSum // OrientationMap_ROIFilter_CoherenceSum
	RVUPBin0
	_
	_
	_
	_
	_
	_
	_
	_
	_
	RVUPMean
	RVUPStdDev
)

var measureNames = func() [NumMeasures]string {
	var n [NumMeasures]string
	hist := func(at int, prefix string) {
		for i := 0; i < 10; i++ {
			n[at+i] = fmt.Sprintf("%s_Bin10_%d", prefix, i)
		}
		n[at+10] = prefix + "_Bin10_Mean"
		n[at+11] = prefix + "_Bin10_StdDev"
	}
	hist(FDABin0, "FDA")
	n[MinutiaeCountCOM] = "FingerJetFX_MinCount_COMMinRect200x200"
	n[MinutiaeCount] = "FingerJetFX_MinutiaeCount"
	n[MinutiaeQualityMu2] = "FJFXPos_Mu_MinutiaeQuality_2"
	n[MinutiaeQualityOCL80] = "FJFXPos_OCL_MinutiaeQuality_80"
	n[ROIMean] = "ImgProcROIArea_Mean"
	hist(LCSBin0, "LCS")
	n[MMB] = "MMB"
	n[Mu] = "Mu"
	hist(OCLBin0, "OCL")
	hist(OFBin0, "OF")
	n[CoherenceRel] = "OrientationMap_ROIFilter_CoherenceRel"
	n[CoherenceSum] = "OrientationMap_ROIFilter_CoherenceSum"
	hist(RVUPBin0, "RVUP")
	return n
}()

// MeasureNames returns NIST's names of the native quality measures in NIST's order.
func MeasureNames() []string {
	out := make([]string, NumMeasures)
	copy(out, measureNames[:])
	return out
}

// MeasureName returns the NIST name of measure i.
func MeasureName(i int) string { return measureNames[i] }

// FromMinutiae reports whether measure i is computed from the minutiae.
func FromMinutiae(i int) bool {
	return i >= MinutiaeCountCOM && i <= MinutiaeQualityOCL80
}

// Measures holds the native quality measures, indexed by the constants above.
type Measures [NumMeasures]float64

// Get returns the value of the measure called name (NIST's name).
func (m *Measures) Get(name string) (float64, bool) {
	for i, n := range measureNames {
		if n == name {
			return m[i], true
		}
	}
	return 0, false
}
