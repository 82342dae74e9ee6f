#include "proxy/policy/load_phase.hpp"

#include <array>
#include <cctype>
#include <cstdio>

namespace llmux {

namespace {

bool contains_nocase(std::string_view text, std::string_view word) {
  if (word.size() > text.size()) return false;
  for (size_t i = 0; i + word.size() <= text.size(); ++i) {
    size_t j = 0;
    while (j < word.size() && std::tolower(static_cast<unsigned char>(text[i + j])) == word[j]) ++j;
    if (j == word.size()) return true;
  }
  return false;
}

// The last "NN%" of the line (progress bars print several numbers; the percentage is the one before '%').
std::optional<int> percent_of(std::string_view line) {
  std::optional<int> found;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '%' || i == 0 || !std::isdigit(static_cast<unsigned char>(line[i - 1]))) continue;
    size_t start = i;
    while (start > 0 && std::isdigit(static_cast<unsigned char>(line[start - 1])) && i - start < 3) --start;
    if (start > 0 && (std::isdigit(static_cast<unsigned char>(line[start - 1])) || line[start - 1] == '.')) continue;
    int value = 0;
    for (size_t k = start; k < i; ++k) value = value * 10 + (line[k] - '0');
    if (value <= 100) found = value;
  }
  return found;
}

struct Rule {
  std::string_view needle;  // lowercase
  std::string_view phase;
};

// First match wins: the more specific words come first.
constexpr std::array<Rule, 16> kRules = {{
    {"download", "downloading"},
    {"fetching", "downloading"},
    {"warm", "warming up"},
    {"cuda graph", "compiling"},
    {"compil", "compiling"},
    {"kv cache", "allocating the KV cache"},
    {"kv_cache", "allocating the KV cache"},
    {"llama_kv", "allocating the KV cache"},
    {"llama_context", "allocating the KV cache"},
    {"tensor", "loading weights"},
    {"safetensors", "loading weights"},
    {"checkpoint", "loading weights"},
    {"weights", "loading weights"},
    {"loading model", "loading weights"},
    {"model loaded", "almost ready"},
    {"listening", "almost ready"},
}};

}  // namespace

LoadPhase load_phase(std::string_view line) {
  LoadPhase p{"starting the engine", std::nullopt};
  for (const Rule& r : kRules) {
    if (contains_nocase(line, r.needle)) {
      p.phase = r.phase;
      break;
    }
  }
  p.percent = percent_of(line);
  return p;
}

std::string load_feedback_text(std::string_view what, std::string_view model, double elapsed, const LoadPhase* p) {
  std::string text = "llmux: ";
  text.append(what).append(" ").append(model);
  if (p) {
    text.append(": ").append(p->phase);
    if (p->percent) text.append(", ").append(std::to_string(*p->percent)).append("%");
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, " (%.0fs)", elapsed);
  return text.append(secs);
}

}  // namespace llmux
