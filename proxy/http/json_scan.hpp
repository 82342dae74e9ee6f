// A top-level scan of a JSON request body: finds "model" and "stream" without building a DOM, so a 30 MiB body
// with images costs one linear pass (no allocation per value) instead of a full parse. It checks the structure
// (strings, brackets, separators) but not number or literal spelling: the engine still validates the rest.
// Pure; never throws.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace llmux {

// A byte span [begin, end) of a top-level value in the body; empty when the member is absent.
struct JsonSpan {
  size_t begin = 0, end = 0;
  bool empty() const { return end <= begin; }
};

struct TopLevelScan {
  bool empty_object = true;      // "{}"
  size_t open_brace = 0;         // offset of the top-level '{'
  bool has_model = false;        // "model" present and not null
  bool model_is_string = false;
  std::string model;             // decoded
  size_t model_begin = 0;        // the value's byte span, quotes included (for splicing)
  size_t model_end = 0;
  bool stream = false;           // "stream": true
  // Where the prompt and what identifies its conversation sit, for the prefix diagnosis (proxy/http/prompt_scan):
  JsonSpan messages, input, prompt, instructions, system, tools, template_options, user, cache_key;
};

std::optional<TopLevelScan> scan_top_level(std::string_view body);

// Where the JSON string starting at the quote s[i] ends (past its closing quote), or npos when it is malformed.
size_t json_string_end(std::string_view s, size_t i);

// The same for a string inside a body that scan_top_level() accepted (so its escapes are known to be well formed):
// finds the first quote after s[i] preceded by an even run of backslashes, without checking anything else. Faster
// on long strings (one byte test per eight bytes); on a body not checked first it may accept what is malformed.
size_t accepted_string_end(std::string_view s, size_t i);

// `text` as a JSON string literal, quotes included.
std::string json_quote(std::string_view text);

}  // namespace llmux
