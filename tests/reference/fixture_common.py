"""Shared helpers of the fixture scripts (run with Debian's /usr/bin/python3: python3-torch, python3-onnx)."""
import json
import os

import onnx
import onnx.numpy_helper
import torch

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "SemPPL.GraphGen.Tests", "Fixtures"))


def tensor_json(t):
    """A tensor as {shape, data} with float32-exact values (row-major)."""
    t = t.detach().cpu()
    data = t.reshape(-1).tolist()
    return {"shape": list(t.shape), "data": data}


def initializers(path):
    m = onnx.load(path)
    return {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in m.graph.initializer}


def check_initializers_match(path, module):
    """The exported initializers are the module's parameters and buffers, bit for bit, under their own names."""
    inits = initializers(path)
    state = module.state_dict()
    for name, value in inits.items():
        assert name in state, f"initializer {name} is not a parameter or buffer of the module (constant folding renamed it?)"
        assert torch.equal(value, state[name].detach().cpu().to(value.dtype)), f"initializer {name} differs from the module's"
    for name, _ in module.named_parameters():
        assert name in inits, f"parameter {name} was not exported as an initializer"
    return inits


def op_types(path):
    return sorted({n.op_type for n in onnx.load(path).graph.node})


def write_json(name, payload):
    path = os.path.join(FIXTURES, name)
    with open(path, "w") as f:
        json.dump(payload, f, separators=(",", ":"))
    return path
