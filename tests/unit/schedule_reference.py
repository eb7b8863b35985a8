"""Learning-rate multipliers of the Python Trainer's schedules (transformers/optimization.py),
written as the Python code has them, printed as CSV rows for test_schedulers.cpp to match:
type,warmup,total,kwargs,initial_lr,step,factor"""
import math
import sys


def warm(s, w):
    return s / max(1, w)


def linear(s, w, t, **_):
    return warm(s, w) if s < w else max(0.0, (t - s) / max(1, t - w))


def cosine(s, w, t, num_cycles=0.5, **_):
    if s < w:
        return warm(s, w)
    p = (s - w) / max(1, t - w)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * p)))


def cosine_with_restarts(s, w, t, num_cycles=1, **_):
    if s < w:
        return warm(s, w)
    p = (s - w) / max(1, t - w)
    if p >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(num_cycles) * p) % 1.0))))


def polynomial(s, w, t, lr_init, lr_end=1e-7, power=1.0, **_):
    if s < w:
        return warm(s, w)
    if s > t:
        return lr_end / lr_init
    decay = (lr_init - lr_end) * (1 - (s - w) / (t - w)) ** power + lr_end
    return decay / lr_init


def constant(s, w, t, **_):
    return 1.0


def constant_with_warmup(s, w, t, **_):
    return s / max(1.0, w) if s < w else 1.0


def inverse_sqrt(s, w, t, timescale=None, **_):
    if timescale is None:
        timescale = w or 10_000
    if s < w:
        return warm(s, w)
    shift = timescale - w
    return 1.0 / math.sqrt((s + shift) / timescale)


def cosine_with_min_lr(s, w, t, lr_init, num_cycles=0.5, min_lr=None, min_lr_rate=None, **_):
    rate = min_lr_rate if min_lr_rate is not None else min_lr / lr_init
    if s < w:
        return warm(s, w)
    p = (s - w) / max(1, t - w)
    factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * p))
    return max(0.0, factor * (1.0 - rate) + rate)


def warmup_stable_decay(s, w, t, num_decay_steps, num_stable_steps=None, warmup_type="linear",
                        decay_type="cosine", min_lr_ratio=0.0, num_cycles=0.5, **_):
    if num_stable_steps is None:
        num_stable_steps = t - w - num_decay_steps
    if s < w:
        p = float(s) / float(max(1, w))
        f = {"linear": p, "cosine": 0.5 * (1.0 - math.cos(math.pi * p)), "1-sqrt": 1.0 - math.sqrt(1.0 - p)}[warmup_type]
        return max(0.0, f * (1.0 - min_lr_ratio) + min_lr_ratio)
    if s < w + num_stable_steps:
        return 1.0
    if s < w + num_stable_steps + num_decay_steps:
        p = float(s - w - num_stable_steps) / float(max(1, num_decay_steps))
        f = {"linear": 1.0 - p, "cosine": 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * p)),
             "1-sqrt": 1.0 - math.sqrt(p)}[decay_type]
        return max(0.0, f * (1.0 - min_lr_ratio) + min_lr_ratio)
    return min_lr_ratio


CASES = [  # (function, kwargs)
    (linear, {}), (cosine, {}), (cosine, {"num_cycles": 1.5}),
    (cosine_with_restarts, {}), (cosine_with_restarts, {"num_cycles": 3}),
    (polynomial, {}), (polynomial, {"power": 2.0, "lr_end": 0.01}),
    (constant, {}), (constant_with_warmup, {}),
    (inverse_sqrt, {}), (inverse_sqrt, {"timescale": 5}),
    (cosine_with_min_lr, {"min_lr_rate": 0.1}), (cosine_with_min_lr, {"min_lr": 0.01, "num_cycles": 1}),
    (warmup_stable_decay, {"num_decay_steps": 5}),
    (warmup_stable_decay, {"num_decay_steps": 4, "num_stable_steps": 6, "warmup_type": "cosine",
                           "decay_type": "1-sqrt", "min_lr_ratio": 0.1}),
    (warmup_stable_decay, {"num_decay_steps": 6, "warmup_type": "1-sqrt", "decay_type": "linear"}),
]

out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
lr_init = 0.1
for function, kwargs in CASES:
    for warmup, total in [(0, 10), (3, 20)]:
        text = ",".join(f"{k}={v}" for k, v in kwargs.items())
        for step in range(total + 3):
            factor = function(step, warmup, total, lr_init=lr_init, **kwargs)
            out.write(f"{function.__name__};{warmup};{total};{text};{lr_init!r};{step};{factor!r}\n")
