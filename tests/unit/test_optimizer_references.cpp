// Every optimizer by name against its reference Python package: optimizer_reference.py steps the
// real Python Trainer's optimizer for each case of tests/unit/optimizer_cases/, this steps
// optim::make_optimizer's on the same model and batches, and every parameter and every state
// tensor must agree after every step.
#include "testing.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace optimizer_references_tests {
namespace fs = std::filesystem;

// The model of optimizer_reference.py, with the same parameter names.
struct NetImpl : torch::nn::Module {
  NetImpl()
      : fc1(register_module("fc1", torch::nn::Linear(16, 64))),
        norm(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({64})))),
        fc2(register_module("fc2", torch::nn::Linear(64, 64))),
        head(register_module("head", torch::nn::Linear(64, 8))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    return head(torch::tanh(fc2(torch::tanh(norm(fc1(x))))));
  }
  torch::nn::Linear fc1;
  torch::nn::LayerNorm norm;
  torch::nn::Linear fc2, head;
};
TORCH_MODULE(Net);

// How far `actual` is from `expected`, relative to the largest magnitude in `expected`.
double relative_difference(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.to(torch::kDouble), e = expected.to(torch::kDouble);
  const double scale = std::max(e.abs().max().item<double>(), 1e-30);
  return (a - e).abs().max().item<double>() / scale;
}

struct Case {
  std::string name;
  int steps;
  tt::TrainingArguments args;
  double rtol;
  std::vector<std::string> group_keys;
};

std::vector<Case> read_cases(const fs::path& folder) {
  std::ifstream in(folder / "cases.json");
  DOCTEST_REQUIRE_MESSAGE(in.good(), "no cases.json in ", folder.string());
  std::vector<Case> cases;
  for (const auto& entry : nlohmann::json::parse(in)) {
    Case c;
    c.name = entry.at("name").get<std::string>();
    c.steps = entry.at("steps").get<int>();
    auto args = entry.at("args");
    args["output_dir"] = (fs::current_path() / ("out_" + c.name)).string();
    c.args = tt::training_arguments_from_json(args.dump(), c.name);
    c.rtol = entry.value("rtol", 1e-6);
    c.group_keys = entry.value("group_keys", std::vector<std::string>{});
    cases.push_back(std::move(c));
  }
  return cases;
}

// Each parameter's optimizer state by key ("step" as a number): NamedState's, or for the
// first tranche's optimizers the entries of their Python state dict.
using States = std::map<const void*, std::map<std::string, torch::Tensor>>;
States states_of(torch::optim::Optimizer& optimizer) {
  States states;
  for (const auto& [key, state] : optimizer.state())
    if (const auto* named = dynamic_cast<const tt::optim::NamedState*>(state.get())) {
      auto& entries = states[key];
      entries["step"] = torch::tensor(static_cast<double>(named->step));
      for (const auto& [name, tensor] : named->tensors) entries[name] = tensor;
    }
  if (!states.empty()) return states;
  auto python = tt::optim::python_state_dict(optimizer);
  if (!python) return states;
  const auto saved = python->toGenericDict().at("state").toGenericDict();
  std::int64_t index = 0;  // Python numbers the parameters through the groups, in order
  for (auto& group : optimizer.param_groups())
    for (auto& parameter : group.params()) {
      if (saved.contains(index))
        for (const auto& entry : saved.at(index).toGenericDict())
          if (entry.value().isTensor()) states[parameter.unsafeGetTensorImpl()][entry.key().toStringRef()] = entry.value().toTensor();
      ++index;
    }
  return states;
}

std::string keys_of(const std::map<std::string, torch::Tensor>& state) {
  std::string keys;
  for (const auto& [key, tensor] : state) keys += (keys.empty() ? "" : ", ") + key;
  return keys;
}

// Steps the case's optimizer as the Trainer does and compares everything the reference recorded.
void check_case(const Case& c, const fs::path& folder) {
  std::map<std::string, torch::Tensor> reference;
  for (auto& [key, tensor] : tt::io::load_safetensors(folder / (c.name + ".safetensors"))) reference[key] = tensor;
  Net net;
  {
    torch::NoGradGuard no_grad;
    for (auto& item : net->named_parameters()) item.value().copy_(reference.at("init/" + item.key()));
  }
  auto optimizer = tt::optim::make_optimizer(*net, c.args);
  auto* modes = dynamic_cast<tt::optim::TrainEvalModes*>(optimizer.get());
  for (int t = 1; t <= c.steps; ++t) {
    if (modes) modes->train();
    optimizer->zero_grad();
    auto loss = torch::mse_loss(net->forward(reference.at(fmt::format("input/{}", t))),
                                reference.at(fmt::format("target/{}", t)));
    loss.backward();
    optimizer->step();
    for (auto& item : net->named_parameters()) {
      const auto difference = relative_difference(item.value(), reference.at(fmt::format("step{}/param/{}", t, item.key())));
      DOCTEST_CHECK_MESSAGE(difference <= c.rtol, c.name, " step ", t, ": parameter ", item.key(), " differs by ",
                            difference, " (relative)");
    }
    const auto prefix = fmt::format("step{}/state/", t);
    const auto states = states_of(*optimizer);
    for (auto& item : net->named_parameters()) {
      auto found_state = states.find(item.value().unsafeGetTensorImpl());
      const auto parameter_prefix = prefix + item.key() + "/";
      for (auto it = reference.lower_bound(parameter_prefix);
           it != reference.end() && it->first.starts_with(parameter_prefix); ++it) {
        const auto key = it->first.substr(parameter_prefix.size());
        DOCTEST_REQUIRE_MESSAGE(found_state != states.end(), c.name, " step ", t, ": ", item.key(),
                                " has no optimizer state; the reference has '", key, "'");
        const auto& state = found_state->second;
        auto found = state.find(key);
        DOCTEST_REQUIRE_MESSAGE(found != state.end(), c.name, " step ", t, ": ", item.key(), " has no state '", key,
                                "' (it has ", keys_of(state), ")");
        const auto difference = relative_difference(found->second, it->second);
        DOCTEST_CHECK_MESSAGE(difference <= c.rtol, c.name, " step ", t, ": ", item.key(), " state '", key,
                              "' differs by ", difference, " (relative)");
      }
    }
    for (std::size_t g = 0; g < optimizer->param_groups().size(); ++g)
      for (const auto& key : c.group_keys) {
        auto found = reference.find(fmt::format("step{}/group{}/{}", t, g, key));
        if (found == reference.end()) continue;
        const auto values = tt::optim::group_values_of(*optimizer, g);
        DOCTEST_REQUIRE_MESSAGE(values.contains(key), c.name, ": group ", g, " keeps no '", key, "'");
        const double expected = found->second.item<double>();
        DOCTEST_CHECK_MESSAGE(std::abs(values.at(key) - expected) <= c.rtol * std::max(std::abs(expected), 1e-30),
                              c.name, " step ", t, ": group ", g, " '", key, "' is ", values.at(key),
                              ", the reference's ", expected);
      }
  }
}

DOCTEST_TEST_SUITE("optimizer_references") {
  DOCTEST_TEST_CASE("every optimizer equals its reference Python package, parameter and state, step by step") {
    const char* folder = std::getenv("TORCHTRAIN_OPTIMIZER_REFERENCE");
    DOCTEST_REQUIRE_MESSAGE(folder != nullptr, "run through CTest, which writes the references with Python first");
    const auto cases = read_cases(folder);
    std::set<tt::OptimizerNames> covered;
    for (const auto& c : cases) {
      DOCTEST_INFO("case ", c.name);
      covered.insert(c.args.optim);
      check_case(c, folder);
    }
    // Every optimizer added after the first tranche has a case (those have their own tests).
    const auto names = enum_names(tt::OptimizerNames{});
    for (std::size_t i = static_cast<std::size_t>(tt::OptimizerNames::galore_adamw); i < names.size(); ++i)
      DOCTEST_CHECK_MESSAGE(covered.contains(static_cast<tt::OptimizerNames>(i)), "--optim ", names[i],
                            " has no case in tests/unit/optimizer_cases/");
  }
}

}  // namespace optimizer_references_tests
