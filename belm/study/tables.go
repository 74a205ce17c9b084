package study

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteRoundTripTable writes round-trip results as an aligned text table.
func WriteRoundTripTable(w io.Writer, res []RoundTripResult) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "sampler\tN\tdtype\tmax abs\tRMS\tstd(x_N)\tNFE\tseconds\t")
	for _, r := range res {
		if r.Err != "" {
			fmt.Fprintf(tw, "%s\t%d\t%s\tfailed\t\t\t\t\t%s\n", r.Sampler, r.N, r.DType, r.Err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.2e\t%.2e\t%s\t%d\t%.3f\t\n", r.Sampler, r.N, r.DType, r.MaxAbs, r.RMS, stdText(r.InvertedStd), r.NFE, r.Seconds)
	}
	return tw.Flush()
}

// stdText writes the std of inverted latents: %.3f near 1, where it belongs, %.2e once a
// sampler has diverged (a 3-step BELM inversion reaches 1e+30), which would widen the column.
func stdText(v float64) string {
	if math.Abs(v) < 1000 {
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2e", v)
}

// WriteOrderTable writes order results as an aligned text table.
func WriteOrderTable(w io.Writer, res []OrderResult) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "sampler\tLTE slope\tglobal order\tLTE at h_max\tglobal error at N_max\t")
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.2e\t%.2e\t\n", r.Sampler, r.LTESlope, r.GlobalOrder, lastErr(r.LTE), lastErr(r.Global))
	}
	return tw.Flush()
}

// String writes the O-BELM sampling steps after the DDIM bootstrap in Eq. 18's form as an
// aligned table: step, t → t_next ("clean": the clean endpoint), h_i, h_{i+1}, their ratio
// (A = (h_i/h_{i+1})²·α_{i−1}/α_{i+1}), then A, B, C. belm.CoeffTable(r.Rows) is every step of
// both directions.
func (r CoefficientResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "O-BELM, %s/%s schedule, N = %d:  x_{i-1} = A·x_{i+1} + B·x_i + C·ε(x_i, t_i)\n",
		r.Schedule.BetaSchedule, r.Schedule.TimestepSpacing, r.N)
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tt\tt_next\th_i\th_{i+1}\th_i/h_{i+1}\tA\tB\tC\t")
	for _, s := range r.Eq18() {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.9g\t%.9g\t%.4f\t%.9g\t%.9g\t%.9g\t\n",
			s.Step, stepTime(s.T), stepTime(s.TNext), s.Hi, s.Hnext, s.Hi/s.Hnext, s.A, s.B, s.C)
	}
	tw.Flush()
	return b.String()
}

// stepTime writes a network timestep of a coefficient row: −1 is the clean endpoint.
func stepTime(t float64) string {
	if t == -1 {
		return "clean"
	}
	return strconv.FormatFloat(t, 'g', -1, 64)
}
