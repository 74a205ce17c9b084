package pipeline

import (
	"github.com/belmlab/workbench/internal/atomicfile"

	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // JPEG inputs
	_ "image/png"  // PNG inputs
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/image/draw"

	"github.com/belmlab/workbench/belm/hub"
)

// ImageExtensions are the inputs ListImages finds (decoded with Go's image packages).
var ImageExtensions = []string{".png", ".jpg", ".jpeg"}

// ListImages returns the PNG and JPEG files under dir (recursively), sorted, so a run is
// reproducible (the reference walks os.walk order, unsorted).
func ListImages(dir string) ([]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("--directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("--directory %s is a file: pass the folder holding the images", dir)
	}
	var out []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && slices.Contains(ImageExtensions, strings.ToLower(filepath.Ext(path))) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no images in %s (looked for %s recursively)", dir, strings.Join(ImageExtensions, ", "))
	}
	slices.Sort(out)
	return out, nil
}

// LoadImage reads a PNG or JPEG, center-crops it to a square, resizes it to size×size
// (Catmull-Rom, antialiased when shrinking; 8-bit result, as PIL's resize) and returns its
// channels×size×size values in [−1, 1] (v/127.5 − 1 of the 8-bit values), channel-major.
// A grey image gives 3 equal channels when channels is 3; channels 1 takes the luma.
func LoadImage(path string, size, channels int) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := decodeBounded(f, path)
	if err != nil {
		return nil, err
	}
	return ImageToLatent(img, size, channels)
}

// MaxImagePixels bounds the pixels (width × height, as the file's header states them) of an
// input image: 8192×8192 = 2^26 pixels (67.1 megapixels). Decoding allocates the whole image before
// anything can look at it (up to 8 bytes a pixel for 16-bit RGBA PNG: 512 MiB at the
// limit; the crop and resize then work on it), so a small file whose header claims
// 60000×60000 would ask for 14–28 GB. 67 megapixels is above every camera photo in common
// use (24–50 MP; 8192 px is also the largest side of common textures), while the models
// take at most 256×256 (pixel space) or 1024×1024 (latent) images: shrink larger inputs
// first.
const MaxImagePixels = 8192 * 8192

// decodeBounded decodes a PNG or JPEG after checking the dimensions its header states
// (image.DecodeConfig, which reads only the header) against MaxImagePixels.
func decodeBounded(f io.ReadSeeker, path string) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("decoding %s (PNG or JPEG expected): %w", path, err)
	}
	if err := CheckImageSize(path, format, cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("decoding %s (PNG or JPEG expected): %w", path, err)
	}
	return img, nil
}

// CheckImageSize returns an error when an image of w×h pixels (from its header, see
// image.DecodeConfig) is empty or exceeds MaxImagePixels; format ("png", "jpeg") and path
// name it in the error.
func CheckImageSize(path, format string, w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%s: its %s header says %d×%d pixels: an empty image", path, format, w, h)
	}
	if int64(w)*int64(h) > MaxImagePixels {
		return fmt.Errorf("%s: its %s header says %d×%d pixels (%.1f megapixels), over the limit of 8192×8192 = %.1f megapixels (pipeline.MaxImagePixels): shrink the image first",
			path, format, w, h, float64(w)*float64(h)/1e6, float64(MaxImagePixels)/1e6)
	}
	return nil
}

// ImageToLatent center-crops and resizes img as LoadImage does.
func ImageToLatent(img image.Image, size, channels int) ([]float64, error) {
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("the model takes %d channels: only 1 (grey) or 3 (RGB) images are supported", channels)
	}
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	if side == 0 {
		return nil, fmt.Errorf("empty image")
	}
	crop := image.Rect(0, 0, side, side).Add(image.Pt(b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2))
	dst := image.NewNRGBA(image.Rect(0, 0, size, size))
	if side == size {
		draw.Draw(dst, dst.Bounds(), img, crop.Min, draw.Src)
	} else {
		draw.CatmullRom.Scale(dst, dst.Bounds(), img, crop, draw.Src, nil)
	}
	n := size * size
	out := make([]float64, channels*n)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			c := dst.NRGBAAt(x, y)
			i := y*size + x
			if channels == 1 {
				g := color.GrayModel.Convert(c).(color.Gray)
				out[i] = float64(g.Y)/127.5 - 1
				continue
			}
			out[i] = float64(c.R)/127.5 - 1
			out[n+i] = float64(c.G)/127.5 - 1
			out[2*n+i] = float64(c.B)/127.5 - 1
		}
	}
	return out, nil
}

// Quantize maps a value in [−1, 1] to 8 bits as the reference scripts do:
// round(clamp(v/2 + 0.5, 0, 1)·255).
func Quantize(v float64) uint8 {
	u := math.Max(0, math.Min(1, v/2+0.5))
	if math.IsNaN(u) {
		u = 0
	}
	return uint8(math.Round(u * 255))
}

// ToImage converts one image (channels×h×w values in [−1, 1], channel-major) to an 8-bit
// image: RGB for 3 channels, grey for 1.
func ToImage(chw []float64, channels, h, w int) (image.Image, error) {
	if len(chw) != channels*h*w {
		return nil, fmt.Errorf("%d values for a %d×%d×%d image", len(chw), channels, h, w)
	}
	n := h * w
	switch channels {
	case 1:
		img := image.NewGray(image.Rect(0, 0, w, h))
		for i := 0; i < n; i++ {
			img.Pix[i] = Quantize(chw[i])
		}
		return img, nil
	case 3:
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for i := 0; i < n; i++ {
			img.Pix[4*i] = Quantize(chw[i])
			img.Pix[4*i+1] = Quantize(chw[n+i])
			img.Pix[4*i+2] = Quantize(chw[2*n+i])
			img.Pix[4*i+3] = 255
		}
		return img, nil
	}
	return nil, fmt.Errorf("cannot show %d channels as an image (1 or 3)", channels)
}

// Images converts a batch of images (flat NCHW in [−1, 1] of the image shape, as Decode
// returns them; for a pixel-space model its latents) to 8-bit images.
func (p *Pipeline) Images(x []float64, batch int) ([]image.Image, error) {
	c, s := p.Channels(), p.SampleSize()
	n := p.ImageSize(1)
	if s == 0 || c*s*s != n {
		return nil, fmt.Errorf("images of shape %v cannot be shown: want [C, S, S]", p.ImageShape())
	}
	if len(x) != batch*n {
		return nil, fmt.Errorf("%d values for %d images of %d", len(x), batch, n)
	}
	out := make([]image.Image, batch)
	for b := range out {
		img, err := ToImage(x[b*n:(b+1)*n], c, s, s)
		if err != nil {
			return nil, err
		}
		out[b] = img
	}
	return out, nil
}

// LoadImages loads image files as a batch of images of the pipeline's image shape
// (LoadImage each); Encode maps them to the model's latents.
func (p *Pipeline) LoadImages(paths []string) ([]float64, error) {
	var out []float64
	for _, path := range paths {
		v, err := LoadImage(path, p.SampleSize(), p.Channels())
		if err != nil {
			return nil, err
		}
		out = append(out, v...)
	}
	return out, nil
}

// AssembleFolder lays out a diffusers model folder in dir from loose files: the UNet's
// config.json (config), its weights (a .safetensors file or a PyTorch .bin) and,
// optionally (""), a scheduler_config.json. The files are copied under diffusers' names;
// dir is created. It returns dir, to pass to Load.
func AssembleFolder(dir, config, weights, scheduler string) (string, error) {
	names := map[string]string{config: hub.ConfigFile, weights: hub.SafetensorsFile}
	if strings.EqualFold(filepath.Ext(weights), ".bin") {
		names[weights] = hub.PyTorchFile
	}
	if scheduler != "" {
		names[scheduler] = hub.SchedulerConfigFile
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for from, to := range names {
		b, err := os.ReadFile(from)
		if err != nil {
			return "", err
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, to), b); err != nil {
			return "", err
		}
	}
	return dir, nil
}
