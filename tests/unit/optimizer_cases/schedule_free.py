"""Schedule-free AdamW and SGD (schedulefree's AdamWScheduleFree and SGDScheduleFree) as the Python
Trainer sets them up: defaults, the optimizer's own warmup (warmup_steps, passed within the 8 steps),
weight decay on the decay group only, optim_args weight_lr_power and r, AdamW's betas and epsilon.
The runner calls optimizer.train() before each step, so the parameters compared are the train
point y; the group numbers are compared too (the eval point x and the round trip eval() -> train()
were checked against Python separately, to the bit)."""
GROUP_KEYS = ["k", "weight_sum", "lr_max", "scheduled_lr", "train_mode"]

CASES = [
    {"name": "schedule_free_adamw_defaults", "steps": 4, "group_keys": GROUP_KEYS,
     "args": {"optim": "schedule_free_adamw", "learning_rate": 1e-2}},
    {"name": "schedule_free_adamw_warmup_decay", "steps": 8, "group_keys": GROUP_KEYS,
     "args": {"optim": "schedule_free_adamw", "learning_rate": 1e-2, "weight_decay": 0.1, "warmup_steps": 3,
              "adam_beta1": 0.85, "adam_beta2": 0.99, "adam_epsilon": 1e-7,
              "optim_args": "weight_lr_power=1.5,r=0.5"}},
    {"name": "schedule_free_sgd_defaults", "steps": 4, "group_keys": GROUP_KEYS,
     "args": {"optim": "schedule_free_sgd", "learning_rate": 1e-2}},
    {"name": "schedule_free_sgd_warmup_decay", "steps": 8, "group_keys": GROUP_KEYS,
     "args": {"optim": "schedule_free_sgd", "learning_rate": 5e-2, "weight_decay": 0.05, "warmup_steps": 4,
              "optim_args": "weight_lr_power=3.0,r=1.0"}},
    {"name": "schedule_free_sgd_no_lr_weighting", "steps": 6, "group_keys": GROUP_KEYS,
     "args": {"optim": "schedule_free_sgd", "learning_rate": 2e-2, "warmup_steps": 2,
              "optim_args": "weight_lr_power=0.0,r=2.0"}},
]
