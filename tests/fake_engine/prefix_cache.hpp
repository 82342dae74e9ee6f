// The fake engine's model of an engine's prompt cache (llama-server's slots): a request's prompt is rendered the way
// a chat template would (tool schemas, then each message's role, content and tool calls) and split into words,
// one word a token; each slot remembers the tokens of the last prompt it processed, a request takes the slot with
// the longest common prefix, and that prefix is reported as cached (`prompt_tokens_details.cached_tokens`,
// llama-server's `timings.cache_n`) while only the rest costs simulated prefill time. Header-only, pure.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fake {

class PrefixCache {
 public:
  explicit PrefixCache(std::size_t slots) : slots_(slots == 0 ? 1 : slots) {}

  struct Hit {
    std::int64_t prompt = 0;  // tokens of the rendered prompt
    std::int64_t cached = 0;  // of those, found in the chosen slot
  };

  // Renders `j` (chat `messages`, completions `prompt`), takes the best slot and stores the prompt in it.
  Hit process(const nlohmann::json& j) {
    std::vector<std::uint64_t> tokens;
    if (const auto t = j.find("tools"); t != j.end()) add_words(t->dump(), tokens);
    if (const auto ms = j.find("messages"); ms != j.end() && ms->is_array()) {
      for (const auto& m : *ms) {
        if (!m.is_object()) continue;
        add_words("<|" + m.value("role", std::string("user")) + "|>", tokens);
        if (const auto c = m.find("content"); c != m.end())
          add_words(c->is_string() ? c->get_ref<const std::string&>() : c->dump(), tokens);
        if (const auto calls = m.find("tool_calls"); calls != m.end()) add_words(calls->dump(), tokens);
      }
    } else if (const auto p = j.find("prompt"); p != j.end()) {
      add_words(p->is_string() ? p->get_ref<const std::string&>() : p->dump(), tokens);
    }
    std::size_t best = 0, best_len = 0;
    for (std::size_t s = 0; s < slots_.size(); ++s) {
      const std::size_t n = common_prefix(slots_[s], tokens);
      if (n > best_len || (n == best_len && slots_[s].size() < slots_[best].size())) {
        best = s;
        best_len = n;
      }
    }
    Hit hit{static_cast<std::int64_t>(tokens.size()), static_cast<std::int64_t>(best_len)};
    if (hit.cached == hit.prompt && hit.prompt > 0) --hit.cached;  // an engine always evaluates the last token
    slots_[best] = std::move(tokens);
    return hit;
  }

 private:
  static void add_words(std::string_view text, std::vector<std::uint64_t>& out) {
    std::size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && is_blank(text[i])) ++i;
      const std::size_t start = i;
      while (i < text.size() && !is_blank(text[i])) ++i;
      if (i > start) out.push_back(std::hash<std::string_view>{}(text.substr(start, i - start)));
    }
  }
  static bool is_blank(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
  static std::size_t common_prefix(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
    std::size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
  }

  std::vector<std::vector<std::uint64_t>> slots_;
};

}  // namespace fake
