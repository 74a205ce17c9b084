package study

// The paper's numbers that the workbench's studies mirror (spec §5), by sampler name
// ("ddim", "edict", "bdia", "belm" = O-BELM) and number of steps N.
var (
	// PaperLatentReconstructionMSE is Table 5 (App. C.1): the MSE of reconstruction in
	// SD-1.5's latent space on COCO-14, the space the diffusion model works in (EDICT, BDIA
	// and O-BELM print 0.000). A pixel-space model's reconstruction MSE is this quantity.
	PaperLatentReconstructionMSE = map[string]map[int]float64{
		"ddim":  {10: 0.414, 20: 0.243, 50: 0.063, 100: 0.041},
		"edict": {10: 0, 20: 0, 50: 0, 100: 0},
		"bdia":  {10: 0, 20: 0, 50: 0, 100: 0},
		"belm":  {10: 0, 20: 0, 50: 0, 100: 0},
	}
	// PaperPixelReconstructionMSE is Table 2: pixel MSE ([−1, 1]) after SD-1.5's VAE decoder,
	// whose own encode/decode error (0.004) floors the exact samplers.
	PaperPixelReconstructionMSE = map[string]map[int]float64{
		"ddim":  {10: 0.026, 20: 0.016, 50: 0.008, 100: 0.007},
		"edict": {10: 0.004, 20: 0.004, 50: 0.004, 100: 0.004},
		"bdia":  {10: 0.004, 20: 0.004, 50: 0.004, 100: 0.004},
		"belm":  {10: 0.004, 20: 0.004, 50: 0.004, 100: 0.004},
	}
	// PaperFIDCIFAR10 is Table 3's CIFAR-10 half: FID of 50k unconditional samples
	// (BDIA γ = 0.1, EDICT p = 0.97).
	PaperFIDCIFAR10 = map[string]map[int]float64{
		"ddim":  {10: 17.45, 20: 10.60, 50: 6.96, 100: 5.72},
		"edict": {10: 87.11, 20: 38.84, 50: 10.24, 100: 5.31},
		"bdia":  {10: 12.27, 20: 7.27, 50: 5.77, 100: 5.07},
		"belm":  {10: 10.98, 20: 7.17, 50: 5.24, 100: 4.18},
	}
)

// PaperAEFloor is Table 2's "AE" column: the pixel MSE ([−1, 1]) of SD-1.5's VAE alone,
// encode then decode, on COCO-14 — the floor of every sampler's pixel error.
const PaperAEFloor = 0.004

// PaperValue looks up a paper table; ok is false where the paper has no number.
func PaperValue(table map[string]map[int]float64, sampler string, n int) (v float64, ok bool) {
	v, ok = table[sampler][n]
	return
}
