#include "proxy/policy/prefix_chain.hpp"

#include <algorithm>
#include <map>
#include <vector>

namespace llmux {

namespace {

std::string at_index(size_t k, Role r) {
  return "message " + std::to_string(k) + " (" + std::string(role_name(r)) + ")";
}

std::string quoted(const std::string& name) { return name.empty() ? "(unnamed)" : "'" + name + "'"; }

// What changed in the tool schemas (or the template options, which render into the prompt as well).
std::string tools_hint(const PromptChain& before, const PromptChain& now) {
  if (before.tools_hash == now.tools_hash) return "chat_template_kwargs changed";
  std::vector<uint64_t> a, b;
  for (const auto& t : before.tools) a.push_back(t.hash);
  for (const auto& t : now.tools) b.push_back(t.hash);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a == b) return "tools re-ordered (the same " + std::to_string(a.size()) + " schemas in another order)";
  std::map<std::string, uint64_t> old_tools, new_tools;
  for (const auto& t : before.tools) old_tools.emplace(t.name, t.hash);
  for (const auto& t : now.tools) new_tools.emplace(t.name, t.hash);
  std::vector<std::string> parts;
  for (const auto& [name, hash] : new_tools) {
    auto it = old_tools.find(name);
    if (it == old_tools.end()) parts.push_back("tool " + quoted(name) + " added");
    else if (it->second != hash) parts.push_back("tool " + quoted(name) + " schema changed");
  }
  for (const auto& [name, hash] : old_tools)
    if (!new_tools.contains(name)) parts.push_back("tool " + quoted(name) + " removed");
  if (parts.empty()) return "tool schemas changed";
  std::string out;
  for (size_t i = 0; i < parts.size() && i < 4; ++i) out += (i ? ", " : "") + parts[i];
  if (parts.size() > 4) out += ", and " + std::to_string(parts.size() - 4) + " more";
  return out;
}

// The digit run that changed, when the old message's runs are known (a system message): its position, or npos.
size_t changed_digits(const std::vector<DigitRun>& was, std::string_view text) {
  const std::vector<DigitRun> now = digit_runs(text, was.size());
  for (size_t i = 0; i < was.size() && i < now.size(); ++i)
    if (now[i].at != was[i].at || now[i].length != was[i].length || now[i].hash != was[i].hash) return now[i].at;
  return std::string_view::npos;
}

// Where the content of a changed message differs, from the old checkpoints (and digit runs, when known) and the
// new text at hand.
std::string content_hint(const MessagePrint& was, const MessagePrint& is, std::string_view text,
                         const std::vector<DigitRun>* was_digits) {
  const std::string sizes = " (" + std::to_string(is.length) + " chars, was " + std::to_string(was.length) + ")";
  if (is.length > was.length && content_prefix_hash(text, was.length) == was.content)
    return "text appended" + sizes;
  MessagePrint again;
  fingerprint_content(text, again, was.block);  // the new text's checkpoints at the old spacing
  size_t k = 0;
  while (k < was.checkpoints_n && k < again.checkpoints_n && was.checkpoints[k] == again.checkpoints[k]) ++k;
  const size_t from = k * was.block;
  const size_t to = std::min<size_t>(from + was.block, std::max(was.length, is.length));
  if (was.masked == is.masked) {  // same length, same text but for digits
    if (was_digits != nullptr) {
      if (const size_t at = changed_digits(*was_digits, text); at != std::string_view::npos)
        return "differs at char " + std::to_string(at) + ": digits only - a timestamp?";
    }
    size_t p = from;
    while (p < to && p < text.size() && (text[p] < '0' || text[p] > '9')) ++p;
    if (p >= to || p >= text.size()) p = from;
    return "differs near char " + std::to_string(p) + ": digits only - a timestamp?";
  }
  if (from >= was.length || from >= is.length) return "differs after char " + std::to_string(from) + sizes;
  return "differs within chars " + std::to_string(from) + "-" + std::to_string(to > 0 ? to - 1 : 0) + sizes;
}

std::string message_hint(const PromptChain& before, const PromptChain& now, size_t k, std::string_view body) {
  const MessagePrint& was = before.messages[k];
  const MessagePrint& is = now.messages[k];
  const std::string where = at_index(k, is.role);
  if (was.role != is.role)
    return where + " was " + std::string(role_name(was.role)) + " before: messages inserted, removed or re-ordered?";
  for (size_t j = 0; j < before.messages.size(); ++j)
    if (j != k && before.messages[j].hash == is.hash)
      return where + " was message " + std::to_string(j) + " before: messages re-ordered?";
  if (was.content == is.content) {
    if (was.calls != is.calls) return where + ": same text, tool calls differ (ids or arguments re-serialized?)";
    return where + ": same text, other fields differ (name, cache_control, ...)";
  }
  const std::string_view text = body.substr(std::min<size_t>(is.at, body.size()), is.length);
  const bool system_digits = k == 0 && was.role == Role::system && !before.system_digits.empty();
  return where + " " + content_hint(was, is, text, system_digits ? &before.system_digits : nullptr);
}

}  // namespace

PrefixDiff diff_chains(const PromptChain& before, const PromptChain& now, std::string_view body) {
  PrefixDiff d;
  d.messages = now.messages.size();
  d.previous = before.messages.size();
  d.prompt_bytes = now.bytes;
  if (before.tools_hash != now.tools_hash || before.options_hash != now.options_hash) {
    d.tools_changed = d.chain_break = true;  // rendered ahead of the messages: nothing after them is reused
    d.hint = tools_hint(before, now);
    return d;
  }
  const size_t common = std::min(d.messages, d.previous);
  size_t k = 0;
  while (k < common && before.messages[k].hash == now.messages[k].hash) ++k;
  d.reused = k;
  for (size_t i = 0; i < k; ++i) d.reused_bytes += now.messages[i].length;
  if (k == common) {  // appended (or the same): no break
    if (d.messages < d.previous)
      d.hint = "conversation shortened from " + std::to_string(d.previous) + " to " + std::to_string(d.messages) +
               " messages (a retry?)";
    return d;
  }
  d.first_changed = static_cast<long>(k);
  const MessagePrint& was = before.messages[k];
  const MessagePrint& is = now.messages[k];
  const std::string_view text = body.substr(std::min<size_t>(is.at, body.size()), is.length);
  // The previous prompt's last message grew (a completions prompt, a continued answer): its cache still holds.
  if (k + 1 == d.previous && was.role == is.role && was.calls == is.calls && is.length > was.length &&
      content_prefix_hash(text, was.length) == was.content) {
    d.reused_bytes += was.length;
    return d;
  }
  d.chain_break = true;
  d.hint = message_hint(before, now, k, body);
  return d;
}

}  // namespace llmux
