"""Adafactor as the Python transformers implementation computes it (optimization.py), in plain
Python floats: prints the parameters after each step for test_optimizers.cpp to match.
Cases: name;rows;cols;lr;beta1;weight_decay;scale_parameter;relative_step, then per step the
parameters, row-major. Parameters start at cos(0.3 k) and gradient t is sin(0.7 k + t)."""
import math
import sys

CASES = [("matrix", 2, 3, 0.01, None, 0.0, False, False),
         ("vector", 1, 4, 0.01, None, 0.0, False, False),
         ("matrix_beta1_decay", 3, 2, 0.02, 0.9, 0.1, False, False),
         ("matrix_relative_scaled", 2, 2, 0.0, None, 0.0, True, True)]


def rms(values):
    return math.sqrt(sum(v * v for v in values) / len(values))


def run(rows, cols, lr, beta1, weight_decay, scale_parameter, relative_step, steps=3):
    n = rows * cols
    factored = rows > 1  # a "vector" case is one-dimensional
    p = [math.cos(0.3 * k) for k in range(n)]
    row, col = [0.0] * rows, [0.0] * cols
    sq, avg = [0.0] * n, [0.0] * n
    out = []
    for t in range(1, steps + 1):
        g = [math.sin(0.7 * k + t) for k in range(n)]
        step_lr = lr
        if relative_step:
            step_lr = min(1e-2, 1.0 / math.sqrt(t))
        if scale_parameter:
            step_lr *= max(1e-3, rms(p))
        beta2 = 1.0 - t ** -0.8
        update = [x * x + 1e-30 for x in g]
        if factored:
            for i in range(rows):
                row[i] = row[i] * beta2 + (1 - beta2) * sum(update[i * cols + j] for j in range(cols)) / cols
            for j in range(cols):
                col[j] = col[j] * beta2 + (1 - beta2) * sum(update[i * cols + j] for i in range(rows)) / rows
            row_mean = sum(row) / rows
            update = [(row[i] / row_mean) ** -0.5 * col[j] ** -0.5 * g[i * cols + j]
                      for i in range(rows) for j in range(cols)]
        else:
            sq = [s * beta2 + (1 - beta2) * u for s, u in zip(sq, update)]
            update = [s ** -0.5 * x for s, x in zip(sq, g)]
        scale = max(rms(update) / 1.0, 1.0)
        update = [u / scale * step_lr for u in update]
        if beta1 is not None:
            avg = [a * beta1 + (1 - beta1) * u for a, u in zip(avg, update)]
            update = list(avg)
        if weight_decay:
            p = [x + x * (-weight_decay * step_lr) for x in p]
        p = [x - u for x, u in zip(p, update)]
        out.append(p)
    return out


out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
for name, rows, cols, lr, beta1, decay, scale, relative in CASES:
    for step, values in enumerate(run(rows, cols, lr, beta1, decay, scale, relative), start=1):
        out.write(f"{name};{step};" + ",".join(repr(v) for v in values) + "\n")
