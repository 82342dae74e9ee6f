#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/config.hpp"
#include "tests/unit/config_test_support.hpp"

namespace llmux {
namespace {

namespace fs = std::filesystem;
using Words = std::vector<std::string>;
using namespace std::chrono_literals;
using config_test::kOneModel;
using config_test::lines;
using config_test::load;
using config_test::load_error;

struct ErrorCase {
  std::string yaml;
  std::string what;
};

void expect_errors(const std::vector<ErrorCase>& cases) {
  for (const ErrorCase& c : cases) EXPECT_EQ(load_error(c.yaml), c.what) << c.yaml;
}

TEST(LoadConfigErrors, DocumentShape) {
  expect_errors({
      {"", "t.yaml: models: at least one model is required"},
      {"logLevel: info\n", "t.yaml: models: at least one model is required"},
      {"just text\n", "t.yaml:1: expected a map of settings at the top level"},
      {"models: {}\n", "t.yaml:1: models: at least one model is required"},
      {"\nmodels: [a, b]\n", "t.yaml:2: models: expected a map"},
      {lines({"models:", "  a: llama-server --port ${PORT}"}), "t.yaml:2: models.a: expected a map"},
      {lines({"models:", "  a:", "    name: x"}),
       "t.yaml:2: models.a: cmd is required: the command that starts this model's engine (or, for a remote "
       "server, leave cmd out and set proxy to its http(s) URL)"},
      {lines({"models:", "  \"\":", "    cmd: x"}), "t.yaml:2: models: a model id cannot be empty"},
      {lines({"models:", "  a:", "    cmd: x --port ${PORT}", "  a:", "    cmd: y --port ${PORT}"}),
       "t.yaml:4: models.a: duplicate key (first defined at line 2)"},
      {lines({"logLevel: info", "models:", "  a:", "    cmd: x --port ${PORT}", "logLevel: debug"}),
       "t.yaml:5: logLevel: duplicate key (first defined at line 1)"},
      {lines({"? [a, b]", ": 1", "models: {}"}), "t.yaml:1: expected a string key"},
  });
}

TEST(LoadConfigErrors, YamlSyntaxErrorsCarryTheLine) {
  try {
    load(lines({"models:", "  a:", "    cmd: x --port ${PORT}", "   ttl: 5"}));
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "t.yaml");
    EXPECT_EQ(e.line(), 4);
    EXPECT_EQ(e.key(), "");
    EXPECT_EQ(e.reason(), "end of map not found");
    EXPECT_STREQ(e.what(), "t.yaml:4: end of map not found");
  }
  expect_errors({
      {lines({"models:", "  a:", "    cmd: [x", "    ttl: 5"}), "t.yaml:4: end of sequence flow not found"},
      {lines({"listen: 1", "models: a: b"}), "t.yaml:2: illegal map value"},
      {lines({"models:", "\ta:", "    cmd: x"}), "t.yaml:2: illegal map value"},
  });
}

TEST(LoadConfigErrors, Commands) {
  const auto model = [](std::initializer_list<std::string_view> body) {
    std::string yaml = "models:\n  a:\n";
    for (std::string_view l : body) yaml.append("    ").append(l).push_back('\n');
    return yaml;
  };
  unsetenv("LLMUX_CFG_TEST_UNSET");
  expect_errors({
      {model({"cmd: [llama-server]"}), "t.yaml:3: models.a.cmd: expected a string"},
      {model({"cmd:"}), "t.yaml:3: models.a.cmd: expected a string"},
      {model({"cmd: \"  # nothing but a comment\""}), "t.yaml:3: models.a.cmd: cmd is empty"},
      {model({"cmd: llama-server --port ${PORT} -m 'a.gguf"}), "t.yaml:3: models.a.cmd: unterminated single quote"},
      {model({"cmd: |", "  llama-server --port ${PORT}", "  -m \"x"}),
       "t.yaml:3: models.a.cmd: unterminated double quote"},
      {model({"cmd: llama-server --port ${PORT} \\"}), "t.yaml:3: models.a.cmd: trailing backslash"},
      {model({"cmd: llama-server --port ${PORT} ${nope}"}), "t.yaml:3: models.a.cmd: unknown macro ${nope}"},
      {model({"cmd: llama-server --port ${PORT", "ttl: 5"}), "t.yaml:3: models.a.cmd: unterminated ${"},
      {model({"cmd: llama-server --port ${PORT}", "cmdStop: kill ${env.LLMUX_CFG_TEST_UNSET}"}),
       "t.yaml:4: models.a.cmdStop: environment variable LLMUX_CFG_TEST_UNSET is not set"},
      {model({"proxy: http://localhost:${PORT}", "cmd: llama-server --port 8080"}),
       "t.yaml:3: models.a.proxy: proxy uses ${PORT} but cmd does not: the engine would not listen on the port "
       "llmux picks (add e.g. --port ${PORT} to cmd, or set proxy to the engine's fixed address)"},
  });
}

TEST(LoadConfigErrors, EndpointsAndReadiness) {
  const std::string head = "models:\n  a:\n    cmd: x --port ${PORT}\n";
  expect_errors({
      {head + "    proxy: https://127.0.0.1:${PORT}\n", "t.yaml:4: models.a.proxy: https engines are not supported yet (remote upstreams over TLS)"},
      {head + "    proxy: 127.0.0.1:8080\n",
       "t.yaml:4: models.a.proxy: expected an http:// URL such as http://127.0.0.1:${PORT}, got '127.0.0.1:8080'"},
      {head + "    proxy: http://\n",
       "t.yaml:4: models.a.proxy: expected an http:// URL such as http://127.0.0.1:${PORT}, got 'http://'"},
      {head + "    checkEndpoint: health\n",
       "t.yaml:4: models.a.checkEndpoint: expected a path starting with '/', or none; got 'health'"},
      {head + "    readiness: grpc\n",
       "t.yaml:4: models.a.readiness: expected http, completion, tcp or none, got 'grpc'"},
      {head + "    checkEndpoint: none\n    readiness: http\n",
       "t.yaml:5: models.a.readiness: readiness http needs a checkEndpoint, not none"},
  });
}

TEST(LoadConfigErrors, DurationsAndSizes) {
  const std::string head = "models:\n  a:\n    cmd: x --port ${PORT}\n";
  expect_errors({
      {head + "    ttl: abc\n", "t.yaml:4: models.a.ttl: expected a duration (e.g. 30s, 5m, 1h), got 'abc'"},
      {head + "    ttl: -5\n", "t.yaml:4: models.a.ttl: a duration cannot be negative, got '-5'"},
      {head + "    stopGrace: [1]\n", "t.yaml:4: models.a.stopGrace: expected a duration (e.g. 30s, 5m, 1h)"},
      {head + "    startTimeout: 0\n", "t.yaml:4: models.a.startTimeout: must be greater than 0, got '0'"},
      {"healthCheckTimeout: 0s\n" + head, "t.yaml:1: healthCheckTimeout: must be greater than 0, got '0s'"},
      {"globalTTL: 5 minutes\n" + head, "t.yaml:1: globalTTL: expected a duration (e.g. 30s, 5m, 1h), got '5 minutes'"},
      {"stopGrace: -1s\n" + head, "t.yaml:1: stopGrace: a duration cannot be negative, got '-1s'"},
      {"timeouts:\n  probe: 0\n" + head, "t.yaml:2: timeouts.probe: must be greater than 0, got '0'"},
      {"timeouts: 5s\n" + head, "t.yaml:1: timeouts: expected a map"},
      {"maxRequestBody: lots\n" + head,
       "t.yaml:1: maxRequestBody: expected a size (e.g. 512KiB, 32MiB, 1GB), got 'lots'"},
      {"maxRequestBody: 0\n" + head, "t.yaml:1: maxRequestBody: must be greater than 0"},
  });
}

TEST(LoadConfigErrors, ListsAndScalars) {
  const std::string head = "models:\n  a:\n    cmd: x --port ${PORT}\n";
  expect_errors({
      {head + "    aliases: fast\n", "t.yaml:4: models.a.aliases: expected a list of strings"},
      {head + "    aliases:\n      - ok\n      - {id: x}\n", "t.yaml:6: models.a.aliases: expected a list of strings"},
      {head + "    aliases: [\"\"]\n", "t.yaml:4: models.a.aliases: an alias cannot be empty"},
      {head + "    env: {A: 1}\n", "t.yaml:4: models.a.env: expected a list of strings"},
      {head + "    env:\n      - A=1\n      - NOVALUE\n", "t.yaml:6: models.a.env: expected NAME=value, got 'NOVALUE'"},
      {head + "    env:\n      - =x\n", "t.yaml:5: models.a.env: expected NAME=value, got '=x'"},
      {head + "    env:\n      - X=${env.LLMUX_CFG_TEST_UNSET}\n",
       "t.yaml:5: models.a.env: environment variable LLMUX_CFG_TEST_UNSET is not set"},
      {head + "    unlisted: maybe\n", "t.yaml:4: models.a.unlisted: expected true or false"},
      {head + "    name: {x: 1}\n", "t.yaml:4: models.a.name: expected a string"},
      {head + "    useModelName: ${nope}\n", "t.yaml:4: models.a.useModelName: unknown macro ${nope}"},
  });
}

TEST(LoadConfigErrors, Aliases) {
  expect_errors({
      {lines({"models:", "  a:", "    cmd: x --port ${PORT}", "    aliases: [b]", "  b:", "    cmd: x --port ${PORT}"}),
       "t.yaml:4: models.a.aliases: alias 'b' is already used by model 'b'"},
      {lines({"models:", "  a:", "    cmd: x --port ${PORT}", "    aliases: [a]"}),
       "t.yaml:4: models.a.aliases: alias 'a' is already used by model 'a'"},
      {lines({"models:", "  a:", "    cmd: x --port ${PORT}", "    aliases: [fast]",
              "  b:", "    cmd: x --port ${PORT}", "    aliases:", "      - slow", "      - fast"}),
       "t.yaml:9: models.b.aliases: alias 'fast' is already used by model 'a'"},
      {lines({"models:", "  a:", "    cmd: x --port ${PORT}", "    aliases: [x, x]"}),
       "t.yaml:4: models.a.aliases: alias 'x' is already used by model 'a'"},
  });
}

TEST(LoadConfigErrors, Macros) {
  const std::string tail = "models:\n  a:\n    cmd: x --port ${PORT}\n";
  expect_errors({
      {"macros:\n  PORT: 8080\n" + tail, "t.yaml:2: macros.PORT: 'PORT' is a reserved macro name (llmux sets it)"},
      {"macros:\n  MODEL_ID: x\n" + tail,
       "t.yaml:2: macros.MODEL_ID: 'MODEL_ID' is a reserved macro name (llmux sets it)"},
      {"macros:\n  PID: x\n" + tail, "t.yaml:2: macros.PID: 'PID' is a reserved macro name (llmux sets it)"},
      {"macros:\n  ok: 1\n  1st: x\n" + tail,
       "t.yaml:3: macros.1st: invalid macro name: use letters, digits, '_', '.' or '-', starting with a letter or "
       "'_'"},
      {"macros:\n  \"a b\": x\n" + tail,
       "t.yaml:2: macros.a b: invalid macro name: use letters, digits, '_', '.' or '-', starting with a letter or "
       "'_'"},
      {"macros:\n  env.HOME: x\n" + tail,
       "t.yaml:2: macros.env.HOME: macro names starting with 'env.' are reserved for environment variables"},
      {"macros:\n  a: [1, 2]\n" + tail, "t.yaml:2: macros.a: expected a string"},
      {"macros: [a]\n" + tail, "t.yaml:1: macros: expected a map"},
      {"macros:\n  a: ${a}\n" + tail + "    env: [\"X=${a}\"]\n",
       "t.yaml:6: models.a.env: macro recursion too deep at ${a}"},
      {tail + "    macros:\n      PORT: 1\n",
       "t.yaml:5: models.a.macros.PORT: 'PORT' is a reserved macro name (llmux sets it)"},
  });
}

TEST(LoadConfigErrors, TopLevelValues) {
  const std::string tail =
      "models:\n  a:\n    cmd: x --port ${PORT}\n    aliases: [x]\n  hidden:\n"
      "    cmd: x --port ${PORT}\n    unlisted: true\n";
  expect_errors({
      {"listen: localhost\n" + tail, "t.yaml:1: listen: expected host:port, :port or a port number, got 'localhost'"},
      {"listen: :70000\n" + tail, "t.yaml:1: listen: expected host:port, :port or a port number, got ':70000'"},
      {"listen: \"[::1]\"\n" + tail, "t.yaml:1: listen: expected host:port, :port or a port number, got '[::1]'"},
      {"listen: \"host:\"\n" + tail, "t.yaml:1: listen: expected host:port, :port or a port number, got 'host:'"},
      {"logLevel: verbose\n" + tail, "t.yaml:1: logLevel: expected debug, info, warn or error, got 'verbose'"},
      {tail + "defaultModel: nope\n", "t.yaml:8: defaultModel: 'nope' is not a model id or alias; available: a, x"},
  });
}

TEST(ParseDuration, Accepted) {
  const std::vector<std::pair<std::string, Duration>> cases = {
      {"0", 0ms},     {"30", 30s},     {"30s", 30s},   {"500ms", 500ms}, {"5m", 5min}, {"1h", 1h},     {"1.5s", 1500ms},
      {"0.25m", 15s}, {"2.5", 2500ms}, {" 10s ", 10s}, {"10 s", 10s},    {"0ms", 0ms}, {"86400", 24h},
  };
  for (const auto& [text, expected] : cases) EXPECT_EQ(parse_duration(text), expected) << text;
}

TEST(ParseDuration, Rejected) {
  for (const std::string text : {"", " ", "abc", "s", "10x", "-5", "-5s", "+5", "1.", ".5", "1.5.2s", "1e3", "5 m s",
                                 "10sec", "1d", "10S", "99999999999999h"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << text;
  }
}

TEST(ParseSize, Accepted) {
  const std::vector<std::pair<std::string, uint64_t>> cases = {
      {"0", 0},
      {"1024", 1024},
      {"1B", 1},
      {"1KB", 1000},
      {"1kb", 1000},
      {"1KiB", 1024},
      {"32MiB", 32ull << 20},
      {"32mib", 32ull << 20},
      {"32 MiB", 32ull << 20},
      {"1MB", 1000000},
      {"1.5GB", 1500000000},
      {"1.5GiB", 1610612736},
      {"2TB", 2000000000000},
      {"1TiB", 1ull << 40},
      {"0.5KiB", 512},
      {"18446744073709551615", 18446744073709551615ull},
      {"16777215TiB", 16777215ull << 40},
  };
  for (const auto& [text, expected] : cases) EXPECT_EQ(parse_size(text), expected) << text;
}

TEST(ParseSize, Rejected) {
  for (const std::string text : {"", "MB", "1.5", "1.5B", "-1", "1XB", "1 e3", "1K", "1M", "18446744073709551616",
                                 "16777216TiB", "20000000000PB", "0x10"}) {
    EXPECT_EQ(parse_size(text), std::nullopt) << text;
  }
}

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "llmux-config-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }

 private:
  fs::path path_;
};

TEST(LoadConfigFile, ReadsARealFileAndRecordsItsAbsolutePath) {
  TempDir dir;
  fs::create_directory(dir.path() / "sub");
  dir.write("llmux.yaml", "listen: 9001\nwhat: 1\n" + kOneModel);
  const std::string relative = fs::relative(dir.path() / "sub" / ".." / "llmux.yaml").string();
  ASSERT_FALSE(fs::path(relative).is_absolute());
  const auto c = load_config(relative);
  EXPECT_EQ(c->path, (dir.path() / "llmux.yaml").string());
  EXPECT_EQ(c->listen_port, 9001);
  EXPECT_EQ(c->models.at(0).id, "a");
  // Messages name the file as the caller wrote it.
  EXPECT_EQ(c->warnings, (Words{relative + ":2: what: unknown key, ignored"}));
}

TEST(LoadConfigFile, ErrorsNameTheFileAsGiven) {
  TempDir dir;
  const fs::path bad = dir.write("bad.yaml", "models:\n  a:\n    cmd: x --port ${PORT}\n    ttl: soon\n");
  EXPECT_THROW(
      {
        try {
          load_config(bad.string());
        } catch (const ConfigError& e) {
          EXPECT_EQ(std::string(e.what()),
                    bad.string() + ":4: models.a.ttl: expected a duration (e.g. 30s, 5m, 1h), got 'soon'");
          throw;
        }
      },
      ConfigError);
}

TEST(LoadConfigFile, UnreadableFile) {
  TempDir dir;
  const auto error_of = [](const std::string& path) {
    try {
      load_config(path);
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.line(), 0);
      EXPECT_EQ(e.key(), "");
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string missing = (dir.path() / "missing.yaml").string();
  EXPECT_EQ(error_of(missing), missing + ": cannot read: No such file or directory");
  EXPECT_EQ(error_of(dir.path().string()), dir.path().string() + ": cannot read: Is a directory");
}

// Every shipped config must load cleanly: no error, no warning.
TEST(ShippedConfigs, LoadWithoutWarnings) {
#ifdef LLMUX_SOURCE_DIR
  const fs::path configs = fs::path(LLMUX_SOURCE_DIR) / "configs";
  ::setenv("LLMUX_FAKE_ENGINE", "/bin/true", 0);  // configs/demo.yaml: set by scripts/demo.sh
  ::setenv("LLMUX_CLUSTER_KEY", "cluster-key-for-test", 0);  // configs/scaling.yaml
  ::setenv("LLMUX_GPU_BOX_KEY", "gpu-box-key-for-test", 0);
  int loaded = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(configs)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    std::shared_ptr<const Config> c;
    ASSERT_NO_THROW(c = load_config(entry.path().string()));
    EXPECT_EQ(c->warnings, Words{});
    EXPECT_FALSE(c->models.empty());
    ++loaded;
  }
  EXPECT_GE(loaded, 6);
  // docs/scaling.md's example: one local model, four remote ones, keys only in the bridges' environment.
  const auto scaling = load_config((configs / "scaling.yaml").string());
  EXPECT_TRUE(scaling->find_model("local-small")->remote.empty());
  EXPECT_EQ(scaling->find_model("cluster-qwen")->remote, "https://vllm.ml.svc.cluster.local:8443");
  EXPECT_EQ(scaling->find_model("cluster-qwen")->readiness, Readiness::http);
  EXPECT_EQ(scaling->find_model("ollama-llama")->remote, "http://localhost:11434");
  EXPECT_EQ(scaling->find_model("lmstudio-gemma")->forwarded_name(), "google/gemma-3-12b");
  EXPECT_EQ(scaling->find_model("gpu-box-coder")->readiness, Readiness::tcp);
  EXPECT_EQ(scaling->resolve("big"), scaling->find_model("cluster-qwen"));
  for (const char* key : {"cluster-key-for-test", "gpu-box-key-for-test"}) {
    EXPECT_NE(std::find(scaling->secrets.begin(), scaling->secrets.end(), key), scaling->secrets.end());
    for (const ModelConfig& m : scaling->models)
      for (const std::string& arg : m.argv) EXPECT_EQ(arg.find(key), std::string::npos);
  }
#else
  GTEST_SKIP() << "LLMUX_SOURCE_DIR is not defined for this test target";
#endif
}

}  // namespace
}  // namespace llmux
