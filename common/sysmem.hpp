// Memory facts from the operating system, behind one small interface (sysmem_linux.cpp: /proc; sysmem_macos.cpp:
// Mach VM statistics, sysctl, libproc). Synchronous and cheap (a few file reads); call at most about once a second.
// Every function returns nullopt when the platform cannot tell.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmux {

struct SystemMemory {
  uint64_t total = 0;      // physical memory
  uint64_t available = 0;  // what can be given to a new process without swapping (Linux MemAvailable;
                           // macOS free + inactive + purgeable + speculative)
};

std::optional<SystemMemory> read_system_memory();

// System memory pressure as the platform reports it (worker/pressure.hpp watches it).
enum class Pressure { normal = 0, warning = 1, critical = 2 };
inline const char* to_string(Pressure p) {
  switch (p) {
    case Pressure::normal: return "normal";
    case Pressure::warning: return "warning";
    case Pressure::critical: return "critical";
  }
  return "?";
}

// Resident memory of every process in a process group (an engine and its helpers). Linux: sum of RSS; macOS:
// sum of phys_footprint (includes GPU-wired memory of Metal engines).
std::optional<uint64_t> process_group_memory(pid_t pgid);

// The processes of a process group (empty when none or the OS will not tell): for per-process GPU figures.
std::vector<pid_t> process_group_pids(pid_t pgid);

// Linux PSI (/proc/pressure/memory): percentages of time some / all tasks stalled on memory, last 10 s.
struct PsiSample {
  double some_avg10 = 0;
  double full_avg10 = 0;
};
std::optional<PsiSample> read_memory_psi(const std::string& path = "/proc/pressure/memory");

}  // namespace llmux
