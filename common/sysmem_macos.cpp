#include <libproc.h>
#include <mach/mach.h>
#include <sys/resource.h>
#include <sys/sysctl.h>

#include <algorithm>
#include <vector>

#include "common/sysmem.hpp"

namespace llmux {

std::optional<SystemMemory> read_system_memory() {
  uint64_t total = 0;
  size_t len = sizeof total;
  if (::sysctlbyname("hw.memsize", &total, &len, nullptr, 0) != 0) return std::nullopt;
  vm_statistics64_data_t vm{};
  mach_msg_type_number_t count = HOST_VM_INFO64_COUNT;
  if (::host_statistics64(::mach_host_self(), HOST_VM_INFO64, reinterpret_cast<host_info64_t>(&vm), &count) !=
      KERN_SUCCESS)
    return std::nullopt;
  vm_size_t page = 0;
  ::host_page_size(::mach_host_self(), &page);
  uint64_t pages = static_cast<uint64_t>(vm.free_count) + vm.inactive_count + vm.purgeable_count +
                   vm.speculative_count;
  return SystemMemory{total, pages * page};
}

std::optional<uint64_t> process_group_memory(pid_t pgid) {
  int n = ::proc_listpgrppids(pgid, nullptr, 0);
  if (n <= 0) return std::nullopt;
  std::vector<pid_t> pids(static_cast<size_t>(n) + 16);
  n = ::proc_listpgrppids(pgid, pids.data(), static_cast<int>(pids.size() * sizeof(pid_t)));
  if (n <= 0) return std::nullopt;
  uint64_t total = 0;
  for (int i = 0; i < n && i < static_cast<int>(pids.size()); ++i) {
    rusage_info_v2 info{};
    if (::proc_pid_rusage(pids[static_cast<size_t>(i)], RUSAGE_INFO_V2, reinterpret_cast<rusage_info_t*>(&info)) == 0)
      total += info.ri_phys_footprint;
  }
  return total;
}

std::optional<PsiSample> read_memory_psi(const std::string&) { return std::nullopt; }  // no PSI on macOS

std::vector<pid_t> process_group_pids(pid_t pgid) {
  int n = ::proc_listpgrppids(pgid, nullptr, 0);
  if (n <= 0) return {};
  std::vector<pid_t> pids(static_cast<size_t>(n) + 16);
  n = ::proc_listpgrppids(pgid, pids.data(), static_cast<int>(pids.size() * sizeof(pid_t)));
  if (n <= 0) return {};
  pids.resize(std::min(pids.size(), static_cast<size_t>(n)));
  return pids;
}

}  // namespace llmux
