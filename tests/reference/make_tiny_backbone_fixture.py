#!/usr/bin/python3
"""Writes tiny_backbone.onnx: a small grey-image CNN backbone for the onnx:<path> backbone tests.

The network: conv 3x3 (no bias) -> BatchNorm -> ReLU -> conv 3x3 stride 2 (bias) -> BatchNorm -> ReLU
-> global average pool -> flatten = "features" [N, 16] -> linear = "logits" [N, 10]. Exported at
opset 17 in eval mode with BatchNorm kept as its own node (TrainingMode.PRESERVE), with the batch,
height and width dynamic, so the same file serves 28 px Fashion-MNIST views and any other size.
The artifact tests use "features" (the output before the final linear layer) as the encoder output.
Also writes tiny_backbone.json: the input/output names and the initializer names and shapes.

Run: /usr/bin/python3 tests/reference/make_tiny_backbone_fixture.py
"""
import os

import onnx
import torch
import torch.nn as nn

from fixture_common import FIXTURES, check_initializers_match, op_types, write_json


class TinyBackbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = torch.relu(self.bn2(self.conv2(h)))
        features = torch.flatten(nn.functional.adaptive_avg_pool2d(h, 1), 1)
        return features, self.fc(features)


def main():
    torch.manual_seed(20240301)
    torch.set_num_threads(2)
    model = TinyBackbone()
    with torch.no_grad():
        # Non-trivial BatchNorm state, so tests can tell the file's values from default initialisation.
        for bn in (model.bn1, model.bn2):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0, 0.2)
            bn.running_mean.normal_(0, 0.2)
            bn.running_var.uniform_(0.5, 1.5)
    model.eval()
    x = torch.randn(2, 1, 28, 28)
    os.makedirs(FIXTURES, exist_ok=True)
    path = os.path.join(FIXTURES, "tiny_backbone.onnx")
    torch.onnx.export(model, x, path, opset_version=17, input_names=["images"], output_names=["features", "logits"],
                      dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, "features": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    inits = check_initializers_match(path, model)
    m = onnx.load(path)
    payload = {
        "torch_version": torch.__version__,
        "opset": 17,
        "model": "tiny_backbone.onnx",
        "op_types": op_types(path),
        "input": {"name": "images", "shape": ["batch", 1, "height", "width"]},
        "outputs": {"features": ["batch", 16], "logits": ["batch", 10]},
        "initializers": {i.name: list(inits[i.name].shape) for i in m.graph.initializer},
    }
    json_path = write_json("tiny_backbone.json", payload)
    print(f"wrote {path} ({os.path.getsize(path)} bytes), {json_path}")


if __name__ == "__main__":
    main()
