package study

import (
	"fmt"
	"io"
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
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.2e\t%.2e\t%.3f\t%d\t%.3f\t\n", r.Sampler, r.N, r.DType, r.MaxAbs, r.RMS, r.InvertedStd, r.NFE, r.Seconds)
	}
	return tw.Flush()
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
