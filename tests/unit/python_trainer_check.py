"""Python reads what the python_trainer suite wrote, with transformers' own code:
1. TrainerState.load_from_json loads every checkpoint's trainer_state.json, with the same
   step, epoch and log_history as the file.
2. The Python Trainer resumes from torchtrain's checkpoint-3 (weights, optimizer.pt,
   scheduler.pt, rng_state.pth, trainer_state.json) and ends with the weights of its own
   uninterrupted run (python_trainer_run.py's final.safetensors), within 1e-6 relative.
Arguments: the folder holding the suite's output_dirs, and python_trainer_run.py's output."""
import glob
import json
import os
import random
import shutil
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import TrainerState

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_trainer_run  # noqa: E402  the scenarios, as the reference run made them

suite_folders, reference = sys.argv[1], sys.argv[2]
files = sorted(glob.glob(os.path.join(suite_folders, "python_trainer_*", "checkpoint-*", "trainer_state.json")))
if len(files) < 7:
    sys.exit(f"python_trainer_check.py: expected the checkpoints of 7 scenarios in {suite_folders}, found {len(files)} files")
for file in files:
    state = TrainerState.load_from_json(file)
    with open(file) as handle:
        raw = json.load(handle)
    step = int(os.path.basename(os.path.dirname(file)).split("-")[1])
    assert state.global_step == step == raw["global_step"], (file, state.global_step)
    assert state.epoch == raw["epoch"] and state.log_history == raw["log_history"], file
    assert isinstance(state.num_input_tokens_seen, int) and isinstance(state.total_flos, float), file
print(f"TrainerState.load_from_json read {len(files)} trainer_state.json files")


def relative_difference(ours, theirs):
    scale = torch.maximum(ours.abs(), theirs.abs()).clamp(min=1e-12)
    return ((ours - theirs).abs() / scale).max().item()


for scenario in ("mlp_sequential", "gpt_random"):
    ours = os.path.join(suite_folders, f"python_trainer_{scenario}", "checkpoint-3")
    # rng_state.pth: what random.seed(seed) and numpy.random.seed(seed) set, and the CPU generator.
    rng = torch.load(os.path.join(ours, "rng_state.pth"), weights_only=True)
    random.seed(42)
    np.random.seed(42)
    assert rng["python"] == random.getstate(), scenario
    expected = np.random.get_state()
    assert rng["numpy"][0] == expected[0] and list(rng["numpy"][1]) == list(expected[1]), scenario
    assert tuple(rng["numpy"][2:]) == tuple(expected[2:]), scenario
    assert rng["cpu"].dtype == torch.uint8 and rng["cpu"].shape == torch.get_rng_state().shape, scenario
    with tempfile.TemporaryDirectory() as output_dir:
        shutil.copytree(ours, os.path.join(output_dir, "checkpoint-3"))
        folder = os.path.join(reference, scenario)
        trainer, _ = python_trainer_run.make_trainer(folder, scenario, output_dir, write_inputs=False)
        trainer.train(resume_from_checkpoint=True)
        assert trainer.state.global_step > 3, scenario
        final = load_file(os.path.join(folder, "final.safetensors"))
        difference = max(relative_difference(value, final[name]) for name, value in trainer.model.state_dict().items())
        assert difference <= 1e-6, f"{scenario}: the Python Trainer resumed from torchtrain's checkpoint-3 ends " \
                                   f"{difference} (relative) from its uninterrupted run"
        print(f"{scenario}: the Python Trainer resumed from torchtrain's checkpoint-3; largest relative difference "
              f"of a final weight from its uninterrupted run: {difference}")
