#!/usr/bin/env python3
"""The race's Python contestants: the Hugging Face Trainer, or (--contestant loop) a
hand-written PyTorch loop, on the workloads of race_gpt2 and race_mlp, with the same flags
and the same RACE line, so that benchmarks/race/race.sh can put them beside the C++ ones.

  python_trainer.py --workload gpt2 [--contestant trainer|loop] [--layers 12 --hidden 768
                    --heads 12 --vocab_size 50304 --sequence_length 1024 --batch_size 8
                    --gradient_accumulation_steps 4 --steps 20 --warmup_steps 3 --bf16 true]
  python_trainer.py --workload mlp [--contestant trainer|loop] [--inputs 64 --hidden 128
                    --hidden_layers 1 --classes 10 --batch_size 32 --steps 2000 --warmup_steps 200
                    --samples 3200]

gpt2 is transformers' GPT2LMHeadModel with sdpa attention and no dropout (the C++ model has
none), trained on random tokens; mlp is the C++ program's MLP as a torch.nn.Module that
returns its loss. Both use fused AdamW, weight decay 0, max_grad_norm 1, no logging,
evaluation or saving. The loop is race_mlp's and race_gpt2's hand-written loop in Python:
the cost of Python around the same kernels, a lower bound for the Python Trainer's. Exits
with status 3 and a message when torch (or, for the Trainer, transformers) is missing.
"""
import argparse
import contextlib
import json
import sys
import tempfile
import time

MISSING_PACKAGES = 3  # race.sh reports the contestant as skipped, not failed


def parse_arguments():
    def boolean(text):
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise argparse.ArgumentTypeError(f"expected true or false, got '{text}'")

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=["gpt2", "mlp"], required=True)
    parser.add_argument("--contestant", choices=["trainer", "loop"], default="trainer",
                        help="the Python Trainer, or a hand-written PyTorch loop")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=None, help="768 for gpt2, 128 for mlp")
    parser.add_argument("--hidden_layers", type=int, default=1, help="mlp: hidden layers")
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--vocab_size", type=int, default=50304)
    parser.add_argument("--sequence_length", type=int, default=1024)
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--samples", type=int, default=3200, help="mlp: random training samples")
    parser.add_argument("--batch_size", type=int, default=None, help="8 for gpt2, 32 for mlp")
    parser.add_argument("--gradient_accumulation_steps", type=int, default=None, help="4 for gpt2, 1 for mlp")
    parser.add_argument("--steps", type=int, default=None, help="timed optimizer steps: 20 for gpt2, 2000 for mlp")
    parser.add_argument("--warmup_steps", type=int, default=None, help="steps before the clock starts: 3 / 200")
    parser.add_argument("--bf16", type=boolean, default=None, help="true for gpt2, false for mlp")
    parser.add_argument("--use_cpu", type=boolean, default=False)
    parser.add_argument("--learning_rate", type=float, default=None, help="1e-4 for gpt2, 1e-3 for mlp")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    defaults = {
        "gpt2": dict(hidden=768, batch_size=8, gradient_accumulation_steps=4, steps=20, warmup_steps=3, bf16=True,
                     learning_rate=1e-4),
        "mlp": dict(hidden=128, batch_size=32, gradient_accumulation_steps=1, steps=2000, warmup_steps=200,
                    bf16=False, learning_rate=1e-3),
    }[args.workload]
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.warmup_steps < 1 or args.steps < 1:  # the clock starts as the last warm-up step ends
        parser.error("--warmup_steps and --steps must both be at least 1")
    return args


def finished_now(torch, device):
    """The time once the GPU has finished what was queued."""
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def mlp_model(torch, args):
    class Mlp(torch.nn.Module):
        """race_mlp's model: hidden layers with ReLU, then the classes; returns the loss as Trainer expects."""

        def __init__(self):
            super().__init__()
            widths = [args.inputs] + [args.hidden] * args.hidden_layers
            self.hidden = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
            self.output = torch.nn.Linear(widths[-1], args.classes)

        def forward(self, x, labels=None):
            for layer in self.hidden:
                x = torch.relu(layer(x))
            logits = self.output(x)
            loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
            return {"loss": loss, "logits": logits}

    return Mlp()


def workload(torch, transformers, args):
    """The model, the training columns and the figures of the RACE line that depend on the workload."""
    torch.manual_seed(args.seed)
    total_steps = args.warmup_steps + args.steps
    if args.workload == "mlp":
        columns = {"x": torch.randn(args.samples, args.inputs), "labels": torch.randint(args.classes, (args.samples,))}
        return mlp_model(torch, args), columns, {"tokens_per_step": 0, "flops_per_token": 0}
    config = transformers.GPT2Config(vocab_size=args.vocab_size, n_positions=args.sequence_length,
                                     n_embd=args.hidden, n_layer=args.layers, n_head=args.heads,
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
    if model.config._attn_implementation != "sdpa":
        raise RuntimeError(f"GPT2LMHeadModel got attention '{model.config._attn_implementation}', not sdpa")
    sequences = args.batch_size * args.gradient_accumulation_steps * total_steps
    tokens = torch.randint(args.vocab_size, (sequences, args.sequence_length))
    # As race_gpt2 counts: 6 per parameter in a matrix product (the tied token embedding
    # counts once, as the output head; the position embedding not) + attention.
    matmul_parameters = sum(p.numel() for p in model.parameters()) - model.transformer.wpe.weight.numel()
    figures = {"attention": "sdpa",
               "tokens_per_step": args.batch_size * args.gradient_accumulation_steps * args.sequence_length,
               "flops_per_token": 6 * matmul_parameters + 12 * args.layers * args.hidden * args.sequence_length}
    return model, {"input_ids": tokens, "labels": tokens}, figures  # the model shifts the labels


def train_by_hand(torch, args, device, model, columns):
    """race_mlp's and race_gpt2's hand-written loop: the MLP's batches by a seeded shuffle per
    epoch, GPT-2's in order; forward (under bf16 autocast with --bf16), loss divided by the
    accumulation steps, backward, clip to 1, fused AdamW, gradients set to none. Returns the
    timed seconds."""
    model = model.to(device).train()
    parameters = list(model.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=args.learning_rate, weight_decay=0.0, fused=True)
    samples = len(next(iter(columns.values())))
    micro_batches = samples // args.batch_size
    autocast = (lambda: torch.autocast(device, dtype=torch.bfloat16)) if args.bf16 else contextlib.nullcontext
    order, taken = torch.arange(samples), 0
    for step in range(args.warmup_steps + args.steps):
        if step == args.warmup_steps:
            start = finished_now(torch, device)
        for _ in range(args.gradient_accumulation_steps):
            b = taken % micro_batches
            if b == 0 and args.workload == "mlp":
                order = torch.randperm(samples)
            indices = order[b * args.batch_size:(b + 1) * args.batch_size]
            batch = {name: values.index_select(0, indices) for name, values in columns.items()}
            if device == "cuda":
                batch = {name: value.pin_memory().to(device, non_blocking=True) for name, value in batch.items()}
            with autocast():
                loss = model(**batch)["loss"]
            (loss / args.gradient_accumulation_steps).backward()
            taken += 1
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return finished_now(torch, device) - start


def train_with_trainer(torch, transformers, args, device, model, columns):
    """transformers' Trainer with the same settings; returns the timed seconds."""

    class StepTimer(transformers.TrainerCallback):
        """Times optimizer steps warmup_steps + 1 to the last, waiting for the GPU at both ends."""

        def __init__(self):
            self.start = self.end = None

        def on_step_end(self, training_args, state, control, **kwargs):
            if state.global_step == args.warmup_steps:
                self.start = finished_now(torch, device)
            if state.global_step == state.max_steps:
                self.end = finished_now(torch, device)

    class Samples(torch.utils.data.Dataset):
        def __len__(self):
            return len(next(iter(columns.values())))

        def __getitem__(self, index):
            return {name: values[index] for name, values in columns.items()}

    timer = StepTimer()
    with tempfile.TemporaryDirectory() as output_dir:
        training_args = transformers.TrainingArguments(
            output_dir=output_dir, max_steps=args.warmup_steps + args.steps, per_device_train_batch_size=args.batch_size,
            gradient_accumulation_steps=args.gradient_accumulation_steps, learning_rate=args.learning_rate,
            weight_decay=0.0, max_grad_norm=1.0, optim="adamw_torch_fused", bf16=args.bf16,
            logging_strategy="no", save_strategy="no", report_to="none", disable_tqdm=True,
            dataloader_num_workers=0, remove_unused_columns=False, seed=args.seed, use_cpu=args.use_cpu)
        trainer = transformers.Trainer(model=model, args=training_args, train_dataset=Samples(), callbacks=[timer])
        trainer.train()
    return timer.end - timer.start


def main():
    args = parse_arguments()
    contestant, needed = ("loop", "torch") if args.contestant == "loop" else ("Trainer", "torch and transformers")
    if args.contestant == "loop" and args.workload == "gpt2":
        needed = "torch and transformers (for GPT2LMHeadModel)"
    try:
        import torch
        transformers = None
        if args.contestant == "trainer" or args.workload == "gpt2":
            import transformers
    except ImportError as error:
        print(f"python_trainer.py: the Python {contestant} needs {needed}, and this Python lacks one "
              f"({error}); install them or run the race where they are", file=sys.stderr)
        return MISSING_PACKAGES

    device = "cuda" if torch.cuda.is_available() and not args.use_cpu else "cpu"
    model, columns, figures = workload(torch, transformers, args)
    if args.contestant == "loop":
        seconds = train_by_hand(torch, args, device, model, columns)
    else:
        seconds = train_with_trainer(torch, transformers, args, device, model, columns)
    result = {"workload": args.workload, "contestant": "python_loop" if args.contestant == "loop" else "python",
              "optimizer": "adamw_torch_fused", "device": device, "timed_steps": args.steps,
              "torch": torch.__version__, **figures, "seconds": seconds, "steps_per_second": args.steps / seconds}
    if transformers is not None:
        result["transformers"] = transformers.__version__
    print("RACE " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
