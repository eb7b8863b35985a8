"""The command lines of Python training scripts, parsed by transformers' own HfArgumentParser
into TrainingArguments: test_arguments.cpp gives each command line, unchanged, to
tt::parse_args and compares every field with Python's (to_json_string).
Usage: arguments_reference.py OUTPUT.json"""
import json
import sys

from transformers import HfArgumentParser, TrainingArguments

# What scripts pass: bare boolean flags, --no_<flag>, dashed names, lists, JSON objects,
# ratios, enums by name, and booleans spelled every way argparse takes them.
COMMAND_LINES = [
    ["--output_dir", "run_a", "--learning_rate", "3e-5", "--lr_scheduler_type", "cosine_with_min_lr",
     "--lr_scheduler_kwargs", '{"min_lr_rate": 0.1}', "--bf16", "--use_cpu", "--eval_strategy", "steps",
     "--eval_steps", "50", "--report_to", "none", "--no_remove_unused_columns", "--warmup_steps", "0.1",
     "--load_best_model_at_end", "--metric_for_best_model", "eval_loss", "--save_steps", "100",
     "--include-num-input-tokens-seen", "true", "--label_names", "labels", "extra"],
    ["--output_dir", "run_b", "--do_train", "--num_train_epochs", "2.5", "--logging_strategy", "epoch",
     "--save_strategy", "no", "--fp16_full_eval", "true", "--dataloader_num_workers", "2", "--dataloader_drop_last",
     "--label_smoothing_factor", "0.1", "--weight_decay", "0.01", "--adam_beta2", "0.98", "--max_grad_norm", "0",
     "--report_to", "tensorboard", "--no_dataloader_pin_memory", "--optim", "sgd", "--optim_args", "momentum=0.9",
     "--seed", "7", "--data_seed", "3", "--train_sampling_strategy", "sequential", "--eval_do_concat_batches",
     "false", "--skip_memory_metrics", "False", "--save_on_each_node", "yes", "--log_level", "info"],
    ["--output-dir", "run_c", "--per-device-train-batch-size", "16", "--gradient-accumulation-steps", "4",
     "--max-steps", "100", "--lr-scheduler-type", "reduce_lr_on_plateau", "--lr_scheduler_kwargs",
     '{"factor": 0.5, "patience": 2}', "--eval_strategy", "steps", "--metric_for_best_model", "accuracy",
     "--greater_is_better", "1", "--include_for_metrics", "inputs", "loss", "--torch_empty_cache_steps", "10",
     "--average_tokens_across_devices", "n", "--logging_steps", "0.05", "--save_total_limit", "2"],
]

if __name__ == "__main__":
    parser = HfArgumentParser(TrainingArguments)
    parsed = []
    for argv in COMMAND_LINES:
        (args,) = parser.parse_args_into_dataclasses(args=argv)
        parsed.append({"argv": argv, "python": json.loads(args.to_json_string())})
    with open(sys.argv[1], "w") as file:
        json.dump(parsed, file, indent=1)
