// A multipart/form-data request (audio transcriptions, image edits) whose body was not whole with its head: read
// only until its `model` field is found, then relayed as the held part (model spliced) followed by the rest
// streamed from the client to the engine (request_body.hpp), so that llmux's memory does not grow with an upload.
// A form whose model field comes after its file part is held until the field (at most maxRequestBody: 413 beyond);
// a form without the field is read whole and goes to the default model, as a small form does (server.cpp).
// timeouts.bodyRead bounds the part held before admission, and again the rest streamed after it (a model load in
// between is not the client's time).
#include <spdlog/spdlog.h>

#include "common/seconds.hpp"
#include "proxy/http/multipart.hpp"
#include "proxy/policy/routed.hpp"
#include "proxy/session/admission.hpp"
#include "proxy/session/request_body.hpp"
#include "proxy/session/session.hpp"

namespace llmux {

bool Session::streams_body(const Request& req, const RequestHead& head) const {
  if (!head.chunked && buf_.size() >= head.content_length.value_or(0)) return false;  // here whole: read as usual
  return match_route(req.method_string(), req.target()).route == Route::form;
}

// A form refused before admission: the body's rest is unread, so the connection ends after the answer.
net::awaitable<bool> Session::refuse_form(const Request& req, const ApiError& e,
                                          std::chrono::steady_clock::time_point started) {
  srv_.coordinator.metrics().request("", e.status, seconds_since(started), std::nullopt);
  co_await write_error(req.version(), false, e);
  co_return false;
}

net::awaitable<bool> Session::form_inference(Request& req) {
  const auto started = std::chrono::steady_clock::now();
  prefix_ = {};
  auto cfg = srv_.coordinator.config();  // this request's config snapshot
  const PendingBody pending = *pending_body_;
  ClientBody body(stream_.socket(), buf_, deadline_, pending.chunked, pending.length, cfg->max_request_body,
                  pending.due);
  const std::optional<std::string> boundary = multipart_boundary(req.field("content-type"));
  if (!boundary) co_return co_await refuse_form(req, form_content_type_error(), started);
  MultipartModelScan scan(*boundary);
  std::string held;  // the body up to the end of the model field (or all of it)
  using S = MultipartModelScan::State;
  ClientBody::Status st = ClientBody::Status::more;
  while (st == ClientBody::Status::more && scan.state() != S::found && scan.state() != S::bad) {
    const size_t before = held.size();
    st = co_await body.read_some(held);
    scan.feed(std::string_view(held).substr(before));
  }
  if (st == ClientBody::Status::client_failed) co_return false;  // gone, or too slow: nobody to answer
  if (st == ClientBody::Status::too_large)
    co_return co_await refuse_form(req, request_too_large(cfg->max_request_body), started);
  if (st == ClientBody::Status::bad)
    co_return co_await refuse_form(req, bad_request("malformed chunked request body", "invalid_request_body"),
                                   started);
  if (st == ClientBody::Status::done) {  // read whole (no field, or the field at the end): as a small form is
    pending_body_.reset();
    req.body() = std::move(held);
    co_return co_await inference(req, Route::form);
  }
  auto parsed = form_scanned(scan, *cfg);
  if (auto* e = std::get_if<ApiError>(&parsed)) co_return co_await refuse_form(req, *e, started);
  auto& ir = std::get<InferenceRequest>(parsed);
  spdlog::debug("[{}] multipart form: model field within the first {} bytes; the rest is streamed", ir.model->id,
                held.size());
  std::string prefix = forward_body(ir, std::move(held));
  if (body.chunked()) prefix = chunk_framed(prefix);

  ClientWatch& watch = this->watch();
  SseWriter early(writer());  // a form never gets loading feedback (chat only); admission wants one
  RequestAdmission door(srv_.coordinator, watch, ir, req, early);
  Admission adm;
  if (!door.now(adm)) {
    if (auto refused = srv_.coordinator.over_concurrency_limit(*ir.model)) adm.error = std::move(*refused);
    else adm = co_await door.wait();
  }
  if (!adm.lease) {
    co_await not_admitted(req, ir, adm, door.watching(), early, started);
    co_return false;  // the body's rest is unread
  }
  // The watch must not read the body while the relay does: stopped, and what it read goes back to the reader.
  watch.disarm();
  if (watch.pending()) co_await watch.stop();
  take_watch_bytes();
  body.rebound(Deadline::now() + cfg->timeouts.body_read);  // the rest of the body: bodyRead again, from now
  struct Release {
    Coordinator& c;
    Lease lease;
    ~Release() { c.release(lease); }
  } release{srv_.coordinator, std::move(*adm.lease)};
  RelayJob job{req, std::move(prefix), release.lease, cfg->timeouts, ir.clamp_note, nullptr, deadline_,  // named:
               extra_fields_, {}, &body};                                 // g++ 12 double-destroys a braced temporary
  RelayResult r = co_await relay(stream_, std::move(job), srv_.pool, watch);
  watch.disarm();
  const bool keep = r.keep_alive && !watch.gone() && body.done();
  if (watch.pending()) co_await watch.stop();
  record(ir.model->id, watch.gone() && !r.done ? 499 : r.status, started, &adm, &r);
  co_return keep;
}

}  // namespace llmux
