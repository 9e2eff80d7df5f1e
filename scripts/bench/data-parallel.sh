#!/usr/bin/env bash
# Data-parallel step on the CPU: the same job's batch trained by 1 rank and by 2 ranks (Open MPI), with the step's
# graph and collective times from `semppl train --profile`. Prints the machine, the commands and what they measured.
#
#   bash scripts/bench/data-parallel.sh [config] [steps]      (default configs/quickstart.yaml, 60 steps)
#
# 1 rank runs the job path (SEMPPL_DISTRIBUTED=1) with every core; 2 ranks split the cores (threads = cores / 2 each,
# --bind-to none). The first 10 steps are warm-up and are not in images/s of the last logged window.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${1:-configs/quickstart.yaml}
STEPS=${2:-60}
CORES=$(nproc)
SEMPPL=src/SemPPL.Cli/bin/Release/net10.0/semppl.dll
[ -f "$SEMPPL" ] || dotnet build src/SemPPL.Cli -c Release 2>&1 | tail -1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NO_COLOR=1
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $CORES cores; AVX-512: $(grep -qw avx512f /proc/cpuinfo && echo yes || echo no)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Open MPI: $(mpirun --version 2>&1 | head -1)"
echo "config: $CONFIG, $STEPS steps"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
run() {  # ranks threads
  local ranks=$1 threads=$2
  local cmd=(mpirun -np "$ranks" --oversubscribe --bind-to none -x NO_COLOR -x SEMPPL_DISTRIBUTED=1
             dotnet "$SEMPPL" train --config "$CONFIG" --out "$OUT/r$ranks" --steps "$STEPS" --no-eval --profile
             --set "threads=$threads" --set "training.log_every=10" --set "training.warmup_steps=5" --set "training.checkpoint_every=100000")
  echo
  echo "== $ranks rank(s), $threads ONNX Runtime thread(s) each"
  echo "command: SEMPPL_DISTRIBUTED=1 ${cmd[*]}"
  "${cmd[@]}" > "$OUT/log$ranks" 2>&1 || { cat "$OUT/log$ranks"; exit 1; }
  grep -E "^step [0-9.]+ ms:" "$OUT/log$ranks" | sed 's/^/profile: /'
  python3 - "$OUT/r$ranks/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
last = rows[-1]
print(f"images/s of the job (last window of 10 steps): {last['imagesPerSecond']:.1f}; final loss {last['loss']:.4f}")
PY
}
run 1 "$CORES"
run 2 $(( CORES / 2 > 0 ? CORES / 2 : 1 ))
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
