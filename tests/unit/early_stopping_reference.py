"""Where the real Python Trainer stops with EarlyStoppingCallback, run through and resumed, for test_callbacks.cpp.

Settings, as the C++ test's: 8 regression samples in one batch (one step an epoch), 20
epochs, an evaluation and a save every 2 steps, metric_for_best_model "score" (greater is
better), the scores 0.5, 0.6, 0.55, 0.58, then 0.9 from the fifth evaluation on, and
patience 2. The resumed runs start from checkpoint-6 with a callback of patience 5, with
and without restore_callback_states_from_checkpoint: Python rebuilds a restored callback
from the saved arguments, so the saved patience 2 is the one that counts there. A last run,
in a folder of its own, has two EarlyStoppingCallbacks, of patience 2 and 3: Python saves
their states as a list, in order.

Writes JSON: the global step at which each run ended, the restored callback's state, and
the two callbacks' saved states in checkpoint-6.
"""
import json
import os
import sys

SCORES = [0.5, 0.6, 0.55, 0.58, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]


def runs(output_dir):
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments

    from callback_events_reference import regression_task

    Regression, Model = regression_task()
    data = Regression(8)

    def train(first_score, patiences, resume_from_checkpoint=None, restore=False, folder=output_dir):
        next_score = [first_score]

        def scripted_score(prediction):
            score = SCORES[next_score[0]]
            next_score[0] += 1
            return {"score": score}

        args = TrainingArguments(output_dir=folder, num_train_epochs=20, per_device_train_batch_size=8,
                                 per_device_eval_batch_size=8, logging_strategy="no", eval_strategy="steps",
                                 eval_steps=2, save_steps=2, metric_for_best_model="score",
                                 restore_callback_states_from_checkpoint=restore, report_to="none", use_cpu=True,
                                 disable_tqdm=True)
        trainer = Trainer(model=Model(), args=args, train_dataset=data, eval_dataset=data,
                          compute_metrics=scripted_score,
                          callbacks=[EarlyStoppingCallback(early_stopping_patience=p) for p in patiences])
        trainer.train(resume_from_checkpoint=resume_from_checkpoint)
        stopping = [c for c in trainer.callback_handler.callbacks if isinstance(c, EarlyStoppingCallback)]
        return trainer.state.global_step, stopping[0].state()

    checkpoint = os.path.join(output_dir, "checkpoint-6")
    uninterrupted, _ = train(0, [2])
    resumed, _ = train(3, [5], checkpoint)
    resumed_restoring, restored = train(3, [5], checkpoint, restore=True)
    two_folder = os.path.join(output_dir, "two")
    train(0, [2, 3], folder=two_folder)
    with open(os.path.join(two_folder, "checkpoint-6", "trainer_state.json")) as file:
        two_states = json.load(file)["stateful_callbacks"]["EarlyStoppingCallback"]
    return {"uninterrupted": uninterrupted, "resumed": resumed, "resumed_restoring": resumed_restoring,
            "restored_state": restored, "two_states": two_states}


if __name__ == "__main__":
    output = sys.argv[1]
    result = runs(output + ".run")
    with open(output, "w") as file:
        json.dump(result, file, indent=2)
