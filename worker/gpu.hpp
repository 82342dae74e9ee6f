// GPU memory, behind one small interface so that admission, ceilings and status can count it and tests can inject
// a fake. Linux + NVIDIA: NVML loaded at run time (dlopen "libnvidia-ml.so.1", no build dependency; absent = off,
// said once in the log), worker/gpu_nvml_linux.cpp. macOS: the Metal wired-memory limit (sysctl
// iogpu.wired_limit_mb, else the default share of RAM) as the one "device" a Metal engine can fill, with the
// engine's own GPU memory inside its phys_footprint (worker/gpu_macos.cpp). Calls are synchronous and cheap
// (microseconds to a millisecond); call them at the sampling rate, never per request. Never throws.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmux {

struct GpuDevice {
  unsigned index = 0;
  std::string name;
  uint64_t used = 0, total = 0;
  bool unified = false;  // its memory is system memory (Apple Silicon): counted by the host figures already
};

class GpuProbe {
 public:
  virtual ~GpuProbe() = default;
  virtual std::string name() const = 0;  // "nvml", "metal", "none", "fake"
  virtual std::vector<GpuDevice> devices() = 0;
  // Whether process_memory can tell anything (listing a process group's pids costs a /proc walk).
  virtual bool per_process() const { return false; }
  // GPU memory used by these processes, summed over every device (nullopt: cannot tell).
  virtual std::optional<uint64_t> process_memory(const std::vector<pid_t>& pids) = 0;
};

// The platform's probe: NVML when it loads and initialises, the Metal limit on macOS, otherwise one that reports
// nothing. The first call logs which (once).
std::unique_ptr<GpuProbe> make_gpu_probe();

// A probe that reports nothing (name "none").
std::unique_ptr<GpuProbe> make_null_gpu_probe();

// The first discrete device's free memory (total - used), and its total; nullopt when there is none.
struct GpuFree {
  uint64_t free = 0, total = 0;
};
std::optional<GpuFree> discrete_gpu_free(GpuProbe& probe);

}  // namespace llmux
