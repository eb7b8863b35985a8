// scaled_dot_product_attention: LibTorch's fused attention under one name on every version.
#pragma once

#include <tuple>

#include <ATen/ATen.h>
#include <torch/version.h>

namespace torchtrain::nn {

/// softmax(q kᵀ / sqrt(d)) v over [batch, heads, length, head_dim] tensors, masked so that
/// position t sees only positions <= t when `is_causal`. LibTorch's kernel (flash or
/// memory-efficient attention on CUDA where it can): public from LibTorch 2.0, the private
/// `_scaled_dot_product_attention` in 1.13.
inline at::Tensor scaled_dot_product_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                               bool is_causal) {
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(query, key, value, /*attn_mask=*/{}, /*dropout_p=*/0.0, is_causal);
#else
  return std::get<0>(at::_scaled_dot_product_attention(query, key, value, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                                       /*need_attn_weights=*/false, is_causal));
#endif
}

}  // namespace torchtrain::nn
