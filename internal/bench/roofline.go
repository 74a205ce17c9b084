package bench

import (
	"fmt"
	"time"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/nn"
)

// The roofline: how fast each backend multiplies two large square matrices (the best case
// of dense arithmetic, compute-bound), against which the UNet forward's GFLOP/s is read as a
// fraction. A network with small maps and few channels cannot reach it (its convolutions
// are small matmuls, and its normalisations and activations move memory without FLOPs);
// the fraction says how far it is.

// RooflineN is the side of the square matrices of the roofline matmul: 2·N³ = 17.2 GFLOP,
// large enough that packing and threading costs vanish, small enough (3 × 16 MiB in
// float32) to run in well under a second on two cores.
const RooflineN = 2048

// roofline measures the RooflineN matmul on every backend and keeps each one's GFLOP/s.
func (r *runner) roofline() error {
	var fns []fn
	for _, be := range r.o.Backends {
		n := RooflineN
		a, err := belm.NewTensor(belm.Normal(1, n*n), r.o.DType, n, n)
		if err != nil {
			return err
		}
		b, err := belm.NewTensor(belm.Normal(2, n*n), r.o.DType, n, n)
		if err != nil {
			return err
		}
		e, err := NewExec(r.backend(be), func(a, b *Node) *Node { return MatMul(a, b) })
		if err != nil {
			return err
		}
		fns = append(fns, fn{name: fmt.Sprintf("matmul/%d", n), backend: be, f: func() error {
			out, err := e.Exec(a, b)
			for _, t := range out {
				t.FinalizeAll()
			}
			return err
		}})
	}
	res, err := r.measure(SecRoofline, fmt.Sprintf("roofline: [%d×%d]·[%d×%d] matmul, %s", RooflineN, RooflineN, RooflineN, RooflineN, r.o.DType), fns)
	if err != nil {
		return err
	}
	if r.rep.Roofline == nil {
		r.rep.Roofline = map[string]float64{}
	}
	flops := 2 * float64(RooflineN) * RooflineN * RooflineN
	for _, x := range res {
		r.rep.Roofline[x.Backend] = gflops(flops, x.Median)
	}
	return nil
}

func gflops(flops float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return flops / d.Seconds() / 1e9
}

// forwardFLOPs counts the UNet's FLOPs per image (nn.FLOPs) on a batch-1 forward graph built
// with direct convolutions on the pure-Go backend: the model's count, whatever form a
// backend runs its convolutions in.
func (r *runner) forwardFLOPs() (int64, error) {
	prev := nn.SetConvAlgorithm(nn.ConvDirect)
	defer nn.SetConvAlgorithm(prev)
	u, err := r.unet(GoSequential)
	if err != nil {
		return 0, err
	}
	e, err := model.NewExec(r.backend(GoSequential), u.Store(), func(scope *model.Scope, x, t *Node) *Node {
		return u.Forward(scope, x, t)
	})
	if err != nil {
		return 0, err
	}
	defer e.Finalize()
	x, err := r.input(1)
	if err != nil {
		return 0, err
	}
	g, err := e.Compile(x.Shape(), shapes.Make(r.o.DType))
	if err != nil {
		return 0, err
	}
	return nn.FLOPs(g)
}

// throughput prints, for each forward result, images per second, GFLOP/s and (after a
// roofline section) the fraction of the backend's roofline.
func (r *runner) throughput() {
	if r.rep.FLOPsPerImage == 0 {
		return
	}
	out := r.o.Out
	fmt.Fprintf(out, "\nforward throughput (%.3f GFLOP an image, matmuls and convolutions; roofline: the %d² matmul's GFLOP/s)\n\n",
		float64(r.rep.FLOPsPerImage)/1e9, RooflineN)
	fmt.Fprintln(out, "| batch | backend | median | images/s | GFLOP/s | roofline GFLOP/s | % of roofline |")
	fmt.Fprintln(out, "|---:|---|---:|---:|---:|---:|---:|")
	for _, res := range r.rep.Results {
		if res.Section != SecForward {
			continue
		}
		var batch int
		fmt.Sscanf(res.Name, "forward/B%d", &batch)
		g := gflops(float64(batch)*float64(r.rep.FLOPsPerImage), res.Median)
		roof, pct := "–", "–"
		if rf := r.rep.Roofline[res.Backend]; rf > 0 {
			roof, pct = fmt.Sprintf("%.1f", rf), fmt.Sprintf("%.0f %%", 100*g/rf)
		}
		fmt.Fprintf(out, "| %d | %s | %s | %.1f | %.1f | %s | %s |\n", batch, res.Backend, fmtDur(res.Median),
			float64(batch)/res.Median.Seconds(), g, roof, pct)
	}
}
