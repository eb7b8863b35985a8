"""Checks, with Python's own readers, the whole model that a Trainer<FSDP> run of 2 ranks
(full_shard, --load_best_model_at_end) saved, which test_distributed.cpp copies into the
folder given: model.safetensors (save_model after training, gathered from the shards) loads
strictly into the same network written in PyTorch and equals the best checkpoint's
model.safetensors (best_checkpoint_model.safetensors).
Usage: fsdp_model_check.py FOLDER"""
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file


class Block(torch.nn.Module):
    """ddp_worker.cpp's residual block (each a tt::nn::ShardedBlock there), with its names."""

    def __init__(self, hidden):
        super().__init__()
        self.norm = torch.nn.LayerNorm(hidden)
        self.fc = torch.nn.Linear(hidden, hidden)

    def forward(self, x):
        return x + torch.relu(self.fc(self.norm(x)))


class Net(torch.nn.Module):
    """ddp_worker.cpp's Net with --blocks 2."""

    def __init__(self, hidden=32, blocks=2):
        super().__init__()
        self.first = torch.nn.Linear(8, hidden)
        for b in range(blocks):
            self.add_module(f"block{b}", Block(hidden))
        self.norm = torch.nn.LayerNorm(hidden)
        self.last = torch.nn.Linear(hidden, 3)


def main(folder):
    final_path = os.path.join(folder, "model.safetensors")
    with safe_open(final_path, framework="pt") as f:
        assert f.metadata() == {"format": "pt"}, f.metadata()
    final = load_file(final_path)
    net = Net()
    net.load_state_dict(final, strict=True)  # every name, shape and dtype the network's
    best = load_file(os.path.join(folder, "best_checkpoint_model.safetensors"))
    assert set(best) == set(final), f"{sorted(best)} != {sorted(final)}"
    for name, tensor in final.items():
        assert torch.equal(tensor, best[name]), f"{name} differs from the best checkpoint's"
    print(f"Python loaded {final_path}: {len(final)} tensors, the best checkpoint's weights")


if __name__ == "__main__":
    main(sys.argv[1])
