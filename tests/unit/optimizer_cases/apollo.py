"""APOLLO (apollo_torch's APOLLOAdamW) as the Python Trainer sets it up: random and SVD projections,
channel and tensor scaling, the projection renewed every update_proj_gap steps (with its seed
advanced), the norm-growth limiter, weight decay (which Python leaves out), and the layer-wise form.
fc1 (64 x 16) and fc2 (64 x 64) project on the right, head (8 x 64) on the left."""
TARGETS = ["fc1", "fc2", "head"]

CASES = [
    {"name": "apollo_adamw_defaults", "steps": 3,
     "args": {"optim": "apollo_adamw", "optim_target_modules": TARGETS, "learning_rate": 1e-2}},
    {"name": "apollo_adamw_random_channel", "steps": 7,
     "args": {"optim": "apollo_adamw", "optim_target_modules": TARGETS, "learning_rate": 1e-2,
              "optim_args": "rank=4,update_proj_gap=3"}},
    {"name": "apollo_adamw_random_tensor_scaled", "steps": 6,
     "args": {"optim": "apollo_adamw", "optim_target_modules": ["fc2"], "learning_rate": 1e-2,
              "adam_beta1": 0.8, "adam_beta2": 0.99, "adam_epsilon": 1e-6,
              "optim_args": "rank=1,proj=random,scale_type=tensor,update_proj_gap=2,scale=4.0,proj_type=std"}},
    {"name": "apollo_adamw_svd_channel", "steps": 6,
     "args": {"optim": "apollo_adamw", "optim_target_modules": TARGETS, "learning_rate": 1e-2,
              "optim_args": "rank=4,proj=svd,update_proj_gap=2"}},
    {"name": "apollo_adamw_svd_tensor_reverse", "steps": 6,
     "args": {"optim": "apollo_adamw", "optim_target_modules": ["fc1", "head"], "learning_rate": 1e-2,
              "optim_args": "rank=3,proj=svd,scale_type=tensor,update_proj_gap=3,proj_type=reverse_std"}},
    {"name": "apollo_adamw_weight_decay", "steps": 4,
     "args": {"optim": "apollo_adamw", "optim_target_modules": TARGETS, "learning_rate": 1e-2,
              "weight_decay": 0.1, "optim_args": "rank=4,update_proj_gap=2"}},
    {"name": "apollo_adamw_layerwise", "steps": 6,
     "args": {"optim": "apollo_adamw_layerwise", "optim_target_modules": TARGETS, "learning_rate": 1e-2,
              "optim_args": "rank=4,update_proj_gap=2"}},
    {"name": "apollo_adamw_layerwise_svd", "steps": 4,
     "args": {"optim": "apollo_adamw_layerwise", "optim_target_modules": ["fc2"], "learning_rate": 1e-2,
              "optim_args": "rank=2,proj=svd,scale_type=tensor,update_proj_gap=3"}},
]
