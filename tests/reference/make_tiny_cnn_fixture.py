#!/usr/bin/python3
"""Writes the tiny-CNN import fixture: tiny_cnn.onnx (eval-mode BatchNorm), tiny_cnn_train.onnx
(training-mode BatchNorm) and tiny_cnn.json (input, R, torch outputs, torch.autograd gradients).

The network: conv 3x3 stride 2 with bias -> BatchNorm -> ReLU -> (h + conv 3x3(h)) -> ReLU ->
maxpool 2x2 -> global average pool -> flatten by view(N, -1) (PyTorch emits the
Shape/Gather/Unsqueeze/Concat/Reshape chain for it) -> linear. Exported at opset 17 with a dynamic
batch dimension. The loss is sum(logits * R). References are computed in float64 from the exported
float32 weights, and the script checks that no ReLU input or max-pool window sits within a margin of
a kink, so float32 runs cannot flip a branch.

Run: /usr/bin/python3 tests/reference/make_tiny_cnn_fixture.py
"""
import copy
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from fixture_common import FIXTURES, check_initializers_match, initializers, op_types, tensor_json, write_json

MARGIN = 1e-4  # float32 rounding in these sums is ~1e-6


class TinyCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, stride=2, padding=1, bias=True)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=True)
        self.pool = nn.MaxPool2d(2, 2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = torch.relu(h + self.conv2(h))
        h = self.gap(self.pool(h))
        h = h.view(h.size(0), -1)
        return self.fc(h)


def margins(model, x):
    """Smallest |ReLU input| and smallest gap between the two largest values of a live max-pool window."""
    a = model.bn1(model.conv1(x))
    h = torch.relu(a)
    b = h + model.conv2(h)
    p = torch.relu(b)
    windows = p.unfold(2, 2, 2).unfold(3, 2, 2).reshape(*p.shape[:2], p.shape[2] // 2, p.shape[3] // 2, 4)
    top2 = windows.topk(2, dim=-1).values
    # Windows whose maximum is a clamped 0 pass no gradient (the ReLU below is inactive): ties there are harmless.
    live = top2[..., 0] > 0
    gap = (top2[..., 0] - top2[..., 1])[live].min().item()
    return min(a.abs().min().item(), b.abs().min().item()), gap


def main():
    torch.manual_seed(20230217)
    torch.set_num_threads(2)
    model = TinyCnn()
    with torch.no_grad():
        model.bn1.weight.uniform_(0.5, 1.5)
        model.bn1.bias.normal_(0, 0.2)
        model.bn1.running_mean.normal_(0, 0.2)
        model.bn1.running_var.uniform_(0.5, 1.5)
    model.eval()
    x = torch.randn(3, 1, 12, 12)
    r = torch.randn(3, 5)

    os.makedirs(FIXTURES, exist_ok=True)
    eval_path = os.path.join(FIXTURES, "tiny_cnn.onnx")
    # PRESERVE keeps BatchNorm as its own node (EVAL would fold it into conv1 and rename the weights).
    torch.onnx.export(model, x, eval_path, opset_version=17, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    check_initializers_match(eval_path, model)

    # Reference in float64 from the module's (= the exported) weights.
    ref = copy.deepcopy(model).double().eval()
    xd = x.double().requires_grad_(True)
    small, gap = margins(ref, xd.detach())
    assert small > MARGIN and gap > MARGIN, f"input too close to a kink: |relu input| >= {small}, max-pool gap >= {gap}"
    logits = ref(xd)
    loss = (logits * r.double()).sum()
    params = dict(ref.named_parameters())
    grads = torch.autograd.grad(loss, [xd] + list(params.values()))

    # Training-mode export: BatchNorm on batch statistics, running statistics updated (momentum 0.1 in
    # PyTorch = 0.9 in ONNX). Tracing runs a forward pass that updates the module's buffers, so the
    # reference starts from the statistics stored in the exported file.
    train_path = os.path.join(FIXTURES, "tiny_cnn_train.onnx")
    exported = copy.deepcopy(model).train()
    torch.onnx.export(exported, x, train_path, opset_version=17, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    stored = initializers(train_path)
    train_ref = copy.deepcopy(model).double().train()
    with torch.no_grad():
        for name, t in train_ref.state_dict().items():
            if name in stored:
                t.copy_(stored[name].double())
    start_mean = train_ref.bn1.running_mean.clone()
    start_var = train_ref.bn1.running_var.clone()
    with torch.no_grad():
        train_logits = train_ref(x.double())

    payload = {
        "torch_version": torch.__version__,
        "opset": 17,
        "model": "tiny_cnn.onnx",
        "op_types": op_types(eval_path),
        "input": {"name": "input", **tensor_json(x)},
        "R": tensor_json(r),
        "output": {"name": "logits", **tensor_json(logits)},
        "loss": loss.item(),
        "grads": {"input": tensor_json(grads[0]), **{n: tensor_json(g) for n, g in zip(params.keys(), grads[1:])}},
        "train": {
            "model": "tiny_cnn_train.onnx",
            "op_types": op_types(train_path),
            "output": {"name": "logits", **tensor_json(train_logits)},
            "running_start": {"bn1.running_mean": tensor_json(start_mean), "bn1.running_var": tensor_json(start_var)},
            "running_updated": {"bn1.running_mean": tensor_json(train_ref.bn1.running_mean),
                                "bn1.running_var": tensor_json(train_ref.bn1.running_var)},
        },
    }
    path = write_json("tiny_cnn.json", payload)
    print(f"wrote {eval_path}, {train_path}, {path}; margins: relu {small:.3g}, max-pool {gap:.3g}; loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
