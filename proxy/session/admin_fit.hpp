// GET /fit?model=M[&ctx=N][&kvBits=B][&parallel=N]: the what-if memory report (proxy/policy/footprint_view.hpp) of
// a configured model, from the coordinator's estimate and what is free now.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/errors.hpp"
#include "proxy/daemon/coordinator.hpp"

namespace llmux {

// The JSON body; `error` set (400/404) for an unknown model or a malformed value.
std::string fit_json_body(const Coordinator& c, std::string_view target, std::optional<ApiError>& error);

}  // namespace llmux
