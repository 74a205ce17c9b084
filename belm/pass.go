package belm

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// runMultistep walks a Multistep sampler from st to level `to`.
//
// The step producing level ℓ knows w = min(Window, #known consecutive latents) latents and
// solves the sampler's relation over the w+1 levels ending at ℓ for x_ℓ. All steps of all
// samplers with the same Window share one graph (multistepBody). A pass keeps the latents
// and ε values later steps need (multistepPass), feeds each step a window padded to the full
// Window (inputs), donates the buffers that leave the window (donations) and reports every
// step to the Observer.
func (r *Runner) runMultistep(s Multistep, g *Grid, st State, to int, dir Direction) (State, error) {
	p, err := newMultistepPass(r, s, g, st, dir)
	if err != nil {
		return State{}, err
	}
	front, run := p.frontier(st.Level)
	if (to-front)*p.step <= 0 {
		return State{Level: to, Latents: []*tensors.Tensor{p.known[to]}, Dir: dir}, nil
	}
	steps := (to - front) * p.step
	for k := 0; k < steps; k++ {
		if err := p.advance(k, steps, front+p.step*(k+1), min(p.W, run+k)); err != nil {
			return State{}, err
		}
	}
	res := State{Level: to, Dir: dir}
	for j := 0; j < p.W; j++ {
		l, ok := p.known[to-p.step*j]
		if !ok {
			break
		}
		res.Latents = append(res.Latents, l)
	}
	return res, nil
}

// multistepPass is one pass of a Multistep sampler: the latents and the ε values kept by
// level, and the buffers the pass owns.
type multistepPass struct {
	r      *Runner
	s      Multistep
	g      *Grid
	dir    Direction
	W      int // the sampler's window
	nCarry int // kept ε values a full step reads besides ε of its newest latent: max(0, W−2)
	step   int // the level increment: −1 sampling, +1 inversion
	kind   string
	body   stepGraph // multistepBody(W, nCarry), one graph per kind
	known  map[int]*tensors.Tensor
	eps    map[int]*tensors.Tensor
	// owned: tensors this pass created and nobody else has seen (latents: only without an
	// Observer; ε: always): those a step drops for good are donated to it, so the backend
	// can reuse their buffers, or else finalized as soon as they are dropped.
	owned map[*tensors.Tensor]bool
}

// newMultistepPass places the latents of st at their levels: below st.Level after an
// inversion, above it after sampling.
func newMultistepPass(r *Runner, s Multistep, g *Grid, st State, dir Direction) (*multistepPass, error) {
	p := &multistepPass{r: r, s: s, g: g, dir: dir, W: s.Window(), nCarry: max(0, s.Window()-2), step: -1,
		known: map[int]*tensors.Tensor{}, eps: map[int]*tensors.Tensor{}, owned: map[*tensors.Tensor]bool{}}
	if dir == Inversion {
		p.step = 1
	}
	p.kind, p.body = fmt.Sprintf("multistep/%d", p.W), multistepBody(p.W, p.nCarry)
	sign := -1
	if st.Dir == Sampling {
		sign = 1
	}
	for j, l := range st.Latents {
		lv := st.Level + sign*j
		if lv < 0 || lv > g.N() {
			return nil, fmt.Errorf("state latent %d sits at level %d, outside the grid's 0…%d", j, lv, g.N())
		}
		p.known[lv] = l
	}
	return p, nil
}

// frontier returns the last known level in the pass direction from `from`, and the length of
// the contiguous run of known levels ending there.
func (p *multistepPass) frontier(from int) (front, run int) {
	front = from
	for p.known[front+p.step] != nil {
		front += p.step
	}
	run = 1
	for p.known[front-p.step*run] != nil {
		run++
	}
	return front, run
}

// advance runs step k of the pass: it solves the w-latent relation for level target and
// executes it.
func (p *multistepPass) advance(k, steps, target, w int) error {
	lo := target
	if p.dir == Inversion {
		lo = target - w
	}
	ex, err := p.s.Relation(p.g, lo, w, p.dir).Solve(target)
	if err != nil {
		return fmt.Errorf("%s %s, step %d: %w", p.s.Name(), p.dir, k, err)
	}
	// The window in pass order, oldest first.
	win := make([]int, w)
	for m := range win {
		win[m] = target - p.step*(w-m)
	}
	newest := win[w-1]
	latents, coef, err := p.inputs(k, target, win, ex)
	if err != nil {
		return err
	}
	net := p.g.Net[newest]
	donate := p.donations(target, latents)
	out, keep, err := p.r.exec(p.kind, p.body, latents, p.r.params(net, coef...), donate...)
	if err != nil {
		return stepError(err, p.s, p.dir, k, newest, target, net, p.g.N())
	}
	p.r.nfe.Add(1)
	p.record(target, newest, latents, donate, out[0], keep[0])
	p.r.observe(p.s, p.dir, k, steps, newest, target, out[0])
	return nil
}

// multistepBody is the step graph of window W with nCarry kept ε values:
//
//	x_new = Σ_m A_m·S_m + Σ_{0<m<W−1} C_m·E_m + C_{W−1}·ε_θ(S_{W−1}),
//
// with S_0 … S_{W−1} the window (oldest first, S_{W−1} the newest latent), E_m the ε values
// kept from earlier steps, and ε of the newest latent evaluated now (and kept).
func multistepBody(W, nCarry int) stepGraph {
	return func(env stepEnv, in []*Node) ([]*Node, []*Node) {
		param := env.Param
		states, carried := in[:W], in[W:]
		fresh := env.Eps(states[W-1])
		x := Mul(param(pHead), states[0])
		for m := 1; m < W; m++ {
			x = Add(x, Mul(param(pHead+m), states[m]))
		}
		for m := range carried {
			x = Add(x, Mul(param(pHead+W+m), carried[m]))
		}
		x = Add(x, Mul(param(pHead+W+nCarry), fresh))
		return []*Node{x}, []*Node{fresh}
	}
}

// inputs returns the step graph's latent inputs and coefficients for the relation ex over
// the window win. A window shorter than W is padded at the front with the newest latent and
// zero coefficients, and missing kept ε values with the newest latent and a zero coefficient,
// which leaves the result bit-identical to a graph of the window's own size.
func (p *multistepPass) inputs(k, target int, win []int, ex Explicit) ([]*tensors.Tensor, []float64, error) {
	W, w, newest := p.W, len(win), win[len(win)-1]
	latents := make([]*tensors.Tensor, 0, W+p.nCarry)
	coef := make([]float64, W+p.nCarry+1)
	for m := 0; m < W; m++ {
		if pm := m - (W - w); pm >= 0 {
			latents = append(latents, p.known[win[pm]])
			coef[m] = ex.A[win[pm]-ex.Lo]
		} else {
			latents = append(latents, p.known[newest])
		}
	}
	carried := make([]*tensors.Tensor, p.nCarry)
	for pm, lv := range win {
		c := ex.C[lv-ex.Lo]
		m := pm + W - w // the slot of this latent in the padded window
		switch {
		case c == 0:
		case lv == newest:
			coef[W+p.nCarry] = c
		case m >= 1 && m <= p.nCarry:
			e, err := p.keptEps(k, lv, target)
			if err != nil {
				return nil, nil, err
			}
			carried[m-1], coef[W+m-1] = e, c
		default:
			return nil, nil, fmt.Errorf("internal error: %s's relation needs ε at level %d, which is not kept", p.s.Name(), lv)
		}
	}
	for _, c := range carried {
		if c == nil {
			c = p.known[newest] // a finite filler with a zero coefficient
		}
		latents = append(latents, c)
	}
	return latents, coef, nil
}

// keptEps returns ε of the latent at level lv, kept from an earlier step of the pass or, if
// this pass has not evaluated it (sampling from an inverted state), evaluated now: the same
// input bits give the same ε the inversion used.
func (p *multistepPass) keptEps(k, lv, target int) (*tensors.Tensor, error) {
	if e := p.eps[lv]; e != nil {
		return e, nil
	}
	e, err := p.r.evalEps(p.known[lv], p.g.Net[lv])
	if err != nil {
		return nil, stepError(err, p.s, p.dir, k, lv, target, p.g.Net[lv], p.g.N())
	}
	p.eps[lv] = e
	return e, nil
}

// donations says which inputs the step producing target may consume: the latent and ε
// leaving the window, when this pass made them (no Observer saw them) and they appear once
// among the inputs. nil when there is none.
func (p *multistepPass) donations(target int, latents []*tensors.Tensor) []bool {
	if p.r.Observer != nil {
		return nil
	}
	drop := map[*tensors.Tensor]bool{}
	if l := p.known[target-p.step*p.W]; l != nil && p.owned[l] {
		drop[l] = true
	}
	if e := p.eps[target-p.step*p.W]; e != nil && p.owned[e] {
		drop[e] = true
	}
	if len(drop) == 0 {
		return nil
	}
	count := map[*tensors.Tensor]int{}
	for _, l := range latents {
		count[l]++
	}
	donate := make([]bool, len(latents))
	for i, l := range latents {
		donate[i] = drop[l] && count[l] == 1
	}
	return donate
}

// record stores the step's new latent x (at target) and ε (of the newest latent), and
// forgets what no later step can need, releasing this pass's own buffers at once rather
// than at garbage collection (onnx then reuses them for the next outputs).
func (p *multistepPass) record(target, newest int, latents []*tensors.Tensor, donated []bool, x, e *tensors.Tensor) {
	for i, d := range donated {
		if d {
			delete(p.owned, latents[i])
		}
	}
	p.owned[e] = true // ε values never leave the runner
	if p.r.Observer == nil {
		p.owned[x] = true
	}
	p.known[target] = x
	p.eps[newest] = e
	old := target - p.step*p.W
	oldL, oldE := p.known[old], p.eps[old]
	delete(p.known, old)
	delete(p.eps, old)
	for _, t := range []*tensors.Tensor{oldL, oldE} {
		if t != nil && p.owned[t] && t != x {
			delete(p.owned, t)
			t.FinalizeAll()
		}
	}
}

// stepper is a sampler that carries a fixed tuple of latents from level to level with a step
// graph of its own, rather than as a Multistep relation: EDICT's pair (x, y), and DDIM
// through the clipped x̂₀ or in diffusers' inversion convention.
type stepper interface {
	Sampler
	// ownSteps reports whether the sampler steps itself in direction dir (if not, it is a
	// Multistep there).
	ownSteps(dir Direction) bool
	// stepGraph returns the step graph of direction dir and its kind (one compiled graph
	// per kind).
	stepGraph(dir Direction) (kind string, body stepGraph)
	// stepParams returns the network level and the coefficients (the graph's parameters
	// after the head) of the step from level `from` to level `to`.
	stepParams(g *Grid, from, to int, dir Direction) (net Level, coef []float64)
	// startLatents returns the latents the steps carry, from those of a state.
	startLatents(ls []*tensors.Tensor) []*tensors.Tensor
}

// runSteps walks a stepper from st to level `to`, one graph execution per step.
func (r *Runner) runSteps(s stepper, g *Grid, st State, to int, dir Direction) (State, error) {
	xs := s.startLatents(st.Latents)
	kind, body := s.stepGraph(dir)
	step := 1
	if dir == Sampling {
		step = -1
	}
	steps := (to - st.Level) * step
	for k := 0; k < steps; k++ {
		from := st.Level + step*k
		target := from + step
		net, coef := s.stepParams(g, from, target, dir)
		// After the first step the latents are this pass's own (unless an Observer saw
		// them), and the step replaces them all: donate them.
		donate := make([]bool, len(xs))
		own := k > 0 && r.Observer == nil && distinct(xs)
		for i := range donate {
			donate[i] = own
		}
		out, _, err := r.exec(kind, body, xs, r.params(net, coef...), donate...)
		if err != nil {
			return State{}, stepError(err, s, dir, k, from, target, net, g.N())
		}
		r.nfe.Add(int64(s.NFEPerStep()))
		xs = out
		r.observe(s, dir, k, steps, from, target, xs[0])
	}
	return State{Level: to, Latents: xs, Dir: dir}, nil
}

// distinct reports whether no tensor appears twice in ts.
func distinct(ts []*tensors.Tensor) bool {
	for i := range ts {
		for j := range i {
			if ts[i] == ts[j] {
				return false
			}
		}
	}
	return true
}

// evalEps evaluates ε_θ(x) at network time net (one NFE).
func (r *Runner) evalEps(x *tensors.Tensor, net Level) (*tensors.Tensor, error) {
	body := func(env stepEnv, in []*Node) ([]*Node, []*Node) {
		return []*Node{env.Eps(in[0])}, nil
	}
	out, _, err := r.exec("eps", body, []*tensors.Tensor{x}, r.params(net))
	if err != nil {
		return nil, err
	}
	r.nfe.Add(1)
	return out[0], nil
}
