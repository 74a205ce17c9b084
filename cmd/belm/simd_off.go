//go:build !goexperiment.simd

package main

// builtWithSIMD: this binary lacks compute's AVX2/AVX-512 matmul kernels, which Go 1.26
// builds only under GOEXPERIMENT=simd: the go backend's matmuls are a portable loop, ~6×
// slower (BENCHMARKS.md). The model commands say so on stderr.
const builtWithSIMD = false
