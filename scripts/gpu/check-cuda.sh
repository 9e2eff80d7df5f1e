#!/usr/bin/env bash
# Prepared check for a lent H100/H200 (CUDA 13 driver, no network). NOT RUN YET: written and checked by reading
# only (the session that wrote it had no GPU). Run from the repository root:  bash scripts/gpu/check-cuda.sh
#
# 1. finds CUDA 13 + cuDNN 9 in PyTorch's pip packages (site-packages/nvidia/*/lib), adds them to LD_LIBRARY_PATH
#    and prints what it found;
# 2. needs SemPPL binaries built WITH -p:OrtGpu=true. The GPU machine may have neither the dotnet SDK nor NuGet
#    access, so build them where NuGet works and carry them (run's `carry`), into $SEMPPL_GPU_BIN (default
#    gpu-bin/, git-ignore it):
#      dotnet publish src/SemPPL.Cli -c Release -p:OrtGpu=true -o gpu-bin/cli
#      dotnet publish tests/SemPPL.Benchmarks -c Release -p:OrtGpu=true -o gpu-bin/bench
#    (publish with --self-contained -r linux-x64 if the machine has no .NET 10 runtime). CAUTION: the CUDA
#    provider library of Microsoft.ML.OnnxRuntime.Gpu.Linux is far larger than the 64 MiB a run may carry; if it
#    does not fit, the script says so and still runs the PyTorch half. Without gpu-bin/ it tries
#    `dotnet build -c Release -p:OrtGpu=true` (needs the SDK and NuGet on that machine);
# 3. 20-step CUDA smoke test: semppl train --config configs/quickstart.yaml --device cuda --steps 20;
# 4. ResNet-50 224 px, our step vs the same step in PyTorch on CUDA (SemPPL.Benchmarks step --case r50).
# Everything is logged to $OUT (or /tmp/semppl-gpu). Budget: ~10 min on an H100.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/semppl-gpu}; mkdir -p "$OUT"
exec > >(tee "$OUT/check-cuda.log") 2>&1
PY=${PYTHON:-python3}
BIN=${SEMPPL_GPU_BIN:-gpu-bin}
R50_BATCH=${R50_BATCH:-64}

echo "== 1. CUDA libraries from the PyTorch pip packages ($($PY -c 'import sys; print(sys.executable)'))"
LIBDIRS=$($PY - <<'PYEOF'
import glob, os, site
roots = set(site.getsitepackages() + [site.getusersitepackages()])
try:
    import nvidia
    roots.update(os.path.dirname(p) for p in nvidia.__path__)
except Exception:
    pass
print(":".join(sorted({d for r in roots for d in glob.glob(os.path.join(r, "nvidia", "*", "lib"))})))
PYEOF
)
echo "lib folders: ${LIBDIRS:-NONE}"
export LD_LIBRARY_PATH="${LIBDIRS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcufft.so.12 libcurand.so.10 libcudnn.so.9; do
  hit=$(IFS=:; for d in $LIBDIRS; do ls "$d/$lib" 2>/dev/null; done | head -1)
  printf '  %-20s %s\n' "$lib" "${hit:-MISSING}"
done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi failed"
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), "cudnn", torch.backends.cudnn.version())'

echo "== 2. SemPPL CUDA binaries"
if [ -x "$BIN/cli/semppl" ] || [ -f "$BIN/cli/semppl.dll" ]; then
  SEMPPL=(dotnet "$BIN/cli/semppl.dll"); BENCH=(dotnet "$BIN/bench/SemPPL.Benchmarks.dll")
  [ -x "$BIN/cli/semppl" ] && SEMPPL=("$BIN/cli/semppl")
  [ -x "$BIN/bench/SemPPL.Benchmarks" ] && BENCH=("$BIN/bench/SemPPL.Benchmarks")
elif command -v dotnet >/dev/null && dotnet build SemPPL.Ort.sln -c Release -p:OrtGpu=true 2>&1 | tail -3; then
  SEMPPL=(dotnet src/SemPPL.Cli/bin/Release/net10.0/semppl.dll); BENCH=(dotnet tests/SemPPL.Benchmarks/bin/Release/net10.0/SemPPL.Benchmarks.dll)
else
  SEMPPL=(); echo "NO CUDA BUILD: no $BIN/ carried and no dotnet SDK/NuGet here; only the PyTorch half runs"
fi
CUDA_EP=$(find "$BIN" src/SemPPL.Cli/bin -name 'libonnxruntime_providers_cuda.so' 2>/dev/null | head -1)
echo "ORT CUDA provider: ${CUDA_EP:-NOT FOUND (carry limit? see the header)}"

if [ ${#SEMPPL[@]} -gt 0 ]; then
  echo "== 3. 20-step CUDA smoke test (quickstart)"
  timeout 240 "${SEMPPL[@]}" train --config configs/quickstart.yaml --device cuda --steps 20 --no-eval --profile \
    --out "$OUT/quickstart" ; echo "smoke test exit code: $?"
  tail -2 "$OUT/quickstart/metrics.jsonl" 2>/dev/null
  echo "== 4. ResNet-50 224 px step, ours vs PyTorch, CUDA, B_u = $R50_BATCH (+ B_u/4 labelled), L = 2"
  timeout 300 "${BENCH[@]}" step --case r50 --device cuda --batch "$R50_BATCH" --warmup 3 --steps 10 --threads 16
else
  echo "== 4. ResNet-50 224 px step, PyTorch only (our side needs the CUDA build)"
  echo "   (the benchmark writes the artifact set and inputs; without dotnet there are none: nothing to time)"
fi
echo "done; log in $OUT/check-cuda.log"
