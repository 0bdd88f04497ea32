#!/usr/bin/env bash
# The device run of issue #17, prepared on the CPU: correctness (the packed GPU check), quality at the reference budget
# on the device against the CPU, ours (the packed GPU check) and the PyTorch anchor (bench/gpu-anchor/torch_anchor.py,
# the same tab18 workloads in eager PyTorch on the same GPU) alternating, model by model, round by round; then
# CaloFlow's flow-II sampling, the teacher's time per epoch and a few distillation steps on the device and the CPU.
# Every line lands in $OUT.
#
# Prepare here (all under .device, which git ignores; with the repository they must stay under the 64 MiB a run
# carries: pack.sh's check and xz -6 splits reach it, so use docs/gpu.md's commands, "The check program on the GPU
# machine": the check published and repacked without the runtime's debugging files, xz -9e, ≈ 59.8 MB):
#   .device/NormalizingFlows.GpuCheck.tar.xz  (dotnet publish, the debugging/tracing files removed, tar, xz -9e)
#   xz -9e -T0 -c ../shared/bench/data/tab18_train.npy > .device/tab18_train.npy.xz
#   xz -9e -T0 -c ../shared/bench/data/tab18_test.npy > .device/tab18_test.npy.xz     # the quality stage's test split
# Then on the device (carry [".device"]): the ordered plan of docs/gpu.md ("The device plan"): two calls,
#   BUDGET=540 ROUNDS=1 bash bench/gpu-run.sh check quality bench calo      # run tool timeout_s 570
#   BUDGET=<left> ROUND_FROM=2 ROUNDS=1 bash bench/gpu-run.sh <what call 1 skipped, from its stages.jsonl> families bench
# and here: python3 bench/gpu-anchor/summarize.py <files_at of call 1>/*.jsonl <files_at of call 2>/*.jsonl
# BUDGET (s, default none) bounds the whole call: every command's timeout is capped by what is left of it (less a 10 s
# margin), and a stage, model or round that cannot start with MIN_LEFT (default 30) s left is skipped and said so in
# $OUT/stages.jsonl, which also holds each stage's (and each bench model's) seconds.
# Settings: ANCHOR_COMPILE (a torch.compile mode, e.g. reduce-overhead: a third, compiled anchor; minutes of compilation),
# ZUKO (default 1: zuko's flows too when importable; 0: the port alone), ROUNDS (default 2), ROUND_FROM (the first round's number, default 1), MODELS (default all four), CALO_SHOWERS (default 10000),
# STEP_TIMEOUT (s, default 240: one bench process), CHECK_TIMEOUT (default 150: the four bench models, i-flow, graphs),
# FAMILIES_TIMEOUT (default 200: the other families, cheapest first; FAMILIES, a comma list, picks some), QUALITY_TIMEOUT (per model, default 100),
# CALO_TIMEOUT (default 180);
# for a smoke test on the CPU: GPUCHECK="dotnet bench/NormalizingFlows.GpuCheck/bin/Release/net10.0/NormalizingFlows.GpuCheck.dll"
# DEVICE=cpu-accelerator QUICK=1 DATA=$PWD/../shared/bench/data (the anchor then runs on the CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
ROUNDS=${ROUNDS:-2}; ROUND_FROM=${ROUND_FROM:-1}; MODELS=${MODELS:-realnvp nsf_c maf maf_rqs}; CALO_SHOWERS=${CALO_SHOWERS:-10000}; T=${STEP_TIMEOUT:-240}
BUDGET=${BUDGET:-1000000}; MIN_LEFT=${MIN_LEFT:-30}
# the timeout of one command: its own limit ($1), capped by what is left of BUDGET less a 10 s margin for the copy back
lim() { local l=$((BUDGET - SECONDS - 10)); [ "$1" -lt "$l" ] && l=$1; [ "$l" -ge 1 ] || l=1; echo "$l"; }  # never 0: timeout 0 is no limit
# true when at least MIN_LEFT s are left; otherwise says what is skipped ($1, a JSON fragment) in stages.jsonl
left() { [ $((BUDGET - SECONDS - 10)) -ge "$MIN_LEFT" ] && return 0; echo "{\"stage\":\"$stage\",$1\"skipped\":\"budget\",\"left_s\":$((BUDGET - SECONDS))}" | tee -a "$OUT/stages.jsonl"; return 1; }
took() { echo "{\"stage\":\"$stage\",$1\"seconds\":$((SECONDS - $2))}" >> "$OUT/stages.jsonl"; }
DEVICE=${DEVICE:-cuda}; Q=${QUICK:+--quick}
ADEV=cuda; [ "$DEVICE" = cuda ] || ADEV=cpu
G=${GPUCHECK:-/tmp/NormalizingFlows.GpuCheck/NormalizingFlows.GpuCheck}
[ -n "${GPUCHECK:-}" ] || [ -x "$G" ] || tar -xJf .device/NormalizingFlows.GpuCheck.tar.xz -C /tmp || { echo "no .device/NormalizingFlows.GpuCheck.tar.xz: pack it first"; exit 2; }
DATA=${DATA:-/tmp/data}
for split in train test; do
  [ -f "$DATA/tab18_$split.npy" ] && continue
  if [ -f ".device/tab18_$split.npy.xz" ]; then mkdir -p "$DATA" && xz -dc ".device/tab18_$split.npy.xz" > "$DATA/tab18_$split.npy"
  elif [ $split = train ]; then echo "no .device/tab18_train.npy.xz"; exit 2
  else echo "no .device/tab18_test.npy.xz: the quality stage will fail (it needs the test split)"; fi
done
PY=${PYTHON:-python3}
tag() { sed -u "s/^{/{\"round\":$1,\"side\":\"$2\",/"; }   # marks each JSON line with its round and side
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv,noheader; nproc; $PY -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'; } > "$OUT/machine.txt" 2>&1
zuko=0; [ "${ZUKO:-1}" = 1 ] && $PY -c 'import zuko' 2>/dev/null && zuko=1   # ZUKO=0: the port alone (a shorter round)
for stage in "$@"; do
  t0=$SECONDS
  case $stage in
    check)
      left "" || continue
      timeout "$(lim "${CHECK_TIMEOUT:-150}")" $G --check --no-families --device "$DEVICE" $Q --data "$DATA" | tee "$OUT/check.jsonl" | tail -1
      left "\"part\":\"anchor-self-test\"," && timeout "$(lim 60)" $PY bench/gpu-anchor/torch_anchor.py --self-test | tee "$OUT/anchor-self-test.jsonl" | grep -c '"passed": true' ;;
    families)
      # the other flow families (naf, umnn, glow, residual and batch-norm conditioners, planar, radial, cnf and flow matching)
      left "" || continue
      timeout "$(lim "${FAMILIES_TIMEOUT:-200}")" $G --families-only --device "$DEVICE" $Q ${FAMILIES:+--families "$FAMILIES"} | tee "$OUT/families.jsonl" | tail -1 ;;
    quality)
      # one process per model: a slow model cannot take the others' time
      for m in $MODELS; do
        left "\"model\":\"$m\"," || break
        t1=$SECONDS
        timeout "$(lim "${QUALITY_TIMEOUT:-100}")" $G --quality --device "$DEVICE" $Q --models "$m" --data "$DATA" | tee -a "$OUT/quality.jsonl" | grep '"check":"quality_'
        took "\"model\":\"$m\"," $t1
      done ;;
    bench)
      for r in $(seq "$ROUND_FROM" $((ROUND_FROM + ROUNDS - 1))); do
        for m in $MODELS; do
          left "\"round\":$r,\"model\":\"$m\"," || break 2
          t1=$SECONDS
          timeout "$(lim "$T")" $G --bench --device "$DEVICE" $Q --models "$m" --data "$DATA" | grep '"workload"' | tag "$r" ours >> "$OUT/bench.jsonl"
          timeout "$(lim "$T")" $PY bench/gpu-anchor/torch_anchor.py --device $ADEV $Q --models "$m" --data "$DATA" --library port | tag "$r" anchor >> "$OUT/bench.jsonl"
          [ $zuko = 1 ] && left "\"round\":$r,\"model\":\"$m\",\"part\":\"zuko\"," && timeout "$(lim "$T")" $PY bench/gpu-anchor/torch_anchor.py --device $ADEV $Q --models "$m" --data "$DATA" --library zuko | tag "$r" anchor >> "$OUT/bench.jsonl"
          [ -n "${ANCHOR_COMPILE:-}" ] && left "\"round\":$r,\"model\":\"$m\",\"part\":\"compiled\"," && timeout "$(lim "$T")" $PY bench/gpu-anchor/torch_anchor.py --device $ADEV $Q --models "$m" --data "$DATA" --library port --compile "$ANCHOR_COMPILE" | tag "$r" anchor >> "$OUT/bench.jsonl"
          echo "round $r $m: $(wc -l < "$OUT/bench.jsonl") lines"
          took "\"round\":$r,\"model\":\"$m\"," $t1
        done
      done ;;
    calo)
      left "" || continue
      timeout "$(lim "${CALO_TIMEOUT:-180}")" $G --calo --device "$DEVICE" $Q --calo-showers "$CALO_SHOWERS" | tee "$OUT/calo.jsonl" ;;
    *) echo "unknown stage '$stage' (check, families, quality, bench, calo)"; exit 2 ;;
  esac
  took "" $t0
done
