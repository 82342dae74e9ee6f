#include "proxy/policy/load_feedback.hpp"

#include <nlohmann/json.hpp>

#include "proxy/policy/load_phase.hpp"

namespace llmux {

using nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

const char* state_name(WorkerPhase p) { return p == WorkerPhase::none ? "stopped" : to_string(p); }

}  // namespace

std::string feedback_text(const WorkerSnapshot& w, const std::string& model, double elapsed) {
  const WorkerPhase state = w.model == model ? w.state : WorkerPhase::none;
  const char* what = state == WorkerPhase::starting ? "loading"
                     : state == WorkerPhase::ready  ? "queued for"  // behind the model's maxConcurrency
                                                    : "waiting for";
  if (state != WorkerPhase::starting) return load_feedback_text(what, model, elapsed, nullptr);
  const LoadPhase phase = load_phase(w.last_line);
  return load_feedback_text(what, model, elapsed, &phase);
}

std::string feedback_event(const WorkerSnapshot& w, const LoadingFeedback& f, double elapsed, uint64_t id,
                           int64_t created) {
  std::string text = feedback_text(w, f.model, elapsed);
  if (!f.reasoning) {
    for (auto& ch : text)
      if (ch == '\n' || ch == '\r') ch = ' ';
    return ": " + text + "\n\n";
  }
  json delta = {{"role", "assistant"}, {"reasoning_content", text + "\n"}};
  json chunk = {{"id", "llmux-load-" + std::to_string(id)}, {"object", "chat.completion.chunk"},
                {"created", created}, {"model", f.client_name},
                {"choices", json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", nullptr}}})}};
  return "data: " + dump(chunk) + "\n\n";
}

std::string load_progress_event(const WorkerSnapshot& w, const std::string& model, double elapsed) {
  const bool resident = w.model == model;
  json progress = {{"model", model}, {"state", resident ? std::string(state_name(w.state)) : std::string("waiting")},
                   {"elapsedSeconds", elapsed}, {"text", feedback_text(w, model, elapsed)}};
  if (resident && !w.last_line.empty()) progress["lastLine"] = w.last_line;
  return "data: " + dump(progress) + "\n\n";
}

}  // namespace llmux
