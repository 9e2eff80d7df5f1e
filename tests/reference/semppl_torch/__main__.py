"""Command line of the reference (run with Debian's /usr/bin/python3, PYTHONPATH=tests/reference):

  python3 -m semppl_torch run   --artifacts DIR --inputs FILE --out FILE [--threads 2] [--memory-format contiguous|channels_last]
  python3 -m semppl_torch bench --artifacts DIR --inputs FILE [--warmup 2] [--steps 5] [--threads 2] [--device cpu|cuda]
                                [--memory-format auto|contiguous|channels_last] [--probe-steps 3]

DIR is an artifact set (manifest.json + initial weights). FILE is a tensor file written by the C# side
(tests/SemPPL.Tests/Reference/ReferenceHarness.cs): views.large [L,B,C,H,W], views.small (optional),
labels [B_l], negatives [S,L,B,nNeg], uniforms [S,B,nSp], lr [S], tau [S], and the step constants as
metadata. `run` does S steps and writes steps.<loss part> [S] plus the final state (trainer state names).
`bench` times steps (cycling over the S inputs) and prints one JSON line: median/mean ms and phase shares.
The baseline gets its best layout on the machine at hand: with `--memory-format auto` (the default) both layouts run
the warm-up and then --probe-steps timed steps, alternating, and the faster (by minimum) is timed. Channels-last images and
weights let oneDNN skip its reorders: on a 2-core AVX-512 VM it was 17 % (ResNet-18, 32 px) and 22-34 % (quickstart)
faster than contiguous NCHW.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

from . import step as stepmod
from . import tensorfile


def load(args, memory_format="contiguous"):
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        # best settings for the baseline: cuDNN autotuning; TF32 for matmuls as ONNX Runtime's CUDA EP uses by default
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    with open(os.path.join(args.artifacts, "manifest.json")) as f:
        manifest = json.load(f)
    initial, _ = tensorfile.read(os.path.join(args.artifacts, manifest["initialWeights"]))
    inputs, meta = tensorfile.read(args.inputs)
    settings = stepmod.Settings(meta)
    state = stepmod.ReferenceState(manifest, initial, settings, args.device)
    dev = state.device
    batch = {k: (v if k in ("lr", "tau") else v.to(dev)) for k, v in inputs.items()}
    if memory_format == "channels_last":
        state.to_channels_last()
        # a view list in place of the [L, B, C, H, W] tensor: the step only iterates over the views
        batch = {k: ([v.contiguous(memory_format=torch.channels_last) for v in t] if k.startswith("views.") else t)
                 for k, t in batch.items()}
    return state, batch


def run_step(state, batch, k, times=None):
    s = batch["negatives"].shape[0]
    return state.step(batch["views.large"], batch.get("views.small"), batch["labels"], batch["negatives"][k % s],
                      batch["uniforms"][k % s], float(batch["lr"][k % s]), float(batch["tau"][k % s]), times)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="semppl_torch")
    ap.add_argument("mode", choices=["run", "bench"])
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--memory-format", choices=["auto", "contiguous", "channels_last"], default="auto")
    ap.add_argument("--probe-steps", type=int, default=3)
    args = ap.parse_args(argv)
    if args.memory_format == "auto" and args.probe_steps < 1:
        ap.error(f"--probe-steps {args.probe_steps}: --memory-format auto needs at least 1 probe step per layout")

    if args.mode == "run":
        if not args.out:
            ap.error("run needs --out")
        state, batch = load(args, "contiguous" if args.memory_format == "auto" else args.memory_format)
        parts = []
        for k in range(batch["negatives"].shape[0]):
            parts.append(run_step(state, batch, k))
        keys = list(parts[0])
        out = [("steps." + key, torch.tensor([p[key] for p in parts], dtype=torch.float32)) for key in keys]
        out += [(n, t.detach().cpu()) for n, t in state.state_tensors()]
        tensorfile.write(args.out, out)
        json.dump(parts, sys.stdout)
        print()
        return 0

    sync = (lambda: torch.cuda.synchronize()) if args.device.startswith("cuda") else (lambda: None)

    def timed_step(state, batch, k, phases=None):
        t0 = time.perf_counter()
        run_step(state, batch, k, phases)
        sync()
        return time.perf_counter() - t0

    formats = ["contiguous", "channels_last"] if args.memory_format == "auto" else [args.memory_format]
    probe_steps = args.probe_steps if len(formats) > 1 else 0
    runs = {fmt: load(args, fmt) for fmt in formats}
    for fmt in formats:
        for k in range(args.warmup):
            run_step(*runs[fmt], k)
    sync()
    # probe steps alternate between the layouts, so a change of load on the machine hits both alike
    probes = {fmt: [] for fmt in formats}
    for k in range(probe_steps):
        for fmt in formats:
            probes[fmt].append(timed_step(*runs[fmt], args.warmup + k))
    probe_ms = {fmt: 1e3 * min(t) for fmt, t in probes.items() if t}
    fmt = min(formats, key=lambda f: probe_ms.get(f, 0.0))
    state, batch = runs.pop(fmt)
    runs.clear()
    first = args.warmup + probe_steps
    times, phases = [], [0.0] * len(stepmod.PHASES)
    for k in range(args.steps):
        times.append(timed_step(state, batch, first + k, phases))
    total = sum(phases)
    print(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(state.device),
        "memory_format": fmt, "probe_min_ms": probe_ms if probe_steps else {},
        "steps": args.steps, "median_ms": 1e3 * statistics.median(times), "mean_ms": 1e3 * statistics.mean(times),
        "min_ms": 1e3 * min(times),
        "phases_ms": {p: 1e3 * t / args.steps for p, t in zip(stepmod.PHASES, phases)},
        "phases_share": {p: t / total for p, t in zip(stepmod.PHASES, phases)},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
