// The checkpoint reader of the fuzz binary, in a translation unit of its own (it builds a
// Trainer, whose headers take the longest to compile; two units compile in parallel).
#pragma once

#include <string_view>

namespace fuzz {

/// Trains a small model for 2 steps and keeps its checkpoint's files in memory: the valid
/// folder each input damages. With TORCHTRAIN_FUZZ_WRITE_SEEDS=<folder>, also writes one
/// seed per file there (the file's selector byte, then its bytes).
void prepare_checkpoint();

/// The first byte picks a file of the checkpoint (low 4 bits) and how it is laid out (bit
/// 4: the manifest keeps the file's old size and CRC, as for a damaged file; bit 5: the
/// Python Trainer's layout, with no manifest); the rest replaces that file. A Trainer then
/// resumes from the folder, which must work or throw FileError or ArgumentError naming it.
void read_checkpoint_file(std::string_view bytes);

}  // namespace fuzz
