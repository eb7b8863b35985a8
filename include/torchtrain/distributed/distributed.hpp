// Distributed runs: who this process is (environment), the process group and its errors (and torchrun's error file).
#pragma once

#include <torchtrain/core/errors.hpp>
#include <torchtrain/distributed/block_sharding.hpp>
#include <torchtrain/distributed/environment.hpp>
#include <torchtrain/distributed/error_file.hpp>
#include <torchtrain/distributed/process_group.hpp>
#include <torchtrain/distributed/sharding.hpp>
