package nfiq2

import "math"

// Ridge/valley structure of a rotated 16×32 region (NIST's getRidgeValleyStructure): the
// mean of each of the 32 columns is fitted with a straight line by least squares
// (OpenCV's Householder QR, cv::solve with DECOMP_QR), the two coefficients are rounded
// to 10 decimals as NIST does, and a column is ridge when its mean is below the line.

const rvCols = slantedW // columns of the analysed region (its length across the ridges)

// lineQR is the Householder QR of the fixed design matrix [1, i+1] (i = 0..31), done
// once exactly as OpenCV's QRImpl does it; solve applies it to a right-hand side.
type lineQR struct {
	a        [rvCols][2]float64 // R above the diagonal, Householder vectors below
	hFactors [2]float64
}

var theLineQR = newLineQR()

func newLineQR() *lineQR {
	q := &lineQR{}
	const m, n = rvCols, 2
	for i := 0; i < m; i++ {
		q.a[i][0] = 1
		q.a[i][1] = float64(i + 1)
	}
	var vl [m]float64
	for l := 0; l < n; l++ {
		size := m - l
		norm := 0.0
		for i := 0; i < size; i++ {
			vl[i] = q.a[l+i][l]
			norm += float64(vl[i] * vl[i])
		}
		tmp := vl[0]
		sign := 1.0
		if vl[0] < 0 {
			sign = -1
		}
		vl[0] = vl[0] + float64(sign*math.Sqrt(norm))
		norm = math.Sqrt(float64(norm+float64(vl[0]*vl[0])) - float64(tmp*tmp))
		for i := 0; i < size; i++ {
			vl[i] /= norm
		}
		for j := l; j < n; j++ {
			v := 0.0
			for i := l; i < m; i++ {
				v += float64(vl[i-l] * q.a[i][j])
			}
			for i := l; i < m; i++ {
				q.a[i][j] -= float64(float64(2*vl[i-l]) * v)
			}
		}
		q.hFactors[l] = vl[0] * vl[0]
		for i := 1; i < size; i++ {
			q.a[l+i][l] = vl[i] / vl[0]
		}
	}
	return q
}

// solve returns the least-squares intercept and slope for y (length 32).
func (q *lineQR) solve(y *[rvCols]float64) (intercept, slope float64) {
	const m, n = rvCols, 2
	b := *y
	var vl [m]float64
	for l := 0; l < n; l++ {
		vl[0] = 1
		for j := 1; j < m-l; j++ {
			vl[j] = q.a[j+l][l]
		}
		v := 0.0
		for i := l; i < m; i++ {
			v += float64(vl[i-l] * b[i])
		}
		for i := l; i < m; i++ {
			b[i] -= float64(float64(float64(2*vl[i-l])*v) * q.hFactors[l])
		}
	}
	const eps = 2.220446049250313e-16 * 100
	for i := n - 1; i >= 0; i-- {
		for j := n - 1; j > i; j-- {
			b[i] -= float64(b[j] * q.a[i][j])
		}
		if math.Abs(q.a[i][i]) < eps {
			return 0, 0 // cv::solve fails and leaves zeros
		}
		b[i] /= q.a[i][i]
	}
	return b[0], b[1]
}

// round10 rounds to 10 decimals as NIST does for platform consistency.
func round10(v float64) float64 { return math.Round(v*10000000000) / 10000000000 }

// ridgeValley classifies the columns of the 16×32 region v (row-major): colMean holds
// the column means, dt the fitted line, ridge whether each column is ridge.
type ridgeValley struct {
	colMean [rvCols]float64
	dt      [rvCols]float64
	ridge   [rvCols]bool
}

func (rv *ridgeValley) compute(v []uint8, rows int) {
	for i := 0; i < rvCols; i++ {
		s := 0
		for r := 0; r < rows; r++ {
			s += int(v[r*rvCols+i])
		}
		// cv::mean: sum times 1/n; exact for these sizes.
		rv.colMean[i] = float64(s) * (1 / float64(rows))
	}
	c0, c1 := theLineQR.solve(&rv.colMean)
	c0, c1 = round10(c0), round10(c1)
	for i := 0; i < rvCols; i++ {
		rv.dt[i] = float64(float64(i+1)*c1) + c0
		rv.ridge[i] = rv.colMean[i] < rv.dt[i]
	}
}
