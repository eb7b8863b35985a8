"""The callback events of a small Python Trainer run, one per line, for test_callbacks.cpp.

Settings: 8 training samples in batches of 2 with gradient accumulation 2 (2 optimizer
steps per epoch), 2 epochs, logging and evaluation every 2 steps on 4 samples in batches
of 2, a save every 4 steps. The real Trainer runs with a recording callback (the suite
python_trainer compares more scenarios, with the step, epoch and flags at each event).
"""
import sys


def regression_task():
    """The C++ tests' regression as Python classes: a Dataset of `samples` random inputs of 4,
    each labelled with its sum, and a Linear(4, 1) that returns its loss and its predictions
    (as logits, for compute_metrics)."""
    import torch
    from torch.utils.data import Dataset

    class Regression(Dataset):
        def __init__(self, samples):
            self.inputs = torch.randn(samples, 4)

        def __len__(self):
            return len(self.inputs)

        def __getitem__(self, i):
            return {"inputs": self.inputs[i], "labels": self.inputs[i].sum(0, keepdim=True)}

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 1)

        def forward(self, inputs, labels):
            predictions = self.linear(inputs)
            return {"loss": torch.nn.functional.mse_loss(predictions, labels), "logits": predictions}

    return Regression, Model


def from_the_python_trainer(output_dir):
    from transformers import Trainer, TrainerCallback, TrainingArguments

    events = []

    class Recorder(TrainerCallback):
        pass

    for name in ["on_init_end", "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                 "on_step_begin", "on_substep_end", "on_pre_optimizer_step", "on_optimizer_step", "on_step_end",
                 "on_evaluate", "on_predict", "on_save", "on_log", "on_prediction_step"]:
        setattr(Recorder, name, lambda self, *args, _name=name, **kwargs: events.append(_name))

    Regression, Model = regression_task()

    args = TrainingArguments(output_dir=output_dir, num_train_epochs=2, per_device_train_batch_size=2,
                             per_device_eval_batch_size=2, gradient_accumulation_steps=2, logging_steps=2,
                             eval_strategy="steps", eval_steps=2, save_steps=4, report_to="none",
                             use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=Model(), args=args, train_dataset=Regression(8), eval_dataset=Regression(4),
                      callbacks=[Recorder()])
    trainer.train()
    return events


if __name__ == "__main__":
    output = sys.argv[1]
    events = from_the_python_trainer(output + ".run")
    with open(output, "w") as file:
        file.write("\n".join(events) + "\n")
