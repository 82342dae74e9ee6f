#include "tests/fake_engine/answers.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>

namespace fake {

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') { out.push_back('\\'); out.push_back(ch); }
    else if (ch == '\n') out += "\\n";
    else if (u < 0x20) { out += "\\u00"; out.push_back(hex[u >> 4]); out.push_back(hex[u & 15]); }
    else out.push_back(ch);
  }
  out.push_back('"');
}

std::string_view reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// `type`: OpenAI error type; the numeric `code` is the HTTP status, as llama-server reports it.
std::string error_json(int status, std::string_view type, std::string_view message) {
  std::string out = R"({"error":{"message":)";
  append_json_string(out, message);
  out += R"(,"type":)";
  append_json_string(out, type);
  out += R"(,"code":)";
  append_int(out, status);
  out += "}}";
  return out;
}

namespace {

std::int64_t count_words(std::string_view s) {
  std::int64_t n = 0;
  bool in_word = false;
  for (const char ch : s) {
    const bool blank = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
    if (!blank && !in_word) ++n;
    in_word = !blank;
  }
  return n;
}

std::int64_t count_prompt_tokens(const nlohmann::json& j, Kind kind) {
  std::int64_t n = 0;
  auto count_item = [&n](const nlohmann::json& v) {
    if (v.is_string()) n += count_words(v.get_ref<const std::string&>());
    else if (v.is_array()) n += static_cast<std::int64_t>(v.size());  // token ids
    else if (v.is_number()) n += 1;
  };
  if (kind == Kind::chat) {
    for (const auto& m : j.value("messages", nlohmann::json::array())) {
      if (!m.is_object() || !m.contains("content")) continue;
      const auto& content = m["content"];
      if (content.is_string()) count_item(content);
      else if (content.is_array())
        for (const auto& part : content)
          if (part.is_object() && part.contains("text")) count_item(part["text"]);
    }
  } else if (const auto in = j.find(kind == Kind::text ? "prompt" : "input"); in != j.end()) {
    if (in->is_array() && !in->empty() && !(*in)[0].is_number()) for (const auto& v : *in) count_item(v);
    else count_item(*in);
  }
  return std::max<std::int64_t>(n, 1);
}

void append_token(std::string& out, std::int64_t i) {
  out += "tok";
  append_int(out, i);
  out.push_back(' ');
}

void append_usage(std::string& out, const Gen& g) {
  out += R"("usage":{"prompt_tokens":)";
  append_int(out, g.prompt_tokens);
  out += R"(,"completion_tokens":)";
  append_int(out, g.n);
  out += R"(,"total_tokens":)";
  append_int(out, g.prompt_tokens + g.n);
  if (g.cached_tokens >= 0) {
    out += R"(,"prompt_tokens_details":{"cached_tokens":)";
    append_int(out, g.cached_tokens);
    out += "}";
  }
  out += "}";
  if (g.timings) {  // llama-server reports its prompt cache here (top level, beside "usage")
    out += R"(,"timings":{"cache_n":)";
    append_int(out, g.cached_tokens);
    out += R"(,"prompt_n":)";
    append_int(out, g.prompt_tokens - g.cached_tokens);
    out += R"(,"predicted_n":)";
    append_int(out, g.n);
    out += "}";
  }
}

std::string_view finish_reason(const Gen& g) { return g.limited ? R"("length")" : R"("stop")"; }

}  // namespace

std::string skim_gen(std::string_view body, const Options& o, Gen& g) {
  g.stream = body.find(R"("stream":true)") != std::string_view::npos;
  g.n = o.tokens;
  g.cached_tokens = o.cached_tokens;
  g.prompt_tokens = std::max<std::int64_t>(static_cast<std::int64_t>(body.size() / 4), 1);
  return "";
}

std::string read_gen(const nlohmann::json& j, const Options& o, Gen& g) {
  if (!j.is_object()) return "request body is not a JSON object";
  if (const auto it = j.find("model"); it != j.end() && it->is_string()) {
    g.model = it->get<std::string>();
    g.model_given = true;
  }
  if (const auto it = j.find("stream"); it != j.end() && it->is_boolean()) g.stream = it->get<bool>();
  if (const auto it = j.find("stream_options"); it != j.end() && it->is_object())
    g.include_usage = it->value("include_usage", false);
  g.n = o.tokens;
  g.cached_tokens = o.cached_tokens;
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_number()) return std::string(key) + " must be an integer";
    g.n = std::clamp<std::int64_t>(it->get<std::int64_t>(), 0, kMaxTokens);
    g.limited = true;
  }
  if (g.kind == Kind::chat && !j.contains("messages")) return "'messages' is required";
  if (g.kind == Kind::text && !j.contains("prompt")) return "'prompt' is required";
  if (g.kind == Kind::embed && !j.contains("input")) return "'input' is required";
  g.prompt_tokens = count_prompt_tokens(j, g.kind);
  return "";
}

void append_envelope(std::int64_t id, const Gen& g, std::string_view object, std::string& h) {
  h += R"({"id":")";
  h += g.kind == Kind::chat ? "chatcmpl-fake" : "cmpl-fake";
  append_int(h, id);
  h += R"(","object":")";
  h += object;
  h += R"(","created":)";
  append_int(h, static_cast<std::int64_t>(std::time(nullptr)));
  h += R"(,"model":)";
  append_json_string(h, g.model);
  h += R"(,"choices":[)";
}

void build_completion_body(std::int64_t id, const Gen& g, std::string& out) {
  const bool chat = g.kind == Kind::chat;
  out.clear();
  append_envelope(id, g, chat ? "chat.completion" : "text_completion", out);
  out += chat ? R"({"index":0,"message":{"role":"assistant","content":")" : R"({"index":0,"text":")";
  for (std::int64_t i = 0; i < g.n; ++i) append_token(out, i);
  out += chat ? R"("},"finish_reason":)" : R"(","logprobs":null,"finish_reason":)";
  out += finish_reason(g);
  out += "}],";
  append_usage(out, g);
  out += "}";
}

void build_embedding_body(const nlohmann::json& j, const Gen& g, std::string& out) {
  const auto& in = j["input"];
  const bool many = in.is_array() && !in.empty() && !in[0].is_number();
  nlohmann::json data = nlohmann::json::array();
  for (std::size_t i = 0; i < (many ? in.size() : 1); ++i) {
    const std::string text = (many ? in[i] : in).dump();
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a: the same input always gets the same vector
    for (const char ch : text) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
    nlohmann::json vec = nlohmann::json::array();
    for (int k = 0; k < 8; ++k) vec.push_back(static_cast<double>((h >> (8 * k)) & 0xff) / 127.5 - 1.0);
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(vec)}});
  }
  const nlohmann::json usage = {{"prompt_tokens", g.prompt_tokens}, {"total_tokens", g.prompt_tokens}};
  const nlohmann::json body = {{"object", "list"}, {"data", std::move(data)}, {"model", g.model}, {"usage", usage}};
  out = body.dump();
}

// Appends `data: <envelope><rest>\n\n` framed as one HTTP chunk.
void append_event(std::string& out, std::string_view envelope, std::string_view rest) {
  constexpr std::string_view prefix = "data: ", suffix = "\n\n\r\n";
  const std::size_t n = prefix.size() + envelope.size() + rest.size() + 2;
  char buf[20];
  const auto r = std::to_chars(buf, buf + sizeof buf, n, 16);
  out.append(buf, r.ptr).append("\r\n").append(prefix).append(envelope).append(rest).append(suffix);
}

void append_token_event(std::string& out, const Gen& g, std::string_view envelope, std::int64_t i) {
  std::string rest = g.kind == Kind::chat ? R"({"index":0,"delta":{"content":")" : R"({"index":0,"text":")";
  append_token(rest, i);
  rest += g.kind == Kind::chat ? R"("},"finish_reason":null}]})" : R"(","logprobs":null,"finish_reason":null}]})";
  append_event(out, envelope, rest);
}

// The finish chunk, the optional usage chunk, [DONE] and (unless `terminate` is false) the terminating chunk.
void append_stream_end(std::string& out, const Gen& g, std::string_view envelope, bool terminate) {
  std::string rest = g.kind == Kind::chat ? R"({"index":0,"delta":{},"finish_reason":)"
                                          : R"({"index":0,"text":"","logprobs":null,"finish_reason":)";
  rest += finish_reason(g);
  rest += "}]}";
  append_event(out, envelope, rest);
  if (g.include_usage) {
    rest = "],";
    append_usage(rest, g);
    rest += "}";
    append_event(out, envelope, rest);
  }
  out += "e\r\ndata: [DONE]\n\n\r\n";
  if (terminate) out += "0\r\n\r\n";
}

}  // namespace fake
