"""Python reads the trainer_state.json of every checkpoint that the python_trainer suite
wrote: transformers' own TrainerState.load_from_json loads it, with the same step, epoch
and log_history as the file. The argument is the folder holding the suite's output_dirs."""
import glob
import json
import os
import sys

from transformers import TrainerState

files = sorted(glob.glob(os.path.join(sys.argv[1], "python_trainer_*", "checkpoint-*", "trainer_state.json")))
if len(files) < 7:
    sys.exit(f"python_trainer_check.py: expected the checkpoints of 7 scenarios in {sys.argv[1]}, found {len(files)} files")
for file in files:
    state = TrainerState.load_from_json(file)
    with open(file) as handle:
        raw = json.load(handle)
    step = int(os.path.basename(os.path.dirname(file)).split("-")[1])
    assert state.global_step == step == raw["global_step"], (file, state.global_step)
    assert state.epoch == raw["epoch"] and state.log_history == raw["log_history"], file
    assert isinstance(state.num_input_tokens_seen, int) and isinstance(state.total_flos, float), file
print(f"TrainerState.load_from_json read {len(files)} trainer_state.json files")
