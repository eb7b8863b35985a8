// Must not compile: a checkpointer that cannot read its own checkpoints. Its twin (TORCHTRAIN_TWIN) can and compiles.
#include <torchtrain/torchtrain.hpp>

namespace my {
struct Checkpointer {
  using torchtrain_category = torchtrain::category::checkpointer;
  static constexpr bool writes_checkpoints = true;
  void save(torchtrain::Checkpoint checkpoint, const torchtrain::SaveRequest& request) {
    torchtrain::save_checkpoint(checkpoint, request);
  }
  void wait() {}
  std::filesystem::path folder_for(const std::filesystem::path& output_dir, int step) const {
    return torchtrain::checkpoint_folder(output_dir, step);
  }
  std::optional<std::filesystem::path> latest(const std::filesystem::path& output_dir) const {
    return torchtrain::latest_checkpoint(output_dir);
  }
#ifdef TORCHTRAIN_TWIN
  torchtrain::Checkpoint read(const std::filesystem::path& folder, bool model_only) const {
    return torchtrain::read_checkpoint(folder, model_only);
  }
#endif
};
}  // namespace my

int main() { return sizeof(torchtrain::Trainer<my::Checkpointer>) > 0 ? 0 : 1; }
