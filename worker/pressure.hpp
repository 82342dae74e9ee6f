// PressureMonitor: tells the daemon when system memory pressure changes level (normal / warning / critical).
// Event-driven where the platform allows: Linux PSI trigger on /proc/pressure/memory (POLLPRI), then 1 s
// sampling only while the level is above normal; macOS dispatch memory-pressure source (pressure_macos.cpp).
// Where neither is available it samples every 2 s, and only while a worker is resident (set_active).
// Tests inject levels through a file named by LLMUX_PRESSURE_FILE ("normal", "warning" or "critical"), read every
// 100 ms. Callbacks run on the io_context; never throws.
#pragma once

#include <functional>
#include <memory>

#include "common/config.hpp"
#include "common/net.hpp"
#include "common/sysmem.hpp"

namespace llmux {

class PressureMonitor {
 public:
  using Handler = std::function<void(Pressure)>;
  PressureMonitor(net::io_context& io, Handler on_change);
  ~PressureMonitor();
  void configure(const MemoryConfig& m);  // thresholds (reload)
  void set_active(bool active);           // a worker is resident: polling fallbacks run only then
  Pressure level();                       // samples (unless sampled < 100 ms ago) and returns the level
  Pressure current() const;               // the last level seen, without sampling
  const char* source() const;             // "psi-trigger", "dispatch", "poll", "file"

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace llmux
