// I/O: durable writes with their checksums, errors that name the file (a full disk included),
// publishing a folder, and safetensors files: the byte layout, round trips, damaged files.
#include "testing.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caffe2/serialize/inline_container.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

namespace io_tests {

using test_support::contains;
using test_support::file_error_of;
using test_support::fresh_folder;

namespace fs = std::filesystem;

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// What `action` did in a child process whose files may not grow past `limit` bytes, as
// with `ulimit -f`: the FileError message it threw, or a text saying what happened instead.
std::string file_error_in_child_with_file_size_limit(rlim_t limit, const std::function<void()>& action) {
  int pipe_ends[2];
  DOCTEST_REQUIRE(::pipe(pipe_ends) == 0);
  pid_t child = ::fork();
  DOCTEST_REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_ends[0]);
    // Past the limit the kernel sends SIGXFSZ, which ends the process unless ignored;
    // ignored, write() fails with EFBIG instead.
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit size_limit{limit, limit};
    ::setrlimit(RLIMIT_FSIZE, &size_limit);
    auto report = file_error_of(action);
    [[maybe_unused]] auto written = ::write(pipe_ends[1], report.data(), report.size());
    ::_exit(0);  // skips the parent's doctest state at exit
  }
  ::close(pipe_ends[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t got; (got = ::read(pipe_ends[0], buffer, sizeof buffer)) > 0;) report.append(buffer, got);
  ::close(pipe_ends[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "the child died with status " + std::to_string(status);
  return report;
}

// One tensor of each dtype, with values that safetensors_check.py recomputes; a
// non-contiguous one (f32), a 0-dim one (scalar) and an empty one (empty) among them.
tt::io::NamedTensors known_tensors() {
  auto range = [](double start, double end, double step = 1) { return torch::arange(start, end, step, torch::kFloat64); };
  return {
      {"f64", range(0, 6).reshape({2, 3}) / 3},
      {"f32", range(0, 12).to(torch::kFloat32).reshape({4, 3}).t()},
      {"f16", (range(0, 8) / 4).to(torch::kFloat16)},
      {"bf16", (range(0, 8) - 3).to(torch::kBFloat16)},
      {"i64", range(0, 5).to(torch::kInt64) * 1'000'000'000'000 - 7},
      {"i32", range(-3, 3).to(torch::kInt32)},
      {"i16", (range(-4, 4) * 1000).to(torch::kInt16)},
      {"i8", range(-128, 128, 51).to(torch::kInt8)},
      {"u8", range(0, 256, 17).to(torch::kUInt8)},
      {"bool", range(0, 7).remainder(3) == 0},
      {"scalar", torch::tensor(3.5f)},
      {"empty", torch::zeros({0, 3})},
  };
}

// A safetensors file made by hand: the length prefix, `header` as is, then `data`.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return bytes + header + data;
}

std::string bytes_of_floats(const std::vector<float>& values) {
  return {reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)};
}

constexpr const char* damaged_advice = "; the file is truncated, damaged or not a safetensors file";

DOCTEST_TEST_SUITE("io") {

DOCTEST_TEST_CASE("FileWriter keeps the size and the zlib CRC-32 of all it wrote") {
  auto path = fresh_folder("writer") / "file.bin";
  std::string first = "hello, ";
  std::string second(100'000, 'x');
  tt::io::FileWriter writer(path);
  writer.write(first);
  writer.write(nullptr, 0);  // nothing to write must not reset the CRC
  writer.write(second.data(), second.size());
  DOCTEST_CHECK(writer.size() == first.size() + second.size());
  auto checksum = writer.finish();

  auto whole = first + second;
  auto expected = static_cast<std::uint32_t>(
      crc32(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(whole.data()), static_cast<uInt>(whole.size())));
  DOCTEST_CHECK(checksum.size == whole.size());
  DOCTEST_CHECK(checksum.crc32 == expected);
  DOCTEST_CHECK(tt::io::read_file(path) == whole);
  DOCTEST_CHECK(tt::io::checksum_file(path) == checksum);
  DOCTEST_CHECK(tt::io::write_file(path, whole) == checksum);
  DOCTEST_CHECK(tt::io::write_file(path, "") == tt::io::FileChecksum{0, 0});
  DOCTEST_CHECK(tt::io::read_file(path).empty());
}

DOCTEST_TEST_CASE("a file that cannot be opened is a FileError naming it") {
  auto folder = fresh_folder("missing");
  auto missing = folder / "no-such-file.bin";
  DOCTEST_CHECK_THROWS_WITH_AS(
      tt::io::read_file(missing),
      ("cannot open '" + missing.string() + "': No such file or directory; check the path; its folder must exist").c_str(),
      tt::FileError);
  auto in_missing_folder = folder / "no-such-folder" / "file.bin";
  DOCTEST_CHECK_THROWS_WITH_AS(tt::io::FileWriter{in_missing_folder},
                               ("cannot create '" + in_missing_folder.string() +
                                "': No such file or directory; check the path; its folder must exist")
                                   .c_str(),
                               tt::FileError);
  auto message = file_error_of([&] { tt::io::load_safetensors(missing); });
  DOCTEST_CHECK(contains(message, "cannot open '" + missing.string() + "': No such file or directory"));
  DOCTEST_CHECK(contains(file_error_of([&] { tt::io::read_file(folder); }),
                         fmt::format("cannot read '{}': it is not a regular file", folder.string())));
}

DOCTEST_TEST_CASE("a full disk is a FileError that names the file and says what to do") {
  DOCTEST_REQUIRE_MESSAGE(fs::exists("/dev/full"), "this test needs Linux's /dev/full");
  // Every write to /dev/full fails with ENOSPC, as on a full disk.
  tt::io::FileWriter full("/dev/full");
  DOCTEST_CHECK_THROWS_WITH_AS(
      full.write("checkpoint"),
      "cannot write '/dev/full': No space left on device; free space on that disk or choose another --output_dir",
      tt::FileError);
}

DOCTEST_TEST_CASE("writing past the file size limit is a FileError, and leaves other files as they were") {
  auto folder = fresh_folder("size_limit");
  auto path = folder / "big.bin";
  auto message = file_error_in_child_with_file_size_limit(4096, [&] {
    tt::io::FileWriter writer(path);
    writer.write(std::string(3000, 'a'));  // within the limit
    writer.write(std::string(3000, 'b'));  // partly written, then EFBIG
    writer.finish();
  });
  DOCTEST_CHECK(message == "cannot write '" + path.string() +
                               "': File too large; the file outgrew the size this process (ulimit -f) or the file "
                               "system allows; raise that limit or choose another --output_dir");
  DOCTEST_CHECK(fs::file_size(path) == 4096);

  // A published checkpoint, then a newer one that fails halfway through its model file.
  auto weights = tt::io::NamedTensors{{"weight", torch::arange(4096, torch::kFloat32)}};
  fs::create_directory(folder / "checkpoint-1.tmp");
  tt::io::save_safetensors(folder / "checkpoint-1.tmp" / "model.safetensors", weights);
  tt::io::publish_directory(folder / "checkpoint-1.tmp", folder / "checkpoint-1");
  auto published = folder / "checkpoint-1" / "model.safetensors";
  auto before = tt::io::checksum_file(published);
  auto unfinished = folder / "checkpoint-2.tmp" / "model.safetensors";
  fs::create_directory(unfinished.parent_path());
  message = file_error_in_child_with_file_size_limit(4096, [&] {
    tt::io::save_safetensors(unfinished, weights);
    tt::io::publish_directory(unfinished.parent_path(), folder / "checkpoint-2");
  });
  DOCTEST_CHECK(contains(message, "cannot write '" + unfinished.string() + "': File too large"));
  DOCTEST_CHECK(!fs::exists(folder / "checkpoint-2"));
  DOCTEST_CHECK(tt::io::checksum_file(published) == before);
  DOCTEST_CHECK(torch::equal(tt::io::load_safetensors(published).at(0).second, weights[0].second));
}

DOCTEST_TEST_CASE("publish_directory renames a complete folder and never replaces one") {
  auto folder = fresh_folder("publish");
  auto temporary = folder / "checkpoint-5.tmp";
  fs::create_directories(temporary / "nested");
  tt::io::write_file(temporary / "a.txt", "first");
  write_bytes(temporary / "nested" / "b.txt", "written without FileWriter");
  tt::io::publish_directory(temporary, folder / "checkpoint-5");
  DOCTEST_CHECK(!fs::exists(temporary));
  DOCTEST_CHECK(tt::io::read_file(folder / "checkpoint-5" / "a.txt") == "first");
  DOCTEST_CHECK(tt::io::read_file(folder / "checkpoint-5" / "nested" / "b.txt") == "written without FileWriter");

  fs::create_directory(temporary);
  tt::io::write_file(temporary / "a.txt", "second");
  auto refused = "cannot publish '" + temporary.string() + "' as '" + (folder / "checkpoint-5").string() +
                 "': the destination already exists; remove it or choose another --output_dir";
  DOCTEST_CHECK_THROWS_WITH_AS(tt::io::publish_directory(temporary, folder / "checkpoint-5"), refused.c_str(),
                               tt::FileError);
  DOCTEST_CHECK(tt::io::read_file(folder / "checkpoint-5" / "a.txt") == "first");
  DOCTEST_CHECK(tt::io::read_file(temporary / "a.txt") == "second");
  // An empty folder in the way is refused too, though rename() alone would replace it.
  fs::create_directory(folder / "checkpoint-6");
  DOCTEST_CHECK_THROWS_AS(tt::io::publish_directory(temporary, folder / "checkpoint-6"), tt::FileError);
  DOCTEST_CHECK(fs::exists(temporary / "a.txt"));
}

DOCTEST_TEST_CASE("safetensors round trip: every dtype, non-contiguous, 0-dim and empty tensors") {
  auto path = fresh_folder("round_trip") / "model.safetensors";
  auto tensors = known_tensors();
  DOCTEST_REQUIRE(!tensors[1].second.is_contiguous());
  tt::io::save_safetensors(path, tensors);
  auto loaded = tt::io::load_safetensors(path);

  // The reference writer's order: by dtype alignment, largest first, then by name.
  std::vector<std::string> names;
  for (const auto& [name, tensor] : loaded) names.push_back(name);
  DOCTEST_CHECK(names == std::vector<std::string>{"i64", "f64", "empty", "f32", "scalar", "i32", "bf16", "f16", "i16",
                                                  "i8", "u8", "bool"});
  for (const auto& [name, original] : tensors) {
    DOCTEST_INFO("tensor ", name);
    auto found = std::find_if(loaded.begin(), loaded.end(), [&](const auto& entry) { return entry.first == name; });
    DOCTEST_REQUIRE(found != loaded.end());
    DOCTEST_CHECK((found->second.scalar_type() == original.scalar_type()));
    DOCTEST_CHECK(found->second.sizes() == original.sizes());
    DOCTEST_CHECK(torch::equal(found->second, original));
  }
  DOCTEST_CHECK(tt::io::read_safetensors_metadata(path) == tt::io::SafetensorsMetadata{{"format", "pt"}});
}

DOCTEST_TEST_CASE("a CPU contiguous tensor is written from its own memory, others from a contiguous copy") {
  auto contiguous = torch::ones({2, 3});
  auto transposed = torch::ones({3, 2}).t();
  auto prepared = tt::io::detail::prepare_safetensors("unused", {{"a", contiguous}, {"b", transposed}}, {});
  DOCTEST_CHECK(prepared.tensors[0].data_ptr() == contiguous.data_ptr());
  DOCTEST_CHECK(prepared.tensors[1].data_ptr() != transposed.data_ptr());
  DOCTEST_CHECK(prepared.tensors[1].is_contiguous());
}

DOCTEST_TEST_CASE("the safetensors layout is the specification's, byte for byte") {
  auto folder = fresh_folder("layout");
  // The reference implementation's own test vectors: one F32 tensor [1, 2, 3] holding 0..5,
  // no metadata; the header is padded with spaces to a multiple of 8 bytes.
  auto data = bytes_of_floats({0, 1, 2, 3, 4, 5});
  auto values = torch::arange(6, torch::kFloat32);
  tt::io::save_safetensors(folder / "a.safetensors", {{"attn.0", values.reshape({1, 2, 3})}}, {});
  DOCTEST_CHECK(tt::io::read_file(folder / "a.safetensors") ==
                safetensors_bytes(R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})", data));
  tt::io::save_safetensors(folder / "b.safetensors", {{"attn0", values.reshape({1, 1, 2, 3})}}, {});
  DOCTEST_CHECK(tt::io::read_file(folder / "b.safetensors") ==
                safetensors_bytes(R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       )", data));

  // With the default metadata, read back as the specification says.
  auto path = folder / "model.safetensors";
  tt::io::save_safetensors(path, {{"b", torch::tensor({1.f, 2.f})}, {"a", torch::tensor({7}, torch::kInt64)}});
  auto bytes = tt::io::read_file(path);
  DOCTEST_REQUIRE(bytes.size() >= 8);
  std::uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = length << 8 | static_cast<unsigned char>(bytes[i]);
  DOCTEST_CHECK(length % 8 == 0);
  DOCTEST_REQUIRE(8 + length <= bytes.size());
  auto header = nlohmann::ordered_json::parse(bytes.substr(8, length));
  DOCTEST_CHECK(header.dump() ==
                R"({"__metadata__":{"format":"pt"},"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})");
  DOCTEST_CHECK(bytes.size() == 8 + length + 16);
  std::int64_t seven = 7;
  DOCTEST_CHECK(bytes.substr(8 + length, 8) == std::string(reinterpret_cast<const char*>(&seven), 8));
  DOCTEST_CHECK(bytes.substr(8 + length + 8) == bytes_of_floats({1, 2}));
}

DOCTEST_TEST_CASE("save_safetensors through an open FileWriter gives the file's checksum") {
  auto path = fresh_folder("writer_variant") / "model.safetensors";
  tt::io::FileWriter writer(path);
  tt::io::save_safetensors(writer, known_tensors(), {{"format", "pt"}, {"step", "10"}});
  auto checksum = writer.finish();
  DOCTEST_CHECK(tt::io::checksum_file(path) == checksum);
  DOCTEST_CHECK(tt::io::read_safetensors_metadata(path) ==
                tt::io::SafetensorsMetadata{{"format", "pt"}, {"step", "10"}});
  DOCTEST_CHECK(tt::io::load_safetensors(path).size() == known_tensors().size());
}

DOCTEST_TEST_CASE("tensors safetensors cannot hold are refused before a file is created") {
  auto folder = fresh_folder("refused");
  auto path = folder / "model.safetensors";
  auto refused = [&](const tt::io::NamedTensors& tensors) {
    auto message = file_error_of([&] { tt::io::save_safetensors(path, tensors); });
    DOCTEST_CHECK(!fs::exists(path));
    return message;
  };
  auto x = torch::zeros({2});
  DOCTEST_CHECK(refused({{"x", x}, {"x", x}}) == "cannot write '" + path.string() + "': two tensors are named 'x'; rename one");
  DOCTEST_CHECK(contains(refused({{"__metadata__", x}}), "the name safetensors keeps for metadata"));
  DOCTEST_CHECK(contains(refused({{"z", torch::zeros({2}, torch::kComplexFloat)}}),
                         "': tensor 'z' has dtype ComplexFloat; convert it to one of F64, F32"));
  DOCTEST_CHECK(contains(refused({{"u", torch::Tensor()}}), "tensor 'u' is undefined"));
  DOCTEST_CHECK(contains(refused({{"\xff", x}}), "is not valid UTF-8"));
}

DOCTEST_TEST_CASE("a damaged safetensors file is a FileError naming it, never a crash") {
  auto folder = fresh_folder("damaged");
  auto load_error = [&](const std::string& bytes) {
    auto path = folder / "damaged.safetensors";
    write_bytes(path, bytes);
    auto message = file_error_of([&] { tt::io::load_safetensors(path); });
    DOCTEST_CHECK(contains(message, "cannot load '" + path.string() + "': "));
    DOCTEST_CHECK(message.ends_with(damaged_advice));
    return message;
  };

  auto valid = folder / "valid.safetensors";
  tt::io::save_safetensors(valid, known_tensors());
  auto whole = tt::io::read_file(valid);
  std::uint64_t length = static_cast<unsigned char>(whole[0]) | static_cast<unsigned char>(whole[1]) << 8;
  DOCTEST_REQUIRE(length < 65536);
  // Cut anywhere, inside the length, the header or the data: always an error.
  for (std::size_t size = 0; size < whole.size(); ++size) {
    DOCTEST_INFO("cut to ", size, " bytes");
    load_error(whole.substr(0, size));
  }
  DOCTEST_CHECK(contains(load_error(whole.substr(0, 4)), "it is 4 bytes long, too short for the 8-byte header length"));
  DOCTEST_CHECK(contains(load_error(whole.substr(0, 8 + length / 2)),
                         fmt::format("its header is {} bytes long, but only {} bytes follow", length, length / 2)));
  DOCTEST_CHECK(contains(load_error(whole.substr(0, whole.size() - 3)), "not a range within the"));
  DOCTEST_CHECK(contains(load_error(whole + "xyz"), "the last 3 bytes of the data belong to no tensor"));

  // Edited headers, each over 16 bytes of data.
  auto data = bytes_of_floats({1, 2, 3, 4});
  auto with_header = [&](const std::string& header) { return load_error(safetensors_bytes(header, data)); };
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16])"),
                         "its header: not valid JSON: parse error at line 1"));
  DOCTEST_CHECK(contains(with_header("[1, 2]"), "its header is a JSON array, not an object"));
  DOCTEST_CHECK(contains(with_header(R"({"x": 5})"), "tensor 'x' is described by 5, not by an object"));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"shape": [4], "data_offsets": [0, 16]}})"), "tensor 'x' has no \"dtype\""));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F32", "data_offsets": [0, 16]}})"), "tensor 'x' has no \"shape\""));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F32", "shape": [4]}})"), "tensor 'x' has no \"data_offsets\""));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": 4, "shape": [4], "data_offsets": [0, 16]}})"),
                         "tensor 'x' has dtype 4, not a string"));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F33", "shape": [4], "data_offsets": [0, 16]}})"),
                         "tensor 'x' has dtype \"F33\", not one torchtrain reads (F64, F32"));
  for (auto shape : {"[-4]", "[4.0]", "\"4\"", "[[4]]", "[9223372036854775808]"})
    DOCTEST_CHECK(contains(with_header(fmt::format(R"({{"x": {{"dtype": "F32", "shape": {}, "data_offsets": [0, 16]}}}})", shape)),
                           fmt::format("tensor 'x' has shape {}, not a list of non-negative integers", nlohmann::json::parse(shape).dump())));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 16]}})"),
                         "more bytes than any file holds"));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 1600]}})"),
                         "tensor 'x' has data_offsets [0, 1600], not a range within the 16 bytes of data"));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}})"),
                         "not a range within"));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0]}})"),
                         "not a pair of non-negative integers"));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}})"),
                         "tensor 'x' of dtype F32 and shape [3] needs 12 bytes, but its data_offsets [0, 16] hold 16"));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}})"),
                         "the last 4 bytes of the data belong to no tensor"));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                                     R"( "y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})"),
                         "the data of tensors 'x' and 'y' overlap"));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                                     R"( "y": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})"),
                         "bytes 4 to 8 of the data belong to no tensor"));
  DOCTEST_CHECK(contains(with_header(R"({"__metadata__": {"step": 10}, "x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})"),
                         "its __metadata__ 'step' is 10, not a string"));
  DOCTEST_CHECK(contains(with_header(R"({"__metadata__": [], "x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})"),
                         "its __metadata__ is [], not an object"));
  DOCTEST_CHECK(contains(with_header(R"({"x": )" + std::string(100'000, '[') + std::string(100'000, ']') + "}"),
                         "its header: arrays and objects nest more than 16 levels deep"));
  DOCTEST_CHECK(contains(with_header(R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 1e400]}})"),
                         "its header: number overflow parsing '1e400', beyond the range of a double"));
  DOCTEST_CHECK(contains(load_error(safetensors_bytes(R"({"b": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}})",
                                                      std::string("\x01\x02", 2))),
                         "tensor 'b' of dtype BOOL holds a byte other than 0 and 1"));
  auto huge_length = std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}";
  DOCTEST_CHECK(contains(load_error(huge_length), "but only 2 bytes follow"));

  // Random bytes changed in the header: loaded or refused with a FileError, nothing else.
  std::mt19937 random(7);
  std::uniform_int_distribution<std::size_t> position(0, 8 + length - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  auto path = folder / "fuzzed.safetensors";
  for (int round = 0; round < 300; ++round) {
    auto bytes = whole;
    for (int edits = 0; edits < 1 + round % 3; ++edits) bytes[position(random)] = static_cast<char>(byte(random));
    write_bytes(path, bytes);
    auto message = file_error_of([&] { tt::io::load_safetensors(path); });
    DOCTEST_INFO("round ", round, ": ", message);
    DOCTEST_CHECK((message == "no error" || contains(message, "cannot load '" + path.string() + "'")));
  }
}

DOCTEST_TEST_CASE("a file for Python's safetensors reader (checked by safetensors_check.py)") {
  const char* given = std::getenv("TORCHTRAIN_SAFETENSORS_FOR_PYTHON");
  auto path = given ? fs::path(given) : fresh_folder("for_python") / "for_python.safetensors";
  tt::io::save_safetensors(path, known_tensors());
  DOCTEST_CHECK(tt::io::load_safetensors(path).size() == known_tensors().size());
}

// `value` in `width` bytes, little-endian, as pickles and zip files write numbers.
std::string little_endian(std::uint64_t value, int width) {
  std::string bytes;
  for (int i = 0; i < width; ++i) bytes += static_cast<char>(value >> (8 * i));
  return bytes;
}

// Found by fuzz.readers: LibTorch's unpickler allocated what a crafted pickle declared (a
// 4 GB string, a memo of a billion entries) before it found the pickle short.
DOCTEST_TEST_CASE("a pickle that declares more than it holds is refused before LibTorch reads it") {
  const std::string protocol = "\x80\x02";
  // What torch.save writes passes, and so does a pickle using what it declares.
  auto dict = tt::io::python_dict();
  dict.insert("name", "weights");
  dict.insert("tensor", torch::arange(6));
  DOCTEST_CHECK_NOTHROW(tt::io::check_archive(tt::io::torch_save_bytes(dict)));
  DOCTEST_CHECK(tt::io::pickle_problem(protocol + "X" + little_endian(3, 4) + "abcq" + little_endian(0, 1) + ".") == "");
  // Lengths past the end, memo indexes past the pickle's size, a cut opcode.
  DOCTEST_CHECK(tt::io::pickle_problem(protocol + "X" + little_endian(0xfffffff0, 4) + "abc.") ==
                "4294967280 bytes where 4 are left");
  DOCTEST_CHECK(tt::io::pickle_problem(protocol + "\x8d" + little_endian(std::uint64_t{1} << 40, 8) + "ab.") ==
                "1099511627776 bytes where 3 are left");
  DOCTEST_CHECK(tt::io::pickle_problem(protocol + "Nr" + little_endian(0x40000000, 4) + ".") ==
                "a memo index of 1073741824 in a pickle of 9 bytes");
  DOCTEST_CHECK(tt::io::pickle_problem(protocol + "Np99999999\n.") == "a memo index of 99999999 in a pickle of 14 bytes");
  DOCTEST_CHECK(tt::io::pickle_problem(protocol + "J\x01") == "an opcode cut off after 3 bytes");
  // Such a data.pkl in a torch.save file: a FileError naming the file and the record.
  std::string file;
  {
    caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, std::size_t size) {
      file.append(static_cast<const char*>(data), size);
      return size;
    });
    const auto pickle = protocol + "Nr" + little_endian(0x40000000, 4) + ".";
    writer.writeRecord("data.pkl", pickle.data(), pickle.size());
    writer.writeEndOfFile();
  }
  DOCTEST_CHECK_THROWS_WITH_AS(tt::io::torch_load_bytes(file, "hostile.pt"),
                               doctest::Contains("cannot read 'hostile.pt' as a torch.save file: its data.pkl declares "
                                                 "a memo index of 1073741824"),
                               tt::FileError);
}

// A zip file of one record `name` holding `content`, whose central directory says it is
// stored with `method`, is `declared_size` bytes long and takes `declared_compressed_size`
// bytes (by default the content's), both in a zip64 extra field when either is 4 GB or more.
std::string zip_of_one_record(const std::string& name, const std::string& content, std::uint16_t method,
                              std::uint64_t declared_size,
                              std::optional<std::uint64_t> declared_compressed_size = std::nullopt) {
  const auto compressed_size = declared_compressed_size.value_or(content.size());
  const bool zip64 = declared_size >= 0xffffffff || compressed_size >= 0xffffffff;
  const auto size32 = little_endian(zip64 ? 0xffffffff : declared_size, 4);
  const auto extra = zip64 ? little_endian(1, 2) + little_endian(16, 2) + little_endian(declared_size, 8) +
                                 little_endian(compressed_size, 8)
                           : std::string();
  const auto crc = little_endian(crc32(0, reinterpret_cast<const Bytef*>(content.data()), content.size()), 4);
  const auto name_length = little_endian(name.size(), 2);
  const auto local = "PK\x03\x04" + little_endian(20, 2) + little_endian(0, 2) + little_endian(method, 2) +
                     little_endian(0, 4) + crc + little_endian(content.size(), 4) + little_endian(content.size(), 4) +
                     name_length + little_endian(0, 2) + name + content;
  const auto central = "PK\x01\x02" + little_endian(45, 2) + little_endian(45, 2) + little_endian(0, 2) +
                       little_endian(method, 2) + little_endian(0, 4) + crc +
                       little_endian(zip64 ? 0xffffffff : compressed_size, 4) + size32 + name_length +
                       little_endian(extra.size(), 2) + little_endian(0, 2) + little_endian(0, 2) +
                       little_endian(0, 2) + little_endian(0, 4) + little_endian(0, 4) + name + extra;
  const auto end = "PK\x05\x06" + little_endian(0, 2) + little_endian(0, 2) + little_endian(1, 2) +
                   little_endian(1, 2) + little_endian(central.size(), 4) + little_endian(local.size(), 4) +
                   little_endian(0, 2);
  return local + central + end;
}

// LibTorch's zip reader allocates the size a record declares before it reads or inflates it.
// LibTorch archives deflate their code records, so a deflated record is read when its size
// is one deflate can reach.
DOCTEST_TEST_CASE("a zip directory that declares more than the file holds is refused before LibTorch reads it") {
  // What torch.save writes passes, and so does a record that holds what it declares.
  auto dict = tt::io::python_dict();
  dict.insert("tensor", torch::arange(6));
  const auto saved = tt::io::torch_save_bytes(dict);
  DOCTEST_CHECK(tt::io::zip_problem(saved) == "");
  torch::serialize::OutputArchive archive;
  archive.write("tensor", torch::arange(6));
  DOCTEST_CHECK(tt::io::zip_problem(tt::io::archive_bytes(archive)) == "");
  const auto honest = zip_of_one_record("archive/version", "3\n", 0, 2);
  DOCTEST_CHECK(tt::io::zip_problem(honest) == "");
  // A deflated record declaring more than its bytes can inflate to, one compressed by a
  // method miniz cannot read, and a stored one declaring a terabyte in its zip64 field: each
  // named with what it declares.
  DOCTEST_CHECK(tt::io::zip_problem(zip_of_one_record("archive/version", "3\n", 8, 2064)) == "");
  DOCTEST_CHECK(tt::io::zip_problem(zip_of_one_record("archive/version", "3\n", 8, 2065)) ==
                "a record archive/version of 2065 bytes deflated into 2, more than deflate can expand them to");
  DOCTEST_CHECK(tt::io::zip_problem(zip_of_one_record("archive/version", "3\n", 12, 2)) ==
                "a record archive/version compressed by method 12, which LibTorch cannot read");
  // A deflated record whose compressed bytes, declared in its zip64 field, would run past the
  // file (and so allow a larger size).
  const auto past_the_end = zip_of_one_record("archive/version", "3\n", 8, std::uint64_t{1} << 32, 1 << 30);
  DOCTEST_CHECK(tt::io::zip_problem(past_the_end) ==
                fmt::format("a record archive/version of 1073741824 compressed bytes in a file of {}",
                            past_the_end.size()));
  const auto terabyte = zip_of_one_record("archive/version", "3\n", 0, std::uint64_t{1} << 40);
  DOCTEST_CHECK(tt::io::zip_problem(terabyte) ==
                fmt::format("a record archive/version of 1099511627776 bytes in a file of {}", terabyte.size()));
  DOCTEST_CHECK_THROWS_WITH_AS(tt::io::torch_load_bytes(terabyte, "hostile.pt"),
                               doctest::Contains("cannot read 'hostile.pt' as a torch.save file: its zip directory "
                                                 "declares a record archive/version of 1099511627776 bytes"),
                               tt::FileError);
  // torch.save's file with its data.pkl marked compressed and 2 GB long, in the central
  // directory only (where LibTorch's reader takes the size from).
  auto compressed = saved;
  auto entry = compressed.find("PK\x01\x02");
  while (entry != std::string::npos && compressed.compare(entry + 46, 16, "archive/data.pkl") != 0)
    entry = compressed.find("PK\x01\x02", entry + 1);
  DOCTEST_REQUIRE(entry != std::string::npos);
  compressed.replace(entry + 10, 2, little_endian(8, 2));
  compressed.replace(entry + 24, 4, little_endian(0x80000000, 4));
  DOCTEST_CHECK_THROWS_WITH_AS(tt::io::torch_load_bytes(compressed, "hostile.pt"),
                               doctest::Contains("its zip directory declares a record archive/data.pkl of 2147483648 "
                                                 "bytes deflated into"),
                               tt::FileError);
}

}  // DOCTEST_TEST_SUITE("io")

}  // namespace io_tests
