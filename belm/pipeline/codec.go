package pipeline

import (
	"fmt"
	"slices"
)

// Codec maps images to the latents a model works on and back: the identity for a
// pixel-space model (Identity), a VAE's encoder and decoder for latent diffusion. Images
// are flat NCHW values in [−1, 1] of ImageShape; latents flat values of LatentShape, a
// batch at a time.
type Codec interface {
	// ImageShape is the shape [C, H, W] of one image.
	ImageShape() []int
	// LatentShape is the shape of one latent (without the batch axis).
	LatentShape() []int
	// Encode maps batch images to their latents.
	Encode(images []float64, batch int) ([]float64, error)
	// Decode maps batch latents to images (unclamped: values may leave [−1, 1]).
	Decode(latents []float64, batch int) ([]float64, error)
}

// Identity is the codec of a pixel-space model: the latent is the image, of Shape.
// Encode and Decode return their argument (not a copy) after checking its length.
type Identity struct{ Shape []int }

// ImageShape and LatentShape are both Shape.
func (c Identity) ImageShape() []int  { return slices.Clone(c.Shape) }
func (c Identity) LatentShape() []int { return slices.Clone(c.Shape) }

// Encode returns the images, which are the latents.
func (c Identity) Encode(images []float64, batch int) ([]float64, error) {
	return images, checkLen(images, batch, c.Shape, "images")
}

// Decode returns the latents, which are the images.
func (c Identity) Decode(latents []float64, batch int) ([]float64, error) {
	return latents, checkLen(latents, batch, c.Shape, "latents")
}

func checkLen(v []float64, batch int, shape []int, what string) error {
	if batch < 0 || len(v) != batch*prod(shape) {
		return fmt.Errorf("%d values for %d %s of shape %v (want %d)", len(v), batch, what, shape, max(batch, 0)*prod(shape))
	}
	return nil
}

// checkShapes refuses a codec whose shapes hold no values.
func checkShapes(c Codec) error {
	for _, s := range [][]int{c.ImageShape(), c.LatentShape()} {
		if len(s) == 0 || slices.Min(s) < 1 {
			return fmt.Errorf("codec %T: image shape %v, latent shape %v: every dimension must be ≥ 1", c, c.ImageShape(), c.LatentShape())
		}
	}
	return nil
}

// Encode maps batch images to the model's latents (the codec's Encode).
func (p *Pipeline) Encode(images []float64, batch int) ([]float64, error) {
	z, err := p.Codec.Encode(images, batch)
	if err != nil {
		return nil, fmt.Errorf("encoding images: %w", err)
	}
	if err := checkLen(z, batch, p.LatentShape(), "latents from the codec"); err != nil {
		return nil, err
	}
	return z, nil
}

// Decode maps batch latents to images in [−1, 1] (unclamped; the codec's Decode).
func (p *Pipeline) Decode(latents []float64, batch int) ([]float64, error) {
	x, err := p.Codec.Decode(latents, batch)
	if err != nil {
		return nil, fmt.Errorf("decoding latents: %w", err)
	}
	if err := checkLen(x, batch, p.ImageShape(), "images from the codec"); err != nil {
		return nil, err
	}
	return x, nil
}
