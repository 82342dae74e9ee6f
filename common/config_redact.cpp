// redacted_config_text(): the serving config's text as GET /config shows it.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "common/config.hpp"
#include "common/redact.hpp"

namespace llmux {
namespace {

using Span = std::pair<size_t, size_t>;  // [begin, end) in the text

size_t line_end(const std::string& text, size_t pos) {
  const size_t nl = text.find('\n', pos);
  return nl == std::string::npos ? text.size() : nl;
}

size_t indentation(const std::string& text, size_t line_start) {
  size_t i = line_start;
  while (i < text.size() && text[i] == ' ') ++i;
  return i - line_start;
}

// Where the scalar written at `pos` ends. Plain scalars usually read as written; quoted ones end at their closing
// quote; anything else (block scalars, folded lines, tags, anchors) runs to the end of its line and over the lines
// indented deeper than it: more than the scalar, never less.
size_t scalar_end(const std::string& text, size_t pos, const std::string& value) {
  if (!value.empty() && text.compare(pos, value.size(), value) == 0) return pos + value.size();
  if (text[pos] == '"') {
    for (size_t i = pos + 1; i < text.size(); ++i) {
      if (text[i] == '\\') ++i;
      else if (text[i] == '"') return i + 1;
    }
    return text.size();
  }
  if (text[pos] == '\'') {
    for (size_t i = pos + 1; i < text.size(); ++i) {
      if (text[i] != '\'') continue;
      if (i + 1 < text.size() && text[i + 1] == '\'') ++i;
      else return i + 1;
    }
    return text.size();
  }
  const size_t start = text.rfind('\n', pos) == std::string::npos ? 0 : text.rfind('\n', pos) + 1;
  const size_t base = indentation(text, start);
  size_t end = line_end(text, pos);
  for (size_t next = end + 1; next < text.size(); next = line_end(text, next) + 1) {
    const size_t stop = line_end(text, next);
    const size_t indent = indentation(text, next);
    if (next + indent == stop) continue;  // blank line: belongs to whatever follows
    if (indent <= base) break;
    end = stop;
  }
  return end;
}

void key_spans(const std::string& text, const YAML::Node& keys, std::vector<Span>& out) {
  const auto add = [&](const YAML::Node& n) {
    const YAML::Mark m = n.Mark();
    if (!n.IsScalar() || m.is_null() || m.pos < 0 || static_cast<size_t>(m.pos) >= text.size()) return;
    if (n.Scalar().find("${") != std::string::npos) return;  // its value comes from a macro, not from the text
    const auto pos = static_cast<size_t>(m.pos);
    out.emplace_back(pos, scalar_end(text, pos, n.Scalar()));
  };
  if (keys.IsScalar()) add(keys);
  if (keys.IsSequence()) {
    for (const YAML::Node& item : keys) add(item);
  }
}

}  // namespace

std::string redacted_config_text(const std::string& text, const Redactor& redactor) {
  std::vector<Span> spans;
  try {
    const YAML::Node root = YAML::Load(text);
    if (root.IsMap()) {
      for (const char* name : {"apiKeys", "adminKeys"}) {
        if (const YAML::Node keys = root[name]; keys) key_spans(text, keys, spans);
      }
    }
  } catch (const YAML::Exception&) {
    spans.clear();  // not a config llmux could serve; the redactor still applies
  }
  std::sort(spans.begin(), spans.end());
  std::string out;
  size_t done = 0;
  for (const auto& [begin, end] : spans) {
    if (begin < done) continue;  // the same node twice (an alias)
    out.append(text, done, begin - done);
    out += Redactor::kMark;
    done = end;
  }
  out.append(text, done);
  redactor.redact(out);
  return out;
}

}  // namespace llmux
