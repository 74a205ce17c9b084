// Package belm implements the samplers of "BELM: Bidirectional Explicit Linear Multi-step
// Sampler for Exact Inversion in Diffusion Models" (NeurIPS 2024) and their inverses, on
// GoMLX, float64 end to end.
//
// # Variables and time
//
// A VP diffusion has x_t = α_t x₀ + σ_t ε, α_t = √ᾱ_t, σ_t = √(1−ᾱ_t) (Schedule). In the
// paper's variables x̄ = x/α and σ̄ = σ/α its probability-flow ODE is
//
//	dx̄/dσ̄ = ε̄_θ(x̄, σ̄)        (paper Eq. 6/11),
//
// and every sampler here is a linear multistep method for it. A Grid holds the levels of a
// pass in the paper's order: Levels[0] is x₀ (normally the exact clean endpoint α=1, σ=0),
// Levels[N] the noisiest; h_i = σ̄_i − σ̄_{i−1}. Sampling walks N → 0, inversion 0 → N.
// Schedule.Grid builds the grids of diffusers' DDIMScheduler (leading, trailing, linspace
// with numpy's rounding); PowerGrid and SigmaBarGrid build continuous ones.
//
// # Samplers
//
//	sampler   file       step (sampling)                                        inverse   NFE  state
//	DDIM      ddim.go    x̄_{i−1} = x̄_i − h_i ε̄_i                                not exact  1   x
//	BDIA      bdia.go    x_{i−1} = γx_{i+1} + Φ_{i→i−1}(x_i,ε_i) − γΦ_{i→i+1}(x_i,ε_i)   exact, γ≠0 1   (x_{i+1}, x_i)
//	O-BELM    obelm.go   x̄_{i−1} = a₂x̄_{i+1} + a₁x̄_i + b₁h_iε̄_i (Prop. 4)          exact      1   (x_{i+1}, x_i)
//	BELM k    kbelm.go   k-step, order conditions solved numerically            exact      1   k latents
//	EDICT     edict.go   coupled (x, y) with mixing p                            exact      2   (x, y)
//
// Each sampler's file also holds its registry entry (SamplerInfo: names and aliases as
// --sampler_type spells them, label, colour, NFE, exactness, expected LTE slope and global
// order, constructor). ParseSampler, the figures (package viz) and the conformance tests read
// the registry (Samplers, LookupSampler); nothing else lists or switches on samplers.
//
// Every multistep step is a Relation Σ X_j x_{lo+j} + Σ E_j ε(x_{lo+j}) = 0 solved for its
// lowest level (sampling) or its highest (inversion). BELM relations have no ε at either
// end, so both solutions are explicit and exact inverses for the same ε values (Prop. 2);
// DDIM's inversion is a different relation, hence inexact. The first step of a pass, with
// only one known latent, bootstraps with DDIM (Algorithm 1).
//
// # Execution
//
// A Model is a GoMLX graph function ε_θ(x, t[, c]). A Runner executes samplers on a
// backend (package backends: go by default, onnx and xla behind build tags): each step is
// one compiled graph, shared by all steps and both directions, whose inputs are the latents,
// the float64 coefficients computed on the host, and the network time; the runner checks
// after each step that ε and the latent are finite. CFG (Runner.SetConditioning) and the
// prediction types epsilon, v_prediction and sample are applied inside the graph. The runner
// dispatches on interfaces only: a Multistep sampler's relations run in one pass loop, a
// sampler with steps of its own (EDICT, clipped DDIM) in another, and both report every step
// to Runner.Observer.
//
// DDIM also follows diffusers' conventions where they differ from the paper's: DDIM.Final
// lands the last step on ᾱ₀ (set_alpha_to_one false, FinalLevel), InvertDiffusers is
// DDIMInverseScheduler's inversion (sampler "ddim-inverse-diffusers"); the golden loops of
// diffusers' scheduler tests reproduce through the runner.
//
// # Analysis
//
// Runner.LTEStudy and Runner.GlobalStudy measure local truncation and global errors against
// an exact Flow (closed form for analytic.Gaussian, Runner.Integrate's RK4 otherwise);
// FitLogLogSlope gives the orders: LTE slopes DDIM 2, BDIA 2, EDICT 2, O-BELM 3, k-step
// BELM 2k−1; global orders DDIM 1, BDIA 1, EDICT 1, O-BELM 2 (SamplerInfo.LTESlope,
// GlobalOrder). CoefficientTable lists every step's coefficients (`belm coeffs`).
package belm
