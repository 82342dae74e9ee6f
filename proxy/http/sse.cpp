#include "proxy/http/sse.hpp"

#include <algorithm>

namespace llmux {

using nlohmann::json;

std::vector<SseMessage> SseParser::feed(std::string_view bytes) {
  std::vector<SseMessage> out;
  if (skip_lf_ && !bytes.empty()) {
    if (bytes.front() == '\n') bytes.remove_prefix(1);
    skip_lf_ = false;
  }
  while (!bytes.empty()) {
    const size_t end = bytes.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      partial_.append(bytes);
      break;
    }
    partial_.append(bytes.substr(0, end));
    const bool cr = bytes[end] == '\r';
    bytes.remove_prefix(end + 1);
    if (cr) {
      if (bytes.empty()) skip_lf_ = true;
      else if (bytes.front() == '\n') bytes.remove_prefix(1);
    }
    line(partial_, out);
    partial_.clear();
  }
  return out;
}

void SseParser::line(std::string_view text, std::vector<SseMessage>& out) {
  if (text.empty()) {
    if (has_data_) out.push_back(std::move(current_));
    current_ = {};
    has_data_ = false;
    return;
  }
  if (text.front() == ':') {
    ++comments_;
    return;
  }
  const size_t colon = text.find(':');
  std::string_view field = text.substr(0, colon), value;
  if (colon != std::string_view::npos) {
    value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event.assign(value);
  }  // id and retry mean nothing to a one-shot client
}

std::optional<SseMessage> SseParser::finish() {
  std::vector<SseMessage> out;
  if (!partial_.empty()) line(partial_, out);
  partial_.clear();
  line("", out);
  if (out.empty()) return std::nullopt;
  return std::move(out.front());
}

namespace {

std::string string_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

void read_choice(const json& choice, ChatChunk& c) {
  if (!choice.is_object()) return;
  for (const char* part : {"delta", "message"}) {
    auto d = choice.find(part);
    if (d == choice.end() || !d->is_object()) continue;
    c.content += string_at(*d, "content");
    c.reasoning += string_at(*d, "reasoning_content");
  }
  c.finish_reason = string_at(choice, "finish_reason");
}

std::string one_line(std::string_view text) {
  std::string s(text.substr(0, 300));
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  const size_t first = s.find_first_not_of(' '), last = s.find_last_not_of(' ');
  return first == std::string::npos ? "" : s.substr(first, last - first + 1);
}

std::string error_of(const json& j) {
  auto e = j.find("error");
  if (e == j.end()) return "";
  if (e->is_string()) return one_line(e->get<std::string>());
  if (e->is_object() && !string_at(*e, "message").empty()) return one_line(string_at(*e, "message"));
  return one_line(e->dump());
}

}  // namespace

ChatChunk parse_chat_chunk(std::string_view data) {
  ChatChunk c;
  if (data == "[DONE]") {
    c.done = true;
    return c;
  }
  json j = json::parse(data, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    c.malformed = true;
    return c;
  }
  c.error = error_of(j);
  c.model = string_at(j, "model");
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) c.usage = *u;
  if (auto ch = j.find("choices"); ch != j.end() && ch->is_array() && !ch->empty()) read_choice(ch->front(), c);
  return c;
}

std::string error_message(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (std::string msg = error_of(j); !msg.empty()) return msg;
  }
  return one_line(body);
}

}  // namespace llmux
