package unet_test

import (
	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/unet"
)

// The VAE's codec is a pipeline codec (belm/pipeline imports belm/unet, so the check
// lives in this external test package).
var _ pipeline.Codec = (*unet.VAECodec)(nil)
