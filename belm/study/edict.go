package study

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
)

// EDICT's variants and initialisations, as EDICTStudy measures them.
const (
	// EDICTEq9 is the invertible EDICT of paper Eq. 9 (belm.EDICT): the first call of a
	// step is ε_θ(y_i, t_i).
	EDICTEq9 = "eq9"
	// EDICTFirstOnX is the reference's non-invertible FID variant (spec §2.3: cifar10.py's
	// and celeba.py's edict_forward): the first call is ε_θ(x_i, t_i), so the x chain takes
	// the DDIM step. It exists only here, as a measurement; it is not a registered sampler.
	EDICTFirstOnX = "eps_x"
	// EDICTSameNoise starts both chains at the noise: x_N = y_N (CIFAR/CelebA scripts, the
	// original EDICT, belm.EDICT).
	EDICTSameNoise = "same"
	// EDICTIndependent starts y_N at an independent noise (the SD pure-sampling path of the
	// reference): pipeline.Noise(seed+EDICTSecondNoise, …).
	EDICTIndependent = "independent"
	// EDICTSecondNoise offsets the seed of y_N's noise under EDICTIndependent.
	EDICTSecondNoise = 1 << 32
)

// EDICTStudyConfig sets up EDICTStudy: EDICT sampled from noise, step by step on the host,
// for every mixing parameter, N, initialisation and variant, beside DDIM from the same noise.
type EDICTStudyConfig struct {
	Ps       []float64 // mixing parameters p [0.97, Table 3's]
	Steps    []int     // step counts N
	Inits    []string  // EDICTSameNoise, EDICTIndependent [same]
	Variants []string  // EDICTEq9, EDICTFirstOnX [eq9]
	// BatchSize images per batch, batch k from the noise of Seeds[k] [64; seeds: 1].
	BatchSize int
	Seeds     []uint64
	// Diagnostics adds, per step, ε_θ(x', t_{i−1}) (one more network call): the second
	// call's input at its own level, against ε_θ(x', t_i), the call EDICT makes.
	Diagnostics bool
	// Reference, if set, is the exact x₀ of the ODE from the noise of a batch at the top of
	// the N-step grid (the analytic models'): the summaries then give both samplers' errors.
	Reference func(noise []float64, n, batch int) ([]float64, error)
	Progress  Progress
}

// EDICTStep is one sampling step i → i−1, RMS values over every image and pixel of the run.
// Latents are x (the pipeline's latents) or x̄ = x/α; x' is the step's intermediate x.
type EDICTStep struct {
	Level        int     `json:"level"`          // i
	T            float64 `json:"t"`              // t_i, the network timestep of both calls
	SigmaBar     float64 `json:"sigma_bar"`      // σ̄_i
	SigmaBarNext float64 `json:"sigma_bar_next"` // σ̄_{i−1}
	A            float64 `json:"a"`              // a_i = α_{i−1}/α_i
	B            float64 `json:"b"`              // b_i = σ_{i−1} − a_i σ_i
	Gap          float64 `json:"gap_rms"`        // RMS(x_{i−1} − y_{i−1})
	GapBar       float64 `json:"gap_bar_rms"`    // RMS(x̄_{i−1} − ȳ_{i−1})
	XBar         float64 `json:"x_bar_rms"`      // RMS x̄_{i−1}
	DDIMXBar     float64 `json:"ddim_x_bar_rms"` // RMS x̄_{i−1} of DDIM from the same noise
	FromDDIMBar  float64 `json:"from_ddim_bar"`  // RMS(x̄_{i−1} − x̄^DDIM_{i−1})
	Eps1         float64 `json:"eps1_rms"`       // the first call, ε(y_i, t_i) (ε(x_i, t_i) for eps_x)
	Eps2         float64 `json:"eps2_rms"`       // the second call, ε(x', t_i)
	Eps2Next     float64 `json:"eps2_next_rms"`  // ε(x', t_{i−1}) (Diagnostics; NaN otherwise)
	DDIMEpsNext  float64 `json:"ddim_eps_next"`  // DDIM's ε at level i−1 (NaN at i = 1)
	X0Hat        float64 `json:"x0hat_rms"`      // x̂₀ of the first call, (z − σ_i ε₁)/α_i
	DDIMX0Hat    float64 `json:"ddim_x0hat_rms"` // DDIM's x̂₀ at level i
}

// K is h_i/σ̄_i = 1 − σ̄_{i−1}/σ̄_i, the step's size relative to its noise level.
func (s EDICTStep) K() float64 { return 1 - s.SigmaBarNext/s.SigmaBar }

// UnderPrediction is RMS ε(x', t_i)/RMS ε(x', t_{i−1}): how much less noise the second call
// sees in x' than the network finds at x”s own level (σ̄_{i−1}/σ̄_i where x' is noise).
func (s EDICTStep) UnderPrediction() float64 { return s.Eps2 / s.Eps2Next }

// EDICTSummary is the end of one run: x₀ against DDIM's x₀ from the same noise.
type EDICTSummary struct {
	P       float64 `json:"p"`
	N       int     `json:"num_inference_steps"`
	Init    string  `json:"init"`
	Variant string  `json:"variant"`
	Samples int     `json:"samples"`
	// GapMaxRel is the largest RMS(x̄ − ȳ)/RMS x̄^DDIM over the steps: the gap against
	// the size of the latent it should be.
	GapMaxRel float64 `json:"gap_max_rel"`
	Gap0      float64 `json:"gap0_rms"` // RMS(x₀ − y₀) (= x̄₀ − ȳ₀: α₀ = 1)
	// GapTopBar is RMS(x̄_N − ȳ_N), the gap the chains start with (0 for the same noise), and
	// GapGain = Gap0/GapTopBar what the pass made of it (NaN from the same noise).
	GapTopBar float64 `json:"gap_top_bar_rms"`
	GapGain   float64 `json:"gap_gain"`
	X0Std     float64 `json:"x0_std"`
	DDIMX0Std float64 `json:"ddim_x0_std"`
	// HighFreq is the RMS of x₀ minus its 3×3 mean over the interior pixels (NaN unless the
	// latents are images [C, H, W]): ~0.94·std for white noise, small for smooth images.
	HighFreq     float64 `json:"high_freq"`
	DDIMHighFreq float64 `json:"ddim_high_freq"`
	FromDDIM     float64 `json:"from_ddim_rms"`  // RMS(x₀ − x₀^DDIM)
	Err          float64 `json:"err_rms"`        // RMS(x₀ − x₀^ref) (NaN without Reference)
	DDIMErr      float64 `json:"ddim_err_rms"`   // RMS(x₀^DDIM − x₀^ref)
	Seconds      float64 `json:"seconds"`        // of the EDICT passes
	NFE          int     `json:"nfe_per_sample"` // EDICT's, with the diagnostic calls
}

// EDICTRun is one (p, N, init, variant): its steps, N first (level N → N−1), and summary.
type EDICTRun struct {
	Summary EDICTSummary `json:"summary"`
	Steps   []EDICTStep  `json:"steps"`
}

// EDICTStudyResult holds the runs, N outermost, then p, init and variant in the config's
// order.
type EDICTStudyResult struct {
	Runs []EDICTRun `json:"runs"`
}

func (c EDICTStudyConfig) defaults() EDICTStudyConfig {
	if len(c.Ps) == 0 {
		c.Ps = []float64{0.97}
	}
	if len(c.Inits) == 0 {
		c.Inits = []string{EDICTSameNoise}
	}
	if len(c.Variants) == 0 {
		c.Variants = []string{EDICTEq9}
	}
	if c.BatchSize == 0 {
		c.BatchSize = 64
	}
	if len(c.Seeds) == 0 {
		c.Seeds = []uint64{1}
	}
	return c
}

func (c EDICTStudyConfig) check() error {
	for _, p := range c.Ps {
		if !(p > 0 && p <= 1) {
			return fmt.Errorf("edict study: p must be in (0, 1], got %g", p)
		}
	}
	for _, s := range c.Inits {
		if s != EDICTSameNoise && s != EDICTIndependent {
			return fmt.Errorf("edict study: init %q: use %q or %q", s, EDICTSameNoise, EDICTIndependent)
		}
	}
	for _, s := range c.Variants {
		if s != EDICTEq9 && s != EDICTFirstOnX {
			return fmt.Errorf("edict study: variant %q: use %q or %q", s, EDICTEq9, EDICTFirstOnX)
		}
	}
	if len(c.Steps) == 0 || c.BatchSize < 0 {
		return fmt.Errorf("edict study: %d step counts, batch %d: give at least one N and a positive batch", len(c.Steps), c.BatchSize)
	}
	return nil
}

// edictCase is one (p, init, variant) of a study.
type edictCase struct {
	p             float64
	init, variant string
}

func (c EDICTStudyConfig) cases() []edictCase {
	var out []edictCase
	for _, p := range c.Ps {
		for _, in := range c.Inits {
			for _, v := range c.Variants {
				out = append(out, edictCase{p, in, v})
			}
		}
	}
	return out
}

// EDICTStudy samples the noise of every batch with EDICT for every p, N, initialisation and
// variant, and with DDIM (the plain map, unclipped), measuring every step (EDICTStep) and
// the samples (EDICTSummary). The steps run on the host in float64, with ε_θ evaluated by
// the pipeline's network in its dtype on its backend (one graph, at per-step network
// times); Eq. 9 there is belm.EDICT's step (TestEDICTStudyMatchesRunner). The pipeline's
// model must predict ε and be unconditional. It stops, returning ctx's error and the runs
// of the N it finished, when ctx is cancelled.
func EDICTStudy(ctx context.Context, p *pipeline.Pipeline, cfg EDICTStudyConfig) (EDICTStudyResult, error) {
	cfg = cfg.defaults()
	var res EDICTStudyResult
	if err := cfg.check(); err != nil {
		return res, err
	}
	eps, err := newEpsFunc(p, cfg.BatchSize)
	if err != nil {
		return res, err
	}
	cases := cfg.cases()
	prog := &nfeProgress{f: cfg.Progress}
	for _, n := range cfg.Steps {
		prog.total += len(cfg.Seeds) * n * (1 + len(cases)*edictNFE(cfg.Diagnostics))
	}
	for _, n := range cfg.Steps {
		g, err := p.Grid(n)
		if err != nil {
			return res, err
		}
		accs := make([]*edictAcc, len(cases))
		for i, c := range cases {
			accs[i] = newEDICTAcc(c, n)
		}
		for _, seed := range cfg.Seeds {
			if err := stopped(ctx, fmt.Sprintf("EDICT N=%d seed %d", n, seed)); err != nil {
				return res, err
			}
			if err := edictBatch(p, eps, g, cfg, seed, cases, accs, prog); err != nil {
				return res, fmt.Errorf("edict study N=%d, seed %d: %w", n, seed, err)
			}
		}
		for _, a := range accs {
			res.Runs = append(res.Runs, a.finish(g, cfg.Diagnostics))
		}
	}
	return res, nil
}

// edictNFE is the network calls of an EDICT step.
func edictNFE(diagnostics bool) int {
	if diagnostics {
		return 3
	}
	return 2
}

// nfeProgress counts network calls for a Progress.
type nfeProgress struct {
	f           Progress
	done, total int
}

func (p *nfeProgress) add(k int, what string) {
	p.done += k
	if p.f != nil {
		p.f(min(p.done, p.total), p.total, what)
	}
}

// edictBatch runs DDIM and every case on the noise of seed and adds them to accs.
func edictBatch(p *pipeline.Pipeline, eps epsFunc, g *belm.Grid, cfg EDICTStudyConfig, seed uint64, cases []edictCase, accs []*edictAcc, prog *nfeProgress) error {
	batch, n := cfg.BatchSize, g.N()
	noise := pipeline.Noise(seed, p.Size(batch))
	ref, err := ddimTrace(eps, g, noise)
	if err != nil {
		return err
	}
	prog.add(n, fmt.Sprintf("ddim N=%d", n))
	var exact []float64
	if cfg.Reference != nil {
		if exact, err = cfg.Reference(noise, n, batch); err != nil {
			return fmt.Errorf("reference: %w", err)
		}
	}
	shape := p.LatentShape()
	for i, c := range cases {
		y := noise
		if c.init == EDICTIndependent {
			y = pipeline.Noise(seed+EDICTSecondNoise, p.Size(batch))
		}
		start := time.Now()
		x0, y0, err := edictPass(eps, g, c, cfg.Diagnostics, noise, y, ref, accs[i])
		if err != nil {
			return fmt.Errorf("edict p=%g %s %s: %w", c.p, c.init, c.variant, err)
		}
		accs[i].seconds += time.Since(start).Seconds()
		accs[i].addSample(x0, y0, noise, y, ref.x0, exact, shape, batch)
		prog.add(n*edictNFE(cfg.Diagnostics), fmt.Sprintf("edict p=%g N=%d %s %s", c.p, n, c.init, c.variant))
	}
	return nil
}

// epsFunc evaluates ε_θ(x, t) for host latents x of a batch at network time net.
type epsFunc func(x []float64, net belm.Level) ([]float64, error)

// newEpsFunc compiles p's network for latents of batch images at per-call network times
// (T, α, σ as inputs: one graph for every level), unconditional, in p's dtype.
func newEpsFunc(p *pipeline.Pipeline, batch int) (epsFunc, error) {
	if pt := p.Schedule.Config.PredictionType; pt != "" && pt != "epsilon" {
		return nil, fmt.Errorf("edict study: the model predicts %q; the study reads ε_θ directly and needs an epsilon model", pt)
	}
	if p.Conditioner != nil {
		return nil, fmt.Errorf("edict study: the pipeline is conditioned; the study evaluates the unconditional network")
	}
	store := model.NewStore()
	if sp, ok := p.Net.(belm.StoreProvider); ok && sp.Store() != nil {
		store = sp.Store()
	}
	exec, err := model.NewExec(p.Runner.Backend(), store, func(scope *model.Scope, x, par *graph.Node) *graph.Node {
		el := func(i int) *graph.Node { return graph.Reshape(graph.Slice(par, graph.AxisElem(i))) }
		return p.Net.Eps(scope, x, belm.Time{T: el(0), Alpha: el(1), Sigma: el(2)}, nil)
	})
	if err != nil {
		return nil, err
	}
	dt, dims := p.DType(), p.Shape(batch)
	return func(x []float64, net belm.Level) ([]float64, error) {
		t := net.T
		if math.IsNaN(t) {
			t = 0 // continuous grids: the analytic models read α and σ only
		}
		xt, err := belm.NewTensor(x, dt, dims...)
		if err != nil {
			return nil, err
		}
		par, err := belm.NewTensor([]float64{t, net.Alpha, net.Sigma}, dt, 3)
		if err != nil {
			return nil, err
		}
		out, err := exec.Exec(xt, par)
		if err != nil {
			return nil, fmt.Errorf("evaluating the model at t = %g: %w", net.T, err)
		}
		v, err := belm.Values(out[0])
		for _, t := range append(out, xt, par) {
			t.FinalizeAll()
		}
		return v, err
	}, nil
}

// ddimRef is DDIM's pass from a noise: x̄ at every level (index = level), the mean square
// of its ε and x̂₀ at every level it steps from, and x₀.
type ddimRef struct {
	xbar      [][]float64
	eps, x0ms []float64
	x0        []float64
}

// ddimTrace runs the plain DDIM map (unclipped) from noise at g's top level down to 0.
func ddimTrace(eps epsFunc, g *belm.Grid, noise []float64) (*ddimRef, error) {
	n := g.N()
	r := &ddimRef{xbar: make([][]float64, n+1), eps: nanSlice(n + 1), x0ms: nanSlice(n + 1)}
	x := noise
	r.xbar[n] = scaled(x, 1/g.Levels[n].Alpha)
	for i := n; i >= 1; i-- {
		lv, next := g.Levels[i], g.Levels[i-1]
		e, err := eps(x, g.Net[i])
		if err != nil {
			return nil, err
		}
		a := next.Alpha / lv.Alpha
		r.eps[i], r.x0ms[i] = meanSquare(e), meanSquare(axpby(1/lv.Alpha, x, -lv.Sigma/lv.Alpha, e))
		x = axpby(a, x, next.Sigma-a*lv.Sigma, e)
		r.xbar[i-1] = scaled(x, 1/next.Alpha)
	}
	r.x0 = x
	return r, nil
}

// edictPass samples from (x, y) at g's top level with one case of EDICT, adding every
// step's mean squares to acc; it returns (x₀, y₀). Per step i → i−1, with a, b the DDIM map
// and z = y_i (Eq. 9) or x_i (eps_x):
//
//	x' = a x_i + b ε(z, t_i),    y' = a y_i + b ε(x', t_i),
//	x_{i−1} = p x' + (1−p) y',   y_{i−1} = p y' + (1−p) x_{i−1}.
func edictPass(eps epsFunc, g *belm.Grid, c edictCase, diag bool, x, y []float64, ref *ddimRef, acc *edictAcc) ([]float64, []float64, error) {
	n, q := g.N(), 1-c.p
	for i := n; i >= 1; i-- {
		lv, next := g.Levels[i], g.Levels[i-1]
		a := next.Alpha / lv.Alpha
		b := next.Sigma - a*lv.Sigma
		z := y
		if c.variant == EDICTFirstOnX {
			z = x
		}
		e1, err := eps(z, g.Net[i])
		if err != nil {
			return nil, nil, err
		}
		xi := axpby(a, x, b, e1)
		e2, err := eps(xi, g.Net[i])
		if err != nil {
			return nil, nil, err
		}
		yi := axpby(a, y, b, e2)
		x = axpby(c.p, xi, q, yi)
		y = axpby(c.p, yi, q, x)
		m := stepMeasures{i: i, e1: e1, e2: e2, z: z, x: x, y: y, e2next: math.NaN()}
		if diag {
			e2n, err := eps(xi, g.Net[i-1])
			if err != nil {
				return nil, nil, err
			}
			m.e2next = meanSquare(e2n)
		}
		acc.addStep(n-i, g, m, ref)
	}
	return x, y, nil
}

// stepMeasures is what a step leaves to measure: its level i, its calls ε₁ (at z) and ε₂,
// the mean square of ε(x', t_{i−1}), and the new pair (x, y).
type stepMeasures struct {
	i               int
	e1, e2, z, x, y []float64
	e2next          float64
}

// The mean squares an edictAcc sums per step, over batches.
const (
	mGap = iota
	mXBar
	mFromDDIM
	mEps1
	mEps2
	mEps2Next
	mDDIMEpsNext
	mX0Hat
	mDDIMX0Hat
	mDDIMXBar
	nMeasures
)

// edictAcc sums one run's mean squares over its batches.
type edictAcc struct {
	c       edictCase
	n       int
	batches int
	steps   [][nMeasures]float64
	// x₀'s sum and sum of squares, and the summary's mean squares, DDIM's beside them.
	sum, sumSq, ddimSum, ddimSumSq float64
	values, images                 int
	gap0, gapTop, hf, ddimHF       float64
	fromDDIM                       float64
	err, ddimErr                   float64
	seconds                        float64
}

func newEDICTAcc(c edictCase, n int) *edictAcc {
	return &edictAcc{c: c, n: n, steps: make([][nMeasures]float64, n)}
}

// addStep adds step k (level i = N − k) of a batch.
func (a *edictAcc) addStep(k int, g *belm.Grid, m stepMeasures, ref *ddimRef) {
	lv, next := g.Levels[m.i], g.Levels[m.i-1]
	s := &a.steps[k]
	s[mGap] += meanSquare(axpby(1, m.x, -1, m.y))
	s[mXBar] += meanSquare(m.x) / (next.Alpha * next.Alpha)
	s[mFromDDIM] += meanSquare(axpby(1/next.Alpha, m.x, -1, ref.xbar[m.i-1]))
	s[mEps1] += meanSquare(m.e1)
	s[mEps2] += meanSquare(m.e2)
	s[mEps2Next] += m.e2next
	s[mDDIMEpsNext] += ref.eps[m.i-1]
	s[mX0Hat] += meanSquare(axpby(1/lv.Alpha, m.z, -lv.Sigma/lv.Alpha, m.e1))
	s[mDDIMX0Hat] += ref.x0ms[m.i]
	s[mDDIMXBar] += meanSquare(ref.xbar[m.i-1])
}

// addSample adds a batch's ends: x₀, y₀, the start x_N, y_N, DDIM's x₀ and (if any) the
// exact x₀.
func (a *edictAcc) addSample(x0, y0, xN, yN, ddim, exact []float64, shape []int, batch int) {
	a.batches++
	a.images += batch
	for i := range x0 {
		a.sum += x0[i]
		a.sumSq += x0[i] * x0[i]
		a.ddimSum += ddim[i]
		a.ddimSumSq += ddim[i] * ddim[i]
	}
	a.values += len(x0)
	a.gap0 += meanSquare(axpby(1, x0, -1, y0))
	a.gapTop += meanSquare(axpby(1, xN, -1, yN))
	a.hf += highFreqMS(x0, shape, batch)
	a.ddimHF += highFreqMS(ddim, shape, batch)
	a.fromDDIM += meanSquare(axpby(1, x0, -1, ddim))
	if exact == nil {
		a.err, a.ddimErr = math.NaN(), math.NaN()
		return
	}
	a.err += meanSquare(axpby(1, x0, -1, exact))
	a.ddimErr += meanSquare(axpby(1, ddim, -1, exact))
}

// finish turns the sums into the run: RMS values over every batch (equal batches).
func (a *edictAcc) finish(g *belm.Grid, diag bool) EDICTRun {
	nb := float64(a.batches)
	rms := func(v float64) float64 { return math.Sqrt(v / nb) }
	run := EDICTRun{Steps: make([]EDICTStep, a.n)}
	sm := EDICTSummary{P: a.c.p, N: a.n, Init: a.c.init, Variant: a.c.variant, Samples: a.images, Seconds: a.seconds,
		NFE: a.n * edictNFE(diag), Gap0: rms(a.gap0), HighFreq: rms(a.hf), DDIMHighFreq: rms(a.ddimHF),
		FromDDIM: rms(a.fromDDIM), Err: rms(a.err), DDIMErr: rms(a.ddimErr)}
	nv := float64(a.values)
	top := g.Levels[a.n].Alpha
	sm.GapTopBar = rms(a.gapTop) / top
	sm.GapGain = math.NaN()
	if sm.GapTopBar > 0 {
		sm.GapGain = sm.Gap0 / sm.GapTopBar
	}
	sm.X0Std = math.Sqrt(a.sumSq/nv - (a.sum/nv)*(a.sum/nv))
	sm.DDIMX0Std = math.Sqrt(a.ddimSumSq/nv - (a.ddimSum/nv)*(a.ddimSum/nv))
	for k, s := range a.steps {
		i := a.n - k
		lv, next := g.Levels[i], g.Levels[i-1]
		am := next.Alpha / lv.Alpha
		st := EDICTStep{Level: i, T: g.Net[i].T, SigmaBar: lv.SigmaBar(), SigmaBarNext: next.SigmaBar(),
			A: am, B: next.Sigma - am*lv.Sigma, Gap: rms(s[mGap]), GapBar: rms(s[mGap]) / next.Alpha,
			XBar: rms(s[mXBar]), DDIMXBar: rms(s[mDDIMXBar]), FromDDIMBar: rms(s[mFromDDIM]),
			Eps1: rms(s[mEps1]), Eps2: rms(s[mEps2]), Eps2Next: rms(s[mEps2Next]), DDIMEpsNext: rms(s[mDDIMEpsNext]),
			X0Hat: rms(s[mX0Hat]), DDIMX0Hat: rms(s[mDDIMX0Hat])}
		sm.GapMaxRel = math.Max(sm.GapMaxRel, st.GapBar/st.DDIMXBar)
		run.Steps[k] = st
	}
	run.Summary = sm
	return run
}

// meanSquare is the mean of v².
func meanSquare(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return s / float64(len(v))
}

// axpby is a·x + b·y, a new slice.
func axpby(a float64, x []float64, b float64, y []float64) []float64 {
	out := make([]float64, len(x))
	for i := range x {
		out[i] = a*x[i] + b*y[i]
	}
	return out
}

func scaled(x []float64, a float64) []float64 { return axpby(a, x, 0, x) }

func nanSlice(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

// highFreqMS is the mean square of x minus its 3×3 mean, over the interior pixels of every
// image and channel of x (batch images of shape [C, H, W]); NaN for other shapes.
func highFreqMS(x []float64, shape []int, batch int) float64 {
	if len(shape) != 3 || shape[1] < 3 || shape[2] < 3 {
		return math.NaN()
	}
	h, w := shape[1], shape[2]
	s, cnt := 0.0, 0
	for plane := 0; plane < batch*shape[0]; plane++ {
		v := x[plane*h*w : (plane+1)*h*w]
		for r := 1; r < h-1; r++ {
			for c := 1; c < w-1; c++ {
				m := 0.0
				for dr := -1; dr <= 1; dr++ {
					for dc := -1; dc <= 1; dc++ {
						m += v[(r+dr)*w+c+dc]
					}
				}
				d := v[r*w+c] - m/9
				s += d * d
				cnt++
			}
		}
	}
	return s / float64(cnt)
}

// String writes the summaries, then every run's steps.
func (r EDICTStudyResult) String() string {
	var b strings.Builder
	WriteEDICTSummaries(&b, r.Runs)
	for _, run := range r.Runs {
		s := run.Summary
		fmt.Fprintf(&b, "\nEDICT p = %g, N = %d, init %s, variant %s (%d samples)\n", s.P, s.N, s.Init, s.Variant, s.Samples)
		WriteEDICTSteps(&b, run)
	}
	return b.String()
}

// WriteEDICTSummaries writes one line per run: the largest gap against DDIM's |x̄|, x₀'s
// gap, std and high-frequency RMS (DDIM's in brackets), its distance to DDIM's x₀ and, with
// a reference, both errors.
func WriteEDICTSummaries(w io.Writer, runs []EDICTRun) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "p\tN\tinit\tvariant\tmax gap/|x̄ddim|\t|x̄N−ȳN|\t|x0−y0|\tgain\tstd x0 (ddim)\tHF x0 (ddim)\t|x0−ddim|\terr (ddim)\tseconds\t")
	for _, run := range runs {
		s := run.Summary
		fmt.Fprintf(tw, "%g\t%d\t%s\t%s\t%.3g\t%.3g\t%.3g\t%.3g\t%.3f (%.3f)\t%.3f (%.3f)\t%.3g\t%.3g (%.3g)\t%.0f\t\n", s.P, s.N, s.Init, s.Variant,
			s.GapMaxRel, s.GapTopBar, s.Gap0, s.GapGain, s.X0Std, s.DDIMX0Std, s.HighFreq, s.DDIMHighFreq, s.FromDDIM, s.Err, s.DDIMErr, s.Seconds)
	}
	return tw.Flush()
}

// WriteEDICTSteps writes a run's steps: the level, t_i, σ̄_i → σ̄_{i−1} and k = h_i/σ̄_i;
// the gap in x and x̄ and its growth over the step; |x̄| against DDIM's and the distance to
// DDIM's; the two calls and ε(x', t_{i−1}) with the under-prediction ratio beside
// σ̄_{i−1}/σ̄_i; x̂₀ against DDIM's (all RMS).
func WriteEDICTSteps(w io.Writer, run EDICTRun) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "i\tt_i\tσ̄_i\tσ̄_i−1\tk\t|x−y|\t|x̄−ȳ|\tgrowth\t|x̄|\t|x̄ddim|\t|x̄−x̄ddim|\tε1\tε2\tε(x',t_i−1)\tratio\tσ̄ ratio\tεddim_i−1\tx̂0\tx̂0 ddim\t")
	prev := math.NaN()
	for _, s := range run.Steps {
		fmt.Fprintf(tw, "%d\t%g\t%.4g\t%.4g\t%.3f\t%.3g\t%.3g\t%.3f\t%.3g\t%.3g\t%.3g\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n",
			s.Level, s.T, s.SigmaBar, s.SigmaBarNext, s.K(), s.Gap, s.GapBar, s.GapBar/prev, s.XBar, s.DDIMXBar, s.FromDDIMBar,
			s.Eps1, s.Eps2, s.Eps2Next, s.UnderPrediction(), s.SigmaBarNext/s.SigmaBar, s.DDIMEpsNext, s.X0Hat, s.DDIMX0Hat)
		prev = s.GapBar
	}
	return tw.Flush()
}
