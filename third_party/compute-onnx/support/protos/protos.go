// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

// Package protos contains the protobuf generated code for the ONNX format.
package protos

//go:generate go run ../../internal/cmd/update_protos
