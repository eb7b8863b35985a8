// 8-bit blockwise quantization of optimizer state with a dynamic map, as bitsandbytes does it on the CPU.
#pragma once

#include <cstdint>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::optim {

/// bitsandbytes' dynamic quantization map (`create_dynamic_map(signed)` with its defaults):
/// 256 sorted float32 values in [-1, 1] (signed) or [0, 1] (unsigned), dense near zero
/// (a decimal exponent from 1e-6 to 1 and a shrinking fraction), with 0 and 1 exact.
/// Built with the same float32 operations as the Python, so that it equals bitsandbytes' map
/// to the bit.
TORCHTRAIN_INLINE torch::Tensor dynamic_quantization_map(bool is_signed);

/// Stores float32 tensors as one byte per value: each block of 256 consecutive values (in
/// memory order) is divided by its largest magnitude (its "absmax", kept as a float32), and
/// each quotient is replaced by the index of a near value of `map` (256 sorted values, e.g.
/// dynamic_quantization_map).
///
/// The index is the one bitsandbytes' CPU kernel (`quantize_cpu`) picks, which is not always
/// the nearest: the kernel splits [-1, 1] into 65536 evenly spaced points, gives each point
/// its nearest map value once (a lookup table), and sends each quotient to the table entry of
/// its rounded position. We build the same table with the same float arithmetic, so the codes
/// match bitsandbytes' exactly.
class BlockwiseQuantizer {
 public:
  static constexpr std::int64_t block_size = 256;

  explicit BlockwiseQuantizer(torch::Tensor map);

  const torch::Tensor& map() const { return map_; }

  /// The number of blocks (and so of absmax values) for a tensor of `numel` values.
  static std::int64_t blocks(std::int64_t numel) { return (numel + block_size - 1) / block_size; }

  /// Writes the codes of `values` (float32) into `codes` (uint8, same shape) and each block's
  /// largest magnitude into `absmax` (float32, one per block). A block of zeros gets code 0.
  void quantize(const torch::Tensor& values, torch::Tensor& codes, torch::Tensor& absmax);

  /// The float32 values `codes` stand for: each block's map values times its absmax.
  torch::Tensor dequantize(const torch::Tensor& codes, const torch::Tensor& absmax) const;

 private:
  // `flat` (n values) as rows of block_size, the last row padded with zeros.
  static torch::Tensor blockwise(const torch::Tensor& flat, std::int64_t n);

  // For each of 65536 evenly spaced points of [-1, 1], the index of the first map value whose
  // midpoint with the next is not below the point: bitsandbytes' build_quantize_lut.
  static torch::Tensor lookup_table(const torch::Tensor& map);

  torch::Tensor map_;
  torch::Tensor lookup_;  // uint8, 65536 entries, on the device of the last quantized tensor
};

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>
#include <tuple>
#include <utility>
#include <vector>

#include <c10/util/Exception.h>

namespace torchtrain::optim {

TORCHTRAIN_INLINE torch::Tensor dynamic_quantization_map(bool is_signed) {
  constexpr int exponents = 7;  // decimal exponents -6 to 0
  std::vector<float> values;
  auto append = [&values](const torch::Tensor& tensor) {
    const auto contiguous = tensor.contiguous();
    values.insert(values.end(), contiguous.data_ptr<float>(), contiguous.data_ptr<float>() + contiguous.numel());
  };
  for (int i = 0; i < exponents; ++i) {
    // 2^i fractions per exponent when signed (each with both signs), 2^(i+1) when not.
    const std::int64_t fractions = std::int64_t{1} << (is_signed ? i : i + 1);
    const auto boundaries = torch::linspace(0.1, 1, fractions + 1, torch::kFloat);
    const auto means = (boundaries.slice(0, 0, -1) + boundaries.slice(0, 1)) / 2.0;
    const auto scaled = means * std::pow(10.0, i - (exponents - 1));  // Python's 10 ** (i - 6)
    append(scaled);
    if (is_signed) append(-scaled);
  }
  values.push_back(0.0f);
  values.push_back(1.0f);
  TORCH_CHECK(values.size() == 256, "the dynamic map has ", values.size(), " values, not 256");
  return std::get<0>(torch::tensor(values, torch::kFloat).sort());
}

TORCHTRAIN_INLINE BlockwiseQuantizer::BlockwiseQuantizer(torch::Tensor map) : map_(std::move(map)) {
  TORCH_CHECK(map_.dim() == 1 && map_.numel() == 256 && map_.scalar_type() == torch::kFloat,
              "a quantization map holds 256 float32 values");
  lookup_ = lookup_table(map_.to(torch::kCPU).contiguous());
}

TORCHTRAIN_INLINE void BlockwiseQuantizer::quantize(const torch::Tensor& values, torch::Tensor& codes,
                                                    torch::Tensor& absmax) {
  const auto n = values.numel();
  const auto padded = blockwise(values.reshape(-1), n);
  const auto block_absmax = padded.abs().amax(1);
  const auto empty = (block_absmax == 0).unsqueeze(1);
  // The kernel multiplies by 1 / absmax; a block of zeros (whose codes are 0) must not make NaNs.
  const auto inverse = torch::where(block_absmax == 0, torch::zeros_like(block_absmax), block_absmax.reciprocal());
  const auto scaled = (padded * inverse.unsqueeze(1)).clamp(-1, 1);
  // The position of each quotient among the table's 65536 points, rounded as the kernel does:
  // (value + 1) * 0.5 * 65535 + 0.5 in float32, truncated.
  const auto position = scaled.add(1.0).mul(0.5).mul(65535.0).add(0.5).to(torch::kLong);
  if (lookup_.device() != values.device()) lookup_ = lookup_.to(values.device());
  const auto found = lookup_.index({position.reshape(-1)}).view(padded.sizes());
  const auto block_codes = torch::where(empty, torch::zeros_like(found), found);
  codes.copy_(block_codes.reshape(-1).narrow(0, 0, n).view(codes.sizes()));
  absmax.copy_(block_absmax);
}

TORCHTRAIN_INLINE torch::Tensor BlockwiseQuantizer::dequantize(const torch::Tensor& codes,
                                                               const torch::Tensor& absmax) const {
  const auto n = codes.numel();
  const auto mapped = map_.to(codes.device()).index({codes.reshape(-1).to(torch::kLong)});
  const auto scaled = blockwise(mapped, n) * absmax.unsqueeze(1);
  return scaled.reshape(-1).narrow(0, 0, n).view(codes.sizes()).contiguous();
}

TORCHTRAIN_INLINE torch::Tensor BlockwiseQuantizer::blockwise(const torch::Tensor& flat, std::int64_t n) {
  const auto padding = blocks(n) * block_size - n;
  return torch::constant_pad_nd(flat, {0, padding}, 0).view({-1, block_size});
}

TORCHTRAIN_INLINE torch::Tensor BlockwiseQuantizer::lookup_table(const torch::Tensor& map) {
  const float* code = map.data_ptr<float>();
  constexpr int points = 65536, entries = 256;
  float midpoints[entries - 1];
  for (int i = 0; i < entries - 1; ++i) midpoints[i] = 0.5f * (code[i] + code[i + 1]);
  auto table = torch::empty({points}, torch::kUInt8);
  auto* out = table.data_ptr<std::uint8_t>();
  int index = 0;
  for (int i = 0; i < points; ++i) {
    const float point = -1.0f + (2.0f * static_cast<float>(i)) / static_cast<float>(points - 1);
    while (index < entries - 1 && midpoints[index] < point) ++index;
    out[i] = static_cast<std::uint8_t>(index);
  }
  return table;
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS
