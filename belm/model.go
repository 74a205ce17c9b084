package belm

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Time is the network time of one ε evaluation, as scalar graph nodes of the state's dtype.
//
// Learned models (a UNet) read T, the network timestep (0…T_train−1, possibly the code's
// special value 1 for the clean latent); analytic models read Alpha and Sigma, from which
// x̄ = x/α and σ̄ = σ/α follow. Both describe the same level, computed on the host in float64.
type Time struct {
	T     *graph.Node // network timestep t, scalar
	Alpha *graph.Node // α_t = √ᾱ_t, scalar
	Sigma *graph.Node // σ_t = √(1−ᾱ_t), scalar
}

// Model is an ε-model: ε_θ(x, t[, c]) as a GoMLX graph function.
//
// x has shape [B, …] (any trailing shape); the result has x's shape and dtype. cond is nil
// for an unconditional evaluation, or a conditioning tensor whose leading axis is B (its
// meaning is the model's: class weights, text embeddings, …). Eps must be deterministic:
// the same bits in give the same bits out, which exact inversion relies on (spec §7.2).
//
// Models that hold weights create them as variables of scope; their store is given by
// implementing StoreProvider.
type Model interface {
	Eps(scope *model.Scope, x *graph.Node, tm Time, cond *graph.Node) *graph.Node
}

// StoreProvider is implemented by models whose weights live in a model.Store; the
// sampler executes its graphs with that store so the weights are fed as variables.
type StoreProvider interface {
	Store() *model.Store
}

// Predictor is implemented by models that predict something other than ε
// ("v_prediction" or "sample", as diffusers' prediction_type); the runner converts
// their output to ε (see EpsFromPrediction). Models without it predict ε.
type Predictor interface {
	PredictionType() string
}
