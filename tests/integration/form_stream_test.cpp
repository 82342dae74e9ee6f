// Multipart forms streamed through llmux (proxy/session/session_form.cpp): a large upload whose `model` field comes
// first reaches the engine intact (the fake engine echoes its length and FNV-1a digest) while llmux's peak memory
// stays far below the body's size; a model field after the file part is held up to maxRequestBody; a chunked
// upload over maxRequestBody is cut with 413; a client that leaves mid-body releases its engine.
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/support/fnv.hpp"

using namespace llmux::test;

namespace {

const std::string kBoundary = "----llmuxstream7";
const Headers kFormType{{"Content-Type", "multipart/form-data; boundary=" + kBoundary}};

std::string model_part(const std::string& model) {
  return "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n" + model + "\r\n";
}

std::string file_part(size_t size) {
  std::string b = "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                  "Content-Type: audio/wav\r\n\r\n";
  b.reserve(b.size() + size + 64);
  for (size_t i = 0; i < size; ++i) b.push_back(static_cast<char>('a' + (i * 7919) % 26));
  return b + "\r\n";
}

std::string form(const std::string& first, const std::string& second) {
  return first + second + "--" + kBoundary + "--\r\n";
}

// A body in chunks of `piece` bytes, ended by the last chunk.
std::string chunked(const std::string& body, size_t piece) {
  std::string out;
  char line[24];
  for (size_t at = 0; at < body.size(); at += piece) {
    const size_t n = std::min(piece, body.size() - at);
    std::snprintf(line, sizeof line, "%zx\r\n", n);
    out.append(line).append(body, at, n).append("\r\n");
  }
  return out + "0\r\n\r\n";
}

// llmux's peak resident memory so far (VmHWM, KiB).
uint64_t peak_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

HttpResponse post_form(Llmux& l, const std::string& body, Headers h = kFormType) {
  return http_request(l.port(), "POST", "/v1/audio/transcriptions", body, h, std::chrono::seconds(60));
}

}  // namespace

TEST(FormStream, LargeUploadReachesTheEngineIntactWithoutHoldingIt) {
  const auto tag = unique_tag("formbig");
  Llmux l("models:\n  w:\n    cmd: " + fake_cmd(tag) + "\n    aliases: [whisper-1]\n    useModelName: ggml-large\n");
  ASSERT_EQ(post_form(l, form(model_part("w"), file_part(10))).status, 200);  // loaded
  const uint64_t before = peak_kib(l.process().pid());  // 0 where there is no /proc (macOS): not checked there
  const std::string file = file_part(20 << 20);
  const HttpResponse r = post_form(l, form(model_part("whisper-1"), file));
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  const std::string expected = form(model_part("ggml-large"), file);  // only the model value changed
  EXPECT_EQ(r.json()["length"], expected.size());
  EXPECT_EQ(r.json()["fnv1a64"], fnv1a64_hex(expected));
  EXPECT_EQ(r.json()["engine"], tag);
  // Held whole, the 20 MiB body (and its copy with the model spliced) would raise the peak by 20 MiB or more.
  const uint64_t after = peak_kib(l.process().pid());
  if (before > 0) {
    EXPECT_LT(after - before, 6u * 1024) << "llmux's peak grew from " << before << " to " << after << " KiB";
  }
  // The connection's next request is served as usual.
  EXPECT_EQ(post_form(l, form(model_part("w"), file_part(10))).status, 200);
}

TEST(FormStream, ChunkedUploadIsStreamedChunked) {
  const auto tag = unique_tag("formchunk");
  Llmux l("models:\n  w:\n    cmd: " + fake_cmd(tag) + "\n    useModelName: ggml-large\n");
  const std::string file = file_part(3 << 20);
  Headers h = kFormType;
  h.emplace_back("Transfer-Encoding", "chunked");
  const HttpResponse r = post_form(l, chunked(form(model_part("w"), file), 100000), h);
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  const std::string expected = form(model_part("ggml-large"), file);
  EXPECT_EQ(r.json()["length"], expected.size());
  EXPECT_EQ(r.json()["fnv1a64"], fnv1a64_hex(expected));
}

// The model field after the file part: the body is held until the field, at most maxRequestBody.
TEST(FormStream, ModelAfterTheFileIsHeldUpToMaxRequestBody) {
  const auto ta = unique_tag("formafter"), tb = unique_tag("formdefault");
  Llmux l("maxRequestBody: 4MiB\ndefaultModel: d\nmodels:\n  w:\n    cmd: " + fake_cmd(ta) +
          "\n  d:\n    cmd: " + fake_cmd(tb) + "\n");
  const std::string small = file_part(3 << 20);
  HttpResponse r = post_form(l, form(small, model_part("w")));
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_EQ(r.json()["engine"], ta);
  EXPECT_EQ(r.json()["fnv1a64"], fnv1a64_hex(form(small, model_part("w"))));
  r = post_form(l, form(small, ""));  // no model field: read whole, the default model
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_EQ(r.json()["engine"], tb);
  // Over maxRequestBody before the field is found: chunked, so only counting the body can tell.
  Headers h = kFormType;
  h.emplace_back("Transfer-Encoding", "chunked");
  r = post_form(l, chunked(form(file_part(5 << 20), model_part("w")), 65536), h);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.json()["error"]["code"], "request_too_large");
}

// A load longer than bodyRead between the held part and the rest: the rest gets its own bodyRead. The client sends
// the rest only once the engine is ready, and its last piece after a pause, so llmux's read of it must wait.
TEST(FormStream, ModelLoadDoesNotCountAgainstTheBodyTimeout) {
  const auto tag = unique_tag("formslow");
  Llmux l("timeouts:\n  bodyRead: 1s\nmodels:\n  w:\n    cmd: " + fake_cmd(tag, "--load-delay-ms 1500") + "\n");
  const std::string body = form(model_part("w"), file_part(1 << 20));
  const int fd = connect_tcp(l.port());
  const std::string head = "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                           "Content-Type: multipart/form-data; boundary=" + kBoundary + "\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n";
  auto send_all = [&](const std::string& s) {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  };
  ASSERT_TRUE(send_all(head + body.substr(0, 4096)));
  ASSERT_TRUE(eventually([&] { return l.worker()["state"] == "ready"; }, std::chrono::seconds(10)));
  ASSERT_TRUE(send_all(body.substr(4096, body.size() - 4096 - 100)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a stimulus (llmux waits for the rest), not a bound
  ASSERT_TRUE(send_all(body.substr(body.size() - 100)));
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200")) << answer.substr(0, 300);
  EXPECT_NE(answer.find(fnv1a64_hex(body)), std::string::npos);
}

// Model first, then more than maxRequestBody: cut with 413 while streaming (the engine never gets a whole body).
TEST(FormStream, StreamedBodyOverMaxRequestBodyIs413) {
  const auto tag = unique_tag("formcut");
  Llmux l("maxRequestBody: 2MiB\nmodels:\n  w:\n    cmd: " + fake_cmd(tag) + "\n");
  Headers h = kFormType;
  h.emplace_back("Transfer-Encoding", "chunked");
  const HttpResponse r = post_form(l, chunked(form(model_part("w"), file_part(3 << 20)), 65536), h);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.json()["error"]["code"], "request_too_large");
  EXPECT_TRUE(eventually([&] { return l.worker()["inFlight"] == 0; }, std::chrono::seconds(10)));
  EXPECT_EQ(post_form(l, form(model_part("w"), file_part(1000))).status, 200);  // llmux and the engine serve on
}

// Chunked framing that goes bad after the model field: 400, the engine's connection closed, nothing left held.
TEST(FormStream, MalformedChunkedBodyWhileStreamingIs400) {
  const auto tag = unique_tag("formbad");
  Llmux l("models:\n  w:\n    cmd: " + fake_cmd(tag) + "\n");
  Headers h = kFormType;
  h.emplace_back("Transfer-Encoding", "chunked");
  const std::string good = chunked(model_part("w") + file_part(300000), 65536);
  const std::string bad = good.substr(0, good.size() - 5) + "zz\r\nnot a chunk\r\n0\r\n\r\n";  // last chunk cut
  const HttpResponse r = post_form(l, bad, h);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "invalid_request_body");
  EXPECT_TRUE(eventually([&] { return l.worker()["inFlight"] == 0; }, std::chrono::seconds(10)));
}

TEST(FormStream, ClientLeavingMidBodyReleasesTheEngine) {
  const auto tag = unique_tag("formgone");
  Llmux l("models:\n  w:\n    cmd: " + fake_cmd(tag) + "\n");
  ASSERT_EQ(post_form(l, form(model_part("w"), file_part(10))).status, 200);  // loaded
  const std::string body = form(model_part("w"), file_part(8 << 20));
  const int fd = connect_tcp(l.port());
  const std::string head = "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: multipart/form-data; boundary=" + kBoundary + "\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n";
  const std::string sent = head + body.substr(0, 1 << 20);
  ASSERT_EQ(::send(fd, sent.data(), sent.size(), MSG_NOSIGNAL), static_cast<ssize_t>(sent.size()));
  // The request is admitted and streaming (the engine holds a lease) before the client leaves.
  ASSERT_TRUE(eventually([&] { return l.worker()["inFlight"] == 1; }, std::chrono::seconds(10)));
  ::close(fd);
  EXPECT_TRUE(eventually([&] { return l.worker()["inFlight"] == 0; }, std::chrono::seconds(10)));
  const HttpResponse r = post_form(l, form(model_part("w"), file_part(1000)));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["length"], form(model_part("w"), file_part(1000)).size());
}
