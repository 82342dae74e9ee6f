// Admission: how one inference request gets its worker, and the one place that arms the client's disconnect watch
// meanwhile. now() is the fast door (the model is resident and ready with room and nobody waits: no ticket, no
// coroutine frame); wait() queues a ticket until the scheduler decides. A streaming request that must wait for a
// load, a swap or room gets loading feedback once a second: the response is then committed to a 200 event stream
// through `early` (the relay continues it). A client that disconnects while waiting abandons its ticket; a load it
// started goes on. Never throws for expected outcomes (denied, abandoned: see Admission).
#pragma once

#include <memory>

#include "common/http.hpp"
#include "proxy/daemon/coordinator.hpp"
#include "proxy/http/framing.hpp"
#include "proxy/policy/load_feedback.hpp"
#include "proxy/policy/rewrite.hpp"
#include "proxy/session/client_io.hpp"

namespace llmux {

class RequestAdmission {
 public:
  RequestAdmission(Coordinator& c, ClientWatch& watch, const InferenceRequest& ir, const Request& req,
                   SseWriter& early)
      : c_(c), watch_(watch), ir_(ir), req_(req), early_(early) {}
  bool now(Admission& out);          // granted at once (else nothing happened: call wait())
  net::awaitable<Admission> wait();  // queued until granted, denied, timed out or abandoned
  bool watching() const { return watching_; }  // the watch's read is pending: stop it before answering

 private:
  // Streams and requests that queue are watched at once; a quick request granted without waiting only once it has
  // run for 200 ms (a watch's read, cancel and wake-ups were about a third of the relay's CPU per request).
  void watch(bool waits);
  net::awaitable<Admission> with_feedback(std::shared_ptr<Ticket> t, bool submitted);
  LoadingFeedback feedback() const;

  Coordinator& c_;
  ClientWatch& watch_;
  const InferenceRequest& ir_;
  const Request& req_;
  SseWriter& early_;
  bool watching_ = false;
};

}  // namespace llmux
