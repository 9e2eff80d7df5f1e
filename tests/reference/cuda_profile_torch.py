"""PyTorch side of `SemPPL.Benchmarks cuda-profile`: the same kernels on the same shapes, timed the same way.

Usage: python3 cuda_profile_torch.py SPEC.json
SPEC (written by the benchmark): {"device": "cuda"|"cpu", "warmup": int, "runs": int, "threads": int,
  "reduce": [[N,C,H,W], ...], "bn": [[N,C,H,W], ...], "bn_epsilon": float, "bn_momentum": float (ours: running = m * running + (1 - m) * batch),
  "wgrad": [{"x": [N,C,H,W], "w": [M,C,k,k], "stride": s, "pad": p}, ...], "upload": [dims] or null}
Prints one JSON line: {"torch", "cuda", "cudnn", "reduce", "reduce_two_stage", "bn", "wgrad" (lists of median ms, in
SPEC order; null where a case failed), "upload": {"pageable", "pinned"} (median ms)}.
Each timed call is followed by a device synchronisation, as each of our runs ends with one. TF32 and
cudnn.benchmark on, as the step comparison (tests/reference/semppl_torch bench) runs PyTorch.
"""
import json
import statistics
import sys
import time

import torch


def timed(fn, warmup, runs, sync):
    for _ in range(warmup):
        fn()
    sync()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        sync()
        ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms)


def main(path):
    spec = json.load(open(path))
    dev = torch.device(spec["device"])
    cuda = dev.type == "cuda"
    torch.set_num_threads(int(spec.get("threads", 1)))
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    warmup, runs = int(spec["warmup"]), int(spec["runs"])
    gen = torch.Generator(device="cpu").manual_seed(1)
    out = {"torch": torch.__version__, "cuda": torch.version.cuda if cuda else None,
           "cudnn": torch.backends.cudnn.version() if cuda else None}

    def guard(fn):
        try:
            return fn()
        except Exception as e:  # one failed case must not hide the others
            print(f"torch side: {type(e).__name__}: {e}", file=sys.stderr)
            return None

    def rand(shape):
        return torch.randn(*shape, generator=gen).to(dev)

    reduce, two = [], []
    for shape in spec.get("reduce", []):
        x = rand(shape)
        n, c = shape[0], shape[1]
        reduce.append(guard(lambda: timed(lambda: x.mean(dim=(0, 2, 3)), warmup, runs, sync)))
        two.append(guard(lambda: timed(lambda: x.view(n, c, -1).mean(dim=2).mean(dim=0), warmup, runs, sync)))
        del x
    out["reduce"], out["reduce_two_stage"] = reduce, two

    bn = []
    eps, momentum = float(spec.get("bn_epsilon", 1e-5)), float(spec.get("bn_momentum", 0.9))
    for shape in spec.get("bn", []):
        x = rand(shape)
        c = shape[1]
        w, b = torch.ones(c, device=dev), torch.zeros(c, device=dev)
        rm, rv = torch.zeros(c, device=dev), torch.ones(c, device=dev)
        # torch's momentum weighs the batch: ours 0.9 on the running value is torch's 0.1
        bn.append(guard(lambda: timed(lambda: torch.nn.functional.batch_norm(x, rm, rv, w, b, True, 1 - momentum, eps), warmup, runs, sync)))
        del x
    out["bn"] = bn

    wgrad = []
    for case in spec.get("wgrad", []):
        def one(case=case):
            x, w = rand(case["x"]), rand(case["w"])
            s, p = int(case["stride"]), int(case["pad"])
            dy = rand(torch.nn.functional.conv2d(x, w, stride=s, padding=p).shape)
            # cuDNN backward-filter: convolution_backward with only the weight gradient asked for
            return timed(lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [s, s], [p, p], [1, 1], False, [0, 0], 1,
                                                                     [False, True, False]), warmup, runs, sync)
        wgrad.append(guard(one))
    out["wgrad"] = wgrad

    if spec.get("upload"):
        host = torch.randn(*spec["upload"], generator=gen)
        if cuda:
            pinned = host.pin_memory()
            out["upload"] = {"pageable": guard(lambda: timed(lambda: host.to(dev), warmup, runs, sync)),
                             "pinned": guard(lambda: timed(lambda: pinned.to(dev, non_blocking=True), warmup, runs, sync))}
        else:
            dst = torch.empty_like(host)
            out["upload"] = {"pageable": guard(lambda: timed(lambda: dst.copy_(host), warmup, runs, sync)), "pinned": None}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
