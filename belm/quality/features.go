package quality

// FeatureExtractor maps images to feature vectors. The Fréchet distance compares the
// Gaussians fitted to two sets of such vectors, so any extractor gives a Fréchet distance:
// the Fashion-MNIST Classifier's 128-d penultimate layer here, Inception-v3's pool3 for FID.
type FeatureExtractor interface {
	// Dim is the length of one feature vector.
	Dim() int
	// Features maps n images (flat NCHW float32 in [−1, 1]) to n·Dim() values, row-major.
	Features(x []float32) ([]float32, error)
}

// Features returns the classifier's penultimate-layer features of images x (see Apply).
func (c *Classifier) Features(x []float32) ([]float32, error) {
	f, _, err := c.Apply(x)
	return f, err
}

// MomentsOf returns the sufficient statistics of f's features of images x.
func MomentsOf(f FeatureExtractor, x []float32) (Moments, error) {
	v, err := f.Features(x)
	if err != nil {
		return Moments{}, err
	}
	return NewMoments(v, f.Dim())
}

// StatsOf fits the Gaussian of f's features of images x.
func StatsOf(f FeatureExtractor, x []float32) (Gaussian, error) {
	v, err := f.Features(x)
	if err != nil {
		return Gaussian{}, err
	}
	return Fit(v, f.Dim())
}
