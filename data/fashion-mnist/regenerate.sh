#!/usr/bin/env bash
# Regenerates the Fashion-MNIST model's tables (issue 16) in shards that survive sessions.
#
#   data/fashion-mnist/regenerate.sh [--budget MINUTES] STUDY...
#
# STUDY is one of
#   recon      belm reconstruct: 1,000 test images, N = 10, 20, 50, 100, all four samplers  (~1.8 h on 2 Zen 4 cores)
#   frechet    belm frechet: 5,000 samples per sampler and N = 10, 20, 50, 100, data floor  (~4.7 h)
#   frechet2   the same at N = 10, 20 ($STEPS2) on disjoint noises (--seed 100000): the Fréchet distance's
#              sampling error at 5,000 samples                                              (~50 min)
#   noclip     DDIM without x̂₀ clipping, N = 10, 20, 50, 100                                (~56 min)
#   interp     belm interpolate (O-BELM, N = 50, test images 0–7 in pairs)                    (minutes)
#
# Each study is cut into $SHARDS shards (`--shard i/n`: the same noises and images as one run). A shard's
# result is written to $RESULTS/shards/STUDY/shard-i-of-n.json as soon as it finishes — commit those: they
# are what a later session continues from. Shards already there are skipped; when all are there, `belm merge`
# writes the study's tables and figures where notebook 06 and the model card read them: reconstruction.* and
# frechet.* in $RESULTS, then $RESULTS/frechet-disjoint, $RESULTS/ddim-noclip, $RESULTS/interpolation (move the
# previous model's results aside first: the card keeps them for comparison). With --budget, no
# new shard starts after MINUTES (a shard of the Fréchet study takes 11–18.5 min at SHARDS=20). An interrupted
# shard leaves nothing behind and is redone. Shards of a study made from other weights are refused.
#
# Environment: BELM (the belm binary; default: built here with -tags onnx), BACKEND (onnx), MODEL
# (data/fashion-mnist), RESULTS (data/fashion-mnist/results), SHARDS (20), and for a trial run
# NUM_SAMPLES, TEST_NUM, STEPS, STEPS2.
set -euo pipefail
cd "$(dirname "$0")/../.."

budget=0
if [[ "${1:-}" == --budget ]]; then budget=$2; shift 2; fi
[[ $# -gt 0 ]] || { awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 2; }

BACKEND=${BACKEND:-onnx}
MODEL=${MODEL:-data/fashion-mnist}
RESULTS=${RESULTS:-data/fashion-mnist/results}
SHARDS=${SHARDS:-20}
NUM_SAMPLES=${NUM_SAMPLES:-5000}
TEST_NUM=${TEST_NUM:-1000}
STEPS=${STEPS:-10,20,50,100}
STEPS2=${STEPS2:-10,20}
if [[ -z "${BELM:-}" ]]; then
  BELM=out/belm-onnx
  make -s onnxruntime
  GOEXPERIMENT=simd go build -tags onnx -o "$BELM" ./cmd/belm
fi
export ONNXRUNTIME_SHARED_LIBRARY_PATH=${ONNXRUNTIME_SHARED_LIBRARY_PATH:-$HOME/.cache/belm/onnxruntime/libonnxruntime.so.1}
deadline=$(( $(date +%s) + budget * 60 ))

# args STUDY: the study's command line, without --shard and --save_dir.
args() {
  local common=(--backend "$BACKEND" --model_id "$MODEL" --quiet)
  case $1 in
    recon)    echo reconstruct "${common[@]}" --dataset fashion-mnist --test_num "$TEST_NUM" --num_inference_steps "$STEPS" ;;
    frechet)  echo frechet "${common[@]}" --num_samples "$NUM_SAMPLES" --num_inference_steps "$STEPS" ;;
    frechet2) echo frechet "${common[@]}" --num_samples "$NUM_SAMPLES" --num_inference_steps "$STEPS2" --seed 100000 ;;
    noclip)   echo frechet "${common[@]}" --sampler_type ddim --clip_sample false --num_samples "$NUM_SAMPLES" --num_inference_steps "$STEPS" ;;
    interp)   echo interpolate "${common[@]}" --dataset fashion-mnist --test_num 4 --num_inference_steps 50 ;;
    *) echo "unknown study $1 (recon, frechet, frechet2, noclip, interp)" >&2; return 2 ;;
  esac
}

# target STUDY: where the merged results go, under $RESULTS (the names notebook 06 reads).
target() {
  case $1 in
    recon | frechet) echo . ;;
    frechet2) echo frechet-disjoint ;;
    noclip) echo ddim-noclip ;;
  esac
}

for study in "$@"; do
  cmd=$(args "$study")
  if [[ $study == interp ]]; then # one run of minutes: no shards
    [[ -e $RESULTS/interpolation ]] || { $BELM $cmd --save_dir "$RESULTS/interpolation.tmp" && mv "$RESULTS/interpolation.tmp" "$RESULTS/interpolation"; }
    continue
  fi
  dir=$RESULTS/shards/$study
  mkdir -p "$dir"
  # Shards of one study must come from one model: its weights' hash is kept beside them.
  sum=$(sha256sum "$MODEL/diffusion_pytorch_model.safetensors" | cut -d' ' -f1)
  if [[ -e $dir/model.sha256 && $(cat "$dir/model.sha256") != "$sum" ]]; then
    echo "$dir holds shards of another model (weights sha256 $(cat "$dir/model.sha256"), now $sum): move them away first" >&2
    exit 1
  fi
  echo "$sum" > "$dir/model.sha256"
  for ((i = 0; i < SHARDS; i++)); do
    f=$dir/shard-$i-of-$SHARDS.json
    [[ -e $f ]] && continue
    if (( budget > 0 && $(date +%s) >= deadline )); then echo "budget spent: $study stops before shard $i/$SHARDS"; break 2; fi
    tmp=$(mktemp -d out/shard.XXXXXX)
    echo "$(date +%T) $study shard $i/$SHARDS"
    $BELM $cmd --shard "$i/$SHARDS" --save_dir "$tmp"
    # The grids (PNG) come with the shard that sampled the first batches; keep them beside its JSON.
    for p in "$tmp"/*; do mv "$p" "$dir/"; done
    rmdir "$tmp"
  done
  n=$(ls "$dir"/shard-*-of-"$SHARDS".json 2>/dev/null | wc -l)
  if (( n == SHARDS )); then
    $BELM merge --inputs "$dir" --save_dir "$RESULTS/$(target "$study")"
  else
    echo "$study: $n of $SHARDS shards done ($dir)"
  fi
done
