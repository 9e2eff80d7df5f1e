#!/usr/bin/env bash
# Packs the CUDA build of SemPPL for a GPU machine that has no .NET, no NuGet and no network (the lent H100/H200),
# where one `device run` may carry at most 64 MiB. Run here, where NuGet works:  bash scripts/gpu/pack.sh
#
# Writes .gpu/ (git-ignored):
#   payload.part-NN   57.8 MB pieces (with the 6.6 MB working tree, under 64 MiB a call) of one tar holding
#                       bundle.tar.xz: gpu-bin/cli + gpu-bin/bench (framework-dependent publish with -p:OrtGpu=true,
#                                      linux-x64 natives only), gpu-bin/probe (the 2-rank probe of the nccl section,
#                                      no ONNX Runtime) and dotnet/ (this machine's .NET runtime)
#                       cuda-provider.xz: libonnxruntime_providers_cuda.so (284 MB, 186 MB as xz: why the pieces exist)
#   SHA256SUMS        of the pieces
# Then carry one piece per call (see check-cuda.sh): each call stages its piece in /tmp on the device, and the call
# that completes the set unpacks it and runs the checks.
#
#   bash scripts/gpu/pack.sh --overlay   rebuilds only our own assemblies into .gpu/overlay/{cli,bench,probe} (about 1 MB):
#   carry .gpu/overlay with the last piece and check-cuda.sh lays it over the unpacked build; the pieces stay valid.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=${SEMPPL_PACK_WORK:-/tmp/semppl-gpu-pack}
PIECE=${SEMPPL_PACK_PIECE:-57800000}
copy_tree() {  # build from a copy so that the CPU build outputs of this checkout are not switched to the GPU package
  rm -rf "$WORK/src" && mkdir -p "$WORK/src"
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$WORK/src"
}
if [ "${1:-}" = "--overlay" ]; then
  copy_tree
  rm -rf "$ROOT/.gpu/overlay"
  for app in cli:src/SemPPL.Cli bench:tests/SemPPL.Benchmarks probe:tests/SemPPL.Distributed.Probe; do
    name=${app%%:*}; proj=${app#*:}
    dotnet publish "$WORK/src/$proj" -c Release -p:OrtGpu=true -o "$WORK/overlay/$name" 2>&1 | tail -1
    mkdir -p "$ROOT/.gpu/overlay/$name"
    for f in "$WORK/overlay/$name"/SemPPL.*.dll "$WORK/overlay/$name"/semppl.dll "$WORK/overlay/$name"/*.deps.json "$WORK/overlay/$name"/*.runtimeconfig.json; do
      [ -f "$f" ] || continue
      # only what differs from the build inside the pieces (the 5 MB data assembly rarely does)
      cmp -s "$f" "$WORK/stage/gpu-bin/$name/$(basename "$f")" || cp "$f" "$ROOT/.gpu/overlay/$name/"
    done
  done
  du -sh "$ROOT/.gpu/overlay"; exit 0
fi
rm -rf "$WORK" && mkdir -p "$WORK/stage/gpu-bin" "$WORK/stage/dotnet/shared"
copy_tree
for app in cli:src/SemPPL.Cli bench:tests/SemPPL.Benchmarks probe:tests/SemPPL.Distributed.Probe; do
  name=${app%%:*}; proj=${app#*:}
  dotnet publish "$WORK/src/$proj" -c Release -p:OrtGpu=true -o "$WORK/stage/gpu-bin/$name" 2>&1 | tail -1
  rt="$WORK/stage/gpu-bin/$name/runtimes"
  for r in "$rt"/*; do [ "$(basename "$r")" = linux-x64 ] || rm -rf "$r"; done
  rm -rf "$WORK/stage/gpu-bin/$name"/[a-z][a-z] "$WORK/stage/gpu-bin/$name"/[a-z][a-z]-*   # satellite resources
  # the CUDA provider travels once, as its own piece; TensorRT is not used
  cp -n "$rt/linux-x64/native/libonnxruntime_providers_cuda.so" "$WORK/provider.so" 2>/dev/null || true
  rm -f "$rt/linux-x64/native/libonnxruntime_providers_cuda.so" "$rt/linux-x64/native/libonnxruntime_providers_tensorrt.so"
done
# one libonnxruntime.so: check-cuda.sh links the bench's copy to the cli's
rm -f "$WORK/stage/gpu-bin/bench/runtimes/linux-x64/native/libonnxruntime.so"
DOTNET_HOME=$(dirname "$(readlink -f "$(command -v dotnet)")")
cp -r "$DOTNET_HOME/dotnet" "$DOTNET_HOME/host" "$WORK/stage/dotnet/"
cp -r "$DOTNET_HOME/shared/Microsoft.NETCore.App" "$WORK/stage/dotnet/shared/"
tar -C "$WORK/stage" -cf - gpu-bin dotnet | xz -9 -T0 > "$WORK/bundle.tar.xz"
# xz -9 of the provider takes minutes: cached by its checksum
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/semppl-gpu; mkdir -p "$CACHE"
sum=$(sha256sum "$WORK/provider.so" | cut -c1-16)
if [ ! -f "$CACHE/cuda-provider-$sum.xz" ]; then
  xz -9 -T0 -c "$WORK/provider.so" > "$CACHE/cuda-provider-$sum.xz.tmp"
  mv -f "$CACHE/cuda-provider-$sum.xz.tmp" "$CACHE/cuda-provider-$sum.xz"
fi
cp "$CACHE/cuda-provider-$sum.xz" "$WORK/cuda-provider.xz"
tar -C "$WORK" -cf "$WORK/payload.tar" bundle.tar.xz cuda-provider.xz
rm -rf "$ROOT/.gpu" && mkdir -p "$ROOT/.gpu"
split -b "$PIECE" -d -a 2 "$WORK/payload.tar" "$ROOT/.gpu/payload.part-"
(cd "$ROOT/.gpu" && sha256sum payload.part-* > SHA256SUMS)
ls -l "$ROOT/.gpu"
echo "next: carry .gpu/SHA256SUMS with one piece per call (check-cuda.sh stages each and runs on the last)"
