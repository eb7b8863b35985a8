"""LOMO and AdaLomo (lomo_optim), which update each parameter inside backward: the runner calls
`optimizer.fused_backward(loss, lr)` in Python, as accelerate's backward does for them, and a plain
backward in C++ (make_lomo returns them in update_in_backward mode).

The Python Trainer passes them only the learning rate and the model: --weight_decay is not applied
and optim_args are not read, so the weight-decay cases check that we do not apply --weight_decay
either. (Our optim_args weight_decay, clip_grad_value, eps1, eps2, clip_threshold and decay_rate, the
names of lomo_optim's constructors, have no Python Trainer counterpart to compare with.)"""
CASES = [
    {"name": "lomo", "steps": 5,
     "args": {"optim": "lomo", "learning_rate": 1e-2}},
    {"name": "lomo_weight_decay_not_applied", "steps": 5,
     "args": {"optim": "lomo", "learning_rate": 1e-2, "weight_decay": 0.1}},
    {"name": "adalomo", "steps": 6,
     "args": {"optim": "adalomo", "learning_rate": 5e-2}},
    {"name": "adalomo_weight_decay_not_applied", "steps": 5,
     "args": {"optim": "adalomo", "learning_rate": 5e-2, "weight_decay": 0.1}},
]
