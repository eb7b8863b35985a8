"""The reference of test_optimizer_references.cpp: the real Python Trainer's optimizers, stepped.

Usage: optimizer_reference.py OUT_FOLDER

For each case of tests/unit/optimizer_cases/*.py (a dict: name, steps, args, and optionally rtol,
group_keys, and reference_args for a case Python's own form of cannot run), builds the optimizer as the Python Trainer does
(`Trainer(model, TrainingArguments(**args)).create_optimizer()`, with the reference package it
imports: galore_torch, lomo_optim, apollo_torch, schedulefree, bitsandbytes), steps it `steps`
times on a fixed model and fixed batches, the way the Trainer's step drives it, and writes
OUT_FOLDER/<name>.safetensors:
  init/<parameter>                        the parameters before the first step
  input/<t>, target/<t>                   the batch of step t (1, 2, ...)
  step<t>/param/<parameter>               the parameters after step t
  step<t>/state/<parameter>/<key>         each entry of the parameter's optimizer state after step t
  step<t>/group<g>/<key>                  the group numbers named by the case's group_keys
and OUT_FOLDER/cases.json, the list of cases, for the C++ side to rebuild each from its args.
"""
import contextlib
import glob
import importlib.util
import json
import os
import sys
import tempfile
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
warnings.filterwarnings("ignore")

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import Trainer, TrainingArguments  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()
CASE_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optimizer_cases")


class Net(torch.nn.Module):
    """The fixed model; test_optimizer_references.cpp builds the same, with the same names."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 64)
        self.norm = torch.nn.LayerNorm(64)
        self.fc2 = torch.nn.Linear(64, 64)
        self.head = torch.nn.Linear(64, 8)

    def forward(self, x):
        return self.head(torch.tanh(self.fc2(torch.tanh(self.norm(self.fc1(x))))))


def load_cases():
    cases = []
    for path in sorted(glob.glob(os.path.join(CASE_FOLDER, "*.py"))):
        spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cases.extend(module.CASES)
    names = [case["name"] for case in cases]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        sys.exit(f"optimizer cases named twice: {sorted(duplicates)}")
    return cases


@contextlib.contextmanager
def cuda_calls_stay_on_the_cpu():
    """AdaLomo's constructor puts its state on CUDA unconditionally (`.cuda()`); on a machine
    without a GPU the reference runs with `.cuda()` leaving tensors where they are."""
    original = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    try:
        yield
    finally:
        torch.Tensor.cuda = original


def flatten_state(state):
    """A parameter's state as key -> tensor: tensors as they are, numbers as 0-dim float64
    tensors, an object's tensor attributes (GaLore's projector) by attribute name."""
    flat = {}
    for key, value in state.items():
        if torch.is_tensor(value):
            flat[key] = value
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, (int, float)):
            flat[key] = torch.tensor(float(value), dtype=torch.float64)
        else:
            for attribute, inner in vars(value).items():
                if torch.is_tensor(inner):
                    flat[attribute] = inner
                elif isinstance(inner, (list, tuple)):  # GaLore's "full" projection keeps two matrices
                    for i, element in enumerate(inner):
                        if torch.is_tensor(element):
                            flat[f"{attribute}_{i}"] = element
    return flat


def states_by_name(optimizer, model):
    """Each parameter's flattened state, by parameter name, wherever the optimizer keeps it."""
    names = {parameter: name for name, parameter in model.named_parameters()}
    result = {}
    per_parameter = getattr(optimizer, "optimizer_dict", None)  # a layerwise optimizer
    for parameter, name in names.items():
        owner = per_parameter[parameter] if per_parameter else optimizer
        if parameter in owner.state:
            result[name] = flatten_state(owner.state[parameter])
    # AdaLomo keeps its moments in dictionaries by parameter name, not in optimizer.state.
    for key in ("exp_avg_sq", "exp_avg_sq_row", "exp_avg_sq_col"):
        moments = getattr(optimizer, key, None)
        if isinstance(moments, dict):
            for name, tensor in moments.items():
                result.setdefault(name, {})[key] = tensor
    return result


def run(case, folder):
    torch.manual_seed(1234)
    model = Net()
    generator = torch.Generator().manual_seed(99)
    batches = [(torch.randn(4, 16, generator=generator), torch.randn(4, 8, generator=generator))
               for _ in range(case["steps"])]
    tensors = {f"init/{name}": parameter.detach().clone() for name, parameter in model.named_parameters()}
    with tempfile.TemporaryDirectory() as output_dir:
        # A case whose Python form fails in Python itself names the form it means (reference_args).
        reference_args = case.get("reference_args", case["args"])
        args = TrainingArguments(output_dir=output_dir, report_to="none", use_cpu=True, **reference_args)
        with cuda_calls_stay_on_the_cpu():
            optimizer = Trainer(model=model, args=args).create_optimizer()
    lr = case["args"].get("learning_rate", 5e-5)
    for t, (inputs, targets) in enumerate(batches, start=1):
        tensors[f"input/{t}"], tensors[f"target/{t}"] = inputs, targets
        if hasattr(optimizer, "train") and callable(optimizer.train):
            optimizer.train()  # the Trainer's training_step does this (schedule-free)
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        if hasattr(optimizer, "fused_backward"):
            optimizer.fused_backward(loss, lr)  # accelerate's backward for LOMO and AdaLomo
        else:
            loss.backward()
            optimizer.step()  # a no-op for the layerwise forms, which stepped in backward
        optimizer.zero_grad(set_to_none=True)
        for name, parameter in model.named_parameters():
            tensors[f"step{t}/param/{name}"] = parameter.detach().clone()
        for name, state in states_by_name(optimizer, model).items():
            for key, value in state.items():
                tensors[f"step{t}/state/{name}/{key}"] = value.detach().clone()
        for g, group in enumerate(getattr(optimizer, "param_groups", [])):
            for key in case.get("group_keys", []):
                if key in group:
                    tensors[f"step{t}/group{g}/{key}"] = torch.tensor(float(group[key]), dtype=torch.float64)
    save_file({key: value.contiguous() for key, value in tensors.items()},
              os.path.join(folder, f"{case['name']}.safetensors"))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: optimizer_reference.py OUT_FOLDER")
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    cases = load_cases()
    for case in cases:
        run(case, folder)
    with open(os.path.join(folder, "cases.json"), "w") as out:
        json.dump(cases, out, indent=1)
    print(f"{len(cases)} optimizer cases written to {folder}")


if __name__ == "__main__":
    main()
