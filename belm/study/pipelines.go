package study

import (
	"github.com/belmlab/workbench/belm/analytic"
	"github.com/belmlab/workbench/belm/pipeline"
)

// AnalyticPipeline is a pipeline of an analytic problem (analytic.NewProblem, Shapes) as c
// sets it up: c's schedule (its Float32 as given), dtype and backend. Its latents — and
// images, the codec being the identity — have the given shape ([1, 16, 16] for Shapes'
// pictures; default [D]).
func AnalyticPipeline(c Common, prob *analytic.Problem, shape ...int) (*pipeline.Pipeline, error) {
	c = c.Defaults()
	if len(shape) == 0 {
		shape = []int{prob.D}
	}
	return pipeline.New(prob.Model, c.Schedule, pipeline.Options{DType: c.DType, Backend: c.Backend,
		Float64Schedule: !c.Schedule.Float32, Codec: pipeline.Identity{Shape: shape}})
}
