"""GaLore (galore_torch's GaLoreAdamW and GaLoreAdafactor): every proj_type, each optim_args name,
the layer-wise forms, and enough steps to pass update_proj_gap (new SVDs at steps 0, gap, 2*gap).

The fixed model's Linear weights are fc1 64x16 (tall), fc2 64x64 (square) and head 8x64 (wide),
so "std" and "reverse_std" project on both sides. optim_target_modules takes each form Python
knows: a list of names (matched exactly or as substrings: ["fc"] names fc1 and fc2), a regular
expression as a string ("fc.*"), and the string "all-linear". weight_decay is set in some cases to check that
it is ignored, as the Python Trainer ignores it for GaLore.

galore_adafactor_layerwise: the Python Trainer cannot build it (it hands its learning rate to
Adafactors that still have relative_step on, and raises), so its reference is galore_adafactor,
the same arithmetic per parameter ("reference_args" replaces args for the Python side only)."""

TARGETS = ["fc1", "fc2"]

CASES = [
    # The defaults (rank 128 is above every side: the projection keeps the full rank).
    {"name": "galore_adamw_defaults", "steps": 3,
     "args": {"optim": "galore_adamw", "optim_target_modules": TARGETS, "learning_rate": 1e-2}},
    {"name": "galore_adamw_std", "steps": 7,
     "args": {"optim": "galore_adamw", "optim_target_modules": "all-linear", "learning_rate": 1e-2,
              "weight_decay": 0.1, "optim_args": "rank=4,update_proj_gap=3"}},
    {"name": "galore_adamw_reverse_std", "steps": 6,
     "args": {"optim": "galore_adamw", "optim_target_modules": "all-linear", "learning_rate": 1e-2,
              "optim_args": "rank=4,update_proj_gap=2,proj_type=reverse_std,scale=0.5"}},
    {"name": "galore_adamw_right", "steps": 6,
     "args": {"optim": "galore_adamw", "optim_target_modules": "fc.*", "learning_rate": 1e-2,
              "optim_args": "rank=8,update_proj_gap=2,proj_type=right"}},
    {"name": "galore_adamw_left", "steps": 6,
     "args": {"optim": "galore_adamw", "optim_target_modules": ["fc2", "head"], "learning_rate": 1e-2,
              "optim_args": "rank=8,update_proj_gap=3,proj_type=left,scale=1.0"}},
    {"name": "galore_adamw_full", "steps": 6,
     "args": {"optim": "galore_adamw", "optim_target_modules": ["fc"], "learning_rate": 1e-2,
              "optim_args": "rank=4,update_proj_gap=2,proj_type=full"}},
    {"name": "galore_adamw_layerwise", "steps": 6,
     "args": {"optim": "galore_adamw_layerwise", "optim_target_modules": "all-linear", "learning_rate": 1e-2,
              "weight_decay": 0.1, "optim_args": "rank=4,update_proj_gap=2"}},
    {"name": "galore_adafactor_defaults", "steps": 3,
     "args": {"optim": "galore_adafactor", "optim_target_modules": TARGETS, "learning_rate": 1e-2}},
    {"name": "galore_adafactor_std", "steps": 7,
     "args": {"optim": "galore_adafactor", "optim_target_modules": "all-linear", "learning_rate": 1e-2,
              "weight_decay": 0.1, "optim_args": "rank=4,update_proj_gap=3,scale=0.5"}},
    {"name": "galore_adafactor_reverse_std", "steps": 6,
     "args": {"optim": "galore_adafactor", "optim_target_modules": "all-linear", "learning_rate": 1e-2,
              "optim_args": "rank=4,update_proj_gap=2,proj_type=reverse_std"}},
    {"name": "galore_adafactor_right", "steps": 6,
     "args": {"optim": "galore_adafactor", "optim_target_modules": TARGETS, "learning_rate": 1e-2,
              "optim_args": "rank=8,update_proj_gap=2,proj_type=right"}},
    {"name": "galore_adafactor_left", "steps": 6,
     "args": {"optim": "galore_adafactor", "optim_target_modules": ["fc2", "head"], "learning_rate": 1e-2,
              "optim_args": "rank=8,update_proj_gap=2,proj_type=left"}},
    {"name": "galore_adafactor_full", "steps": 6,
     "args": {"optim": "galore_adafactor", "optim_target_modules": "all-linear", "learning_rate": 1e-2,
              "optim_args": "rank=4,update_proj_gap=3,proj_type=full"}},
    {"name": "galore_adafactor_layerwise", "steps": 6,
     "args": {"optim": "galore_adafactor_layerwise", "optim_target_modules": "all-linear", "learning_rate": 1e-2,
              "optim_args": "rank=4,update_proj_gap=2"},
     "reference_args": {"optim": "galore_adafactor", "optim_target_modules": "all-linear", "learning_rate": 1e-2,
                        "optim_args": "rank=4,update_proj_gap=2"}},
]
