package pipeline

import "math"

// Errors are the reconstruction errors of one image (or their average).
type Errors struct {
	// Latent is the mean squared difference of the latents (the reconstruction, unclipped,
	// against the input), the reference's mse1; for a pixel-space model the latent is the
	// image in [−1, 1].
	Latent float64 `json:"mse_latent"`
	// PM1 is the mean squared pixel difference on the [−1, 1] scale, the reconstruction
	// (decoded) clamped to [−1, 1]: the paper's Table 2 metric.
	PM1 float64 `json:"mse_pm1"`
	// Unit is the mean squared pixel difference on the [0, 1] scale between the 8-bit
	// output image and the (8-bit, resized) input: the reference code's mse2 (≈ PM1/4).
	Unit float64 `json:"mse_01"`
}

// ImageErrors returns the errors of each image of a batch: Latent from the input latents
// z0 and their reconstruction zr, PM1 and Unit from the input images img0 and the decoded
// reconstruction img (values a batch each; the latent and image sizes may differ).
func ImageErrors(z0, zr, img0, img []float64, batch int) []Errors {
	nz, ni := len(z0)/batch, len(img0)/batch
	out := make([]Errors, batch)
	for b := range out {
		var e Errors
		for i := b * nz; i < (b+1)*nz; i++ {
			d := zr[i] - z0[i]
			e.Latent += d * d
		}
		for i := b * ni; i < (b+1)*ni; i++ {
			d := math.Max(-1, math.Min(1, img[i])) - img0[i]
			e.PM1 += d * d
			d = float64(Quantize(img[i]))/255 - (img0[i]+1)/2
			e.Unit += d * d
		}
		e.Latent /= float64(nz)
		e.PM1 /= float64(ni)
		e.Unit /= float64(ni)
		out[b] = e
	}
	return out
}

// ReconstructionErrors returns the errors of each image of a batch of a pixel-space model,
// whose latents are its images (ImageErrors(x0, recon, x0, recon, batch)).
func ReconstructionErrors(x0, recon []float64, batch int) []Errors {
	return ImageErrors(x0, recon, x0, recon, batch)
}

// Mean averages errors.
func Mean(es []Errors) Errors {
	var m Errors
	for _, e := range es {
		m.Latent += e.Latent
		m.PM1 += e.PM1
		m.Unit += e.Unit
	}
	if k := float64(len(es)); k > 0 {
		m.Latent /= k
		m.PM1 /= k
		m.Unit /= k
	}
	return m
}
