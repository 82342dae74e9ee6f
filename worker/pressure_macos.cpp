// macOS: the kernel's memory-pressure level through a dispatch source; its handler runs on a dispatch queue and
// posts the level to the io_context.
#include <dispatch/dispatch.h>

#include "worker/pressure.hpp"

namespace llmux {

int platform_pressure_trigger_fd() { return -1; }

bool platform_pressure_dispatch(net::io_context& io, std::function<void(Pressure)> on_level) {
  dispatch_source_t src = dispatch_source_create(
      DISPATCH_SOURCE_TYPE_MEMORYPRESSURE, 0,
      DISPATCH_MEMORYPRESSURE_NORMAL | DISPATCH_MEMORYPRESSURE_WARN | DISPATCH_MEMORYPRESSURE_CRITICAL,
      dispatch_get_global_queue(QOS_CLASS_UTILITY, 0));
  if (src == nullptr) return false;
  auto* ctx = new std::pair<net::io_context*, std::function<void(Pressure)>>(&io, std::move(on_level));
  dispatch_source_set_event_handler(src, ^{
    unsigned long data = dispatch_source_get_data(src);
    Pressure p = (data & DISPATCH_MEMORYPRESSURE_CRITICAL) ? Pressure::critical
                 : (data & DISPATCH_MEMORYPRESSURE_WARN)   ? Pressure::warning
                                                           : Pressure::normal;
    net::post(*ctx->first, [ctx, p] { ctx->second(p); });
  });
  dispatch_resume(src);
  return true;  // lives as long as the daemon
}

}  // namespace llmux
