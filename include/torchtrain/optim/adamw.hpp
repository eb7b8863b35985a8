// The default optimizer: AdamW over the Python Trainer's two parameter groups.
#pragma once

#include <memory>
#include <vector>

#include <torch/optim/adamw.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/optim/parameter_groups.hpp>

namespace torchtrain::optim {

/// AdamW with learning_rate, adam_beta1/2, adam_epsilon from the arguments; weight_decay
/// on the `decay` group only (see weight_decay_groups).
inline std::unique_ptr<torch::optim::AdamW> make_adamw(const torch::nn::Module& model,
                                                       const TrainingArguments& args) {
  auto options = torch::optim::AdamWOptions(args.learning_rate)
                     .betas({args.adam_beta1, args.adam_beta2})
                     .eps(args.adam_epsilon)
                     .weight_decay(args.weight_decay);
  auto [decay, no_decay] = weight_decay_groups(model);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty())
    groups.emplace_back(std::move(decay), std::make_unique<torch::optim::AdamWOptions>(options));
  if (!no_decay.empty())
    groups.emplace_back(std::move(no_decay), std::make_unique<torch::optim::AdamWOptions>(
                                                 torch::optim::AdamWOptions(options).weight_decay(0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups), options);
}

}  // namespace torchtrain::optim
