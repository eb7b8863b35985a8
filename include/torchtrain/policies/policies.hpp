// All policies, by category.
#pragma once

#include <torchtrain/policies/accumulation/accumulation.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/checkpointer/async_checkpoint.hpp>
#include <torchtrain/policies/checkpointer/no_checkpoint.hpp>
#include <torchtrain/policies/checkpointer/sync_checkpoint.hpp>
#include <torchtrain/policies/logger/console_logger.hpp>
#include <torchtrain/policies/logger/csv_logger.hpp>
#include <torchtrain/policies/logger/json_lines_logger.hpp>
#include <torchtrain/policies/logger/log_folder.hpp>
#include <torchtrain/policies/logger/loggers.hpp>
#include <torchtrain/policies/logger/progress_bar.hpp>
#include <torchtrain/policies/logger/report_to.hpp>
#include <torchtrain/policies/logger/tensorboard_logger.hpp>
#include <torchtrain/policies/policy_set.hpp>
#include <torchtrain/policies/precision/bf16.hpp>
#include <torchtrain/policies/precision/fp16.hpp>
#include <torchtrain/policies/precision/fp32.hpp>
#include <torchtrain/policies/precision/grad_scaler.hpp>
#include <torchtrain/policies/precision/with_precision.hpp>
#include <torchtrain/policies/strategy/ddp.hpp>
#include <torchtrain/policies/strategy/single_device.hpp>
