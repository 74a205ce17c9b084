package bench

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/unet"
)

// SecSD is Stable Diffusion 1.5 at its real size with random weights (opt-in: minutes a
// backend): one denoising step of a 512×512 image with classifier-free guidance (the
// UNet2DConditionModel, 859.5 M parameters, on a batch of 2 latents 4×64×64 with text
// embeddings 77×768), and the VAE's encode and decode of one 512×512 image (83.7 M
// parameters); then what a 50-step edit costs, from the measured medians.
const SecSD = "sd"

// OptInSections run only when asked for by name (not in AllSections: they take minutes).
var OptInSections = []string{SecSD}

// sdEdit is the edit the section prices: N = 50 steps, the paper's editing setup preserving
// 20 % of them (freeze F = 10), inversion plus reconstruction plus edit.
const sdEditN, sdEditF = 50, 10

func (r *runner) sd() error {
	ucfg, vcfg := unet.SD15Config(), unet.SD15VAEConfig()
	byName := map[string]time.Duration{}
	for _, be := range r.o.Backends { // one backend's models at a time: two sets do not fit in 23 GiB
		step, err := r.sdStep(be, ucfg)
		if err != nil {
			return err
		}
		enc, dec, err := r.sdVAE(be, vcfg)
		if err != nil {
			return err
		}
		fns := []fn{{"sd/unet-cfg-step-512", be, step}, {"sd/vae-encode-512", be, enc}, {"sd/vae-decode-512", be, dec}}
		res, err := r.measure(SecSD, "Stable Diffusion 1.5, real size, random weights, on "+be+": one CFG denoising step (UNet on 2 latents 4×64×64 + 77×768 embeddings) and the VAE at 512×512", fns)
		if err != nil {
			return err
		}
		for _, x := range res {
			byName[x.Name+" "+x.Backend] = x.Median
		}
		step, enc, dec = nil, nil, nil
		runtime.GC()
		debug.FreeOSMemory()
	}
	for _, be := range r.o.Backends {
		s, e, d := byName["sd/unet-cfg-step-512 "+be], byName["sd/vae-encode-512 "+be], byName["sd/vae-decode-512 "+be]
		total := time.Duration(3*(sdEditN-sdEditF))*s + e + 2*d
		fmt.Fprintf(r.o.Out, "%s: a %d-step edit with freeze_step %d (3 passes of %d CFG steps, 1 encode, 2 decodes) ≈ %s\n",
			be, sdEditN, sdEditF, sdEditN-sdEditF, fmtDur(total))
	}
	return nil
}

// sdStep is one CFG evaluation of a random SD 1.5 UNet on be.
func (r *runner) sdStep(be string, cfg unet.Config) (func() error, error) {
	u, err := unet.NewRandom(cfg, 1, r.o.DType)
	if err != nil {
		return nil, err
	}
	e, err := model.NewExec(r.backend(be), u.Store(), func(scope *model.Scope, x, t, c *Node) *Node {
		return u.ForwardCond(scope, x, t, c)
	})
	if err != nil {
		return nil, err
	}
	x, err := belm.NewTensor(belm.Normal(1, 2*4*64*64), r.o.DType, 2, 4, 64, 64)
	if err != nil {
		return nil, err
	}
	c, err := belm.NewTensor(belm.Normal(2, 2*77*768), r.o.DType, 2, 77, 768)
	if err != nil {
		return nil, err
	}
	t, err := belm.NewTensor([]float64{500, 500}, r.o.DType, 2)
	if err != nil {
		return nil, err
	}
	return func() error { return execAndFree(e, x, t, c) }, nil
}

// sdVAE is the encode (to the posterior's mean) and the decode of one 512×512 image by a
// random SD 1.5 VAE on be.
func (r *runner) sdVAE(be string, cfg unet.VAEConfig) (enc, dec func() error, err error) {
	v, err := unet.NewRandomVAE(cfg, 1, r.o.DType)
	if err != nil {
		return nil, nil, err
	}
	ee, err := model.NewExec(r.backend(be), v.Store(), func(scope *model.Scope, x *Node) *Node {
		mean, _ := v.EncodeMoments(scope, x)
		return mean
	})
	if err != nil {
		return nil, nil, err
	}
	de, err := model.NewExec(r.backend(be), v.Store(), func(scope *model.Scope, z *Node) *Node { return v.Decode(scope, z) })
	if err != nil {
		return nil, nil, err
	}
	img, err := belm.NewTensor(belm.Uniform(3, 3*512*512), r.o.DType, 1, 3, 512, 512)
	if err != nil {
		return nil, nil, err
	}
	z, err := belm.NewTensor(belm.Normal(4, 4*64*64), r.o.DType, 1, 4, 64, 64)
	if err != nil {
		return nil, nil, err
	}
	return func() error { return execAndFree(ee, img) }, func() error { return execAndFree(de, z) }, nil
}

func execAndFree(e *model.Exec, in ...any) error {
	out, err := e.Exec(in...)
	for _, t := range out {
		t.FinalizeAll()
	}
	return err
}
