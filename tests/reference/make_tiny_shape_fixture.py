#!/usr/bin/python3
"""Writes the shape-op import fixture: tiny_shape.onnx and tiny_shape.json.

A model made of the ops whose gradient rules live with the shape rules (plus Add/Mul/Relu/ReduceSum),
so the import -> autodiff -> ORT -> torch comparison runs end to end: an embedding lookup (Gather with
repeated ids), elementwise scale/shift/ReLU, Concat, Transpose, Slice with step 2, F.pad with a
negative pad (PyTorch 1.13 emits a ConstantOfShape/Concat/Reshape/Slice/Transpose/Cast chain for the
pads), a view(N, -1) flatten (the Shape/Gather/Unsqueeze/Concat/Reshape chain), a negative-start Slice,
Unsqueeze and a ReduceSum contraction. Exported at opset 17 with a dynamic batch dimension.

Run: /usr/bin/python3 tests/reference/make_tiny_shape_fixture.py
"""
import copy
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from fixture_common import FIXTURES, check_initializers_match, op_types, tensor_json, write_json

MARGIN = 1e-4


class TinyShape(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 6)
        self.w1 = nn.Parameter(torch.randn(6))
        self.b1 = nn.Parameter(0.3 * torch.randn(6))
        self.w2 = nn.Parameter(0.5 * torch.randn(24, 5))

    def pre_relu(self, x):
        return x * self.w1 + self.b1

    def forward(self, x, ids):
        e = self.emb(ids)                       # [N, 2, 6]
        h = torch.relu(self.pre_relu(x))        # [N, 4, 6]
        h = torch.cat([h, e], dim=1)            # [N, 6, 6]
        h = h.transpose(1, 2)                   # [N, 6, 6]
        h = h[:, 1:, ::2]                       # [N, 5, 3]
        h = F.pad(h, (1, 0, 0, -1))             # [N, 4, 4]
        h = h.view(h.size(0), -1)               # [N, 16]
        h = torch.cat([h, h[:, -8:]], 1)        # [N, 24]
        return (h.unsqueeze(-1) * self.w2).sum(1)


def main():
    torch.manual_seed(7)
    torch.set_num_threads(2)
    model = TinyShape().eval()
    x = torch.randn(3, 4, 6)
    ids = torch.tensor([[1, 3], [1, 1], [4, 0]])  # row 1 three times, row 2 never
    r = torch.randn(3, 5)

    os.makedirs(FIXTURES, exist_ok=True)
    path = os.path.join(FIXTURES, "tiny_shape.onnx")
    torch.onnx.export(model, (x, ids), path, opset_version=17, input_names=["x", "ids"], output_names=["out"],
                      dynamic_axes={"x": {0: "batch"}, "ids": {0: "batch"}, "out": {0: "batch"}},
                      do_constant_folding=True)
    check_initializers_match(path, model)

    ref = copy.deepcopy(model).double()
    xd = x.double().requires_grad_(True)
    small = ref.pre_relu(xd).abs().min().item()
    assert small > MARGIN, f"a ReLU input is within {small} of the kink"
    out = ref(xd, ids)
    loss = (out * r.double()).sum()
    params = dict(ref.named_parameters())
    grads = torch.autograd.grad(loss, [xd] + list(params.values()))

    payload = {
        "torch_version": torch.__version__,
        "opset": 17,
        "model": "tiny_shape.onnx",
        "op_types": op_types(path),
        "input": {"name": "x", **tensor_json(x)},
        "ids": {"name": "ids", **tensor_json(ids.double())},
        "R": tensor_json(r),
        "output": {"name": "out", **tensor_json(out)},
        "loss": loss.item(),
        "grads": {"x": tensor_json(grads[0]), **{n: tensor_json(g) for n, g in zip(params.keys(), grads[1:])}},
    }
    jpath = write_json("tiny_shape.json", payload)
    print(f"wrote {path}, {jpath}; relu margin {small:.3g}; ops {payload['op_types']}")


if __name__ == "__main__":
    main()
