// Resource-governance config keys: every validation error, in the loader's "file:line: key.path: reason" form.
#include <gtest/gtest.h>

#include "common/config.hpp"
#include "tests/unit/config_test_support.hpp"

namespace llmux {
namespace {

using Words = std::vector<std::string>;
using config_test::lines;
using config_test::load;
using config_test::load_error;
using config_test::kTail;
using config_test::with;


struct ErrorCase {
  std::string yaml;
  std::string what;
};

void expect_errors(const std::vector<ErrorCase>& cases) {
  for (const ErrorCase& c : cases) EXPECT_EQ(load_error(c.yaml), c.what) << c.yaml;
}

TEST(ConfigLimitsErrors, ModelKeys) {
  const std::string m = "t.yaml:4: models.a.";
  expect_errors({
      {with({}, {"kvReservation: lots"}),
       m + "kvReservation: expected a size (e.g. 512KiB, 32MiB, 1GB), got 'lots'"},
      {with({}, {"kvReservation: 0"}), m + "kvReservation: must be greater than 0"},
      {with({}, {"memoryUtilization: 0"}), m + "memoryUtilization: expected a number in (0, 1], got '0'"},
      {with({}, {"memoryUtilization: 1.2"}), m + "memoryUtilization: expected a number in (0, 1], got '1.2'"},
      {with({}, {"memoryUtilization: half"}), m + "memoryUtilization: expected a number, got 'half'"},
      {with({}, {"weights: 0"}), m + "weights: must be greater than 0"},
      {with({}, {"weights: [a]"}), m + "weights: expected a string"},
      {with({}, {"overhead: -1"}), m + "overhead: expected a size (e.g. 512KiB, 32MiB, 1GB), got '-1'"},
      {with({}, {"maxMemory: 0"}), m + "maxMemory: must be greater than 0"},
      {with({}, {"maxConcurrency: -1"}), m + "maxConcurrency: must be 0 (unlimited) or more, got -1"},
      {with({}, {"maxConcurrency: 1.5"}), m + "maxConcurrency: expected an integer, got '1.5'"},
      {with({}, {"concurrencyLimit: -2"}), m + "concurrencyLimit: must be 0 (llama-swap's default, 10) or more, got -2"},
      {with({}, {"maxConcurrency: 1", "concurrencyLimit: 2"}),
       "t.yaml:5: models.a.concurrencyLimit: set maxConcurrency (requests beyond it wait in the queue) or "
       "concurrencyLimit (llama-swap's: refused with 429), not both"},
      {with({}, {"queue: 5"}), m + "queue: expected a map"},
      {with({}, {"queue: {max: 0}"}), m + "queue.max: must be at least 1 (a model that is not loaded needs its first request queued), got 0"},
      {with({}, {"queue: {timeout: 0}"}), m + "queue.timeout: must be greater than 0, got '0'"},
      {with({}, {"priority: high"}), m + "priority: expected an integer, got 'high'"},
      {with({}, {"minResidency: soon"}),
       m + "minResidency: expected a duration (e.g. 30s, 5m, 1h), got 'soon'"},
  });
}

TEST(ConfigLimitsErrors, MaxTokens) {
  const std::string m = "t.yaml:4: models.a.maxTokens";
  expect_errors({
      {with({}, {"maxTokens: 0"}), m + ": must be at least 1, got 0"},
      {with({}, {"maxTokens: lots"}), m + ": expected an integer, got 'lots'"},
      {with({}, {"maxTokens: [1]"}), m + ": expected a token count or a map {default, limit, onExceed}"},
      {with({}, {"maxTokens: {default: -5}"}), m + ".default: must be at least 1, got -5"},
      {with({}, {"maxTokens: {default: 8192, limit: 4096}"}), m + ".limit: must be at least default (8192), got 4096"},
      {with({}, {"maxTokens: {limit: 10, onExceed: truncate}"}),
       m + ".onExceed: expected clamp or reject, got 'truncate'"},
      {lines({"maxTokens: {limit: 0}", kTail}),
       "t.yaml:1: maxTokens.limit: must be at least 1, got 0"},
  });
}

TEST(ConfigLimitsErrors, Params) {
  const std::string protected_reason =
      "model is protected (llmux sets it; use useModelName to change what the engine receives)";
  expect_errors({
      {with({}, {"params: {defaults: {model: x}}"}), "t.yaml:4: models.a.params.defaults.model: " + protected_reason},
      {with({}, {"params: {force: {model: x}}"}), "t.yaml:4: models.a.params.force.model: " + protected_reason},
      {with({}, {"params:", "  strip: [seed, model]"}), "t.yaml:5: models.a.params.strip: " + protected_reason},
      {with({}, {"params: {strip: [\"\"]}"}), "t.yaml:4: models.a.params.strip: a field name cannot be empty"},
      {with({}, {"params: {force: [a]}"}), "t.yaml:4: models.a.params.force: expected a map of request fields"},
      {with({}, {"params: {strip: seed}"}), "t.yaml:4: models.a.params.strip: expected a list of strings"},
      {with({}, {"params: [a]"}), "t.yaml:4: models.a.params: expected a map"},
      {with({}, {"params:", "  defaults: {a: 1, a: 2}"}),
       "t.yaml:5: models.a.params.defaults.a: duplicate key (first defined at line 5)"},
      {with({}, {"filters: {stripParams: [a]}"}), "t.yaml:4: models.a.filters.stripParams: expected a string"},
      {lines({"params: {force: {model: x}}", kTail}),
       "t.yaml:1: params.force.model: " + protected_reason},
  });
  const auto c = load(with({}, {"params: {defaults: {}, extra: 1}"}));
  EXPECT_EQ(c->warnings, Words{"t.yaml:4: models.a.params.extra: unknown key, ignored"});
}

TEST(ConfigLimitsErrors, Memory) {
  const std::string amount = "expected a fraction in (0, 1] of physical memory (0.8, 80%) or a size (48GiB)";
  expect_errors({
      {lines({"memory: 1", kTail}), "t.yaml:1: memory: expected a map"},
      {lines({"memory: {budget: 2}", kTail}), "t.yaml:1: memory.budget: " + amount + ", got '2'"},
      {lines({"memory: {budget: 0}", kTail}), "t.yaml:1: memory.budget: " + amount + ", got '0'"},
      {lines({"memory: {budget: 120%}", kTail}), "t.yaml:1: memory.budget: " + amount + ", got '120%'"},
      {lines({"memory: {budget: 0GiB}", kTail}), "t.yaml:1: memory.budget: " + amount + ", got '0GiB'"},
      {lines({"memory: {reserve: lots}", kTail}), "t.yaml:1: memory.reserve: " + amount + ", got 'lots'"},
      {lines({"memory: {ceilingSlack: 0.9}", kTail}), "t.yaml:1: memory.ceilingSlack: must be at least 1, got '0.9'"},
      {lines({"memory: {onCeiling: kill}", kTail}), "t.yaml:1: memory.onCeiling: expected evict or restart, got 'kill'"},
      {lines({"memory: {swapWait: -1s}", kTail}), "t.yaml:1: memory.swapWait: a duration cannot be negative, got '-1s'"},
      {lines({"memory: {sampleInterval: 50ms}", kTail}),
       "t.yaml:1: memory.sampleInterval: must be at least 100ms, got '50ms'"},
      {lines({"memory: {pressure: {evictAt: some}}", kTail}),
       "t.yaml:1: memory.pressure.evictAt: expected warning or critical, got 'some'"},
      {lines({"memory: {pressure: {psiWarning: 101}}", kTail}),
       "t.yaml:1: memory.pressure.psiWarning: expected a percentage from 0 to 100, got '101'"},
      {lines({"memory: {pressure: {psiWarning: 50, psiCritical: 20}}", kTail}),
       "t.yaml:1: memory.pressure.psiCritical: psiCritical (20) must be at least psiWarning (50)"},
      {lines({"memory: {pressure: {psiWarning: 50}}", kTail}),
       "t.yaml:1: memory.pressure.psiWarning: psiCritical (40) must be at least psiWarning (50)"},
      {lines({"maxSwapsWaited: 0", kTail}), "t.yaml:1: maxSwapsWaited: must be at least 1, got 0"},
  });
  const auto c = load(lines({"memory: {budget: 0.5, limit: 3}", kTail}));
  EXPECT_EQ(c->warnings, Words{"t.yaml:1: memory.limit: unknown key, ignored"});
}

TEST(ConfigLimitsErrors, MemoryMacros) {
  expect_errors({
      {with({}, {"env: [\"A=${KV_MB}\"]"}), "t.yaml:4: models.a.env: uses ${KV_MB} but kvReservation is not set"},
      {lines({"models:", "  a:", "    cmd: x --port ${PORT} --kv ${KV_BYTES}"}),
       "t.yaml:3: models.a.cmd: uses ${KV_BYTES} but kvReservation is not set"},
      {lines({"macros:", "  serve: x --port ${PORT} --u ${MEM_UTIL}", "models:", "  a:", "    cmd: ${serve}"}),
       "t.yaml:5: models.a.cmd: uses ${MEM_UTIL} but memoryUtilization is not set"},
      {with({}, {"useModelName: m-${KV_GB}"}),
       "t.yaml:4: models.a.useModelName: uses ${KV_GB} but kvReservation is not set"},
      {lines({"macros: {KV_MB: 5}", kTail}),
       "t.yaml:1: macros.KV_MB: 'KV_MB' is a reserved macro name (llmux sets it)"},
      {with({}, {"macros: {MEM_UTIL: 0.5}"}),
       "t.yaml:4: models.a.macros.MEM_UTIL: 'MEM_UTIL' is a reserved macro name (llmux sets it)"},
  });
}

}  // namespace
}  // namespace llmux
