# The workbench's commands. `make figures` is the main job, `make test` runs every test.
SHELL := /bin/bash
GO    ?= go
OUT   ?= out
# Go 1.26's SIMD experiment turns on compute's AVX2/AVX-512 matmul kernels: the go backend's UNet is ~6x faster
# (BENCHMARKS.md). Every test passes with and without it; `make GOEXPERIMENT=` builds without.
export GOEXPERIMENT ?= simd

.PHONY: all data figures test test-go test-onnx test-notebooks notebooks-executed test-browser test-xla notebook vet vet-xla bench bench-pytorch kernel onnxruntime fuzz clean

all: figures

## figures: regenerate every figure (PNG + SVG + CSV/JSON) on the embedded go backend into $(OUT)/figures
figures:
	$(GO) run ./cmd/belm figures --out $(OUT)/figures

## test: every test — go vet, the Go tests, the onnx-backend agreement tests, then the notebooks
## executed by a real Jupyter kernel
test: vet vet-xla data test-go test-onnx test-notebooks test-browser

## data: Debian's Fashion-MNIST (/usr/share/datasets/fashion-mnist), for the data loader's tests and `belm train`
data:
	@dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends dataset-fashion-mnist; }

vet:
	$(GO) vet ./...

## vet-xla: the xla backend cannot rot unseen: build and vet with -tags xla and -tags onnx,xla, and check
## that a missing PJRT plugin is an error naming its fix (no plugin is needed, none is downloaded)
vet-xla:
	$(GO) vet -tags xla ./...
	$(GO) vet -tags onnx,xla ./...
	$(GO) test -count=1 -tags xla -run XLAMissingPlugin ./belm/backends

## test-xla: on a machine with a PJRT plugin (`belm install-xla --plugin cpu|cuda`), the xla backend against go;
## XLA_BACKEND=xla:cuda on a GPU. Not part of `make test`.
XLA_BACKEND ?= xla:cpu
test-xla:
	XLA_BACKEND=$(XLA_BACKEND) $(GO) test -count=1 -tags xla -run XLARuntime -v ./belm/

test-go:
	$(GO) test -count=1 ./...

## test-onnx: fetch ONNX Runtime (npm, cached) and run the tests that compare the onnx and go backends
test-onnx: onnxruntime
	$(GO) test -count=1 -tags onnx -run Onnx ./belm/...

## test-notebooks: install Jupyter + the GoNB kernel (idempotent) and execute every notebook headless.
## The tests' kernel spec lives in kernels/.jupyter, so a test run in another checkout (CI's clone)
## never re-points the user's "BELM (Go)" kernel.
NB_JUPYTER := JUPYTER_DATA_DIR=$(CURDIR)/kernels/.jupyter BELM_EDITOR_CONFIG=0
test-notebooks:
	$(NB_JUPYTER) bash kernels/install-kernel.sh
	/usr/bin/python3 kernels/nbstrip.py --check notebooks/*.ipynb
	$(NB_JUPYTER) bash kernels/run-notebooks.sh $(OUT)/notebooks
	$(GO) run ./kernels/nbcheck -current notebooks/executed notebooks

## notebooks-executed: execute every notebook headless and keep the executed copies, with their figures, in
## notebooks/executed/ (committed, unstripped: a reader of the repository sees each notebook with its results);
## `make test` checks that they are current (same cells as the notebooks). NOTEBOOKS=notebooks/NAME.ipynb...:
## only those. The copies are replaced only when every notebook ran and passed nbcheck.
NOTEBOOKS ?=
notebooks-executed:
	$(NB_JUPYTER) bash kernels/install-kernel.sh
	rm -rf $(OUT)/notebooks-executed
	$(NB_JUPYTER) bash kernels/run-notebooks.sh $(OUT)/notebooks-executed $(NOTEBOOKS)
	mkdir -p notebooks/executed
	$(if $(NOTEBOOKS),,rm -f notebooks/executed/*.ipynb)
	cp $(OUT)/notebooks-executed/*.ipynb notebooks/executed/
	$(GO) run ./kernels/nbcheck -current notebooks/executed notebooks $(if $(NOTEBOOKS),|| echo "(regenerated only $(NOTEBOOKS))")
	@ls -l notebooks/executed/*.ipynb

## test-browser: one notebook in a real Jupyter Notebook page (Debian's server, random port + token, a temp copy)
## in Debian's headless Chromium (installed if missing), driven by kernels/tools/nbbrowser (chromedp): Cell → Run All,
## then the figures rendered, no cell shows an error, every cell ran. Screenshot + the page's notebook in $(OUT)/browser
BROWSER_NB ?= notebooks/01_lte_derivation.ipynb
test-browser:
	$(NB_JUPYTER) bash kernels/install-kernel.sh
	$(NB_JUPYTER) bash kernels/browser-test.sh $(BROWSER_NB) $(OUT)/browser

## notebook: the notebooks in Jupyter, as root or as a user, on this machine or a remote one: the server
## listens on $(NB_IP):$(NB_PORT) and prints the URL with its token (remote: `ssh -L 8888:127.0.0.1:8888 HOST`,
## then open that URL here). The first cell on an empty Go build cache takes ~30 s (GoMLX compiles once).
NB_IP   ?= 127.0.0.1
NB_PORT ?= 8888
notebook: kernel
	/usr/bin/jupyter notebook --notebook-dir=notebooks --no-browser --ip=$(NB_IP) --port=$(NB_PORT) \
	  $$([ "$$(id -u)" = 0 ] && echo --allow-root)

## kernel: install Debian's Jupyter, GoNB + goimports (pinned in kernels/tools) and the "BELM (Go)" kernel
kernel:
	bash kernels/install-kernel.sh

## onnxruntime: fetch libonnxruntime.so.1 (onnxruntime-node@1.30.0 from npm) into the cache for -tags onnx
onnxruntime:
	bash kernels/onnxruntime.sh

## bench: every benchmark of BENCHMARKS.md, go vs onnx in one run (~6 min; results go to BENCHMARKS.md by hand)
bench: onnxruntime
	$(GO) run -tags onnx ./cmd/belm bench

## bench-pytorch: the same UNet forward in PyTorch (Debian's python3-torch 1.13 + OpenBLAS, installed if missing),
## the reference implementation's framework, for BENCHMARKS.md's side-by-side table; no test depends on it
bench-pytorch:
	@dpkg -s python3-torch libopenblas0-pthread >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends python3-torch libopenblas0-pthread; }
	OPENBLAS_NUM_THREADS=1 /usr/bin/python3 internal/bench/pytorch/unet_forward.py

## fuzz: fuzz the safetensors header parser for a while
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 3m ./belm/safetensors/

clean:
	rm -rf $(OUT) bin
