"""Functional networks with SemPPL.Ort's parameter names (graphgen Models/ResNet.cs, Models/Heads.cs).

The architecture is read off the parameter names and shapes of manifest.json, so any plain ResNet
(basic or bottleneck blocks, any width, "imagenet", "small" or "small-s2" stem) of an artifact set runs
here; the stem's stride comes from manifest["model"]["stem"].
Parameters are dicts name -> tensor keyed by the LOCAL name (no "online."/"target." prefix).
"""
import torch
import torch.nn.functional as F


class BatchNorm:
    """Training-mode BatchNorm on batch statistics (biased variance for normalisation).

    running is None: no running-statistics update (the target network: its statistics follow the
    online ones by EMA). Otherwise running[name.running_mean/var] are updated in place as
    bn_momentum * running + (1 - bn_momentum) * batch with the UNBIASED batch variance, which is what
    torch's F.batch_norm does with momentum = 1 - bn_momentum.
    """

    def __init__(self, params, running, bn_momentum, eps):
        self.p, self.r, self.m, self.eps = params, running, bn_momentum, eps

    def __call__(self, x, name):
        w, b = self.p[name + ".weight"], self.p[name + ".bias"]
        if self.r is None:
            return F.batch_norm(x, None, None, w, b, training=True, momentum=0.0, eps=self.eps)
        return F.batch_norm(x, self.r[name + ".running_mean"], self.r[name + ".running_var"], w, b,
                            training=True, momentum=1.0 - self.m, eps=self.eps)


def _stage_blocks(names, stage):
    b = 0
    while f"encoder.layer{stage}.{b}.conv1.weight" in names:
        yield b
        b += 1


def encoder(P, bn, x, stem="small"):
    """ResNet v1 (torchvision layout) without fc: global-average-pooled features [B, F]."""
    names = P.keys()
    if any(".sk." in n for n in names):
        raise NotImplementedError("selective-kernel ResNets are not in the reference")
    stem_w = P["encoder.conv1.weight"]
    if stem_w.shape[-1] == 7:  # imagenet stem: 7x7/2 pad 3 + BN + ReLU + 3x3/2 max-pool pad 1
        x = F.relu(bn(F.conv2d(x, stem_w, None, 2, 3), "encoder.bn1"))
        x = F.max_pool2d(x, 3, 2, 1)
    else:  # small stem: 3x3/1 pad 1 + BN + ReLU; small-s2: the same with stride 2
        x = F.relu(bn(F.conv2d(x, stem_w, None, 2 if stem == "small-s2" else 1, 1), "encoder.bn1"))
    for stage in range(1, 5):
        for b in _stage_blocks(names, stage):
            s = f"encoder.layer{stage}.{b}."
            stride = 2 if stage > 1 and b == 0 else 1
            if s + "conv3.weight" in names:  # bottleneck: 1x1 -> 3x3 (stride) -> 1x1
                y = F.relu(bn(F.conv2d(x, P[s + "conv1.weight"]), s + "bn1"))
                y = F.relu(bn(F.conv2d(y, P[s + "conv2.weight"], None, stride, 1), s + "bn2"))
                y = bn(F.conv2d(y, P[s + "conv3.weight"]), s + "bn3")
            else:  # basic: 3x3 (stride) -> 3x3
                y = F.relu(bn(F.conv2d(x, P[s + "conv1.weight"], None, stride, 1), s + "bn1"))
                y = bn(F.conv2d(y, P[s + "conv2.weight"], None, 1, 1), s + "bn2")
            if s + "downsample.0.weight" in names:
                sc = bn(F.conv2d(x, P[s + "downsample.0.weight"], None, stride, 0), s + "downsample.1")
            else:
                sc = x
            x = F.relu(y + sc)
    return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def mlp(P, bn, x, name):
    """Linear(hidden, bias) -> BatchNorm -> ReLU -> Linear(out, no bias)."""
    h = F.linear(x, P[name + ".fc1.weight"], P[name + ".fc1.bias"])
    h = F.relu(bn(h, name + ".bn"))
    return F.linear(h, P[name + ".fc2.weight"])


def l2_normalize(x):
    """x / sqrt(sum(x^2) + 1e-12) along the last axis (Objective/Embeddings.cs)."""
    return x / torch.sqrt((x * x).sum(-1, keepdim=True) + 1e-12)
