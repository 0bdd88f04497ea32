#!/usr/bin/env bash
# The device run of issue #17, prepared on the CPU: ours (the packed GPU check) and the PyTorch anchor
# (bench/gpu-anchor/torch_anchor.py, the same tab18 workloads in eager PyTorch on the same GPU) alternating, model by
# model, round by round; then the CaloFlow teacher's time per epoch on the device and the CPU. Every line lands in $OUT.
#
# Prepare here (both files go under .device, which git ignores; ≈ 60 MiB together, under the 64 MiB a run carries):
#   ../shared/gpu/pack.sh bench/NormalizingFlows.GpuCheck/NormalizingFlows.GpuCheck.csproj
#   xz -6 -T0 -c ../shared/bench/data/tab18_train.npy > .device/tab18_train.npy.xz
# Then on the device (carry [".device"]), as many stages per call as fit its 10 minutes (a round of the four models,
# ours and the anchor, is a few minutes: one round per call), e.g.
#   ROUNDS=1 bash bench/gpu-run.sh check bench              # correctness, then round 1 of ours vs the anchor
#   ROUND_FROM=2 ROUNDS=1 bash bench/gpu-run.sh bench calo  # round 2; CaloFlow sampling and the teacher's epoch
# and here: python3 bench/gpu-anchor/summarize.py <files_at of call 1>/bench.jsonl <files_at of call 2>/{bench,calo}.jsonl
# Settings: ANCHOR_COMPILE (a torch.compile mode, e.g. reduce-overhead: a third, compiled anchor; minutes of compilation),
# ROUNDS (default 2), ROUND_FROM (the first round's number, default 1), MODELS (default all four), CALO_SHOWERS (default 10000), STEP_TIMEOUT (s, default 240);
# for a smoke test on the CPU: GPUCHECK="dotnet bench/NormalizingFlows.GpuCheck/bin/Release/net10.0/NormalizingFlows.GpuCheck.dll"
# DEVICE=cpu-accelerator QUICK=1 (the anchor then runs on the CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
ROUNDS=${ROUNDS:-2}; ROUND_FROM=${ROUND_FROM:-1}; MODELS=${MODELS:-realnvp nsf_c maf maf_rqs}; CALO_SHOWERS=${CALO_SHOWERS:-10000}; T=${STEP_TIMEOUT:-240}
DEVICE=${DEVICE:-cuda}; Q=${QUICK:+--quick}
ADEV=cuda; [ "$DEVICE" = cuda ] || ADEV=cpu
G=${GPUCHECK:-/tmp/NormalizingFlows.GpuCheck/NormalizingFlows.GpuCheck}
[ -n "${GPUCHECK:-}" ] || [ -x "$G" ] || tar -xJf .device/NormalizingFlows.GpuCheck.tar.xz -C /tmp || { echo "no .device/NormalizingFlows.GpuCheck.tar.xz: pack it first"; exit 2; }
DATA=${DATA:-/tmp/data}
if [ ! -f "$DATA/tab18_train.npy" ]; then
  mkdir -p "$DATA" && xz -dc .device/tab18_train.npy.xz > "$DATA/tab18_train.npy" || { echo "no .device/tab18_train.npy.xz"; exit 2; }
fi
PY=${PYTHON:-python3}
tag() { sed -u "s/^{/{\"round\":$1,\"side\":\"$2\",/"; }   # marks each JSON line with its round and side
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv,noheader; nproc; $PY -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'; } > "$OUT/machine.txt" 2>&1
zuko=0; $PY -c 'import zuko' 2>/dev/null && zuko=1
for stage in "$@"; do
  case $stage in
    check)
      timeout "$T" $G --check --device "$DEVICE" $Q --data "$DATA" | tee "$OUT/check.jsonl" | tail -1
      $PY bench/gpu-anchor/torch_anchor.py --self-test | tee "$OUT/anchor-self-test.jsonl" | grep -c '"passed": true' ;;
    bench)
      for r in $(seq "$ROUND_FROM" $((ROUND_FROM + ROUNDS - 1))); do
        for m in $MODELS; do
          timeout "$T" $G --bench --device "$DEVICE" $Q --models "$m" --data "$DATA" | grep '"workload"' | tag "$r" ours >> "$OUT/bench.jsonl"
          timeout "$T" $PY bench/gpu-anchor/torch_anchor.py --device $ADEV $Q --models "$m" --data "$DATA" --library port | tag "$r" anchor >> "$OUT/bench.jsonl"
          [ $zuko = 1 ] && timeout "$T" $PY bench/gpu-anchor/torch_anchor.py --device $ADEV $Q --models "$m" --data "$DATA" --library zuko | tag "$r" anchor >> "$OUT/bench.jsonl"
          [ -n "${ANCHOR_COMPILE:-}" ] && timeout "$T" $PY bench/gpu-anchor/torch_anchor.py --device $ADEV $Q --models "$m" --data "$DATA" --library port --compile "$ANCHOR_COMPILE" | tag "$r" anchor >> "$OUT/bench.jsonl"
          echo "round $r $m: $(wc -l < "$OUT/bench.jsonl") lines"
        done
      done ;;
    calo)
      timeout $((2 * T)) $G --calo --device "$DEVICE" $Q --calo-showers "$CALO_SHOWERS" | tee "$OUT/calo.jsonl" ;;
    *) echo "unknown stage '$stage' (check, bench, calo)"; exit 2 ;;
  esac
done
