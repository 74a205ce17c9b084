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
// samplers with the same Window share one graph, computing
//
//	x_new = Σ_m A_m·S_m + Σ_{0<m<W−1} C_m·E_m + C_{W−1}·ε_θ(S_{W−1}),
//
// with S_0 … S_{W−1} the window (oldest first, S_{W−1} the newest latent), E_m the ε values
// kept from earlier steps, and ε of the newest latent evaluated now. Windows shorter than W
// are padded with zero coefficients, which leaves the result bit-identical.
func (r *Runner) runMultistep(s Multistep, g *Grid, st State, to int, dir Direction) (State, error) {
	W := s.Window()
	known := map[int]*tensors.Tensor{}
	sign := -1 // latents of st lie below st.Level (inversion) or above (sampling)
	if st.Dir == Sampling {
		sign = 1
	}
	for j, l := range st.Latents {
		lv := st.Level + sign*j
		if lv < 0 || lv > g.N() {
			return State{}, fmt.Errorf("state latent %d sits at level %d, outside the grid's 0…%d", j, lv, g.N())
		}
		known[lv] = l
	}
	step := -1 // level increment of the pass
	if dir == Inversion {
		step = 1
	}
	// The frontier: the last known level in the pass direction, with a contiguous run behind it.
	front := st.Level
	for {
		if _, ok := known[front+step]; !ok {
			break
		}
		front += step
	}
	if (to-front)*step <= 0 {
		return State{Level: to, Latents: []*tensors.Tensor{known[to]}, Dir: dir}, nil
	}
	run := 1
	for {
		if _, ok := known[front-step*run]; !ok {
			break
		}
		run++
	}
	eps := map[int]*tensors.Tensor{}
	// owned: tensors this pass created and nobody else has seen (latents: only without an
	// Observer; ε: always): those a step drops for good are donated to it, so the backend
	// can reuse their buffers, or else finalized as soon as they are dropped.
	owned := map[*tensors.Tensor]bool{}
	kind := fmt.Sprintf("multistep/%d", W)
	nCarry := max(0, W-2)
	body := func(env stepEnv, in []*Node) ([]*Node, []*Node) {
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
	steps := (to - front) * step
	for k := 0; k < steps; k++ {
		target := front + step*(k+1)
		w := min(W, run+k)
		lo := target
		if dir == Inversion {
			lo = target - w
		}
		ex, err := s.Relation(g, lo, w, dir).Solve(target)
		if err != nil {
			return State{}, fmt.Errorf("%s %s, step %d: %w", s.Name(), dir, k, err)
		}
		// The window in pass order, oldest first; padded at the front with the newest latent.
		win := make([]int, w)
		for m := range win {
			win[m] = target - step*(w-m)
		}
		newest := win[w-1]
		latents := make([]*tensors.Tensor, 0, W+nCarry)
		coef := make([]float64, W+nCarry+1)
		for m := 0; m < W; m++ {
			if pm := m - (W - w); pm >= 0 {
				latents = append(latents, known[win[pm]])
				coef[m] = ex.A[win[pm]-ex.Lo]
			} else {
				latents = append(latents, known[newest])
			}
		}
		carried := make([]*tensors.Tensor, nCarry)
		for pm, lv := range win {
			c := ex.C[lv-ex.Lo]
			m := pm + W - w // the slot of this latent in the padded window
			switch {
			case c == 0:
			case lv == newest:
				coef[W+nCarry] = c
			case m >= 1 && m <= nCarry:
				if eps[lv] == nil {
					// Not evaluated in this pass (sampling from an inverted state): evaluate it
					// now; the same input bits give the same ε the inversion used.
					e, err := r.evalEps(known[lv], g.Net[lv])
					if err != nil {
						return State{}, stepError(err, s, dir, k, lv, target, g.Net[lv], g.N())
					}
					eps[lv] = e
				}
				carried[m-1] = eps[lv]
				coef[W+m-1] = c
			default:
				return State{}, fmt.Errorf("internal error: %s's relation needs ε at level %d, which is not kept", s.Name(), lv)
			}
		}
		for _, c := range carried {
			if c == nil {
				c = known[newest] // a finite filler with a zero coefficient
			}
			latents = append(latents, c)
		}
		net := g.Net[newest]
		// Donate what no later step needs: the latent and ε leaving the window, when this
		// pass made them and they appear once among the inputs.
		var donate []bool
		if r.Observer == nil {
			drop := map[*tensors.Tensor]bool{}
			if l := known[target-step*W]; l != nil && owned[l] {
				drop[l] = true
			}
			if e := eps[target-step*W]; e != nil && owned[e] {
				drop[e] = true
			}
			if len(drop) > 0 {
				count := map[*tensors.Tensor]int{}
				for _, l := range latents {
					count[l]++
				}
				donate = make([]bool, len(latents))
				for i, l := range latents {
					donate[i] = drop[l] && count[l] == 1
				}
			}
		}
		out, keep, err := r.exec(kind, body, latents, r.params(net, coef...), donate...)
		if err != nil {
			return State{}, stepError(err, s, dir, k, newest, target, net, g.N())
		}
		r.nfe.Add(1)
		for i, d := range donate {
			if d {
				delete(owned, latents[i])
			}
		}
		owned[keep[0]] = true // ε values never leave the runner
		if r.Observer == nil {
			owned[out[0]] = true
		}
		known[target] = out[0]
		eps[newest] = keep[0]
		// Forget what no later step can need; release this pass's own buffers at once
		// rather than at garbage collection (onnx then reuses them for the next outputs).
		oldL, oldE := known[target-step*W], eps[target-step*W]
		delete(known, target-step*W)
		delete(eps, target-step*W)
		for _, t := range []*tensors.Tensor{oldL, oldE} {
			if t != nil && owned[t] && t != out[0] {
				delete(owned, t)
				t.FinalizeAll()
			}
		}
		if r.Observer != nil {
			r.Observer(StepInfo{Sampler: s.Name(), Dir: dir, Step: k, Steps: steps, From: newest, To: target, Latent: out[0]})
		}
	}
	res := State{Level: to, Dir: dir}
	for j := 0; j < W; j++ {
		l, ok := known[to-step*j]
		if !ok {
			break
		}
		res.Latents = append(res.Latents, l)
	}
	return res, nil
}

// runEDICT walks EDICT from st to level `to`; one graph per direction, 2 NFE per step.
func (r *Runner) runEDICT(s EDICT, g *Grid, st State, to int, dir Direction) (State, error) {
	x := st.Latents[0]
	y := x
	if len(st.Latents) > 1 {
		y = st.Latents[1]
	}
	kind := "edict/" + dir.String()
	body := func(env stepEnv, in []*Node) ([]*Node, []*Node) {
		p := env.Param
		xn, yn := s.step(dir, env.Eps, in[0], in[1], p(pHead), p(pHead+1), p(pHead+2))
		return []*Node{xn, yn}, nil
	}
	steps := to - st.Level
	step := 1
	if dir == Sampling {
		steps, step = -steps, -1
	}
	for k := 0; k < steps; k++ {
		from := st.Level + step*k
		target := from + step
		i := max(from, target) // the step between levels i−1 and i uses a_i, b_i and t_i
		a, b := s.Coefficients(g, i)
		net := g.Net[i]
		// After the first step x and y are this pass's own (unless an Observer saw them):
		// donate them, the step replaces both.
		own := k > 0 && r.Observer == nil && x != y
		out, _, err := r.exec(kind, body, []*tensors.Tensor{x, y}, r.params(net, a, b, s.P), own, own)
		if err != nil {
			return State{}, stepError(err, s, dir, k, from, target, net, g.N())
		}
		r.nfe.Add(2)
		x, y = out[0], out[1]
		if r.Observer != nil {
			r.Observer(StepInfo{Sampler: s.Name(), Dir: dir, Step: k, Steps: steps, From: from, To: target, Latent: x})
		}
	}
	return State{Level: to, Latents: []*tensors.Tensor{x, y}, Dir: dir}, nil
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

// runClippedDDIM walks DDIM with x̂₀ clipping; one graph for both directions.
func (r *Runner) runClippedDDIM(s DDIM, g *Grid, st State, to int, dir Direction) (State, error) {
	x := st.Latents[0]
	body := func(env stepEnv, in []*Node) ([]*Node, []*Node) {
		p := env.Param
		return []*Node{s.clippedStep(env.Eps, in[0], p(pHead), p(pHead+1), p(pHead+2), p(pHead+3), p(pHead+4))}, nil
	}
	step := 1
	if dir == Sampling {
		step = -1
	}
	steps := (to - st.Level) * step
	for k := 0; k < steps; k++ {
		from := st.Level + step*k
		target := from + step
		// ε at the upper state when sampling, at the lower one when inverting (as unclipped DDIM).
		net := g.Net[from]
		f, t := g.Levels[from], g.Levels[target]
		own := k > 0 && r.Observer == nil // x is this pass's own after the first step
		out, _, err := r.exec("ddim-clip", body, []*tensors.Tensor{x}, r.params(net, f.Alpha, f.Sigma, t.Alpha, t.Sigma, s.Clip), own)
		if err != nil {
			return State{}, stepError(err, s, dir, k, from, target, net, g.N())
		}
		r.nfe.Add(1)
		x = out[0]
		if r.Observer != nil {
			r.Observer(StepInfo{Sampler: s.Name(), Dir: dir, Step: k, Steps: steps, From: from, To: target, Latent: x})
		}
	}
	return State{Level: to, Latents: []*tensors.Tensor{x}, Dir: dir}, nil
}
