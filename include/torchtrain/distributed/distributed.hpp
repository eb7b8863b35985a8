// Distributed runs: who this process is (environment), the process group and its errors.
#pragma once

#include <torchtrain/distributed/distributed_error.hpp>
#include <torchtrain/distributed/environment.hpp>
#include <torchtrain/distributed/process_group.hpp>
