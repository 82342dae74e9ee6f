#include "common/footprint.hpp"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <utility>

namespace llmux {
namespace {

namespace fs = std::filesystem;

constexpr std::array<std::string_view, 3> kWeightExtensions = {".gguf", ".safetensors", ".npz"};
constexpr int kMaxDepth = 16;  // directory nesting walked below a weights directory

bool has_weight_extension(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::any_of(kWeightExtensions.begin(), kWeightExtensions.end(),
                     [&](std::string_view ext) { return lower.ends_with(ext); });
}

bool has_glob_chars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

std::vector<std::string> glob_paths(const std::string& pattern) {
  glob_t g{};
  std::vector<std::string> out;
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  return out;
}

std::string glob_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// "dir/x-00001-of-00003.gguf" → a glob for every part of the split model; "" when the name is not a first part.
std::string split_parts_glob(const std::string& path) {
  static constexpr std::string_view kFirst = "-00001-of-";
  const size_t at = path.rfind(kFirst);
  if (at == std::string::npos) return "";
  const size_t tail = at + kFirst.size();  // 5 digits of the part count, then ".gguf"
  if (path.size() != tail + 5 + 5 || !path.ends_with(".gguf")) return "";
  const std::string total = path.substr(tail, 5);
  if (!std::all_of(total.begin(), total.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) return "";
  return glob_escape(path.substr(0, at)) + "-[0-9][0-9][0-9][0-9][0-9]-of-" + total + ".gguf";
}

// Sums regular files, each (device, inode) once, so symlinked blobs and directory loops count once.
class Measure {
 public:
  void add(const std::string& path, bool named_directly, int depth = 0) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return;  // follows symlinks
    if (S_ISDIR(st.st_mode)) {
      walk(path, st, depth);
    } else if (S_ISREG(st.st_mode) && (named_directly || has_weight_extension(fs::path(path).filename().string()))) {
      if (seen_.insert({st.st_dev, st.st_ino}).second) total_ += static_cast<uint64_t>(st.st_size);
      found_ = true;
    }
  }
  std::optional<uint64_t> result() const { return found_ ? std::optional<uint64_t>(total_) : std::nullopt; }

 private:
  void walk(const std::string& dir, const struct stat& st, int depth) {
    if (depth > kMaxDepth || !seen_dirs_.insert({st.st_dev, st.st_ino}).second) return;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      add(it->path().string(), false, depth + 1);
    }
  }

  std::set<std::pair<dev_t, ino_t>> seen_, seen_dirs_;
  uint64_t total_ = 0;
  bool found_ = false;
};

const char* env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

}  // namespace

std::string hf_hub_cache() {
  if (const char* hub = env("HF_HUB_CACHE")) return hub;
  if (const char* home = env("HF_HOME")) return std::string(home) + "/hub";
  if (const char* xdg = env("XDG_CACHE_HOME")) return std::string(xdg) + "/huggingface/hub";
  if (const char* home = env("HOME")) return std::string(home) + "/.cache/huggingface/hub";
  return "";
}

namespace {

bool looks_like_repo_id(const std::string& s) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == s.size()) return false;
  if (s.find('/', slash + 1) != std::string::npos || s.starts_with('.') || s.starts_with('~')) return false;
  return std::none_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

bool is_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// The snapshot `refs/main` points at, else the most recently modified one.
std::string hf_snapshot(const std::string& repo_id) {
  const std::string hub = hf_hub_cache();
  if (hub.empty()) return "";
  std::string repo_dir = hub + "/models--" + repo_id;
  repo_dir.replace(repo_dir.rfind('/'), 1, "--");
  std::string ref;
  std::ifstream(repo_dir + "/refs/main") >> ref;
  if (!ref.empty() && is_dir(repo_dir + "/snapshots/" + ref)) return repo_dir + "/snapshots/" + ref;
  std::string newest;
  fs::file_time_type newest_time;
  for (const std::string& snapshot : glob_paths(glob_escape(repo_dir) + "/snapshots/*")) {
    std::error_code ec;
    const fs::file_time_type t = fs::last_write_time(snapshot, ec);
    if (ec || !is_dir(snapshot)) continue;
    if (newest.empty() || t > newest_time) {
      newest = snapshot;
      newest_time = t;
    }
  }
  return newest;
}

std::string basename_of(const std::string& arg) {
  const size_t slash = arg.rfind('/');
  return slash == std::string::npos ? arg : arg.substr(slash + 1);
}

// Values of the model flags, and `vllm serve X` / `vllm-mlx serve X`, in argv order.
std::vector<std::string> model_arguments(const std::vector<std::string>& argv) {
  static constexpr std::string_view kFlags[] = {"-m", "--model", "--model-path"};
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    const bool has_next = i + 1 < argv.size();
    for (std::string_view flag : kFlags) {
      if (arg == flag && has_next) out.push_back(argv[i + 1]);
      if (arg.size() > flag.size() + 1 && arg.starts_with(flag) && arg[flag.size()] == '=') {
        out.push_back(arg.substr(flag.size() + 1));
      }
    }
    const bool serve = arg == "serve" && i > 0 && has_next && !argv[i + 1].starts_with('-');
    const std::string engine = i > 0 ? basename_of(argv[i - 1]) : "";
    if (serve && (engine == "vllm" || engine == "vllm-mlx")) out.push_back(argv[i + 1]);
  }
  return out;
}

}  // namespace

std::string expand_home(const std::string& path) {
  const char* home = env("HOME");
  if (home == nullptr || !(path == "~" || path.starts_with("~/"))) return path;
  return std::string(home) + path.substr(1);
}

std::optional<uint64_t> weights_size(const std::string& path_or_glob) {
  const std::string path = expand_home(path_or_glob);
  if (path.empty()) return std::nullopt;
  Measure measure;
  if (has_glob_chars(path)) {
    for (const std::string& match : glob_paths(path)) measure.add(match, false);
    return measure.result();
  }
  measure.add(path, true);
  if (const std::string parts = split_parts_glob(path); !parts.empty()) {
    for (const std::string& part : glob_paths(parts)) measure.add(part, true);
  }
  return measure.result();
}

std::string detect_weights_path(const std::vector<std::string>& argv) {
  const std::vector<std::string> values = model_arguments(argv);
  for (const std::string& value : values) {
    const std::string path = expand_home(value);
    std::error_code ec;
    if (!path.empty() && fs::exists(path, ec)) return path;
  }
  for (const std::string& value : values) {
    if (!looks_like_repo_id(value)) continue;
    if (std::string snapshot = hf_snapshot(value); !snapshot.empty()) return snapshot;
  }
  return "";
}

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  size_t unit = 0;
  double value = static_cast<double>(bytes);
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  uint64_t tenths = static_cast<uint64_t>(value * 10 + 0.5);
  if (tenths >= 10240 && unit + 1 < std::size(kUnits)) {  // 1023.96 MiB prints as 1 GiB, not 1024 MiB
    value /= 1024;
    ++unit;
    tenths = static_cast<uint64_t>(value * 10 + 0.5);
  }
  std::string text = std::to_string(tenths / 10);
  if (tenths % 10 != 0) text += "." + std::to_string(tenths % 10);
  return text + " " + kUnits[unit];
}

}  // namespace llmux
