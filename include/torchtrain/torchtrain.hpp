// torchtrain: the Hugging Face Trainer for LibTorch. Including this header includes every part.
#pragma once

#include <torchtrain/arguments/argument_error.hpp>
#include <torchtrain/arguments/parse_args.hpp>
#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/arguments/validate.hpp>
#include <torchtrain/callbacks/callbacks.hpp>
#include <torchtrain/data/batch.hpp>
#include <torchtrain/data/csv.hpp>
#include <torchtrain/data/dataset.hpp>
#include <torchtrain/data/random_sampler.hpp>
#include <torchtrain/data/tensor_dataset.hpp>
#include <torchtrain/io/durable_file.hpp>
#include <torchtrain/io/file_error.hpp>
#include <torchtrain/io/safetensors.hpp>
#include <torchtrain/loss/loss.hpp>
#include <torchtrain/metrics/accuracy.hpp>
#include <torchtrain/metrics/compute_metrics.hpp>
#include <torchtrain/nn/checkpoint.hpp>
#include <torchtrain/optim/optimizers.hpp>
#include <torchtrain/optim/clip_grad_norm.hpp>
#include <torchtrain/optim/multi_tensor_adamw.hpp>
#include <torchtrain/optim/schedulers.hpp>
#include <torchtrain/optim/parameter_groups.hpp>
#include <torchtrain/optim/zero_grad.hpp>
#include <torchtrain/policies/policies.hpp>
#include <torchtrain/trainer/trainer.hpp>
