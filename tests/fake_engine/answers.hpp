// The fake engine's answers as text: what a request asks for (Gen, read from its JSON), the OpenAI-shaped bodies
// (completion, embedding, error) and a streamed answer's SSE events, each event framed as one HTTP chunk. Formatted
// by hand, without a JSON library on the token path: the fake engine is a bench baseline. Pure: no I/O.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fake_engine/options.hpp"

namespace fake {

enum class Kind { chat, text, embed };

struct Gen {
  Kind kind = Kind::chat;
  std::string model;
  bool model_given = false;
  std::int64_t n = 0;         // completion tokens to produce
  bool limited = false;       // the request set max_tokens: finish_reason "length", else "stop"
  std::int64_t prompt_tokens = 1;
  bool stream = false;
  bool include_usage = false;
  std::int64_t cached_tokens = -1;
  bool timings = false;        // the prompt-cache model ran: llama-server's "timings" follow the usage
  std::int64_t prefill_us = 0; // simulated prompt processing before the first token
};

void append_int(std::string& out, std::int64_t v);
void append_json_string(std::string& out, std::string_view s);
// The reason phrase of the HTTP statuses the fake engine answers with.
std::string_view reason(int status);
// `type`: OpenAI error type; the numeric `code` is the HTTP status, as llama-server reports it.
std::string error_json(int status, std::string_view type, std::string_view message);

// Fills `g` from a parsed request; returns an error message for a request no client should send, else "".
std::string read_gen(const nlohmann::json& j, const Options& o, Gen& g);
// Fills `g` without parsing the body (--skim): one substring search, so that the engine's own cost stays small
// and the same for every body size.
std::string skim_gen(std::string_view body, const Options& o, Gen& g);

// Appends `{"id":..,"object":..,"created":..,"model":..,"choices":[`, shared by every JSON object of a response;
// `id` numbers the response.
void append_envelope(std::int64_t id, const Gen& g, std::string_view object, std::string& h);
// A whole non-streamed chat or text completion.
void build_completion_body(std::int64_t id, const Gen& g, std::string& out);
void build_embedding_body(const nlohmann::json& j, const Gen& g, std::string& out);

// Appends `data: <envelope><rest>\n\n` framed as one HTTP chunk.
void append_event(std::string& out, std::string_view envelope, std::string_view rest);
void append_token_event(std::string& out, const Gen& g, std::string_view envelope, std::int64_t i);
// The finish chunk, the optional usage chunk, [DONE] and (unless `terminate` is false) the terminating chunk.
void append_stream_end(std::string& out, const Gen& g, std::string_view envelope, bool terminate);

}  // namespace fake
