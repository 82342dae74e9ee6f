// Session: one client connection, one coroutine (Server::Impl::session). It reads requests (session_read.cpp:
// bounded head, body and idle waits, a body limit), passes each through the access guard and routes it: inference
// goes through admission (admission.hpp) to the relay; admin routes are answered from the coordinator's state
// (session_routes.cpp). Every write goes through a ClientWriter bounded by the session's one Deadline. Internal to
// proxy/session: include only from its Beast translation units. I/O failures end the connection, never throw.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/http.hpp"
#include "proxy/daemon/coordinator.hpp"
#include "proxy/daemon/daemon_info.hpp"
#include "proxy/http/framing.hpp"
#include "proxy/http/routes.hpp"
#include "proxy/policy/access.hpp"
#include "proxy/policy/rewrite.hpp"
#include "proxy/session/client_io.hpp"
#include "proxy/session/engine_pool.hpp"
#include "proxy/session/listener.hpp"
#include "proxy/session/relay.hpp"
#include "proxy/session/server.hpp"

namespace llmux {

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(net::io_context& io, Coordinator& c, DaemonInfo& d) : io(io), coordinator(c), info(d), pool(io) {}

  net::io_context& io;
  Coordinator& coordinator;
  DaemonInfo& info;
  EnginePool pool;
  std::shared_ptr<Listener> listener;  // accepts, and keeps the open connections under the cap
  ListenFacts listen_facts;            // for the access guard

  net::awaitable<void> session(ClientSocket socket, Listener::Slot slot);
};

class Session {
 public:
  Session(Server::Impl& srv, ClientSocket socket, Listener::Slot slot)
      : srv_(srv), stream_(std::move(socket)), deadline_(stream_.get_executor()), slot_(slot) {}
  net::awaitable<void> run();
  ClientStream& stream() { return stream_; }

 private:
  // session_read.cpp
  bool take_whole_request(Request& req);
  net::awaitable<bool> read_request(Request& req);
  net::awaitable<bool> read_head(RequestHead& head, const Config& cfg);
  net::awaitable<bool> read_sized_body(std::string& body, uint64_t length, Deadline::Clock::time_point due);
  net::awaitable<bool> read_chunked_body(std::string& body, unsigned version, const Config& cfg,
                                         Deadline::Clock::time_point due);
  // session_form.cpp: a multipart form held until its `model` field, the rest streamed to the engine
  bool streams_body(const Request& req, const RequestHead& head) const;
  net::awaitable<bool> form_inference(Request& req);
  net::awaitable<bool> refuse_form(const Request& req, const ApiError& e,
                                   std::chrono::steady_clock::time_point started);
  // server.cpp
  void take_watch_bytes();
  net::awaitable<bool> serve_one(bool taken);
  net::awaitable<bool> inference(Request& req, Route route = Route::inference);
  net::awaitable<bool> refuse_inference(const Request& req, const ApiError& e, const ModelConfig* model,
                                        std::chrono::steady_clock::time_point started);
  net::awaitable<bool> not_admitted(const Request& req, const InferenceRequest& ir, Admission& adm, bool watching,
                                    SseWriter& early, std::chrono::steady_clock::time_point started);
  void record(const std::string& model, int status, std::chrono::steady_clock::time_point started,
              const Admission* adm, const RelayResult* r) const;
  ClientWatch& watch();  // the connection's disconnect watch, made on first use
  // session_routes.cpp
  bool admit(Route route);
  net::awaitable<bool> refuse_access();
  Reply admin(Route route, std::string_view target);
  const ModelConfig* wants_load_stream(Route route, const Request& req) const;
  net::awaitable<Reply> model_admin(Route route, const std::string& body);
  net::awaitable<bool> log_stream(const Request& req);
  // writes
  ClientWriter writer() {
    return ClientWriter(stream_.socket(), deadline_, srv_.coordinator.config()->timeouts.client_write);
  }
  net::awaitable<bool> write_reply(const Request& req, const Reply& r, bool keep_alive);
  net::awaitable<bool> write_error(unsigned version, bool keep_alive, const ApiError& e);

  Server::Impl& srv_;
  ClientStream stream_;
  beast::flat_buffer buf_;
  Deadline deadline_;  // bounds every read and write of the session's hot path
  std::shared_ptr<ClientWatch> watch_;  // shared: its pending read's handler keeps it alive
  Request req_;  // the request being served
  AccessVerdict verdict_;     // the access guard's, for req_
  std::string extra_fields_;  // CORS header lines for req_'s responses (an allowed cross-origin page), or ""
  bool first_ = true;
  Listener::Slot slot_;  // this connection in the listener's table (idle between requests: closed first at the cap)
  PrefixReport prefix_;  // req_'s prefix diagnosis (PERF line, metrics)
  struct PendingBody {
    bool chunked = false;
    uint64_t length = 0;
    Deadline::Clock::time_point due;
  };
  std::optional<PendingBody> pending_body_;  // req_'s body is still unread (form_inference() reads it)
};

}  // namespace llmux
