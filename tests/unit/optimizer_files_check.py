"""The Python side of every optimizer's optimizer.pt: PyTorch's and transformers' own
optimizers load what test_optimizers.cpp wrote (torch.load with weights_only=True, then
load_state_dict, as the Python Trainer resumes), take the three steps the C++ test took after
saving, on the same data, and end at the C++ weights.
Usage: optimizer_files_check.py FOLDER"""
import os
import sys

import torch
from safetensors.torch import load_file
from transformers.optimization import Adafactor

# Each --optim name, made as the Python Trainer makes it; load_state_dict then sets every
# hyperparameter from the file, as it does on resume.
OPTIMIZERS = {
    "adamw_torch_fused": lambda groups: torch.optim.AdamW(groups, lr=0.05, fused=True),
    "adamw_torch": lambda groups: torch.optim.AdamW(groups, lr=0.05),
    "sgd": lambda groups: torch.optim.SGD(groups, lr=0.05, momentum=0.9),
    "adagrad": lambda groups: torch.optim.Adagrad(groups, lr=0.05, lr_decay=0.01),
    "rmsprop": lambda groups: torch.optim.RMSprop(groups, lr=0.05, momentum=0.5, centered=True),
    "adafactor": lambda groups: Adafactor(groups, lr=0.05, scale_parameter=False, relative_step=False, beta1=0.9),
}


def small_model():
    """test_optimizers.cpp's small_model, with torch::nn::Sequential's names."""
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))


def take_steps(model, optimizer, first, count):
    """test_optimizers.cpp's take_steps: the data of each step comes from its number."""
    for step in range(first, first + count):
        torch.manual_seed(200 + step)
        inputs = torch.randn(8, 4)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(inputs), inputs.argmax(1) % 3).backward()
        optimizer.step()


def main(folder):
    for name, make in OPTIMIZERS.items():
        model = small_model()
        model.load_state_dict(load_file(os.path.join(folder, f"{name}.step3.safetensors")))
        # The Python Trainer's groups: weights decayed, biases not.
        decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
        no_decay = [p for n, p in model.named_parameters() if n.endswith("bias")]
        optimizer = make([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}])
        optimizer.load_state_dict(torch.load(os.path.join(folder, f"{name}.optimizer.pt"), weights_only=True))
        assert [group["weight_decay"] for group in optimizer.param_groups] == [0.1, 0.0], name
        take_steps(model, optimizer, 3, 3)
        expected = load_file(os.path.join(folder, f"{name}.step6.safetensors"))
        worst = 0.0
        for key, value in model.state_dict().items():
            scale = torch.maximum(value.abs(), expected[key].abs()).clamp(min=1e-6)
            worst = max(worst, ((value - expected[key]).abs() / scale).max().item())
        # The same arithmetic in both languages, up to the order of floating-point operations.
        assert worst <= 1e-5, f"{name}: after loading optimizer.pt, Python's steps end {worst} (relative) from ours"
        print(f"{name}: Python resumed from optimizer.pt; largest relative difference after 3 steps: {worst:.3g}")


if __name__ == "__main__":
    main(sys.argv[1])
