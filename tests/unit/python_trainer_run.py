"""Runs the real Python Trainer on the scenarios that test_python_trainer.cpp repeats in C++.

For each scenario, writes into <output>/<scenario>/:
  training_args.json   the TrainingArguments, as Python writes them (to_json_string)
  data.safetensors     train_inputs, train_labels, eval_inputs, eval_labels
  initial.safetensors  the model's weights before training (C++ loads them by name)
  events.jsonl         every callback event: name, global_step, epoch and the control flags
  log_history.json     the final state's log_history
  final.safetensors    the weights after train()
  checkpoints.json     each checkpoint folder's file names, and the last one's trainer_state.json
The models (an MLP and a small GPT) and the losses and metrics are the C++ test's, op for op.
Needs torch, transformers and safetensors; runs offline.
"""
import json
import math
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments

EVENTS = ["on_init_end", "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_step_begin",
          "on_substep_end", "on_pre_optimizer_step", "on_optimizer_step", "on_step_end", "on_evaluate",
          "on_predict", "on_save", "on_log", "on_prediction_step"]
FLAGS = ["should_training_stop", "should_epoch_stop", "should_save", "should_evaluate", "should_log"]


class Recorder(TrainerCallback):
    """One line per event, as the C++ test's recorder writes them."""

    def __init__(self):
        self.events = []


def _record(name):
    def hook(self, args, state, control, **kwargs):
        self.events.append({"event": name, "global_step": state.global_step, "epoch": state.epoch,
                            **{flag: getattr(control, flag) for flag in FLAGS}})
    return hook


for _name in EVENTS:
    setattr(Recorder, _name, _record(_name))


class CountsParameters:
    """PreTrainedModel's num_parameters, so that the Trainer counts total_flos for these models too."""

    def num_parameters(self, only_trainable=False, exclude_embeddings=False):
        embeddings = {f"{name}.weight" for name, module in self.named_modules()
                      if isinstance(module, torch.nn.Embedding)}
        return sum(parameter.numel() for name, parameter in self.named_parameters()
                   if not (exclude_embeddings and name in embeddings))


class Mlp(torch.nn.Module, CountsParameters):
    """The C++ test's MLP: Linear(8, 16), ReLU, Linear(16, 3), named as torch::nn::Sequential names them."""

    main_input_name = "inputs"

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))

    def forward(self, inputs, labels=None):  # labels named, so that the Trainer hands them over
        return {"logits": self.layers(inputs)}


class Block(torch.nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.attention_norm = torch.nn.LayerNorm(hidden)
        self.attention = torch.nn.Module()
        self.attention.qkv = torch.nn.Linear(hidden, 3 * hidden)
        self.attention.projection = torch.nn.Linear(hidden, hidden)
        self.mlp_norm = torch.nn.LayerNorm(hidden)
        self.mlp_in = torch.nn.Linear(hidden, 4 * hidden)
        self.mlp_out = torch.nn.Linear(4 * hidden, hidden)

    def attend(self, x):
        batch, length, hidden = x.shape
        parts = self.attention.qkv(x).view(batch, length, 3, self.heads, hidden // self.heads)
        q, k, v = parts.permute(2, 0, 3, 1, 4).unbind(0)
        attended = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.attention.projection(attended.transpose(1, 2).reshape(batch, length, hidden))

    def forward(self, x):
        x = x + self.attend(self.attention_norm(x))
        return x + self.mlp_out(torch.nn.functional.gelu(self.mlp_in(self.mlp_norm(x)), approximate="tanh"))


class Gpt(torch.nn.Module, CountsParameters):
    """examples/gpt/model.hpp's model, with the same parameter names. Its loss_type tells the
    Trainer it is a causal LM, which counts num_items_in_batch over labels[..., 1:]."""

    loss_type = "ForCausalLM"

    def __init__(self, vocab_size=50, context=16, layers=2, heads=2, hidden=16):
        super().__init__()
        # In the C++ model's order of registration, which is the order of parameters()
        # that clipping sums the gradient norms in.
        self.token_embedding = torch.nn.Embedding(vocab_size, hidden)
        self.position_embedding = torch.nn.Embedding(context, hidden)
        self.final_norm = torch.nn.LayerNorm(hidden)
        self.head = torch.nn.Linear(hidden, vocab_size, bias=False)
        self.blocks = torch.nn.ModuleList([Block(hidden, heads) for _ in range(layers)])

    def forward(self, input_ids, attention_mask=None, labels=None):  # causal: the padding at the end is never seen
        positions = torch.arange(input_ids.size(1), dtype=input_ids.dtype)
        x = self.token_embedding(input_ids) + self.position_embedding(positions)
        for block in self.blocks:
            x = block(x)
        return {"logits": self.head(self.final_norm(x))}


def cross_entropy(outputs, labels, num_items_in_batch=None):
    """tt::loss::cross_entropy: the mean over labels that count, or their sum over num_items_in_batch."""
    logits = outputs["logits"]
    if num_items_in_batch is None:
        return torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100)
    return torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100, reduction="sum") / num_items_in_batch


def shifted(labels):
    """tt::loss::causal_lm_cross_entropy's labels: each position's next token, -100 at the end."""
    return torch.nn.functional.pad(labels[:, 1:], (0, 1), value=-100)


def causal_lm_cross_entropy(outputs, labels, num_items_in_batch=None):
    logits = outputs["logits"]
    targets = shifted(labels)
    flat_logits, flat_targets = logits.reshape(-1, logits.size(-1)), targets.reshape(-1)
    if num_items_in_batch is None:
        return torch.nn.functional.cross_entropy(flat_logits, flat_targets, ignore_index=-100)
    return torch.nn.functional.cross_entropy(flat_logits, flat_targets, ignore_index=-100,
                                             reduction="sum") / num_items_in_batch


def accuracy(prediction):
    """The share of counted labels (not -100) that the argmax of the logits gets right."""
    predicted = prediction.predictions.argmax(-1)
    counted = prediction.label_ids != -100
    return {"accuracy": float((predicted == prediction.label_ids)[counted].mean())}


def token_accuracy(prediction):
    labels = torch.from_numpy(prediction.label_ids)
    targets = shifted(labels).numpy()
    predicted = prediction.predictions.argmax(-1)
    counted = targets != -100
    return {"accuracy": float((predicted == targets)[counted].mean())}


class Columns(torch.utils.data.Dataset):
    def __init__(self, inputs, labels, tokens):
        self.inputs, self.labels, self.tokens = inputs, labels, tokens

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, index):
        if not self.tokens:
            return {"inputs": self.inputs[index], "labels": self.labels[index]}
        return {"input_ids": self.inputs[index], "attention_mask": (self.inputs[index] != 0).long(),
                "labels": self.labels[index]}


def mlp_data(generator):
    def split(samples):
        inputs = torch.randn(samples, 8, generator=generator)
        labels = torch.randint(3, (samples,), generator=generator)
        labels[torch.rand(samples, generator=generator) < 0.2] = -100  # labels that do not count
        return inputs, labels
    return split(22), split(10)


def gpt_data(generator):
    def split(samples):
        inputs = torch.randint(1, 50, (samples, 16), generator=generator)
        labels = inputs.clone()
        for row, length in enumerate(torch.randint(6, 17, (samples,), generator=generator).tolist()):
            inputs[row, length:] = 0  # padding, whose labels do not count
            labels[row, length:] = -100
        return inputs, labels
    return split(14), split(6)


# Every scenario: its model, its data, its loss and metrics, and its arguments (beside
# what all share). Items 1 (numbers) and 2 (events) of the Python-equivalence issue.
COMMON = dict(per_device_train_batch_size=2, per_device_eval_batch_size=4, gradient_accumulation_steps=4,
              learning_rate=1e-2, weight_decay=0.1, warmup_steps=2, lr_scheduler_type="cosine", max_grad_norm=0.5,
              logging_steps=1, eval_strategy="steps", eval_steps=2, save_steps=3, num_train_epochs=2, seed=42,
              use_cpu=True, report_to="none", disable_tqdm=True)
SCENARIOS = {
    "mlp_sequential": ("mlp", dict(train_sampling_strategy="sequential")),
    "mlp_random": ("mlp", dict(data_seed=7)),
    "gpt_sequential": ("gpt", dict(train_sampling_strategy="sequential", include_num_input_tokens_seen="all")),
    "gpt_random": ("gpt", dict(include_num_input_tokens_seen="non_padding", lr_scheduler_type="cosine_with_min_lr",
                               lr_scheduler_kwargs={"min_lr_rate": 0.1})),
    "by_epoch": ("mlp", dict(eval_strategy="epoch", save_strategy="epoch", logging_strategy="epoch",
                             gradient_accumulation_steps=2, num_train_epochs=3, skip_memory_metrics=False)),
    "max_steps_mid_epoch": ("mlp", dict(max_steps=4, gradient_accumulation_steps=1, per_device_train_batch_size=4,
                                        logging_steps=3, save_steps=2, eval_steps=3, logging_first_step=True)),
    "early_stopping": ("mlp", dict(eval_on_start=True, load_best_model_at_end=True, metric_for_best_model="loss",
                                   greater_is_better=True, eval_steps=1, save_steps=1, num_train_epochs=4,
                                   gradient_accumulation_steps=2, save_total_limit=2)),
}


def make_trainer(folder, scenario, output_dir, write_inputs=True):
    """The scenario's Trainer, its model initialized as the C++ test's, and its recorder."""
    kind, own = SCENARIOS[scenario]
    settings = {**COMMON, **own}
    settings = {key: value for key, value in settings.items() if key in TrainingArguments.__dataclass_fields__}
    args = TrainingArguments(output_dir=output_dir, **settings)
    generator = torch.Generator().manual_seed(1234)
    (train_inputs, train_labels), (eval_inputs, eval_labels) = (mlp_data if kind == "mlp" else gpt_data)(generator)
    torch.manual_seed(5)
    model = Mlp() if kind == "mlp" else Gpt()
    if write_inputs:
        save_file({name: value.contiguous() for name, value in model.state_dict().items()},
                  os.path.join(folder, "initial.safetensors"))
        save_file({"train_inputs": train_inputs, "train_labels": train_labels, "eval_inputs": eval_inputs,
                   "eval_labels": eval_labels}, os.path.join(folder, "data.safetensors"))
    recorder = Recorder()
    callbacks = [recorder] + ([EarlyStoppingCallback(early_stopping_patience=1)] if scenario == "early_stopping" else [])
    tokens = kind == "gpt"
    trainer = Trainer(model=model, args=args, train_dataset=Columns(train_inputs, train_labels, tokens),
                      eval_dataset=Columns(eval_inputs, eval_labels, tokens),
                      compute_loss_func=cross_entropy if kind == "mlp" else causal_lm_cross_entropy,
                      compute_metrics=accuracy if kind == "mlp" else token_accuracy, callbacks=callbacks)
    return trainer, recorder


def run(folder, scenario):
    trainer, recorder = make_trainer(folder, scenario, os.path.join(folder, "python_output"))
    args, model = trainer.args, trainer.model
    with open(os.path.join(folder, "training_args.json"), "w") as file:
        file.write(args.to_json_string())
    trainer.train()
    save_file({name: value.contiguous() for name, value in model.state_dict().items()},
              os.path.join(folder, "final.safetensors"))
    with open(os.path.join(folder, "events.jsonl"), "w") as file:
        for event in recorder.events:
            file.write(json.dumps(event) + "\n")
    with open(os.path.join(folder, "log_history.json"), "w") as file:
        json.dump(trainer.state.log_history, file, indent=1)
    checkpoints = sorted((name for name in os.listdir(args.output_dir) if name.startswith("checkpoint-")),
                         key=lambda name: int(name.split("-")[1]))
    last = os.path.join(args.output_dir, checkpoints[-1])
    with open(os.path.join(last, "trainer_state.json")) as file:
        state = json.load(file)
    with open(os.path.join(folder, "checkpoints.json"), "w") as file:
        json.dump({"folders": checkpoints, "files": sorted(os.listdir(last)), "trainer_state": state}, file, indent=1)


if __name__ == "__main__":
    output = sys.argv[1]
    shutil.rmtree(output, ignore_errors=True)
    for name in (sys.argv[2:] or SCENARIOS):
        os.makedirs(os.path.join(output, name))
        run(os.path.join(output, name), name)
