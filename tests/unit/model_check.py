"""Checks, with Python's own readers, the model files test_checkpoint.cpp writes into the
folder given: safetensors loads model.safetensors of save_model and of the last checkpoint,
with the names, shapes and dtypes of the same network written in PyTorch, which given those
weights computes, on the C++ test's inputs, the outputs the C++ model computed.
Usage: model_check.py FOLDER"""
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file


class Net(torch.nn.Module):
    """test_checkpoint.cpp's Net, with its module names."""

    def __init__(self):
        super().__init__()
        self.first = torch.nn.Linear(8, 16)
        self.norm = torch.nn.BatchNorm1d(16)
        self.dropout = torch.nn.Dropout(0.2)
        self.last = torch.nn.Linear(16, 3)

    def forward(self, x):
        return self.last(self.dropout(self.norm(torch.relu(self.first(x)))))


def main(folder):
    data = load_file(os.path.join(folder, "outputs.safetensors"))
    for path in (os.path.join(folder, "model.safetensors"), os.path.join(folder, "checkpoint-7", "model.safetensors")):
        with safe_open(path, framework="pt") as f:
            assert f.metadata() == {"format": "pt"}, f.metadata()
        weights = load_file(path)
        net = Net()
        expected = net.state_dict()
        assert set(weights) == set(expected), f"{path}: {sorted(weights)} != {sorted(expected)}"
        for name, tensor in weights.items():
            assert tensor.shape == expected[name].shape and tensor.dtype == expected[name].dtype, \
                f"{path}: {name} is {tensor.dtype} {list(tensor.shape)}, PyTorch's is " \
                f"{expected[name].dtype} {list(expected[name].shape)}"
        net.load_state_dict(weights, strict=True)
        net.eval()
        with torch.no_grad():
            outputs = net(data["inputs"])
        difference = (outputs - data["outputs"]).abs().max().item()
        assert difference <= 1e-6, f"{path}: PyTorch's outputs differ from the C++ model's by up to {difference}"
        print(f"{path}: {len(weights)} tensors; PyTorch's outputs differ from the C++ model's by {difference:g}")


if __name__ == "__main__":
    main(sys.argv[1])
