// distillation: a small student classifier of handwritten digits learns from a larger,
// frozen teacher, through compute_loss with the model (the Python `compute_loss` override).
//
//   distillation [--data path] [--teacher_hidden_size 256] [--student_hidden_size 16]
//                [--temperature 2] [--alpha 0.5] [any TrainingArguments flag]
//
// The teacher trains first (output_dir/teacher); the student's loss then mixes the
// cross-entropy with the labels and the KL divergence from the teacher's softened logits.
#include <cstdio>
#include <exception>
#include <string>

#include <torchtrain/torchtrain.hpp>

#include "digits/digits.hpp"

namespace tt = torchtrain;
namespace F = torch::nn::functional;

struct DistillationArguments {
  std::string data = digits::default_data_path;  // digits CSV (plain or .gz): 64 pixels, then the label
  double eval_fraction = 0.1;                     // share of the images held out for evaluation
  int teacher_hidden_size = 256;                  // width of the teacher's hidden layer
  int student_hidden_size = 16;                   // width of the student's hidden layer
  double temperature = 2.0;                       // softens both models' logits in the KL term
  double alpha = 0.5;                             // weight of the labels' cross-entropy; 1 - alpha: the teacher's
};
TORCHTRAIN_REFLECT(DistillationArguments, data, eval_fraction, teacher_hidden_size, student_hidden_size, temperature,
                   alpha);

namespace {

// The Trainer's loss object, with the Python Trainer's compute_loss override as a member:
// it gets the model and the batch, and returns the loss with the student's logits (which
// evaluation scores).
struct Distillation {
  digits::Classifier teacher;
  double temperature, alpha;

  tt::LossAndOutputs<torch::Tensor> compute_loss(digits::Classifier& student, const tt::data::Batch& batch) {
    auto logits = student->forward(batch.inputs);
    torch::Tensor teacher_logits;
    {
      torch::NoGradGuard frozen;
      teacher_logits = teacher->forward(batch.inputs);
    }
    const auto soft = F::kl_div(F::log_softmax(logits / temperature, 1), F::softmax(teacher_logits / temperature, 1),
                                F::KLDivFuncOptions().reduction(torch::kBatchMean));
    auto loss = alpha * F::cross_entropy(logits, batch.labels) + (1 - alpha) * temperature * temperature * soft;
    return {loss, logits};
  }
};

template <class Trainer>
tt::Metrics train_and_evaluate(Trainer& trainer, const char* split) {
  auto result = trainer.train();
  trainer.save_model();
  trainer.log_metrics(fmt::format("{} train", split), result.metrics);
  auto metrics = trainer.evaluate();
  trainer.log_metrics(fmt::format("{} eval", split), metrics);
  return metrics;
}

}  // namespace

int main(int argc, char** argv) try {
  auto defaults = digits::default_training_arguments();
  defaults.output_dir = "distillation_output";
  auto [args, options] = tt::parse_args(argc, argv, defaults, DistillationArguments{});
  tt::set_seed(args.seed);
  auto [train_set, eval_set] = digits::load_digits(options.data).split(1.0 - options.eval_fraction, args.seed);
  const std::string output_dir = args.output_dir;

  digits::Classifier teacher(options.teacher_hidden_size);
  args.output_dir = output_dir + "/teacher";
  tt::Trainer<> teacher_trainer(teacher, args, train_set, eval_set, tt::loss::cross_entropy, tt::metrics::accuracy);
  const auto teacher_metrics = train_and_evaluate(teacher_trainer, "teacher");
  teacher->eval();
  for (auto& parameter : teacher->parameters()) parameter.set_requires_grad(false);

  digits::Classifier student(options.student_hidden_size);
  args.output_dir = output_dir + "/student";
  tt::Trainer<> student_trainer(student, args, train_set, eval_set,
                                Distillation{teacher, options.temperature, options.alpha}, tt::metrics::accuracy);
  const auto student_metrics = train_and_evaluate(student_trainer, "student");
  fmt::print("teacher eval_accuracy = {:.4f}, student eval_accuracy = {:.4f}\n", teacher_metrics.at("eval_accuracy"),
             student_metrics.at("eval_accuracy"));
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "distillation: {}\n", error.what());
  return 1;
}
