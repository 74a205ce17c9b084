package quality

import "github.com/belmlab/workbench/belm/pipeline"

// Quantize rounds images in [−1, 1] to the 8-bit grid that real images live on: each value
// is written as saving a PNG writes it (pipeline.Quantize: round(clamp(v/2 + 0.5, 0, 1)·255))
// and read back as the data loaders read a byte b (b/127.5 − 1, torchvision's ToTensor then
// Normalize([0.5], [0.5]); fashionmnist.Scale), so that generated and real images reach a
// feature extractor alike.
func Quantize(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(float64(pipeline.Quantize(v))/127.5 - 1)
	}
	return out
}
