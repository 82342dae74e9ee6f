// llama-swap's concurrencyLimit (ModelConfig::refuse_over_limit): a request for a model that is resident and ready
// with maxConcurrency requests already running is refused with 429 at once, as llama-swap does, instead of waiting
// in the model's queue (llmux's maxConcurrency). A model that is not resident yet queues as usual: its first
// requests wait for the load. Pure.
#pragma once

#include <optional>

#include "common/config.hpp"
#include "common/errors.hpp"
#include "proxy/policy/scheduler.hpp"

namespace llmux {

std::optional<ApiError> concurrency_refusal(const Scheduler& scheduler, const ModelConfig& model);

}  // namespace llmux
