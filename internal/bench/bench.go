// Package bench measures the workbench's speed: the full-size ddpm-cifar10-32 UNet forward,
// one sampler step (the sampler's own arithmetic, with a one-multiply model), a whole
// sampling pass, the per-step overhead outside the network, the step graphs' compile time
// and peak memory, on every asked-for backend in the same run, with the go/onnx ratios.
//
// Every timing is printed as a go-benchmarks table (mean, median, 5%/99%-tiles, count);
// the summary tables (ratios, overhead percentages) are computed from the same samples
// (medians). `belm bench` runs it; BENCHMARKS.md records results and how to rerun them.
package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	benchmarks "github.com/janpfeifer/go-benchmarks"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/backends"
	"github.com/belmlab/workbench/belm/unet"
)

// Sections of a run.
const (
	SecForward  = "forward"  // UNet forward at each batch size
	SecStep     = "step"     // one sampler step, one-multiply model
	SecPass     = "pass"     // a whole sampling pass
	SecOverhead = "overhead" // per-step work outside the network, with the UNet
	SecCompile  = "compile"  // step graph compile time and compilation counts
	SecRoofline = "roofline" // a large matmul: each backend's dense-arithmetic GFLOP/s
)

// AllSections lists every section in run order (the cheap ones first: the UNet sections
// leave gigabytes of heap behind, which slows the microsecond-scale step timings).
var AllSections = []string{SecStep, SecPass, SecRoofline, SecForward, SecOverhead, SecCompile}

// Known reports whether s names a section (of AllSections or OptInSections).
func Known(s string) bool {
	return slices.Contains(AllSections, s) || slices.Contains(OptInSections, s)
}

// Options configures a run.
type Options struct {
	Backends []string      // backend configurations ("go", "onnx", …); empty: every compiled-in one
	Sections []string      // empty: AllSections
	Batches  []int         // UNet forward batch sizes (default 1, 8, 64)
	Samplers []string      // default ddim, edict, bdia, belm
	Steps    int           // steps of a pass (default 100)
	Images   int           // batch of the step, pass and overhead benchmarks (default 8)
	Duration time.Duration // minimum measuring time of each benchmark (default 2 s)
	PassUNet []string      // backends whose pass runs the full UNet (slow on go); others use the one-multiply model
	Config   *unet.Config  // the UNet (default: the full-size ddpm-cifar10-32)
	Out      io.Writer     // summary tables (default os.Stdout); go-benchmarks tables always go to stdout
	Log      func(string)  // progress lines (default: none)
	DType    dtypes.DType  // default Float32 (the only dtype onnx computes exactly)
}

func (o *Options) defaults() {
	if len(o.Backends) == 0 {
		o.Backends = DefaultBackends()
	}
	if len(o.Sections) == 0 {
		o.Sections = AllSections
	}
	if len(o.Batches) == 0 {
		o.Batches = []int{1, 8, 64}
	}
	if len(o.Samplers) == 0 {
		o.Samplers = []string{"ddim", "edict", "bdia", "belm"}
	}
	if o.Steps <= 0 {
		o.Steps = 100
	}
	if o.Images <= 0 {
		o.Images = 8
	}
	if o.Duration <= 0 {
		o.Duration = 2 * time.Second
	}
	if o.Config == nil {
		c := unet.DDPMCifar10Config()
		o.Config = &c
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Log == nil {
		o.Log = func(string) {}
	}
	if o.DType == dtypes.InvalidDType {
		o.DType = dtypes.Float32
	}
}

// GoSequential is the pure-Go backend with its ops run one after another. The default "go"
// runs independent ops in parallel goroutines, and in compute v0.1.6 that can deadlock with
// the matmul's own worker fan-out (workerspool: Saturate and WaitToStart wait on one
// sync.Cond and a Signal can wake the wrong one); it hung a batch-64 UNet forward here.
// Sequential ops never hung and run the UNet as fast (BENCHMARKS.md).
const GoSequential = "go:ops_sequential"

// DefaultBackends is GoSequential, then "onnx" when compiled in (-tags onnx).
func DefaultBackends() []string {
	l := []string{GoSequential}
	if slices.Contains(backends.Compiled(), "onnx") {
		l = append(l, "onnx")
	}
	return l
}

// Result is one measured quantity.
type Result struct {
	Section string        `json:"section"`
	Name    string        `json:"name"`    // without the backend, e.g. "forward/B8"
	Backend string        `json:"backend"` // backend configuration
	Median  time.Duration `json:"median_ns"`
	Mean    time.Duration `json:"mean_ns"`
	Count   int           `json:"count"`
	PeakRSS int64         `json:"peak_rss_bytes,omitempty"` // process peak RSS during the first timed call (Linux), 0 if unknown
	BaseRSS int64         `json:"base_rss_bytes,omitempty"` // process RSS just before it, after a GC returned free memory to the OS
	Note    string        `json:"note,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	Machine string   `json:"machine"`
	Results []Result `json:"results"`
	// Overhead rows: per backend, the step with the UNet and the work outside it.
	Overhead []OverheadRow `json:"overhead,omitempty"`
	// FLOPsPerImage is the UNet forward's count (nn.FLOPs) when the forward section ran.
	FLOPsPerImage int64 `json:"flops_per_image,omitempty"`
	// Roofline is each backend's GFLOP/s on the roofline matmul, when that section ran.
	Roofline map[string]float64 `json:"roofline_gflops,omitempty"`
}

// OverheadRow is the per-step overhead outside the network on one backend.
type OverheadRow struct {
	Backend    string        `json:"backend"`
	Forward    time.Duration `json:"forward_ns"`     // bare UNet forward (batch Images)
	StepUNet   time.Duration `json:"step_unet_ns"`   // one BELM step with the UNet
	StepCheap  time.Duration `json:"step_cheap_ns"`  // one BELM step with the one-multiply model
	Direct     float64       `json:"direct_percent"` // 100·StepCheap/StepUNet
	Difference float64       `json:"diff_percent"`   // 100·(StepUNet−Forward)/StepUNet (noisier)
}

// cheapModel is ε = σ·x: one multiply, so what is timed is the sampler's own work (the step
// graph's arithmetic, the execution call, the finiteness check, the host-side coefficients).
type cheapModel struct{}

func (cheapModel) Eps(_ *model.Scope, x *Node, tm belm.Time, _ *Node) *Node { return Mul(x, tm.Sigma) }

type runner struct {
	o       Options
	rep     *Report
	unets   map[string]*unet.UNet
	fwdExec map[string]*model.Exec
}

// Run runs the benchmarks of o and prints them.
func Run(o Options) (*Report, error) {
	o.defaults()
	for _, s := range o.Sections {
		if !Known(s) {
			return nil, fmt.Errorf("unknown section %q: use %s", s, strings.Join(append(slices.Clone(AllSections), OptInSections...), ", "))
		}
	}
	for _, b := range o.Backends {
		if _, err := backends.New(b); err != nil {
			return nil, err
		}
		if o.DType == dtypes.Float64 && !backends.ExactFloat64(b) {
			return nil, fmt.Errorf("float64 on %s is not float64: benchmark float32 there", b)
		}
	}
	r := &runner{o: o, rep: &Report{Machine: Machine()}, unets: map[string]*unet.UNet{}, fwdExec: map[string]*model.Exec{}}
	fmt.Fprintf(o.Out, "%s\n", r.rep.Machine)
	unetSections := slices.ContainsFunc(o.Sections, func(s string) bool { return slices.Contains(AllSections, s) })
	if unetSections {
		fmt.Fprintf(o.Out, "backends: %s; dtype %s; UNet %s (%d-channel base); %d images a step/pass; ≥ %v a benchmark\n",
			strings.Join(o.Backends, ", "), o.DType, unetName(o.Config), o.Config.BlockOutChannels[0], o.Images, o.Duration)
	} else {
		fmt.Fprintf(o.Out, "backends: %s; dtype %s; ≥ %v a benchmark\n", strings.Join(o.Backends, ", "), o.DType, o.Duration)
	}
	for _, s := range o.Sections {
		runtime.GC()
		debug.FreeOSMemory()
		var err error
		switch s {
		case SecRoofline:
			err = r.roofline()
		case SecForward:
			err = r.forward()
		case SecStep:
			err = r.step()
		case SecPass:
			err = r.pass()
		case SecOverhead:
			err = r.overhead()
		case SecCompile:
			err = r.compile()
		case SecSD:
			err = r.sd()
		}
		if err != nil {
			return r.rep, fmt.Errorf("%s: %w", s, err)
		}
	}
	r.summary()
	return r.rep, nil
}

func unetName(c *unet.Config) string {
	if c.BlockOutChannels[0] == 128 && len(c.BlockOutChannels) == 4 && c.SampleSize != nil && *c.SampleSize == 32 {
		return "ddpm-cifar10-32 (full size, random weights)"
	}
	return fmt.Sprintf("custom %v", c.BlockOutChannels)
}

// Machine describes the machine, the Go toolchain and the load.
func Machine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	exp := "default"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOEXPERIMENT" && s.Value != "" {
				exp = s.Value
			}
		}
	}
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("machine: %s, %d CPUs (GOMAXPROCS %d), %s %s/%s, GOEXPERIMENT=%s, load average %s at start",
		cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, exp, load)
}

// fn is one benchmarked function.
type fn struct {
	name, backend string
	f             func() error
}

// measure runs fns as one go-benchmarks table and returns their results.
func (r *runner) measure(section, title string, fns []fn) ([]Result, error) {
	fmt.Printf("\n%s\n", title)
	samples := make([][]time.Duration, len(fns))
	peaks := make([]int64, len(fns))
	bases := make([]int64, len(fns))
	var firstErr error
	named := make([]benchmarks.NamedFunction, len(fns))
	for i, f := range fns {
		warm := false
		named[i] = benchmarks.NamedFunction{Name: f.name + " " + f.backend, Func: func() {
			if firstErr != nil {
				return
			}
			var err error
			if !warm {
				// The warm-up (go-benchmarks' first call, not counted): a call that compiles, then
				// the memory probe, a second call after a GC that returned freed memory to the OS,
				// so its peak RSS is this call's own memory. The probe is not timed either: it
				// re-faults every page it touches, which made a go UNet forward at batch 8 take
				// 7.7 s instead of 3.7 s.
				warm = true
				if err = f.f(); err == nil {
					runtime.GC()
					debug.FreeOSMemory()
					bases[i] = rss("VmRSS:")
					resetPeakRSS()
					err = f.f()
					peaks[i] = rss("VmHWM:")
				}
			} else {
				start := time.Now()
				err = f.f()
				samples[i] = append(samples[i], time.Since(start))
			}
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("%s on %s: %w", f.name, f.backend, err)
			}
		}}
	}
	benchmarks.New(named...).WithWarmUps(1).WithDuration(r.o.Duration).WithQuantiles(5, 99).Done()
	if firstErr != nil {
		return nil, firstErr
	}
	var out []Result
	for i, f := range fns {
		s := samples[i]
		res := Result{Section: section, Name: f.name, Backend: f.backend, Median: median(s), Mean: mean(s), Count: len(s), PeakRSS: peaks[i], BaseRSS: bases[i]}
		out = append(out, res)
	}
	r.rep.Results = append(r.rep.Results, out...)
	return out, nil
}

func median(s []time.Duration) time.Duration {
	c := slices.Clone(s)
	slices.Sort(c)
	if len(c) == 0 {
		return 0
	}
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func mean(s []time.Duration) time.Duration {
	if len(s) == 0 {
		return 0
	}
	var t time.Duration
	for _, d := range s {
		t += d
	}
	return t / time.Duration(len(s))
}

// resetPeakRSS resets the kernel's peak-RSS mark of this process (Linux; no-op elsewhere).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// rss reads a size field of /proc/self/status ("VmRSS:", "VmHWM:") in bytes (0: unknown).
func rss(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func (r *runner) backend(config string) compute.Backend {
	b, _ := backends.New(config)
	return b
}

func (r *runner) unet(config string) (*unet.UNet, error) {
	if u, ok := r.unets[config]; ok {
		return u, nil
	}
	// One UNet per backend: a store's variables live on one backend.
	u, err := unet.NewRandom(*r.o.Config, 1, r.o.DType)
	if err != nil {
		return nil, err
	}
	r.unets[config] = u
	return u, nil
}

func (r *runner) forwardExec(config string) (*model.Exec, error) {
	if e, ok := r.fwdExec[config]; ok {
		return e, nil
	}
	u, err := r.unet(config)
	if err != nil {
		return nil, err
	}
	e, err := model.NewExec(r.backend(config), u.Store(), func(scope *model.Scope, x, t *Node) *Node {
		return u.Forward(scope, x, t)
	})
	if err != nil {
		return nil, err
	}
	r.fwdExec[config] = e
	return e, nil
}

func (r *runner) input(batch int) (*tensors.Tensor, error) {
	c := r.o.Config
	size := 32
	if c.SampleSize != nil {
		size = *c.SampleSize
	}
	n := batch * c.InChannels * size * size
	return belm.NewTensor(belm.Normal(uint64(batch), n), r.o.DType, batch, c.InChannels, size, size)
}

func (r *runner) timestep() any {
	if r.o.DType == dtypes.Float64 {
		return float64(500)
	}
	return float32(500)
}

func (r *runner) forward() error {
	var fns []fn
	for _, b := range r.o.Batches {
		for _, be := range r.o.Backends {
			x, err := r.input(b) // a tensor per backend: tensors cannot move between backends
			if err != nil {
				return err
			}
			e, err := r.forwardExec(be)
			if err != nil {
				return err
			}
			fns = append(fns, fn{name: fmt.Sprintf("forward/B%d", b), backend: be, f: func() error {
				out, err := e.Exec(x, r.timestep())
				if err == nil {
					for _, t := range out {
						t.FinalizeAll()
					}
				}
				return err
			}})
		}
	}
	if _, err := r.measure(SecForward, "UNet forward (the first call of each batch size compiles: it is the warm-up, not counted)", fns); err != nil {
		return err
	}
	var err error
	r.rep.FLOPsPerImage, err = r.forwardFLOPs()
	return err
}

type samplerRun struct {
	r     *belm.Runner
	s     belm.Sampler
	g     *belm.Grid
	x     *tensors.Tensor
	state belm.State
}

func (r *runner) newSamplerRun(be, name string, m belm.Model) (*samplerRun, error) {
	rn, err := belm.NewRunner(m, be, r.o.DType)
	if err != nil {
		return nil, err
	}
	s, err := belm.ParseSampler(name, belm.DefaultSamplerOptions)
	if err != nil {
		return nil, err
	}
	sched, err := belm.NewSchedule(belm.DDPMConfig)
	if err != nil {
		return nil, err
	}
	g, err := sched.Grid(r.o.Steps)
	if err != nil {
		return nil, err
	}
	x, err := r.input(r.o.Images)
	if err != nil {
		return nil, err
	}
	return &samplerRun{r: rn, s: s, g: g, x: x}, nil
}

// warm moves the run two steps into the pass, so every timed step is a full-window step.
func (sr *samplerRun) warm() error {
	n := sr.g.N()
	st, err := sr.r.Run(sr.s, sr.g, belm.State{Level: n, Latents: []*tensors.Tensor{sr.x}}, n-2)
	sr.state = st
	return err
}

func (sr *samplerRun) oneStep() error {
	_, err := sr.r.Run(sr.s, sr.g, sr.state, sr.state.Level-1)
	return err
}

func (r *runner) step() error {
	var fns []fn
	for _, name := range r.o.Samplers {
		for _, be := range r.o.Backends {
			sr, err := r.newSamplerRun(be, name, cheapModel{})
			if err != nil {
				return err
			}
			if err := sr.warm(); err != nil {
				return err
			}
			fns = append(fns, fn{name: "step/" + name, backend: be, f: sr.oneStep})
		}
	}
	_, err := r.measure(SecStep, fmt.Sprintf("one sampler step on [%d,3,32,32], ε = σ·x (the sampler's own work: arithmetic, finiteness check, exec call, host coefficients)", r.o.Images), fns)
	return err
}

func (r *runner) pass() error {
	var fns []fn
	for _, name := range r.o.Samplers {
		for _, be := range r.o.Backends {
			var m belm.Model = cheapModel{}
			label := "pass/" + name
			if slices.Contains(r.o.PassUNet, be) {
				u, err := r.unet(be)
				if err != nil {
					return err
				}
				m, label = u, "pass-unet/"+name
			}
			sr, err := r.newSamplerRun(be, name, m)
			if err != nil {
				return err
			}
			fns = append(fns, fn{name: label, backend: be, f: func() error {
				_, err := sr.r.Sample(sr.s, sr.g, belm.State{Level: sr.g.N(), Latents: []*tensors.Tensor{sr.x}})
				if err == nil && sr.r.Compilations() != 1 {
					return fmt.Errorf("%d step graphs compiled, want 1", sr.r.Compilations())
				}
				return err
			}})
		}
	}
	_, err := r.measure(SecPass, fmt.Sprintf("a %d-step sampling pass of %d images (pass: ε = σ·x; pass-unet: the UNet); checks 1 compilation per pass kind", r.o.Steps, r.o.Images), fns)
	return err
}

func (r *runner) overhead() error {
	var fns []fn
	for _, be := range r.o.Backends {
		x, err := r.input(r.o.Images)
		if err != nil {
			return err
		}
		e, err := r.forwardExec(be)
		if err != nil {
			return err
		}
		u, err := r.unet(be)
		if err != nil {
			return err
		}
		withUNet, err := r.newSamplerRun(be, "belm", u)
		if err != nil {
			return err
		}
		if err := withUNet.warm(); err != nil {
			return err
		}
		cheap, err := r.newSamplerRun(be, "belm", cheapModel{})
		if err != nil {
			return err
		}
		if err := cheap.warm(); err != nil {
			return err
		}
		fns = append(fns,
			fn{name: "overhead/forward", backend: be, f: func() error {
				out, err := e.Exec(x, r.timestep())
				if err == nil {
					for _, t := range out {
						t.FinalizeAll()
					}
				}
				return err
			}},
			fn{name: "overhead/step-unet", backend: be, f: withUNet.oneStep},
			fn{name: "overhead/step-cheap", backend: be, f: cheap.oneStep})
	}
	res, err := r.measure(SecOverhead, fmt.Sprintf("per-step overhead outside the network (BELM, batch %d): bare UNet forward, a step with the UNet, a step with ε = σ·x", r.o.Images), fns)
	if err != nil {
		return err
	}
	for i := 0; i+2 < len(res); i += 3 {
		f, su, sc := res[i].Median, res[i+1].Median, res[i+2].Median
		r.rep.Overhead = append(r.rep.Overhead, OverheadRow{Backend: res[i].Backend, Forward: f, StepUNet: su, StepCheap: sc,
			Direct: 100 * float64(sc) / float64(su), Difference: 100 * float64(su-f) / float64(su)})
	}
	return nil
}

// compile times the first step of a fresh runner (compilation + one execution) and a steady
// step, for the one-multiply model and the UNet, and counts compilations over a whole pass.
func (r *runner) compile() error {
	fmt.Fprintf(r.o.Out, "\nstep-graph compilation (BELM, batch %d): first step of a fresh runner (build + compile + run) vs a later step\n", r.o.Images)
	tw := tabwriter.NewWriter(r.o.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "model\tbackend\tfirst step\tsteady step\tcompile ≈\tcompilations after %d steps\t\n", r.o.Steps)
	for _, mname := range []string{"σ·x", "UNet"} {
		for _, be := range r.o.Backends {
			var m belm.Model = cheapModel{}
			if mname == "UNet" {
				u, err := r.unet(be)
				if err != nil {
					return err
				}
				m = u
			}
			sr, err := r.newSamplerRun(be, "belm", m)
			if err != nil {
				return err
			}
			n := sr.g.N()
			st0 := belm.State{Level: n, Latents: []*tensors.Tensor{sr.x}}
			start := time.Now()
			st1, err := sr.r.Run(sr.s, sr.g, st0, n-1)
			if err != nil {
				return err
			}
			first := time.Since(start)
			var steady []time.Duration
			st := st1
			reps := 5
			if mname == "UNet" {
				reps = 2
			}
			reps = max(1, min(reps, st1.Level))
			for range reps {
				start = time.Now()
				next, err := sr.r.Run(sr.s, sr.g, st, st.Level-1)
				if err != nil {
					return err
				}
				steady = append(steady, time.Since(start))
				st = next
			}
			count := sr.r.Compilations()
			passSteps := "(UNet: not run)"
			if mname != "UNet" {
				if _, err := sr.r.Sample(sr.s, sr.g, st0); err != nil {
					return err
				}
				passSteps = strconv.Itoa(sr.r.Compilations())
				count = sr.r.Compilations()
			}
			s := median(steady)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", mname, be, fmtDur(first), fmtDur(s), fmtDur(first-s), passSteps)
			r.rep.Results = append(r.rep.Results,
				Result{Section: SecCompile, Name: "compile/belm-" + mname, Backend: be, Median: first - s, Count: 1,
					Note: fmt.Sprintf("first step %v, steady %v, %d compilations", first, s, count)})
		}
	}
	tw.Flush()
	return nil
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
}

func fmtBytes(b int64) string {
	if b < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// summary prints the medians per benchmark and backend, the ratios to the last backend
// (go/onnx when both ran), the overhead rows and peak memory.
func (r *runner) summary() {
	out := r.o.Out
	bes := r.o.Backends
	type key struct{ name, be string }
	med := map[key]Result{}
	var names []string
	for _, res := range r.rep.Results {
		if res.Section == SecCompile {
			continue
		}
		k := key{res.Name, res.Backend}
		if _, ok := med[k]; !ok {
			med[k] = res
		}
		if !slices.Contains(names, res.Name) {
			names = append(names, res.Name)
		}
	}
	if len(names) > 0 {
		fmt.Fprintf(out, "\nsummary (medians; memory: the process's peak RSS during an untimed call after the warm-up, and in\nparentheses that peak minus the RSS just before it, after a GC: the call's own transient memory)\n\n")
		hdr := "| benchmark |"
		sep := "|---|"
		for _, be := range bes {
			hdr += fmt.Sprintf(" %s |", be)
			sep += "---:|"
		}
		ratio := len(bes) == 2
		if ratio {
			hdr += fmt.Sprintf(" %s/%s |", bes[0], bes[1])
			sep += "---:|"
		}
		for _, be := range bes {
			hdr += fmt.Sprintf(" peak RSS (+call) %s |", be)
			sep += "---:|"
		}
		fmt.Fprintln(out, hdr)
		fmt.Fprintln(out, sep)
		for _, n := range names {
			line := "| " + n + " |"
			for _, be := range bes {
				if res, ok := med[key{n, be}]; ok {
					line += " " + fmtDur(res.Median) + " |"
				} else {
					line += " – |"
				}
			}
			if ratio {
				a, okA := med[key{n, bes[0]}]
				b, okB := med[key{n, bes[1]}]
				if okA && okB && b.Median > 0 {
					line += fmt.Sprintf(" %.1f× |", float64(a.Median)/float64(b.Median))
				} else {
					line += " – |"
				}
			}
			for _, be := range bes {
				res := med[key{n, be}]
				line += fmt.Sprintf(" %s (+%s) |", fmtBytes(res.PeakRSS), fmtBytes(res.PeakRSS-res.BaseRSS))
			}
			fmt.Fprintln(out, line)
		}
	}
	r.throughput()
	if len(r.rep.Overhead) > 0 {
		fmt.Fprintf(out, "\nper-step overhead outside the network (BELM, batch %d, medians)\n\n", r.o.Images)
		fmt.Fprintln(out, "| backend | UNet forward | step with UNet | step with σ·x | σ·x step / UNet step | (UNet step − forward) / UNet step |")
		fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|")
		for _, o := range r.rep.Overhead {
			fmt.Fprintf(out, "| %s | %s | %s | %s | %.3f %% | %.2f %% |\n", o.Backend, fmtDur(o.Forward), fmtDur(o.StepUNet), fmtDur(o.StepCheap), o.Direct, o.Difference)
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(out, "\nload average at the end: %s\n", strings.Join(strings.Fields(string(b))[:3], " "))
	}
}

// Sorted returns the results sorted by section, name and backend (for JSON output).
func (rep *Report) Sorted() []Result {
	res := slices.Clone(rep.Results)
	sort.SliceStable(res, func(i, j int) bool {
		if res[i].Section != res[j].Section {
			return res[i].Section < res[j].Section
		}
		return res[i].Name < res[j].Name
	})
	return res
}
