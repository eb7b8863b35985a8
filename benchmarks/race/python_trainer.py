#!/usr/bin/env python3
"""The race's Python contestants: the Hugging Face Trainer on the workloads of race_gpt2 and
race_mlp, or (--contestant loop, MLP only) a hand-written PyTorch loop, with the same flags
and the same RACE line, so that tools/device/race.sh can put them beside the C++ ones.

  python_trainer.py --workload gpt2 [--layers 12 --hidden 768 --heads 12 --vocab_size 50304
                    --sequence_length 1024 --batch_size 8 --gradient_accumulation_steps 4
                    --steps 20 --warmup_steps 3 --bf16 true]
  python_trainer.py --workload mlp [--contestant trainer|loop] [--inputs 784 --hidden 256
                    --classes 10 --batch_size 64 --steps 2000 --warmup_steps 200 --samples 6400]

gpt2 is transformers' GPT2LMHeadModel with sdpa attention and no dropout (the C++ model has
none), trained on random tokens; mlp is the C++ program's MLP as a torch.nn.Module that
returns its loss. Both use optim adamw_torch_fused, weight decay 0, max_grad_norm 1, no
logging, evaluation or saving. The loop is race_mlp's hand-written loop in Python, on the
same PyTorch (Debian's python3-torch shares LibTorch 1.13 with the C++ contestants there):
the cost of Python around the same kernels, a lower bound for the Python Trainer's. Exits
with status 3 and a message when torch (or, for the Trainer, transformers) is missing.
"""
import argparse
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
                        help="the Python Trainer, or a hand-written PyTorch loop (mlp only)")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=None, help="768 for gpt2, 256 for mlp")
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--vocab_size", type=int, default=50304)
    parser.add_argument("--sequence_length", type=int, default=1024)
    parser.add_argument("--inputs", type=int, default=784)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--samples", type=int, default=6400, help="mlp: random training samples")
    parser.add_argument("--batch_size", type=int, default=None, help="8 for gpt2, 64 for mlp")
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
        "mlp": dict(hidden=256, batch_size=64, gradient_accumulation_steps=1, steps=2000, warmup_steps=200,
                    bf16=False, learning_rate=1e-3),
    }[args.workload]
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.warmup_steps < 1 or args.steps < 1:  # the clock starts as the last warm-up step ends
        parser.error("--warmup_steps and --steps must both be at least 1")
    if args.contestant == "loop" and args.workload != "mlp":
        parser.error("--contestant loop runs the mlp workload only (the GPT-2 model is transformers')")
    return args


def finished_now(torch, device):
    """The time once the GPU has finished what was queued."""
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def mlp_model(torch, args):
    class Mlp(torch.nn.Module):
        """race_mlp's model: two hidden layers with ReLU; returns the loss as Trainer expects."""

        def __init__(self):
            super().__init__()
            self.first = torch.nn.Linear(args.inputs, args.hidden)
            self.second = torch.nn.Linear(args.hidden, args.hidden)
            self.output = torch.nn.Linear(args.hidden, args.classes)

        def forward(self, x, labels=None):
            logits = self.output(torch.relu(self.second(torch.relu(self.first(x)))))
            loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
            return {"loss": loss, "logits": logits}

    return Mlp()


def train_by_hand(torch, args, device):
    """race_mlp's hand-written loop: a seeded shuffle per epoch, forward, loss, backward, clip
    to 1, AdamW (fused where this PyTorch has it for the device), gradients set to none."""
    torch.manual_seed(args.seed)
    inputs, labels = torch.randn(args.samples, args.inputs), torch.randint(args.classes, (args.samples,))
    model = mlp_model(torch, args).to(device).train()
    parameters = list(model.parameters())
    try:
        optimizer = torch.optim.AdamW(parameters, lr=args.learning_rate, weight_decay=0.0, fused=True)
        optimizer_name = "adamw_torch_fused"
    except (TypeError, RuntimeError):  # no fused AdamW in this version, or not for this device
        optimizer = torch.optim.AdamW(parameters, lr=args.learning_rate, weight_decay=0.0)
        optimizer_name = "adamw_torch"
    batches = args.samples // args.batch_size
    for step in range(args.warmup_steps + args.steps):
        if step == args.warmup_steps:
            start = finished_now(torch, device)
        b = step % batches
        if b == 0:
            order = torch.randperm(args.samples)
        indices = order[b * args.batch_size:(b + 1) * args.batch_size]
        x, y = inputs.index_select(0, indices), labels.index_select(0, indices)
        if device == "cuda":
            x, y = x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
        model(x, y)["loss"].backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = finished_now(torch, device) - start
    return {"workload": "mlp", "contestant": "python_loop", "optimizer": optimizer_name, "device": device,
            "timed_steps": args.steps, "torch": torch.__version__, "tokens_per_step": 0, "flops_per_token": 0,
            "seconds": seconds, "steps_per_second": args.steps / seconds}


def main():
    args = parse_arguments()
    contestant, needed = ("loop", "torch") if args.contestant == "loop" else ("Trainer", "torch and transformers")
    try:
        import torch
        if args.contestant == "trainer":
            import transformers
    except ImportError as error:
        print(f"python_trainer.py: the Python {contestant} needs {needed}, and this Python lacks one "
              f"({error}); install them or run the race where they are (the GPU machine has both)", file=sys.stderr)
        return MISSING_PACKAGES

    device = "cuda" if torch.cuda.is_available() and not args.use_cpu else "cpu"
    if args.contestant == "loop":
        print("RACE " + json.dumps(train_by_hand(torch, args, device)), flush=True)
        return 0

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
        def __init__(self, **columns):
            self.columns = columns

        def __len__(self):
            return len(next(iter(self.columns.values())))

        def __getitem__(self, index):
            return {name: values[index] for name, values in self.columns.items()}

    torch.manual_seed(args.seed)
    total_steps = args.warmup_steps + args.steps
    result = {"workload": args.workload, "contestant": "python", "optimizer": "adamw_torch_fused",
              "device": device, "timed_steps": args.steps, "torch": torch.__version__,
              "transformers": transformers.__version__}
    if args.workload == "gpt2":
        config = transformers.GPT2Config(vocab_size=args.vocab_size, n_positions=args.sequence_length,
                                         n_embd=args.hidden, n_layer=args.layers, n_head=args.heads,
                                         resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
        model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
        sequences = args.batch_size * args.gradient_accumulation_steps * total_steps
        tokens = torch.randint(args.vocab_size, (sequences, args.sequence_length))
        dataset = Samples(input_ids=tokens, labels=tokens)  # the model shifts the labels
        # As race_gpt2 counts: 6 per parameter in a matrix product (the tied token embedding
        # counts once, as the output head; the position embedding not) + attention.
        matmul_parameters = sum(p.numel() for p in model.parameters()) - model.transformer.wpe.weight.numel()
        result["attention"] = model.config._attn_implementation
        if result["attention"] != "sdpa":
            print(f"python_trainer.py: GPT2LMHeadModel got attention '{result['attention']}', not sdpa", file=sys.stderr)
            return 1
        result["tokens_per_step"] = args.batch_size * args.gradient_accumulation_steps * args.sequence_length
        result["flops_per_token"] = 6 * matmul_parameters + 12 * args.layers * args.hidden * args.sequence_length
    else:
        model = mlp_model(torch, args)
        dataset = Samples(x=torch.randn(args.samples, args.inputs),
                          labels=torch.randint(args.classes, (args.samples,)))
        result["tokens_per_step"] = 0
        result["flops_per_token"] = 0

    timer = StepTimer()
    with tempfile.TemporaryDirectory() as output_dir:
        training_args = transformers.TrainingArguments(
            output_dir=output_dir, max_steps=total_steps, per_device_train_batch_size=args.batch_size,
            gradient_accumulation_steps=args.gradient_accumulation_steps, learning_rate=args.learning_rate,
            weight_decay=0.0, max_grad_norm=1.0, optim="adamw_torch_fused", bf16=args.bf16,
            logging_strategy="no", save_strategy="no", report_to="none", disable_tqdm=True,
            dataloader_num_workers=0, remove_unused_columns=False, seed=args.seed, use_cpu=args.use_cpu)
        trainer = transformers.Trainer(model=model, args=training_args, train_dataset=dataset, callbacks=[timer])
        trainer.train()
    result["seconds"] = timer.end - timer.start
    result["steps_per_second"] = args.steps / result["seconds"]
    print("RACE " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
