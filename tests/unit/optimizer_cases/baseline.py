"""Optimizers of the first tranche, through the same comparison as the new ones: a check of the
comparison itself (these match PyTorch's to the bit)."""
CASES = [
    {"name": "adamw_torch", "steps": 4,
     "args": {"optim": "adamw_torch", "learning_rate": 1e-2, "weight_decay": 0.1}},
    {"name": "sgd_momentum", "steps": 4,
     "args": {"optim": "sgd", "learning_rate": 1e-2, "optim_args": "momentum=0.9"}},
]
