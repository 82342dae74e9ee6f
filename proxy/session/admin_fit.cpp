// GET /fit: the what-if memory report of a configured model (proxy/session/admin_fit.hpp).
#include "common/errors.hpp"
#include "proxy/http/routes.hpp"
#include "proxy/policy/footprint_view.hpp"
#include "proxy/session/admin_fit.hpp"

namespace llmux {

std::string fit_json_body(const Coordinator& c, std::string_view target, std::optional<ApiError>& error) {
  const std::string name = query_param(target, "model");
  if (name.empty()) {
    error = bad_request("GET /fit needs ?model=NAME (a configured model or alias)", "invalid_query");
    return "";
  }
  const ModelConfig* m = c.config()->resolve(name);
  if (m == nullptr) {
    std::string known;
    for (const auto& mc : c.config()->models) known += (known.empty() ? "" : ", ") + mc.id;
    error = not_found("model '" + name + "' not found; available: " + known, "model_not_found");
    return "";
  }
  const Footprint base = c.footprint(*m, {});
  const FitArgs extra = fit_engine_args(base.engine, query_param(target, "ctx"), query_param(target, "kvBits"),
                                        query_param(target, "parallel"));
  if (!extra.error.empty()) {
    error = bad_request(extra.error, "invalid_query");
    return "";
  }
  const Footprint f = c.footprint(*m, extra.args);
  return fit_json(m->id, f, c.memory_now(), c.config()->memory).dump(-1, ' ', false,
                                                                        nlohmann::json::error_handler_t::replace);
}

}  // namespace llmux
