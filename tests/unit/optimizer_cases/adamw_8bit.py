"""Cases of --optim adamw_8bit (bitsandbytes' AdamW with optim_bits=8). fc2.weight (64 x 64 = 4096
elements, min_8bit_size) gets the 8-bit state, 16 blocks of 256; the other parameters are smaller and
keep 32-bit moments. The codes match bitsandbytes' CPU kernel exactly, so they are compared as
tensors like the rest."""
CASES = [
    {"name": "adamw_8bit", "steps": 6,
     "args": {"optim": "adamw_8bit", "learning_rate": 1e-2}},
    {"name": "adamw_8bit_weight_decay", "steps": 6,
     "args": {"optim": "adamw_8bit", "learning_rate": 1e-2, "weight_decay": 0.1}},
    {"name": "adamw_8bit_betas_eps", "steps": 6,
     "args": {"optim": "adamw_8bit", "learning_rate": 3e-3, "weight_decay": 0.01,
              "adam_beta1": 0.8, "adam_beta2": 0.95, "adam_epsilon": 1e-6}},
]
