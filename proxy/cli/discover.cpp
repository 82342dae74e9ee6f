#include "proxy/cli/discover.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/ascii.hpp"
#include "common/footprint.hpp"

namespace llmux {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxGgufDepth = 3;

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

std::string canonical(const std::string& path) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(path, ec);
  return ec ? path : c.string();
}

// "Qwen3-8B-Q4_K_M" → "qwen3-8b-q4_k_m": lower case, runs of other characters become one '-'.
std::string slug(const std::string& name) {
  std::string out;
  for (unsigned char c : ascii_lower(name)) {
    bool keep = std::isalnum(c) || c == '.' || c == '_' || c == '-';
    if (keep) out.push_back(static_cast<char>(c));
    else if (!out.empty() && out.back() != '-') out.push_back('-');
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "model" : out;
}

// The snapshot `refs/main` points at, else the most recently modified one; "" when there is none.
fs::path pick_snapshot(const fs::path& repo_dir) {
  std::string ref;
  std::ifstream(repo_dir / "refs" / "main") >> ref;
  if (!ref.empty() && is_dir(repo_dir / "snapshots" / ref)) return repo_dir / "snapshots" / ref;
  fs::path newest;
  fs::file_time_type newest_time{};
  std::error_code ec;
  for (fs::directory_iterator it(repo_dir / "snapshots", ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code tec;
    auto t = fs::last_write_time(it->path(), tec);
    if (tec || !is_dir(it->path())) continue;
    if (newest.empty() || t > newest_time) newest = it->path(), newest_time = t;
  }
  return newest;
}

bool has_file_ending(const fs::path& dir, const std::string& ext) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (ascii_lower(it->path().filename().string()).ends_with(ext)) return true;
  return false;
}

bool looks_mlx(const std::string& repo, const fs::path& snapshot) {
  const std::string r = ascii_lower(repo);
  if (r.starts_with("mlx-community/") || r.find("mlx") != std::string::npos) return true;
  std::ifstream in(snapshot / "config.json");
  if (!in) return false;
  auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() && j.contains("quantization") && j["quantization"].is_object();
}

// The part number of a split-model stem "x-00002-of-00003" ("00002"), and the stem without that suffix.
std::optional<std::pair<std::string, std::string>> split_part(const std::string& stem) {
  static constexpr size_t kSuffix = 15;  // "-00001-of-00003"
  if (stem.size() <= kSuffix) return std::nullopt;
  const size_t s = stem.size() - kSuffix;
  auto digits = [&](size_t at) {
    return std::all_of(stem.begin() + static_cast<long>(at), stem.begin() + static_cast<long>(at + 5),
                       [](unsigned char c) { return std::isdigit(c) != 0; });
  };
  if (stem[s] != '-' || stem.compare(s + 6, 4, "-of-") != 0 || !digits(s + 1) || !digits(s + 10)) return std::nullopt;
  return std::make_pair(stem.substr(s + 1, 5), stem.substr(0, s));
}

// A .gguf file as a model; nullopt for projector files and for the non-first parts of a split model.
std::optional<FoundModel> gguf_model(const fs::path& file) {
  const std::string filename = file.filename().string();
  const std::string low = ascii_lower(filename);
  if (!low.ends_with(".gguf") || low.starts_with("mmproj")) return std::nullopt;
  std::string stem = filename.substr(0, filename.size() - 5);
  if (auto part = split_part(stem)) {
    if (part->first != "00001") return std::nullopt;
    stem = part->second;
  }
  auto bytes = weights_size(file.string());
  if (!bytes) return std::nullopt;
  return FoundModel{slug(stem), stem, "gguf", file.string(), *bytes, false};
}

void scan_gguf_dir(const fs::path& dir, std::vector<FoundModel>& out) {
  std::error_code ec;
  auto opts = fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied;
  fs::recursive_directory_iterator it(dir, opts, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (it.depth() >= kMaxGgufDepth - 1) it.disable_recursion_pending();
    std::error_code fec;
    if (!fs::is_regular_file(it->path(), fec)) continue;
    if (auto m = gguf_model(it->path())) out.push_back(std::move(*m));
  }
}

void scan_repo(const fs::path& repo_dir, const std::string& repo, std::vector<FoundModel>& out) {
  const fs::path snapshot = pick_snapshot(repo_dir);
  if (snapshot.empty()) return;
  if (!has_file_ending(snapshot, ".safetensors")) {
    scan_gguf_dir(snapshot, out);
    return;
  }
  auto bytes = weights_size(snapshot.string());
  if (!bytes) return;
  const std::string base = repo.substr(repo.find('/') + 1);
  out.push_back({slug(base), repo, looks_mlx(repo, snapshot) ? "mlx" : "safetensors", snapshot.string(), *bytes, false});
}

// Values an engine command line may name a model by: every word, and the value of `--flag=VALUE` words.
std::vector<std::string> argv_values(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (const auto& a : argv) {
    out.push_back(expand_home(a));
    if (size_t eq = a.find('='); a.starts_with("-") && eq != std::string::npos) out.push_back(expand_home(a.substr(eq + 1)));
  }
  return out;
}

bool named_by(const FoundModel& m, const std::string& canon_path, const std::vector<std::vector<std::string>>& argvs) {
  for (const auto& argv : argvs) {
    for (const auto& v : argv_values(argv)) {
      if (v == m.name && m.format != "gguf") return true;
      std::error_code ec;
      if (fs::exists(v, ec) && canonical(v) == canon_path) return true;
    }
    if (std::string d = detect_weights_path(argv); !d.empty() && canonical(d) == canon_path) return true;
  }
  return false;
}

// A shell word for `cmd`: as is when it is plain, else single-quoted.
std::string shell_word(const std::string& s) {
  bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("/._+-,@%=").find(static_cast<char>(c)) != std::string_view::npos;
  });
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// `cmd:` on one line when the words are plain, else a literal block (YAML needs no escaping inside it).
std::string cmd_yaml(const std::string& cmd) {
  if (cmd.find('\'') == std::string::npos) return "    cmd: " + cmd + "\n";
  return "    cmd: |\n      " + cmd + "\n";
}

std::string snippet_entry(const FoundModel& m) {
  std::string out = "  " + m.id + ":\n";
  if (m.format == "gguf") {
    out += cmd_yaml("llama-server --host 127.0.0.1 --port ${PORT} --alias ${MODEL_ID} --n-gpu-layers 99 --jinja -m " +
                    shell_word(m.path) + " --ctx-size 8192");
    return out + "    checkEndpoint: /health\n";
  }
  if (m.format == "mlx") {
    out += cmd_yaml("mlx_lm.server --host 127.0.0.1 --port ${PORT} --model " + shell_word(m.name));
    return out + "    useModelName: " + m.name + "\n    readiness: completion\n";
  }
  out += cmd_yaml("vllm serve " + shell_word(m.name) +
                  " --host 127.0.0.1 --port ${PORT} --served-model-name ${MODEL_ID} --max-model-len 8192");
  return out + "    startTimeout: 10m\n";
}

}  // namespace

std::vector<FoundModel> scan_hf_cache(const std::string& hub) {
  std::vector<FoundModel> out;
  std::error_code ec;
  for (fs::directory_iterator it(hub, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.starts_with("models--") || !is_dir(it->path())) continue;
    std::string repo = name.substr(8);
    if (size_t sep = repo.find("--"); sep != std::string::npos) repo.replace(sep, 2, "/");
    scan_repo(it->path(), repo, out);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::vector<FoundModel> scan_gguf_dirs(const std::vector<std::string>& dirs) {
  std::vector<FoundModel> out;
  for (const auto& d : dirs) {
    const size_t first = out.size();
    scan_gguf_dir(expand_home(d), out);
    std::sort(out.begin() + static_cast<long>(first), out.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
  }
  return out;
}

std::vector<std::string> split_dirs(const std::string& colon_list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= colon_list.size()) {
    size_t end = colon_list.find(':', start);
    if (end == std::string::npos) end = colon_list.size();
    if (end > start) out.push_back(expand_home(colon_list.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

std::vector<std::string> gguf_dirs_of(const std::vector<std::vector<std::string>>& argvs) {
  std::vector<std::string> out;
  for (const auto& argv : argvs) {
    for (const auto& v : argv_values(argv)) {
      if (!ascii_lower(v).ends_with(".gguf")) continue;
      fs::path parent = fs::path(v).parent_path();
      if (!parent.empty() && is_dir(parent) && std::find(out.begin(), out.end(), parent.string()) == out.end())
        out.push_back(parent.string());
    }
  }
  return out;
}

void finalize(std::vector<FoundModel>& found, const std::vector<std::vector<std::string>>& argvs) {
  std::set<std::string> seen_paths;
  std::map<std::string, int> ids;
  std::vector<FoundModel> kept;
  for (auto& m : found) {
    const std::string canon = canonical(m.path);
    if (!seen_paths.insert(canon).second) continue;
    m.configured = named_by(m, canon, argvs);
    if (int n = ++ids[m.id]; n > 1) m.id += "-" + std::to_string(n);
    kept.push_back(std::move(m));
  }
  found = std::move(kept);
}

std::optional<bool> fits(uint64_t bytes, std::optional<uint64_t> budget) {
  if (!budget) return std::nullopt;
  return bytes + bytes / 5 <= *budget;
}

std::string config_snippet(const std::vector<FoundModel>& found) {
  std::string body;
  for (const auto& m : found)
    if (!m.configured) body += snippet_entry(m);
  if (body.empty()) return "";
  return "# from `llmux models --discover`: merge into your config's `models:`, then tune --ctx-size and\n"
         "# kvReservation (see configs/llama-server.yaml, mlx-lm.yaml, vllm.yaml)\n"
         "models:\n" + body;
}

}  // namespace llmux
