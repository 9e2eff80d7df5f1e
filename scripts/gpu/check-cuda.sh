#!/usr/bin/env bash
# Prepared check for a lent H100/H200 (CUDA 13 driver, PyTorch with CUDA 13 and cuDNN 9 pip packages, no .NET,
# no network). Run from the repository root:  bash scripts/gpu/check-cuda.sh
#
# 0. the CUDA build: scripts/gpu/pack.sh (run where NuGet works) writes .gpu/payload.part-NN + SHA256SUMS.
#    A call may carry 64 MiB, so carry SHA256SUMS and ONE piece per call, running this script each time: it
#    stages the piece in $SEMPPL_GPU_STAGE (/tmp, kept while the machine stays warm) and stops until the set is
#    complete; the call that completes it unpacks gpu-bin/ (cli, bench) and .gpu-dotnet/ and goes on.
#    Where the SDK and NuGet exist instead, `dotnet publish ... -p:OrtGpu=true -o gpu-bin/{cli,bench}` works too.
# 1. CUDA 13 + cuDNN 9 from PyTorch's pip packages (site-packages/nvidia/**/lib) on LD_LIBRARY_PATH;
# 2. 20-step CUDA smoke test of the quickstart config (semppl train --device cuda --profile), then the same 20
#    steps on the CPU of that machine: the two loss curves are compared;
# 3. ResNet-50 224 px: our step vs the same step in PyTorch on CUDA (SemPPL.Benchmarks step --case r50);
# 4. the quickstart network's step, ours vs PyTorch, on CUDA (step --case b);
# 5. the whole quickstart on CUDA, while time allows;
# 7. (profile, not in the default) "measure first" for the CUDA step speed: SemPPL.Benchmarks cuda-profile (where the
#    ResNet-50 step's time goes, each alternative graph form, PyTorch on the same shapes) and the ResNet-50 step with
#    model.channel_reduction two_stage; at most $PROFILE_BUDGET_S (300) seconds; logs $OUT/cuda-profile-*.log.
# 8. (nccl, not in the default) data-parallel NCCL on the one GPU, without MPI (torchrun-style variables), within
#    $NCCL_BUDGET_S (240) seconds: a. `semppl train` of 20 quickstart steps plainly and as rank 0 of 1 with
#    SEMPPL_DISTRIBUTED=1 (the data-parallel path and its collectives at world size 1): final checkpoints compared
#    bit for bit (SemPPL.Benchmarks checkpoint-diff); b. 2 ranks on that GPU (CUDA_VISIBLE_DEVICES=0, a distinct
#    NCCL_HOSTID per rank): the probe's collectives over both planes, then one rank killed mid all-reduce (the other
#    must exit naming itself); c. the all-reduce bandwidth NCCL gives (2 ranks if b worked, else 1); d. if b worked and
#    time is left, 20 steps of semppl train at 2 ranks vs one process with training.bn_groups=2. Needs libnccl.so.2
#    from the pip folders (or SEMPPL_NCCL_LIBRARY). Without a GPU the section says "skipped: no GPU".
# SEMPPL_GPU_CHECKS picks sections (default smoke,r50,b,quickstart; devicecheck adds the CUDA-vs-CPU comparison of
# DeviceComparison; profile adds 7; nccl adds 8). Everything is logged to $OUT (or /tmp/semppl-gpu). About 3 minutes on an H200 once
# unpacked; SEMPPL_GPU_CHECKS=r50,profile about 5.
# Without a GPU (to test this script): SEMPPL_GPU_BIN=<folder with cli/ and bench/ builds> SEMPPL_GPU_DEVICE=cpu.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/semppl-gpu}; mkdir -p "$OUT"
exec > >(tee -a "$OUT/check-cuda.log") 2>&1
STAGE=${SEMPPL_GPU_STAGE:-/tmp/semppl-gpu-stage}
PY=${PYTHON:-python3}
R50_BATCH=${R50_BATCH:-64}
GPU_BIN=${SEMPPL_GPU_BIN:-gpu-bin}   # cli/ and bench/ builds: the unpacked CUDA build, or any build to test the script
DEVICE=${SEMPPL_GPU_DEVICE:-cuda}    # cpu: run the sections' commands on the CPU (tests this script without a GPU)
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 )) s] $*"; }

if [ ! -f gpu-bin/cli/semppl.dll ] && [ -f .gpu/SHA256SUMS ]; then
  stamp "== 0. staging the CUDA build"
  mkdir -p "$STAGE"; cp -f .gpu/SHA256SUMS .gpu/payload.part-* "$STAGE/" 2>/dev/null
  need=$(awk '{print $2}' "$STAGE/SHA256SUMS"); have=0; total=0
  for p in $need; do total=$((total + 1)); [ -f "$STAGE/$p" ] && have=$((have + 1)); done
  echo "staged $have of $total pieces: $(cd "$STAGE" && ls payload.part-* | tr '\n' ' ')"
  if [ "$have" -lt "$total" ]; then echo "carry the next piece and run again"; exit 0; fi
  (cd "$STAGE" && sha256sum -c --quiet SHA256SUMS) || { echo "piece checksum mismatch"; exit 3; }
  mkdir -p "$STAGE/x" && cat $(for p in $need; do echo "$STAGE/$p"; done) | tar -xf - -C "$STAGE/x" || exit 3
  xz -dc "$STAGE/x/bundle.tar.xz" | tar -xf - || exit 3
  mv dotnet .gpu-dotnet
  xz -dc "$STAGE/x/cuda-provider.xz" > gpu-bin/cli/runtimes/linux-x64/native/libonnxruntime_providers_cuda.so || exit 3
  for f in libonnxruntime.so libonnxruntime_providers_cuda.so; do
    ln -sf "$PWD/gpu-bin/cli/runtimes/linux-x64/native/$f" "gpu-bin/bench/runtimes/linux-x64/native/$f"
  done
  stamp "unpacked: $(du -sh gpu-bin .gpu-dotnet | tr '\n' ' ')"
fi

if [ -d .gpu/overlay ] && [ -d gpu-bin ]; then
  for app in cli bench probe; do [ -d ".gpu/overlay/$app" ] && mkdir -p "gpu-bin/$app" && cp -f ".gpu/overlay/$app"/* "gpu-bin/$app/"; done
  stamp "laid .gpu/overlay (our assemblies, rebuilt) over gpu-bin/"
fi
CHECKS=${SEMPPL_GPU_CHECKS:-smoke,r50,b,quickstart}
want() { case ",$CHECKS," in *",$1,"*) return 0;; *) return 1;; esac; }

stamp "== 1. CUDA libraries from the PyTorch pip packages ($($PY -c 'import sys; print(sys.executable)'))"
LIBDIRS=$($PY - <<'PYEOF'
import glob, os, site
roots = set(site.getsitepackages() + [site.getusersitepackages()])
try:
    import nvidia
    roots.update(os.path.dirname(p) for p in nvidia.__path__)
except Exception:
    pass
dirs = {os.path.dirname(f) for r in roots for f in glob.glob(os.path.join(r, "nvidia", "**", "lib*.so*"), recursive=True)}
print(":".join(sorted(dirs)))
PYEOF
)
[ -d /usr/local/nvidia/lib64 ] && LIBDIRS="$LIBDIRS:/usr/local/nvidia/lib64"
echo "lib folders: ${LIBDIRS:-NONE}"
export LD_LIBRARY_PATH="${LIBDIRS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for lib in libcuda.so.1 libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcufft.so.12 libcurand.so.10 libcudnn.so.9; do
  hit=$(IFS=:; for d in $LIBDIRS; do ls "$d/$lib" 2>/dev/null; done | head -1)
  printf '  %-20s %s\n' "$lib" "${hit:-not in those folders}"
done
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || echo "nvidia-smi failed"
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), "cudnn", torch.backends.cudnn.version())'
lscpu | grep -E '^Model name|^CPU\(s\)' || true

stamp "== 2. SemPPL CUDA binaries"
if [ -x .gpu-dotnet/dotnet ]; then
  export DOTNET_ROOT=$PWD/.gpu-dotnet; DOTNET=$DOTNET_ROOT/dotnet
else
  DOTNET=$(command -v dotnet || true)
fi
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export SEMPPL_PYTHON=$(command -v "$PY")
if [ -z "$DOTNET" ] || [ ! -f "$GPU_BIN/cli/semppl.dll" ]; then
  echo "NO CUDA BUILD: $GPU_BIN/ and a .NET runtime are needed (scripts/gpu/pack.sh); nothing more to run"; exit 2
fi
SEMPPL=("$DOTNET" "$GPU_BIN/cli/semppl.dll"); BENCH=("$DOTNET" "$GPU_BIN/bench/SemPPL.Benchmarks.dll")
PROBE=("$DOTNET" "$GPU_BIN/probe/SemPPL.Distributed.Probe.dll")
"$DOTNET" --list-runtimes
ls -l "$GPU_BIN/cli/runtimes/linux-x64/native/"

if want devicecheck; then
  stamp "== 2b. CUDA vs CPU, tensor by tensor and node by node (SemPPL.Benchmarks devicecheck)"
  timeout 180 "${BENCH[@]}" devicecheck --config configs/quickstart.yaml --device cuda --steps 2
  echo "devicecheck exit code: $?"
  stamp "   again with graph optimisation off (a fusion or a kernel?)"
  SEMPPL_ORT_GRAPH_OPTIMIZATION=disable timeout 120 "${BENCH[@]}" devicecheck --config configs/quickstart.yaml --device cuda --steps 2 --graphs none
  echo "devicecheck (optimisation off) exit code: $?"
fi

want smoke && {
stamp "== 3. 20-step CUDA smoke test (quickstart network, 28x28x1, B = 64 + 16, L = 2)"
SMOKE=(train --config configs/quickstart.yaml --steps 20 --set training.warmup_steps=5 --set training.log_every=1
       --set training.checkpoint_every=20 --no-eval --profile)
timeout 150 "${SEMPPL[@]}" "${SMOKE[@]}" --device cuda --out "$OUT/quickstart-cuda"; echo "CUDA smoke test exit code: $?"
cp "$OUT/quickstart-cuda/metrics.jsonl" "$OUT/metrics-cuda.jsonl" 2>/dev/null
stamp "   the same 20 steps on this machine's CPU, for comparison"
timeout 60 "${SEMPPL[@]}" "${SMOKE[@]}" --device cpu --out "$OUT/quickstart-cpu"; echo "CPU run exit code: $?"
cp "$OUT/quickstart-cpu/metrics.jsonl" "$OUT/metrics-cpu.jsonl" 2>/dev/null
$PY - "$OUT/metrics-cuda.jsonl" "$OUT/metrics-cpu.jsonl" <<'PYEOF'
import json, sys
def rows(p):
    try: return [json.loads(l) for l in open(p) if l.strip()]
    except OSError: return []
a, b = rows(sys.argv[1]), rows(sys.argv[2])
print(f"rows: cuda {len(a)}, cpu {len(b)}")
for ra, rb in zip(a, b):
    print(f"  step {ra.get('step'):>3}  loss cuda {ra.get('loss', float('nan')):.5f}  cpu {rb.get('loss', float('nan')):.5f}"
          f"  pl-acc cuda {ra.get('pseudoLabelAccuracy')}  cpu {rb.get('pseudoLabelAccuracy')}  img/s cuda {ra.get('imagesPerSecond', 0):.0f}  cpu {rb.get('imagesPerSecond', 0):.0f}")
if a and b:
    d = max(abs(ra['loss'] - rb['loss']) for ra, rb in zip(a, b))
    print(f"largest |loss cuda - loss cpu| over {min(len(a), len(b))} steps: {d:.2e}")
PYEOF
rm -rf "$OUT/quickstart-cuda" "$OUT/quickstart-cpu"   # only 8 files come back
}

want r50 && {
stamp "== 4. ResNet-50 224 px step, ours vs PyTorch, CUDA, B_u = $R50_BATCH (+ B_u/4 labelled), L = 2"
timeout 240 "${BENCH[@]}" step --case r50 --device cuda --batch "$R50_BATCH" --warmup 3 --steps 10 --threads 16
echo "r50 exit code: $?"
if want r50-exhaustive; then
  stamp "   again with cuDNN's exhaustive algorithm search (as PyTorch's cudnn.benchmark)"
  SEMPPL_CUDNN_CONV_ALGO_SEARCH=EXHAUSTIVE timeout 240 "${BENCH[@]}" step --case r50 --device cuda --batch "$R50_BATCH" --warmup 3 --steps 10 --threads 16
  echo "r50 (exhaustive) exit code: $?"
fi
}

want b && {
stamp "== 5. quickstart network step, ours vs PyTorch, CUDA"
timeout 90 "${BENCH[@]}" step --case b --device cuda --warmup 3 --steps 20 --threads 16
echo "case b exit code: $?"
}

want quickstart && {
stamp "== 6. the whole quickstart (1,000 steps and the evaluation) on CUDA, if time allows"
timeout ${QUICKSTART_S:-75} "${SEMPPL[@]}" train --config configs/quickstart.yaml --device cuda --out "$OUT/qs"
echo "quickstart exit code: $?"; cp "$OUT/qs/summary.json" "$OUT/quickstart-summary.json" 2>/dev/null; rm -rf "$OUT/qs"
}
want profile && {
stamp "== 7. measure first (CUDA step speed): SemPPL.Benchmarks cuda-profile, ResNet-50, ours vs PyTorch, budget ${PROFILE_BUDGET_S:-300} s"
BUDGET_END=$(( $(date +%s) + ${PROFILE_BUDGET_S:-300} ))
left() { local l=$(( BUDGET_END - $(date +%s) )); if [ "$l" -lt "$1" ]; then echo "$l"; else echo "$1"; fi; }
PROFILE=(--device "$DEVICE" --case "${PROFILE_CASE:-r50}" --batch "$R50_BATCH" --size "${PROFILE_SIZE:-224}" --threads "$(nproc)")
t=$(left 120)
if [ "$t" -gt 20 ]; then
  stamp "   7a. time by op type, target.onnx and train.onnx, both channel-reduction forms (CUDA_LAUNCH_BLOCKING=1: kernel times)"
  CUDA_LAUNCH_BLOCKING=1 timeout "$t" "${BENCH[@]}" cuda-profile "${PROFILE[@]}" --sections profile --forms "${PROFILE_FORMS:-direct,two_stage}" \
    > "$OUT/cuda-profile-graphs.log" 2>&1
  echo "cuda-profile (graphs) exit code: $?"; cat "$OUT/cuda-profile-graphs.log"
else echo "   7a skipped: budget spent"; fi
t=$(left 120)
if [ "$t" -gt 20 ]; then
  stamp "   7b. reductions, BatchNorm forward, weight gradients, upload; PyTorch on the same shapes"
  timeout "$t" "${BENCH[@]}" cuda-profile "${PROFILE[@]}" --sections reduce,bn,wgrad,upload > "$OUT/cuda-profile-kernels.log" 2>&1
  echo "cuda-profile (kernels) exit code: $?"; cat "$OUT/cuda-profile-kernels.log"
else echo "   7b skipped: budget spent"; fi
t=$(left 100)
if [ "$t" -gt 30 ] && [ "${PROFILE_CASE:-r50}" = r50 ]; then
  stamp "   7c. the whole ResNet-50 step with model.channel_reduction two_stage (section 4 ran the default, direct)"
  timeout "$t" "${BENCH[@]}" step --case r50 --device "$DEVICE" --batch "$R50_BATCH" --warmup 3 --steps 10 --threads "$(nproc)" --channel-reduction two_stage
  echo "r50 two_stage exit code: $?"
else echo "   7c skipped: budget spent or not the r50 case"; fi
}
want nccl && {
stamp "== 8. NCCL, data-parallel on this one GPU without MPI (torchrun-style variables), budget ${NCCL_BUDGET_S:-240} s"
NCCL_END=$(( $(date +%s) + ${NCCL_BUDGET_S:-240} ))
nccl_left() { local l=$(( NCCL_END - $(date +%s) )); if [ "$l" -lt "$1" ]; then echo "$l"; else echo "$1"; fi; }
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Two ranks, each with its own NCCL_HOSTID (NCCL then treats them as two machines over loopback sockets), killed
# after $1 seconds; their output is printed per rank, then "<what> exit codes: R0 R1".
nccl_pair() {
  local t=$1 what=$2; shift 2
  local port; port=$(free_port); local pids=() codes=()
  for r in 0 1; do
    RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port CUDA_VISIBLE_DEVICES=0 NCCL_HOSTID=semppl-rank-$r \
      NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-lo} timeout "$t" "$@" > "$OUT/nccl-rank$r.log" 2>&1 &
    pids+=($!)
  done
  for r in 0 1; do wait "${pids[$r]}"; codes+=($?); done
  for r in 0 1; do sed "s/^/   rank $r| /" "$OUT/nccl-rank$r.log" | tail -25; done
  rm -f "$OUT"/nccl-rank?.log
  echo "$what exit codes: ${codes[0]} ${codes[1]} (124: killed by the ${t} s limit)"
  [ "${codes[0]}" = 0 ] && [ "${codes[1]}" = 0 ]
}
if [ "$DEVICE" != cuda ]; then
  echo "nccl: skipped: no GPU (SEMPPL_GPU_DEVICE=$DEVICE)"
else
  if [ -z "${SEMPPL_NCCL_LIBRARY:-}" ]; then
    SEMPPL_NCCL_LIBRARY=$(IFS=:; for d in $LIBDIRS; do ls "$d/libnccl.so.2" 2>/dev/null; done | head -1)
  fi
  export SEMPPL_NCCL_LIBRARY NCCL_DEBUG=${NCCL_DEBUG:-WARN}
  echo "libnccl.so.2: ${SEMPPL_NCCL_LIBRARY:-not found}; NCCL_DEBUG=$NCCL_DEBUG"
  if [ -z "$SEMPPL_NCCL_LIBRARY" ]; then
    echo "nccl: skipped: no libnccl.so.2 in the pip folders (pip install nvidia-nccl-cu13, or set SEMPPL_NCCL_LIBRARY)"
  else
    stamp "   8a. 20 quickstart steps plainly, then as rank 0 of 1 with SEMPPL_DISTRIBUTED=1; final checkpoints compared"
    NCCL_TRAIN=(train --config configs/quickstart.yaml --steps 20 --no-eval --device cuda --set training.warmup_steps=5 --set training.checkpoint_every=20)
    t=$(nccl_left 90)
    timeout "$t" "${SEMPPL[@]}" "${NCCL_TRAIN[@]}" --out "$OUT/nccl-plain" 2>&1 | tail -3
    echo "plain run exit code: ${PIPESTATUS[0]}"
    t=$(nccl_left 90)
    # NCCL_DEBUG=INFO here: its "Init COMPLETE" line shows the run did create a communicator.
    RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=$(free_port) SEMPPL_DISTRIBUTED=1 NCCL_DEBUG=INFO \
      timeout "$t" "${SEMPPL[@]}" "${NCCL_TRAIN[@]}" --out "$OUT/nccl-rank0of1" > "$OUT/nccl-rank0of1.log" 2>&1
    echo "rank 0 of 1 run exit code: $?"
    grep -v "NCCL INFO" "$OUT/nccl-rank0of1.log" | tail -3
    if grep -q "Init COMPLETE" "$OUT/nccl-rank0of1.log"; then echo "NCCL communicator created: $(grep -m1 'Init COMPLETE' "$OUT/nccl-rank0of1.log")"
    else echo "NCCL communicator created: NO (no 'Init COMPLETE' from NCCL: the run did not take the data-parallel path)"; fi
    rm -f "$OUT/nccl-rank0of1.log"
    timeout 60 "${BENCH[@]}" checkpoint-diff "$OUT/nccl-plain" "$OUT/nccl-rank0of1" | grep -v ": identical (" 
    code=${PIPESTATUS[0]}; echo "checkpoint-diff (plain vs rank 0 of 1) exit code: $code (0: bit-identical)"
    if [ "$code" = 1 ] && [ "$(nccl_left 90)" -gt 30 ]; then
      stamp "   differ: is the plain CUDA run itself repeatable? the plain run again"
      timeout "$(nccl_left 90)" "${SEMPPL[@]}" "${NCCL_TRAIN[@]}" --out "$OUT/nccl-plain2" > /dev/null 2>&1
      timeout 60 "${BENCH[@]}" checkpoint-diff "$OUT/nccl-plain" "$OUT/nccl-plain2" | tail -1
      echo "checkpoint-diff (plain vs plain again) exit code: ${PIPESTATUS[0]}"
    fi
    rm -rf "$OUT/nccl-plain" "$OUT/nccl-rank0of1" "$OUT/nccl-plain2"

    stamp "   8b. 2 ranks on this one GPU (CUDA_VISIBLE_DEVICES=0, NCCL_HOSTID per rank): every collective, host and data plane"
    PAIR=0
    if [ ! -f "$GPU_BIN/probe/SemPPL.Distributed.Probe.dll" ]; then echo "8b skipped: no $GPU_BIN/probe (scripts/gpu/pack.sh builds it)"
    elif [ "$(nccl_left 60)" -gt 20 ]; then
      nccl_pair "$(nccl_left 60)" "2 ranks, one GPU (probe rendezvous)" "${PROBE[@]}" rendezvous 30 && PAIR=1
      echo "2 ranks on one GPU: $([ $PAIR = 1 ] && echo WORKS || echo 'does not work (the messages above say why)')"
      if [ $PAIR = 1 ] && [ "$(nccl_left 60)" -gt 20 ]; then
        stamp "   rank 1 killed in an all-reduce: rank 0 must exit non-zero naming itself, within its 20 s collective timeout"
        s0=$(date +%s)
        nccl_pair "$(nccl_left 60)" "probe rendezvous-die" "${PROBE[@]}" rendezvous-die 20
        echo "rendezvous-die took $(( $(date +%s) - s0 )) s (expected: rank 0 non-zero and not 124, rank 1 137 (SIGKILL))"
      fi
    else echo "8b skipped: budget spent"; fi

    t=$(nccl_left 90)
    if [ "$t" -gt 20 ]; then
      if [ $PAIR = 1 ]; then
        stamp "   8c. all-reduce bandwidth, NCCL, 2 ranks on this one GPU (loopback sockets between the two 'machines')"
        nccl_pair "$t" "allreduce" "${BENCH[@]}" allreduce --engine nccl --floats 11000000,25600000 --iterations 10 --warmup 2
      else
        stamp "   8c. all-reduce bandwidth, NCCL, 1 rank (2 ranks did not work)"
        RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=$(free_port) \
          timeout "$t" "${BENCH[@]}" allreduce --engine nccl --floats 11000000,25600000 --iterations 10 --warmup 2
        echo "allreduce (1 rank) exit code: $?"
      fi
    else echo "8c skipped: budget spent"; fi

    if [ $PAIR = 1 ] && [ "$(nccl_left 150)" -gt 100 ]; then
      stamp "   8d. semppl train at 2 ranks on this GPU vs one process with training.bn_groups=2 (what 2 ranks compute): final checkpoints"
      nccl_pair "$(nccl_left 90)" "train, 2 ranks" env SEMPPL_COLLECTIVE_TIMEOUT_S=60 "${SEMPPL[@]}" "${NCCL_TRAIN[@]}" --out "$OUT/nccl-2ranks"
      timeout "$(nccl_left 90)" "${SEMPPL[@]}" "${NCCL_TRAIN[@]}" --set training.bn_groups=2 --out "$OUT/nccl-ghost2" 2>&1 | tail -1
      echo "one process, 2 BatchNorm groups, exit code: ${PIPESTATUS[0]}"
      timeout 60 "${BENCH[@]}" checkpoint-diff "$OUT/nccl-2ranks" "$OUT/nccl-ghost2" > "$OUT/nccl-diff.log"
      echo "checkpoint-diff (2 ranks vs one process in 2 groups) exit code: $? (0 bit-identical, 1 different: float rounding is expected)"
      grep -v ": identical (" "$OUT/nccl-diff.log" | head -12
      awk '/max rel/ { v = $NF + 0; if (v > m) m = v } END { printf "largest relative difference of any tensor: %.3g (the CPU test bound is 1e-5 after 3 steps; this is 20)\n", m }' "$OUT/nccl-diff.log"
      rm -rf "$OUT/nccl-2ranks" "$OUT/nccl-ghost2" "$OUT/nccl-diff.log"
    elif [ $PAIR = 1 ]; then echo "8d skipped: budget spent"; fi
  fi
fi
}
stamp "done; log in $OUT/check-cuda.log"
