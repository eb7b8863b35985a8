"""The JSON files of the Python Trainer, written by the Python code paths themselves
(json.dumps of dataclasses.asdict for trainer_state.json, Trainer.save_metrics' body for
the results files) from the values test_json.cpp uses, plus tricky floats and strings.
Prints one JSON object, {file or case name: expected text}, to the path in argv[1]."""
import dataclasses
import json
import os
import random
import struct
import sys
import tempfile
from typing import Any, Dict, List, Optional, Union


@dataclasses.dataclass
class TrainerState:
    """The fields of transformers.TrainerState, in its order, with its defaults."""
    epoch: Optional[float] = None
    global_step: int = 0
    max_steps: int = 0
    logging_steps: int = 500
    eval_steps: int = 500
    save_steps: int = 500
    train_batch_size: int = None
    num_train_epochs: int = 0
    num_input_tokens_seen: int = 0
    total_flos: float = 0
    log_history: List[Dict[str, float]] = None
    best_metric: Optional[float] = None
    best_global_step: Optional[int] = None
    best_model_checkpoint: Optional[str] = None
    is_local_process_zero: bool = True
    is_world_process_zero: bool = True
    is_hyper_param_search: bool = False
    trial_name: str = None
    trial_params: Dict[str, Union[str, float, int, bool]] = None
    stateful_callbacks: Any = None


def save_metrics(output_dir, split, metrics):
    """The body of transformers.Trainer.save_metrics(split, metrics, combined=True)."""
    path = os.path.join(output_dir, f"{split}_results.json")
    with open(path, "w") as f:
        json.dump(metrics, f, indent=4, sort_keys=True)
    path = os.path.join(output_dir, "all_results.json")
    if os.path.exists(path):
        with open(path) as f:
            all_metrics = json.load(f)
    else:
        all_metrics = {}
    all_metrics.update(metrics)
    with open(path, "w") as f:
        json.dump(all_metrics, f, indent=4, sort_keys=True)


def read(path):
    with open(path) as f:
        return f.read()


expected = {}

state = TrainerState(
    epoch=1.5, global_step=30, max_steps=40, logging_steps=10, eval_steps=20, save_steps=20,
    train_batch_size=8, num_train_epochs=2, num_input_tokens_seen=0, total_flos=1234567890123456.0,
    log_history=[
        {"loss": 0.6931, "grad_norm": 1.25, "learning_rate": 1e-07, "epoch": 0.5, "step": 10},
        {"eval_loss": 0.5, "eval_accuracy": 0.875, "eval_runtime": 0.1234,
         "eval_samples_per_second": 1000.0, "eval_steps_per_second": 10.0, "epoch": 1.0, "step": 20},
    ],
    best_metric=0.5, best_global_step=20, best_model_checkpoint="runs/über/checkpoint-20",
    stateful_callbacks={"TrainerControl": {"args": {}, "attributes": {
        "should_epoch_stop": False, "should_evaluate": False, "should_log": False,
        "should_save": True, "should_training_stop": False}}},
)
expected["trainer_state.json"] = json.dumps(dataclasses.asdict(state), indent=2, sort_keys=True) + "\n"

with tempfile.TemporaryDirectory() as output_dir:
    save_metrics(output_dir, "train", {
        "train_runtime": 12.5, "train_samples_per_second": 256.0, "train_steps_per_second": 3.2,
        "total_flos": 1234567890123456.0, "train_loss": 0.6, "epoch": 2.0, "train_samples": 100})
    expected["train_results.json"] = read(os.path.join(output_dir, "train_results.json"))
    save_metrics(output_dir, "eval", {
        "eval_loss": 0.5, "eval_accuracy": 0.875, "eval_runtime": 0.25, "eval_samples_per_second": 200.0,
        "eval_steps_per_second": 28.0, "epoch": 2.0, "eval_samples": 50})
    expected["eval_results.json"] = read(os.path.join(output_dir, "eval_results.json"))
    expected["all_results.json"] = read(os.path.join(output_dir, "all_results.json"))

# Floats at the edges of Python's repr (fixed below 1e16, exponent from 1e-5 down), the
# extremes, non-finite values, and random ones of every magnitude and random bit patterns.
rng = random.Random(0)
floats = [0.0, -0.0, 1.0, 0.1, 1e-7, 5e-05, 1e-4, 1e-5, 0.0001234, 123456789.0, 1e15, 1.2345e15,
          9999999999999998.0, 1e16, 1.5e16, 1e22, 1e100, 1.7976931348623157e308, 5e-324,
          2.2250738585072014e-308, 1 / 3, 2 / 3, 100.0, -1.5e-10, float("nan"), float("inf"), -float("inf")]
floats += [rng.uniform(1, 10) * 10.0 ** rng.randint(-30, 30) for _ in range(1000)]
floats += [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(1000)]
expected["floats"] = json.dumps(floats)
expected["strings"] = json.dumps({"ascii": "plain / text", "quotes": 'say "hi" \\ there',
                                  "controls": "\n\r\t\b\f\x00\x01\x1f\x7f", "latin": "über café",
                                  "astral": "smile \U0001F600", "empty": ""}, indent=2, sort_keys=True)

with open(sys.argv[1], "w") as f:
    json.dump(expected, f)
