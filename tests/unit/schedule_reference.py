"""The learning rate of every schedule of the installed transformers, at every step, from
transformers.get_scheduler itself, for test_schedulers.cpp to match. One row per step:

  type;warmup;total;kwargs (JSON, as lr_scheduler_kwargs);initial_lr;step;metric;lr

For the schedules that step on evaluation results (reduce_lr_on_plateau, greedy), `metric`
is what step() was given before `lr` was read; for the others it is empty and `lr` is the
rate in use at optimizer step `step`.
"""
import json
import math
import sys

import torch
from transformers import SchedulerType, get_scheduler

ON_METRICS = {"reduce_lr_on_plateau", "greedy"}
CASES = [  # (type, kwargs)
    ("linear", {}), ("cosine", {}), ("cosine", {"num_cycles": 1.5}),
    ("cosine_with_restarts", {}), ("cosine_with_restarts", {"num_cycles": 3}),
    ("polynomial", {}), ("polynomial", {"power": 2.0, "lr_end": 0.01}),
    ("constant", {}), ("constant_with_warmup", {}),
    ("inverse_sqrt", {}), ("inverse_sqrt", {"timescale": 5}),
    ("cosine_with_min_lr", {"min_lr_rate": 0.1}), ("cosine_with_min_lr", {"min_lr": 0.01, "num_cycles": 1}),
    ("cosine_warmup_with_min_lr", {"min_lr_rate": 0.1}),
    ("cosine_warmup_with_min_lr", {"min_lr": 0.01, "warmup_lr_rate": 0.2, "num_cycles": 1}),
    ("warmup_stable_decay", {"num_decay_steps": 5}),
    ("warmup_stable_decay", {"num_decay_steps": 4, "num_stable_steps": 6, "warmup_type": "cosine",
                             "decay_type": "1-sqrt", "min_lr_ratio": 0.1}),
    ("warmup_stable_decay", {"num_decay_steps": 6, "warmup_type": "1-sqrt", "decay_type": "linear"}),
    ("reduce_lr_on_plateau", {}), ("reduce_lr_on_plateau", {"patience": 1, "factor": 0.5, "min_lr": 0.02}),
    ("reduce_lr_on_plateau", {"mode": "max", "patience": 0, "threshold_mode": "abs", "threshold": 0.05,
                              "cooldown": 2}),
    ("greedy", {}), ("greedy", {"patience": 1, "factor": 0.5, "min_lr": 0.01, "max_lr": 0.3}),
    ("greedy", {"mode": "max", "patience": 0, "cooldown": 1, "warmup": 2, "threshold_mode": "rel",
                "threshold": 0.01, "min_lr": 0.05, "reset_start": 2}),
    ("greedy", {"patience": 1, "smooth": True, "window_size": 3, "factor": 0.8, "min_lr": 0.001}),
]
# Evaluation results that improve, stall, worsen and improve again.
METRICS = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.5, 0.45, 0.44, 0.43, 0.42, 0.6, 0.7, 0.8, 0.9, 1.0, 0.3, 0.2, 0.1,
           0.05, 0.04, 0.03, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]

covered = {name for name, _ in CASES}
missing = {kind.value for kind in SchedulerType} - covered
if missing:
    sys.exit(f"schedule_reference.py: transformers has schedules the cases do not cover: {sorted(missing)}")

out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
initial_lr = 0.1
for name, kwargs in CASES:
    for warmup, total in [(0, 10), (3, 20)]:
        if name in ON_METRICS and warmup:
            continue
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=initial_lr)
        scheduler = get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total,
                                  scheduler_specific_kwargs=dict(kwargs))
        text = json.dumps(kwargs)
        if name in ON_METRICS:
            for step, metric in enumerate(METRICS):
                scheduler.step(metric)
                lr = optimizer.param_groups[0]["lr"]
                out.write(f"{name};{warmup};{total};{text};{initial_lr!r};{step};{metric!r};{lr!r}\n")
            continue
        for step in range(total + 3):
            lr = optimizer.param_groups[0]["lr"]
            out.write(f"{name};{warmup};{total};{text};{initial_lr!r};{step};;{lr!r}\n")
            optimizer.step()
            scheduler.step()
