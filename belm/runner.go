package belm

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm/backends"
)

// Runner executes samplers and their inverses with a model on a GoMLX backend.
//
// Every step runs as a compiled GoMLX graph that is built once per sampler kind and state
// shape and reused for all steps and both directions: the network time, the CFG weight and
// the step's coefficients are inputs of the graph, computed on the host in float64, so
// nothing recompiles from one step to the next (Compilations counts the builds). Latents
// stay tensors on the backend between steps; after each step the runner checks, with a few
// scalars computed in the graph, that every ε evaluated and the new latent are finite, and
// says why when one is not: the model, the sampler diverging, or the latent given.
type Runner struct {
	backend compute.Backend
	config  string
	model   Model
	store   *model.Store
	dtype   dtypes.DType

	cond, uncond *tensors.Tensor
	guidance     float64

	// Observer, if set, is called after every step (k-diffusion style: the algorithms know
	// nothing of plots or progress bars).
	Observer func(StepInfo)

	mu           sync.Mutex
	execs        map[string]*stepExec
	compilations atomic.Int64
	nfe          atomic.Int64
}

// StepInfo describes a finished step for a Runner's Observer.
type StepInfo struct {
	Sampler  string
	Dir      Direction
	Step     int // 0-based index within the pass
	Steps    int // number of steps of the pass
	From, To int // levels
	Latent   *tensors.Tensor
}

// NewRunner returns a runner for m on the backend named by config ("" = $GOMLX_BACKEND or
// "go"), computing in dtype (Float32 or Float64). float64 is refused on backends that do not
// compute it exactly (ONNX Runtime runs float64 convolutions in float32).
func NewRunner(m Model, config string, dtype dtypes.DType) (*Runner, error) {
	if dtype != dtypes.Float32 && dtype != dtypes.Float64 {
		return nil, fmt.Errorf("dtype %s is not supported: use float32 or float64", dtype)
	}
	config = backends.Resolve(config)
	if dtype == dtypes.Float64 && !backends.ExactFloat64(config) {
		return nil, fmt.Errorf("float64 on backend %q is not float64: ONNX Runtime runs float64 convolutions in float32; use --dtype float32 there, or the go backend for exact float64", config)
	}
	b, err := backends.New(config)
	if err != nil {
		return nil, err
	}
	store := model.NewStore()
	if sp, ok := m.(StoreProvider); ok && sp.Store() != nil {
		store = sp.Store()
	}
	return &Runner{backend: b, config: config, model: m, store: store, dtype: dtype, execs: map[string]*stepExec{}}, nil
}

// Backend returns the backend the runner executes on.
func (r *Runner) Backend() compute.Backend { return r.backend }

// DType is the runner's computation dtype.
func (r *Runner) DType() dtypes.DType { return r.dtype }

// Compilations is the number of step graphs built so far.
func (r *Runner) Compilations() int { return int(r.compilations.Load()) }

// ReleaseGraphs frees the compiled step graphs; the next step of each kind compiles again.
// On onnx every compiled graph is an ONNX Runtime session whose memory arena keeps the peak
// size of its activations: a study that runs four samplers at batch 250 on the Fashion-MNIST
// model held 9.7 GB when its graphs were all kept, so studies release them after each
// sampler (compiling again costs ~0.5 s on onnx, ~3 s for a full UNet on go: nothing next to
// a study's row). Not while a pass of this runner is running.
func (r *Runner) ReleaseGraphs() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.execs {
		e.Finalize()
		delete(r.execs, k)
	}
}

// NFE is the number of network evaluations so far (a CFG pair, batched, counts once).
func (r *Runner) NFE() int { return int(r.nfe.Load()) }

// SetConditioning sets the conditioning of every ε evaluation. With uncond != nil and w > 1
// it applies classifier-free guidance, ε = ε(x, uncond) + w·(ε(x, cond) − ε(x, uncond)), in
// one batched call; otherwise ε = ε(x, cond). The same conditioning and w apply in both
// directions, which exact inversion requires (spec §2.8). Pass nils to clear it.
func (r *Runner) SetConditioning(cond, uncond *tensors.Tensor, w float64) error {
	if cond == nil && uncond != nil {
		return fmt.Errorf("an unconditional embedding without a conditional one")
	}
	if cond != nil && uncond != nil && !slices.Equal(cond.Shape().Dimensions, uncond.Shape().Dimensions) {
		return fmt.Errorf("conditioning shapes differ: cond %s, uncond %s", cond.Shape(), uncond.Shape())
	}
	if math.IsNaN(w) || math.IsInf(w, 0) {
		return fmt.Errorf("guidance weight must be finite, got %g", w)
	}
	r.cond, r.uncond, r.guidance = cond, uncond, w
	if uncond != nil && w <= 1 {
		r.uncond = nil // CFG is on iff w > 1, as in the reference scripts
	}
	return nil
}

// State is what a pass leaves at a level: the latents a sampler needs to continue from it.
//
// For multistep samplers Latents[0] is x_Level and Latents[j] the latent j steps earlier in
// the pass that produced it: x_{Level−j} after an inversion (an inverted O-BELM state is
// the pair (x_N, x_{N−1}), which sampling continues from), x_{Level+j} after sampling. For
// EDICT, Latents is the pair of chains (x_Level, y_Level). A single latent (noise x_N to
// sample, an image x_0 to invert) is a valid state for every sampler.
type State struct {
	Level   int
	Latents []*tensors.Tensor
	Dir     Direction // the direction of the pass that produced the state
}

// X returns the main latent x_Level.
func (s State) X() *tensors.Tensor { return s.Latents[0] }

// Sample runs s from st down to level 0 and returns x_0.
func (r *Runner) Sample(s Sampler, g *Grid, st State) (*tensors.Tensor, error) {
	out, err := r.Run(s, g, st, 0)
	if err != nil {
		return nil, err
	}
	return out.X(), nil
}

// Invert runs s from the clean latent x0 up to level top (g.N() for a full inversion; less
// for a partial one, the reference's freeze_step F being top = N − F) and returns the state
// needed to sample back exactly.
func (r *Runner) Invert(s Sampler, g *Grid, x0 *tensors.Tensor, top int) (State, error) {
	return r.Run(s, g, State{Level: 0, Latents: []*tensors.Tensor{x0}, Dir: Inversion}, top)
}

// Run walks s over g from state st to level `to`: downward (sampling) when to < st.Level,
// upward (inversion) when to > st.Level. A sampler that steps itself in that direction
// (EDICT; DDIM clipping x̂₀ or inverting in diffusers' convention) runs its own step graph
// (runSteps); every other runs as a Multistep (runMultistep).
func (r *Runner) Run(s Sampler, g *Grid, st State, to int) (State, error) {
	if st.Level < 0 || st.Level > g.N() || to < 0 || to > g.N() {
		return State{}, fmt.Errorf("levels %d → %d are outside the grid's 0…%d", st.Level, to, g.N())
	}
	dir := Sampling
	if to > st.Level {
		dir = Inversion
	}
	if err := s.Validate(dir); err != nil {
		return State{}, err
	}
	if err := r.checkLatents(st.Latents); err != nil {
		return State{}, err
	}
	st.Latents = r.onThisBackend(st.Latents)
	if to == st.Level {
		return st, nil
	}
	if sp, ok := s.(stepper); ok && sp.ownSteps(dir) {
		return r.runSteps(sp, g, st, to, dir)
	}
	if ms, ok := s.(Multistep); ok {
		return r.runMultistep(ms, g, st, to, dir)
	}
	return State{}, fmt.Errorf("sampler %s has no runner: it must implement Multistep", s.Name())
}

// observe calls the Observer, if any, after a step: the one place the runner reports steps.
func (r *Runner) observe(s Sampler, dir Direction, step, steps, from, to int, latent *tensors.Tensor) {
	if r.Observer != nil {
		r.Observer(StepInfo{Sampler: s.Name(), Dir: dir, Step: step, Steps: steps, From: from, To: to, Latent: latent})
	}
}

func (r *Runner) checkLatents(ls []*tensors.Tensor) error {
	if len(ls) == 0 {
		return fmt.Errorf("no latent given")
	}
	for i, l := range ls {
		if l == nil {
			return fmt.Errorf("latent %d is nil", i)
		}
		if l.DType() != r.dtype {
			return fmt.Errorf("latent %d has dtype %s but the runner computes in %s: convert it or change --dtype", i, l.DType(), r.dtype)
		}
		if l.Rank() < 1 {
			return fmt.Errorf("latent %d is a scalar: latents are [batch, …]", i)
		}
		if i > 0 && !slices.Equal(l.Shape().Dimensions, ls[0].Shape().Dimensions) {
			return fmt.Errorf("latent shapes differ: %s and %s", ls[0].Shape(), l.Shape())
		}
	}
	if r.cond != nil && r.cond.Shape().Dimensions[0] != ls[0].Shape().Dimensions[0] {
		return fmt.Errorf("conditioning batch %d does not match the latents' batch %d", r.cond.Shape().Dimensions[0], ls[0].Shape().Dimensions[0])
	}
	return nil
}

// onThisBackend returns the latents, with copies of those that live on another backend
// (GoMLX refuses to feed a tensor of one backend instance to another); the caller's tensors
// are left untouched.
func (r *Runner) onThisBackend(ls []*tensors.Tensor) []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(ls))
	for i, l := range ls {
		out[i] = l
		if b, err := l.Backend(); err == nil && b != r.backend {
			if c, err := l.LocalClone(); err == nil {
				out[i] = c
			}
		}
	}
	return out
}

// paramsHead is the layout of the head of every step graph's parameter vector.
const (
	pT = iota
	pAlpha
	pSigma
	pGuidance
	pHead
)

func (r *Runner) params(net Level, rest ...float64) *tensors.Tensor {
	t := net.T
	if math.IsNaN(t) {
		t = 0
	}
	p := append([]float64{t, net.Alpha, net.Sigma, r.guidance}, rest...)
	if r.dtype == dtypes.Float32 {
		f := make([]float32, len(p))
		for i, v := range p {
			f[i] = float32(v)
		}
		return tensors.FromFlatDataAndDimensions(f, len(f))
	}
	return tensors.FromFlatDataAndDimensions(p, len(p))
}

// stepEnv is what a step graph body can use: the step's network time Net (parameters pT,
// pAlpha, pSigma), ε_θ there, ε_θ at any other time, and the parameters.
type stepEnv struct {
	Net Time
	// Eps is ε_θ(x) at Net, the model's prediction converted to ε with Net's α, σ.
	Eps func(x *Node) *Node
	// EpsAt is ε_θ(x) at network time net, the prediction converted with conv's α, σ.
	EpsAt func(x *Node, net, conv Time) *Node
	Param func(i int) *Node
}

// stepGraph is the body of a step graph: given the latent inputs it returns the new latents
// (first the main one) and the ε values of the step to keep.
type stepGraph func(env stepEnv, latents []*Node) (out []*Node, keep []*Node)

// stepExec is a compiled step graph with the layout of its flags, recorded (under Runner.mu)
// when the graph is built.
type stepExec struct {
	*model.Exec
	nOut   int    // the new latents among the results; the kept ε values follow them
	inputs []bool // for each ε evaluated, in order: whether at one of the latent inputs
}

// divergedRMS is the rms |x| beyond which a latent counts as diverged when ε of it is not
// finite. Latents of diffusion models are O(1) by construction: the noise x_N ~ N(0, I) has
// rms 1, pixel-space data in [−1, 1] and scaled VAE latents (SD's ×0.18215) stay about as
// small, and so does every x_t = α x_0 + σ ε between them. 1e4 is four orders of magnitude
// beyond that, which no stable pass reaches, and well above the usual input scale mistakes
// (pixels in 0…255 not rescaled: rms ≈ 150), which are reported as the model failing on its
// input, with the input's rms printed.
const divergedRMS = 1e4

// exec runs the step graph `kind` (built on first use) on the latents; it returns the new
// latents and the kept ε values, or an errNotFinite if some ε evaluated in the step, or the
// main new latent, is not finite (see newStepExec).
//
// Latents with donate[i] set are donated to the execution (GoMLX buffer donation): the
// backend may reuse their buffers for the step's results (the pure-Go backend computes
// elementwise ops in place into owned inputs), and the tensors are invalid afterwards. The
// pass loops donate only state they created themselves, that nothing else can see (no
// Observer) and that no later step needs. donate may be nil.
func (r *Runner) exec(kind string, body stepGraph, latents []*tensors.Tensor, params *tensors.Tensor, donate ...bool) ([]*tensors.Tensor, []*tensors.Tensor, error) {
	r.mu.Lock()
	e, ok := r.execs[kind]
	if !ok {
		var err error
		if e, err = r.newStepExec(body, len(latents)); err != nil {
			r.mu.Unlock()
			return nil, nil, err
		}
		r.execs[kind] = e
	}
	r.mu.Unlock()
	n := latents[0].Shape().Size()
	args := make([]any, 0, len(latents)+3)
	for i, l := range latents {
		if i < len(donate) && donate[i] {
			d, err := DonateTensorBuffer(l, r.backend, 0)
			if err == nil {
				args = append(args, d)
				continue
			}
		}
		args = append(args, l)
	}
	args = append(args, params)
	if r.cond != nil {
		args = append(args, r.cond)
		if r.uncond != nil {
			args = append(args, r.uncond)
		}
	}
	res, err := e.Exec.Exec(args...)
	if err != nil {
		return nil, nil, fmt.Errorf("executing the %s step graph: %w", kind, err)
	}
	flags := slices.Clone(hostFloat64s(res[len(res)-1]))
	res[len(res)-1].FinalizeAll()
	r.mu.Lock()
	nOut, inputs := e.nOut, e.inputs
	r.mu.Unlock()
	if err := check(flags, inputs, n, r.dtype); err != nil {
		return nil, nil, err
	}
	return res[:nOut], res[nOut : len(res)-1], nil
}

// newStepExec returns the step graph of body on nl latent inputs (of the same shape). Its
// results are the new latents, the kept ε values and a vector of flags, scalars the host
// checks after the step: for every ε the graph evaluates, in order, mean(ε) and Σx² of the
// latent x it was evaluated at, then the mean of the main new latent. So every ε is checked
// where it is computed (kept ε values are ε of their own step); EDICT's second chain is
// checked as the input of ε in the next step.
//
// A mean is NaN or ±Inf iff some value is, and finite for finite values (its partial sums
// stay below max |v|, where a sum of two 2e38 overflows float32): a finite ε of 1e38 is not
// called Inf. Σx² is the size of ε's input, which tells a model failing on a sane latent from
// a sampler whose latent has diverged: NaN iff x has a NaN, +Inf iff x has an Inf or its
// rms exceeds √(max/n) (~1e17 for an [8,3,32,32] float32 latent, ~1e152 in float64).
//
// Each flag is one dot product, on the pure-Go backend a plain loop (~15–20 µs for an
// [8,3,32,32] float32 latent) where ReduceSum walks a generic index iterator (~80 µs) and Abs
// adds a branch per value. Measured fastest there (compute v0.1.6): a mean as [1, n]·[n, 1]
// with a constant column (the [1, n]·[1, n] layout's AVX-512 kernel made the step ~80 µs
// slower), Σx² as the rank-1 x·x ([1, n]·[n, 1] of x with itself: up to ~50 µs slower in
// float64). On onnx a dot is a MatMul; IsFinite does not exist there.
func (r *Runner) newStepExec(body stepGraph, nl int) (*stepExec, error) {
	se := &stepExec{}
	fn := func(scope *model.Scope, in []*Node) []*Node {
		r.compilations.Add(1)
		xs, params := in[:nl], in[nl]
		var cond, uncond *Node
		if len(in) > nl+1 {
			cond = in[nl+1]
		}
		if len(in) > nl+2 {
			uncond = in[nl+2]
		}
		param := func(i int) *Node { return Reshape(Slice(params, AxisElem(i))) }
		tm := Time{T: param(pT), Alpha: param(pAlpha), Sigma: param(pSigma)}
		n := xs[0].Shape().Size()
		col := FillScalar(xs[0].Graph(), shapes.Make(xs[0].DType(), n, 1), 1/float64(n))
		mean := func(v *Node) *Node {
			return Reshape(DotGeneral(Reshape(v, 1, n), []int{1}, nil, col, []int{0}, nil), 1)
		}
		sumSq := func(v *Node) *Node {
			v = Reshape(v, n)
			return Reshape(DotGeneral(v, []int{0}, nil, v, []int{0}, nil), 1)
		}
		var flags []*Node
		var inputs []bool
		epsAt := func(x *Node, net, conv Time) *Node {
			e := r.epsGraph(scope, x, net, conv, param(pGuidance), cond, uncond)
			flags = append(flags, mean(e), sumSq(x))
			inputs = append(inputs, slices.Contains(xs, x))
			return e
		}
		env := stepEnv{Net: tm, Eps: func(x *Node) *Node { return epsAt(x, tm, tm) }, EpsAt: epsAt, Param: param}
		out, keep := body(env, xs)
		flags = append(flags, mean(out[0]))
		r.mu.Lock()
		se.nOut, se.inputs = len(out), inputs
		r.mu.Unlock()
		return append(append(out, keep...), Concatenate(flags, 0))
	}
	var err error
	se.Exec, err = model.NewExec(r.backend, r.store, fn)
	return se, err
}

// check returns an errNotFinite for the first non-finite value among a step's flags (see
// newStepExec), in causal order: the ε evaluations in the order computed, then the new
// latent. inputs says which ε were evaluated at latent inputs; latents have n values of dt.
func check(flags []float64, inputs []bool, n int, dt dtypes.DType) error {
	bad := nonFinite
	size := func(i int) errNotFinite { // of the latent ε i was evaluated at, from its Σx²
		if ss := flags[2*i+1]; !math.IsInf(ss, 1) {
			return errNotFinite{rms: math.Sqrt(ss / float64(n))}
		}
		big := math.MaxFloat64
		if dt == dtypes.Float32 {
			big = math.MaxFloat32
		}
		return errNotFinite{rms: math.Sqrt(big / float64(n)), beyond: true}
	}
	for i, in := range inputs {
		if !bad(flags[2*i]) {
			continue
		}
		e := size(i)
		e.what, e.param = "eps", in
		if !in && (e.beyond || math.IsNaN(e.rms)) {
			e.what = "latent" // a latent computed within the step (EDICT's) overflowed
		}
		return e
	}
	if !bad(flags[len(flags)-1]) {
		return nil
	}
	e := errNotFinite{what: "latent"} // with the largest rms |x| of the latents ε was evaluated at
	for i := range inputs {
		if s := size(i); s.rms > e.rms {
			e.rms, e.beyond = s.rms, s.beyond
		}
	}
	return e
}

// errNotFinite is a step's non-finite value. what: "eps", an ε evaluation is NaN or Inf, and
// rms is rms |x| of the latent x it was evaluated at (NaN if x holds a NaN); "latent", a
// latent the step computed is, and rms is the largest rms |x| of the latents ε was evaluated
// at. beyond: rms |x| is beyond rms, where Σx² overflows (or x holds an Inf). param: x is a
// latent input of the step graph.
type errNotFinite struct {
	what          string
	rms           float64
	beyond, param bool
}

func (e errNotFinite) size() string {
	if e.beyond {
		return fmt.Sprintf("rms |x| > %.3g (or an Inf)", e.rms)
	}
	return fmt.Sprintf("rms |x| = %.3g", e.rms)
}

func (e errNotFinite) Error() string {
	if e.what == "eps" {
		return "ε is NaN or Inf, for a latent of " + e.size()
	}
	return "the latent overflowed to Inf/NaN, from a latent of " + e.size()
}

// epsGraph evaluates ε_θ(x) at network time tm with CFG, and converts the model's
// prediction type to ε with conv's α, σ (tm's, except in diffusers' DDIM inversion).
func (r *Runner) epsGraph(scope *model.Scope, x *Node, tm, conv Time, w, cond, uncond *Node) *Node {
	var out *Node
	if uncond != nil {
		b := x.Shape().Dimensions[0]
		both := r.model.Eps(scope, Concatenate([]*Node{x, x}, 0), tm, Concatenate([]*Node{uncond, cond}, 0))
		eu := SliceAxis(both, 0, AxisRange(0, b))
		ec := SliceAxis(both, 0, AxisRange(b, 2*b))
		out = Add(eu, Mul(w, Sub(ec, eu)))
	} else {
		out = r.model.Eps(scope, x, tm, cond)
	}
	pt := "epsilon"
	if p, ok := r.model.(Predictor); ok {
		pt = p.PredictionType()
	}
	return EpsFromPrediction(pt, out, x, conv)
}

// EpsFromPrediction converts a model output to ε (diffusers' prediction_type):
//
//	epsilon:      ε = out
//	v_prediction: v = α ε − σ x₀  ⇒  ε = α v + σ x_t
//	sample:       x̂₀ = out       ⇒  ε = (x_t − α x̂₀)/σ
//
// An unknown type panics inside the graph; ValidatePrediction checks it first.
func EpsFromPrediction(predictionType string, out, x *Node, tm Time) *Node {
	switch predictionType {
	case "", "epsilon":
		return out
	case "v_prediction":
		return Add(Mul(tm.Alpha, out), Mul(tm.Sigma, x))
	case "sample":
		return Div(Sub(x, Mul(tm.Alpha, out)), tm.Sigma)
	}
	panic(fmt.Errorf("unknown prediction_type %q: use epsilon, v_prediction or sample", predictionType))
}

// ValidatePrediction checks a prediction_type name.
func ValidatePrediction(predictionType string) error {
	switch predictionType {
	case "", "epsilon", "v_prediction", "sample":
		return nil
	}
	return fmt.Errorf("unknown prediction_type %q: use epsilon, v_prediction or sample", predictionType)
}

func hostFloat64s(t *tensors.Tensor) []float64 {
	switch v := t.Value().(type) {
	case []float64:
		return v
	case []float32:
		out := make([]float64, len(v))
		for i, f := range v {
			out[i] = float64(f)
		}
		return out
	}
	panic(fmt.Errorf("unexpected flags tensor %s", t.Shape()))
}

// stepError wraps a step failure with where it happened: step is the step's index in the
// pass, from → to its levels, net its network level and n the grid's number of steps. A
// non-finite value is reported by its cause: the latent given, the model, or the sampler.
func stepError(err error, s Sampler, dir Direction, step, from, to int, net Level, n int) error {
	where := fmt.Sprintf("%s %s, step %d (level %d → %d, t=%g)", s.Name(), dir, step, from, to, net.T)
	nf, ok := err.(errNotFinite)
	if !ok {
		return fmt.Errorf("%s: %w", where, err)
	}
	hint := instabilityHint(s, dir)
	// initial: ε's latent is an input of the pass's first step (where evalEps, for ε of the
	// given state, runs too): one the pass was given, not one it computed.
	initial := nf.param && step == 0
	switch {
	case nf.what == "latent" && nf.rms > 0:
		return fmt.Errorf("%s: the latent overflowed to Inf/NaN, from a latent of %s%s", where, nf.size(), hint)
	case nf.what == "latent", math.IsNaN(nf.rms) && !initial:
		return fmt.Errorf("%s: the latent overflowed to Inf/NaN%s", where, hint)
	case math.IsNaN(nf.rms): // x given with a NaN (an Inf makes Σx² +Inf: beyond)
		return fmt.Errorf("%s: the starting latent contains NaN or Inf: check the input (or the pass that produced it)", where)
	case nf.rms > divergedRMS && initial:
		return fmt.Errorf("%s: ε of the starting latent is NaN or Inf, and that latent has %s, far beyond the O(1) scale of diffusion latents: check the input's scale (or the pass that produced it)", where, nf.size())
	case nf.rms > divergedRMS:
		return fmt.Errorf("%s: the sampler diverged: the latent had grown to %s before step %d (diffusion latents are O(1)) and ε of it overflowed to NaN or Inf: %s %s is unstable at N = %d%s",
			where, nf.size(), step, s.Name(), dir, n, hint)
	}
	return fmt.Errorf("%s: the model returned NaN or Inf for a finite input of %s: check the model, its weights and its input scale", where, nf.size())
}

// instabilityHinter is a sampler with a known instability in some direction (BDIA's
// inversion, k-step BELM for k ≥ 3): instabilityHint completes a divergence error.
type instabilityHinter interface {
	instabilityHint(dir Direction) string
}

// instabilityHint names the known instabilities of s in direction dir.
func instabilityHint(s Sampler, dir Direction) string {
	if h, ok := s.(instabilityHinter); ok {
		return h.instabilityHint(dir)
	}
	return ""
}
