#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/sysmem.hpp"

namespace llmux {

std::optional<SystemMemory> read_system_memory() {
  std::ifstream in("/proc/meminfo");
  if (!in) return std::nullopt;
  SystemMemory m;
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  bool have_total = false, have_available = false;
  while (in >> key >> kb) {
    std::getline(in, unit);
    if (key == "MemTotal:") m.total = kb * 1024, have_total = true;
    if (key == "MemAvailable:") m.available = kb * 1024, have_available = true;
  }
  if (!have_total || !have_available) return std::nullopt;
  return m;
}

namespace {

// pgid (field 5) and rss pages (field 24) from /proc/<pid>/stat; the comm field may hold spaces and ')'.
bool read_stat(const char* pid, pid_t& pgid, uint64_t& rss_pages) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%s/stat", pid);
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  long long v = 0;
  for (int i = 3; i <= 24 && (rest >> field); ++i) {
    if (i == 5) pgid = static_cast<pid_t>(std::stoll(field));
    if (i == 24) v = std::stoll(field);
  }
  rss_pages = v > 0 ? static_cast<uint64_t>(v) : 0;
  return true;
}

}  // namespace

std::optional<uint64_t> process_group_memory(pid_t pgid) {
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return std::nullopt;
  uint64_t pages = 0;
  bool found = false;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    pid_t group = 0;
    uint64_t rss = 0;
    if (!read_stat(e->d_name, group, rss) || group != pgid) continue;
    pages += rss;
    found = true;
  }
  ::closedir(dir);
  if (!found) return std::nullopt;
  return pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::optional<PsiSample> read_memory_psi(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  PsiSample s;
  std::string kind, avg10;
  bool any = false;
  while (in >> kind >> avg10) {
    std::string rest;
    std::getline(in, rest);
    if (avg10.rfind("avg10=", 0) != 0) continue;
    double v = std::strtod(avg10.c_str() + 6, nullptr);
    if (kind == "some") s.some_avg10 = v, any = true;
    if (kind == "full") s.full_avg10 = v;
  }
  if (!any) return std::nullopt;
  return s;
}

}  // namespace llmux

namespace llmux {

std::vector<pid_t> process_group_pids(pid_t pgid) {
  std::vector<pid_t> out;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    pid_t group = 0;
    uint64_t rss = 0;
    if (read_stat(e->d_name, group, rss) && group == pgid) out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
  }
  ::closedir(dir);
  return out;
}

}  // namespace llmux
