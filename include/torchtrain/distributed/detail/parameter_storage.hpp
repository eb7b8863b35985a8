// Freeing and refilling a parameter's memory in place, so that autograd's saved views of it see the refilled values.
#pragma once

#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::distributed::detail {

/// Frees the memory of `parameter`'s storage; the parameter keeps its shape. Every
/// tensor that views the storage (what autograd saved of the parameter in forward, say)
/// sees the memory come back with allocate_storage, which is why the storage itself is
/// emptied rather than the parameter given new data (as PyTorch's FSDP resizes storage).
TORCHTRAIN_INLINE void free_storage(const torch::Tensor& parameter);

/// Gives `parameter`'s storage memory for its elements again (uninitialized).
TORCHTRAIN_INLINE void allocate_storage(const torch::Tensor& parameter);

/// True while the storage holds memory.
inline bool has_storage(const torch::Tensor& parameter) { return parameter.storage().nbytes() > 0; }

}  // namespace torchtrain::distributed::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cstddef>

#include <c10/core/StorageImpl.h>

namespace torchtrain::distributed::detail {

TORCHTRAIN_INLINE void free_storage(const torch::Tensor& parameter) {
  auto* storage = parameter.storage().unsafeGetStorageImpl();
  storage->set_data_ptr_noswap(at::DataPtr(nullptr, parameter.device()));
  storage->set_nbytes(0);
}

TORCHTRAIN_INLINE void allocate_storage(const torch::Tensor& parameter) {
  auto* storage = parameter.storage().unsafeGetStorageImpl();
  const auto bytes = static_cast<std::size_t>(parameter.storage_offset() + parameter.numel()) * parameter.element_size();
  storage->set_data_ptr_noswap(storage->allocator()->allocate(bytes));
  storage->set_nbytes(bytes);
}

}  // namespace torchtrain::distributed::detail

#endif  // TORCHTRAIN_DEFINITIONS
