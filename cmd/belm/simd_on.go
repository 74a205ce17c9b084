//go:build goexperiment.simd

package main

// builtWithSIMD: this binary has compute's AVX2/AVX-512 matmul kernels (GOEXPERIMENT=simd).
const builtWithSIMD = true
