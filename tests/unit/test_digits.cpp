// The digits example trains to at least 95% eval accuracy on the real data set.
#include "testing.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <torchtrain/torchtrain.hpp>

#include "digits/digits.hpp"

namespace digits_tests {

DOCTEST_TEST_SUITE("digits") {

DOCTEST_TEST_CASE("digits reaches at least 95% eval accuracy with its default arguments") {
  const char* path = std::getenv("TORCHTRAIN_DIGITS_CSV");
  auto args = digits::default_training_arguments();
  tt::set_seed(args.seed);
  auto [train_set, eval_set] = digits::load_digits(path ? path : digits::default_data_path).split(0.9, args.seed);
  DOCTEST_CHECK(train_set.size() + eval_set.size() == 1797);
  digits::Classifier model(128);
  tt::Trainer<> trainer(model, args, train_set, eval_set, tt::loss::cross_entropy, tt::metrics::accuracy);
  trainer.train();
  DOCTEST_CHECK(trainer.evaluate().at("eval_accuracy") >= 0.95);
}

DOCTEST_TEST_CASE("a file that is not the digits data set is an error naming it") {
  auto path = std::filesystem::temp_directory_path() / "torchtrain_not_digits.csv";
  std::ofstream(path) << "1,2,3\n";
  DOCTEST_CHECK_THROWS_WITH_AS(digits::load_digits(path.string()),
                               (path.string() + ": expected 65 columns (64 pixels, then the digit), found 3").c_str(),
                               tt::data::DataError);
}

}  // DOCTEST_TEST_SUITE

}  // namespace digits_tests
