// Data: CSV reading with errors that name file and line, seeded epoch orders, datasets.
#include "testing.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <zlib.h>

namespace data_tests {

std::filesystem::path temporary_file(const std::string& name, const std::string& content, bool gzip = false) {
  auto path = std::filesystem::temp_directory_path() / ("torchtrain_test_" + name);
  if (gzip) {
    gzFile file = gzopen(path.c_str(), "wb");
    gzwrite(file, content.data(), static_cast<unsigned>(content.size()));
    gzclose(file);
  } else {
    std::ofstream(path) << content;
  }
  return path;
}

// A LibTorch-style dataset: one Example per index.
struct Squares : torch::data::datasets::Dataset<Squares> {
  torch::data::Example<> get(std::size_t i) override {
    auto x = static_cast<float>(i);
    return {torch::tensor({x, -x}), torch::tensor(x * x)};
  }
  c10::optional<std::size_t> size() const override { return 5; }
};

DOCTEST_TEST_SUITE("data") {

DOCTEST_TEST_CASE("read_numeric_csv reads plain and gzip files alike") {
  const std::string text = "1,2,3\r\n4.5, -6 ,7e1\n\n";
  for (bool gzip : {false, true}) {
    auto table = tt::data::read_numeric_csv(temporary_file(gzip ? "table.csv.gz" : "table.csv", text, gzip));
    DOCTEST_CHECK(table.rows == 2);
    DOCTEST_CHECK(table.columns == 3);
    DOCTEST_CHECK(table.values == std::vector<float>{1, 2, 3, 4.5f, -6, 70});
    DOCTEST_CHECK(torch::equal(table.to_tensor(), torch::tensor({{1.f, 2.f, 3.f}, {4.5f, -6.f, 70.f}})));
  }
  auto with_header = tt::data::read_numeric_csv(temporary_file("header.csv", "a,b\n1,2\n"), 1);
  DOCTEST_CHECK(with_header.rows == 1);
}

DOCTEST_TEST_CASE("bad CSV input is an error naming the file, line and field") {
  auto missing = std::filesystem::temp_directory_path() / "torchtrain_no_such_file.csv";
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::read_numeric_csv(missing),
                               ("cannot open '" + missing.string() + "': No such file or directory").c_str(),
                               tt::data::DataError);
  auto bad_number = temporary_file("bad_number.csv", "1,2\n3,four\n");
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::read_numeric_csv(bad_number),
                               (bad_number.string() + ":2: field 2 is 'four', not a number; fix or drop that line").c_str(),
                               tt::data::DataError);
  for (const char* cell : {"nan", "inf", "-inf", "NaN"}) {
    auto non_finite = temporary_file("non_finite.csv", fmt::format("1,2\n3,{}\n", cell));
    DOCTEST_CHECK_THROWS_WITH_AS(
        tt::data::read_numeric_csv(non_finite),
        fmt::format("{}:2: field 2 is '{}', not a finite number; fill or drop that row", non_finite.string(), cell).c_str(),
        tt::data::DataError);
  }
  auto too_large = temporary_file("too_large.csv", "1,2\n3,1e40\n");
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::read_numeric_csv(too_large),
                               (too_large.string() + ":2: field 2 is '1e40', not a number a float can hold; fix or drop that line").c_str(),
                               tt::data::DataError);
  auto ragged = temporary_file("ragged.csv", "1,2\n3,4\n5\n");
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::read_numeric_csv(ragged),
                               (ragged.string() + ":3: expected 2 fields like the lines before, found 1; fix or drop that line").c_str(),
                               tt::data::DataError);
  auto empty = temporary_file("empty.csv", "\n");
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::read_numeric_csv(empty), (empty.string() + ": no data rows (the file is empty or blank); give a file of comma-separated numbers").c_str(),
                               tt::data::DataError);
  // A gzip file cut in half.
  auto whole = temporary_file("whole.csv.gz", std::string(4000, '1') + "\n", true);
  std::ifstream in(whole, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  auto cut = temporary_file("cut.csv.gz", bytes.substr(0, bytes.size() / 2));
  DOCTEST_CHECK_THROWS_WITH_AS(tt::data::read_numeric_csv(cut),
                               ("cannot read '" + cut.string() + "': unexpected end of file (is the file damaged?)").c_str(),
                               tt::data::DataError);
}

DOCTEST_TEST_CASE("every epoch gets a new order, the same for the same seed and epoch") {
  auto epoch0 = tt::data::epoch_permutation(50, 42, 0);
  DOCTEST_CHECK(torch::equal(epoch0, tt::data::epoch_permutation(50, 42, 0)));
  DOCTEST_CHECK(!torch::equal(epoch0, tt::data::epoch_permutation(50, 42, 1)));
  DOCTEST_CHECK(!torch::equal(epoch0, tt::data::epoch_permutation(50, 43, 0)));
  DOCTEST_CHECK(torch::equal(std::get<0>(epoch0.sort()), torch::arange(50)));
  // The global generator is not touched: the model's randomness does not shift the data order.
  torch::manual_seed(0);
  auto before = torch::rand({1});
  torch::manual_seed(0);
  tt::data::epoch_permutation(50, 42, 3);
  DOCTEST_CHECK(torch::equal(before, torch::rand({1})));
}

DOCTEST_TEST_CASE("TensorDataset gathers batches and splits reproducibly") {
  tt::data::TensorDataset data(torch::arange(20).view({10, 2}), torch::arange(10));
  auto batch = data.get_batch(torch::tensor({3, 0}));
  DOCTEST_CHECK(torch::equal(batch.inputs, torch::tensor({{6, 7}, {0, 1}})));
  DOCTEST_CHECK(torch::equal(batch.labels, torch::tensor({3, 0})));
  auto [first, second] = data.split(0.7, 5);
  DOCTEST_CHECK(first.size() == 7);
  DOCTEST_CHECK(second.size() == 3);
  auto all = std::get<0>(torch::cat({first.labels(), second.labels()}).sort());
  DOCTEST_CHECK(torch::equal(all, torch::arange(10)));
  DOCTEST_CHECK(torch::equal(first.labels(), data.split(0.7, 5).first.labels()));
}

DOCTEST_TEST_CASE("LibTorch datasets are batched by stacking their examples") {
  Squares squares;
  DOCTEST_CHECK(tt::data::dataset_size(squares) == 5);
  auto batch = tt::data::fetch_batch(squares, torch::tensor({4, 2}, torch::kLong));
  DOCTEST_CHECK(torch::equal(batch.inputs, torch::tensor({{4.f, -4.f}, {2.f, -2.f}})));
  DOCTEST_CHECK(torch::equal(batch.labels, torch::tensor({16.f, 4.f})));

  torch::nn::Linear model(2, 1);
  tt::Trainer<> trainer(model, {.max_steps = 3, .per_device_train_batch_size = 2}, Squares{},
                        tt::data::NoDataset{}, tt::loss::mean_squared_error);
  DOCTEST_CHECK(trainer.train().global_step == 3);
}

}  // DOCTEST_TEST_SUITE

}  // namespace data_tests
