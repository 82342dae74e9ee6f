#include "proxy/policy/prefix_tracker.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "proxy/http/routes.hpp"

namespace llmux {

namespace {

constexpr size_t kRecentBreaks = 4;

bool prompt_route(std::string_view target) {
  std::string_view path = normalize_path(target);
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  return path == "/chat/completions" || path == "/completions" || path == "/responses" || path == "/messages";
}

std::string hex8(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(v >> 32));
  return buf;
}

std::string iso(PrefixTracker::Clock::time_point t) {
  const std::time_t s = PrefixTracker::Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A request that continues `before` with another system message: the messages after it are the old ones, and the
// conversation grew (a side call with the same first user message has as many messages as an early turn, or fewer).
bool continues(const PromptChain& before, const PromptChain& now) {
  const auto& a = before.messages;
  const auto& b = now.messages;
  if (a.size() < 2 || b.size() <= a.size() || a[0].role != Role::system || b[0].role != Role::system) return false;
  for (size_t i = 1; i < a.size(); ++i)
    if (a[i].hash != b[i].hash) return false;
  return true;
}

struct Keys {
  uint64_t key, base;  // base: without the system message
};

// The conversation's identity: model + session header, else the body's id, else the first non-system message;
// then the system message with digits masked. `source` becomes where it came from.
Keys identity_keys(std::string_view model, std::string_view header_id, const PromptChain& chain, std::string& source) {
  Hash64 identity(11);
  identity.add(model);
  identity.add_u64(0);
  if (!header_id.empty()) {
    identity.add(header_id);
  } else if (!chain.explicit_id.empty()) {
    identity.add(chain.explicit_id);
    source = "body";
  } else {
    identity.add_u64(chain.first_key);
    source = "first messages";
  }
  const uint64_t base = identity.digest();
  identity.add_u64(chain.system_key);
  return {identity.digest(), base};
}

}  // namespace

std::string prefix_perf_fields(const PrefixReport& r) {
  if (!r.diagnosed) return {};
  const PrefixDiff& d = r.diff;
  std::string out = " conv=" + r.conversation + " reuse=" + std::to_string(d.reused) + "/" + std::to_string(d.messages);
  out += " first_changed=";
  out += d.tools_changed ? "tools" : d.first_changed < 0 ? "-" : std::to_string(d.first_changed);
  out += d.chain_break ? " chain_break=yes" : " chain_break=no";
  return out;
}

std::string prefix_break_text(const PrefixReport& r) {
  const PrefixDiff& d = r.diff;
  const std::string where = d.tools_changed ? "the tools" : "message " + std::to_string(d.first_changed);
  return "conv=" + r.conversation + " chain break at " + where + " (reused " + std::to_string(d.reused) + " of " +
         std::to_string(d.messages) + " messages): " + d.hint;
}

PrefixReport PrefixTracker::observe(std::string_view model, const Request& req, std::string_view body,
                                    const TopLevelScan& scan) {
  if (!prompt_route(req.target())) return {};
  std::string_view header_id, source;
  for (std::string_view name : kSessionHeaders) {
    header_id = req.field(name);
    if (!header_id.empty()) {
      source = name;
      break;
    }
  }
  PromptChain chain = scan_prompt(body, scan);
  if (chain.messages.empty()) return {};
  return observe_chain(model, header_id.substr(0, 128), source, std::move(chain), body);
}

PrefixTracker::Entry* PrefixTracker::find(uint64_t key, uint64_t base, const PromptChain& chain) {
  Entry* best = nullptr;
  for (Entry& e : entries_)
    if (e.key == key) return &e;
  for (Entry& e : entries_)
    if (e.base == base && continues(e.chain, chain) && (!best || e.stamp > best->stamp)) best = &e;
  return best;
}

PrefixReport PrefixTracker::observe_chain(std::string_view model, std::string_view header_id, std::string_view source,
                                          PromptChain chain, std::string_view body, Clock::time_point now) {
  std::string src(source);
  const auto [key, base] = identity_keys(model, header_id, chain, src);
  PrefixReport report;
  report.diagnosed = true;
  Entry* e = find(key, base, chain);
  if (e == nullptr) {
    entries_.emplace_back();
    e = &entries_.back();
    e->base = base;
    e->model = std::string(model);
    e->source = src;
    e->first_at = now;
    e->id = hex8(key);
    report.first = true;
    report.diff.messages = chain.messages.size();
    report.diff.prompt_bytes = chain.bytes;
  } else {
    report.diff = diff_chains(e->chain, chain, body);
  }
  e->key = key;  // (a continued conversation takes the new system message's key)
  e->stamp = ++clock_;
  e->last_at = now;
  ++e->requests;
  if (report.diff.chain_break) {
    ++e->breaks;
    e->recent.push_back(Break{now, report.diff.tools_changed ? -1 : report.diff.first_changed, report.diff.hint});
    if (e->recent.size() > kRecentBreaks) e->recent.pop_front();
  }
  e->last = report.diff;
  messages_ -= std::min(messages_, e->chain.messages.size());
  chain.explicit_id.clear();
  for (MessagePrint& m : chain.messages) m.at = 0;  // offsets into a body that is gone after this call
  e->chain = std::move(chain);
  messages_ += e->chain.messages.size();
  report.conversation = e->id;
  evict(e);
  return report;
}

// Forgets the least recently used conversations (never `keep`, the one just seen) beyond the bounds.
void PrefixTracker::evict(const Entry* keep) {
  while (entries_.size() > 1 && (entries_.size() > max_conversations_ || messages_ > max_messages_)) {
    auto oldest = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (&*it != keep && (oldest == entries_.end() || it->stamp < oldest->stamp)) oldest = it;
    if (oldest == entries_.end()) return;
    const bool keep_moves = keep > &*oldest;
    messages_ -= std::min(messages_, oldest->chain.messages.size());
    entries_.erase(oldest);
    if (keep_moves) --keep;
  }
}

std::string PrefixTracker::json(size_t limit) const {
  std::vector<const Entry*> order;
  for (const Entry& e : entries_) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) { return a->stamp > b->stamp; });
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < order.size() && i < limit; ++i) {
    const Entry& e = *order[i];
    nlohmann::json breaks = nlohmann::json::array();
    for (auto it = e.recent.rbegin(); it != e.recent.rend(); ++it)
      breaks.push_back({{"at", iso(it->at)},
                        {"message", it->message < 0 ? nlohmann::json("tools") : nlohmann::json(it->message)},
                        {"hint", it->hint}});
    const PrefixDiff& d = e.last;
    nlohmann::json last = {{"messages", d.messages},
                           {"reused", d.reused},
                           {"firstChanged", d.first_changed < 0 ? nlohmann::json(nullptr) : nlohmann::json(d.first_changed)},
                           {"chainBreak", d.chain_break},
                           {"reuseShare", d.prompt_bytes ? static_cast<double>(d.reused_bytes) / d.prompt_bytes : 0.0}};
    if (!d.hint.empty()) last["hint"] = d.hint;
    list.push_back({{"id", e.id},
                    {"model", e.model},
                    {"identity", e.source},
                    {"requests", e.requests},
                    {"chainBreaks", e.breaks},
                    {"tools", e.chain.tools.size()},
                    {"firstSeen", iso(e.first_at)},
                    {"lastSeen", iso(e.last_at)},
                    {"last", std::move(last)},
                    {"breaks", std::move(breaks)}});
  }
  return nlohmann::json{{"conversations", std::move(list)}}.dump(-1, ' ', false,
                                                                 nlohmann::json::error_handler_t::replace);
}

}  // namespace llmux
