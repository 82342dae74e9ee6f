// Resource-governance config keys: per-model limits with top-level defaults, `memory`, params/filters, memory
// macros, weights.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/config.hpp"
#include "tests/unit/config_test_support.hpp"

namespace llmux {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Words = std::vector<std::string>;
using namespace std::chrono_literals;
using config_test::kOneModel;
using config_test::lines;
using config_test::load;
using config_test::kTail;
using config_test::with;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

const ModelConfig& model_a(const std::shared_ptr<const Config>& c) { return *c->find_model("a"); }

TEST(ConfigLimits, DefaultsWhenNothingIsSet) {
  const auto c = load(kOneModel);
  const ModelConfig& m = model_a(c);
  EXPECT_EQ(m.kv_reservation, std::nullopt);
  EXPECT_EQ(m.memory_utilization, std::nullopt);
  EXPECT_EQ(m.weights_bytes, std::nullopt);
  EXPECT_EQ(m.weights_path, "");
  EXPECT_FALSE(m.overhead.has_value());  // per engine kind (common/engine_estimate)
  EXPECT_EQ(m.max_memory, std::nullopt);
  EXPECT_EQ(m.max_tokens, TokenCaps{});
  EXPECT_TRUE(m.params.empty());
  EXPECT_TRUE(m.params.defaults.is_object());
  EXPECT_EQ(m.max_concurrency, 0);
  EXPECT_EQ(m.queue.max, 64);
  EXPECT_EQ(m.queue.timeout, 5min);
  EXPECT_EQ(m.priority, 0);
  EXPECT_EQ(m.min_residency, 0ms);
  EXPECT_EQ(c->max_swaps_waited, 3);
  const MemoryConfig& mem = c->memory;
  EXPECT_EQ(mem.budget, (MemoryAmount{0.8, 0}));
  EXPECT_EQ(mem.reserve, (MemoryAmount{0, 2 * kGiB}));
  EXPECT_EQ(mem.ceiling_slack, 1.25);
  EXPECT_EQ(mem.on_ceiling, OnCeiling::evict);
  EXPECT_EQ(mem.swap_wait, 10s);
  EXPECT_EQ(mem.sample_interval, 1s);
  EXPECT_EQ(mem.pressure.evict_at, PressureLevel::warning);
  EXPECT_EQ(mem.pressure.psi_warning, 10);
  EXPECT_EQ(mem.pressure.psi_critical, 40);
  EXPECT_EQ(c->warnings, Words{});
}

TEST(ConfigLimits, MemoryAmountResolves) {
  EXPECT_EQ((MemoryAmount{0.5, 0}).resolve(16 * kGiB), 8 * kGiB);
  EXPECT_EQ((MemoryAmount{0, 3 * kGiB}).resolve(16 * kGiB), 3 * kGiB);
  EXPECT_STREQ(to_string(OnCeiling::restart), "restart");
  EXPECT_STREQ(to_string(PressureLevel::critical), "critical");
}

TEST(ConfigLimits, PerModelValues) {
  const auto c = load(with({}, {
                                   "kvReservation: 4GiB",
                                   "memoryUtilization: 0.5",
                                   "weights: 4.5GiB",
                                   "overhead: 1GiB",
                                   "maxMemory: 12GiB",
                                   "maxTokens: {default: 1024, limit: 4096, onExceed: reject}",
                                   "maxConcurrency: 4",
                                   "queue: {max: 8, timeout: 30s}",
                                   "priority: -2",
                                   "minResidency: 2m",
                               }));
  const ModelConfig& m = model_a(c);
  EXPECT_EQ(m.kv_reservation, 4 * kGiB);
  EXPECT_EQ(m.memory_utilization, 0.5);
  EXPECT_EQ(m.weights_bytes, 4 * kGiB + 512 * kMiB);
  EXPECT_EQ(m.overhead, kGiB);
  EXPECT_EQ(m.max_memory, 12 * kGiB);
  EXPECT_EQ(m.max_tokens, (TokenCaps{1024, 4096, true}));
  EXPECT_EQ(m.max_concurrency, 4);
  EXPECT_EQ(m.queue, (QueueConfig{8, 30s}));
  EXPECT_EQ(m.priority, -2);
  EXPECT_EQ(m.min_residency, 2min);
  EXPECT_EQ(c->warnings, Words{});
}

TEST(ConfigLimits, TopLevelValuesAreTheModelsDefaults) {
  const auto c = load(lines({
      "kvReservation: 2GiB",
      "memoryUtilization: 0.6",
      "overhead: 256MiB",
      "maxMemory: 20GiB",
      "maxTokens: {default: 512, limit: 8192}",
      "params: {defaults: {temperature: 0.7}}",
      "maxConcurrency: 2",
      "queue: {max: 16, timeout: 1m}",
      "priority: 5",
      "minResidency: 30s",
      "models:",
      "  plain:",
      "    cmd: engine --port ${PORT}",
      "  custom:",
      "    cmd: engine --port ${PORT}",
      "    kvReservation: 8GiB",
      "    memoryUtilization: 0.9",
      "    overhead: 0",
      "    maxMemory: 30GiB",
      "    maxTokens: 100",
      "    params: {strip: [seed]}",
      "    maxConcurrency: 0",
      "    queue: {timeout: 10s}",
      "    priority: 1",
      "    minResidency: 0",
  }));
  const ModelConfig& plain = *c->find_model("plain");
  EXPECT_EQ(plain.kv_reservation, 2 * kGiB);
  EXPECT_EQ(plain.memory_utilization, 0.6);
  EXPECT_EQ(plain.overhead, 256 * kMiB);
  EXPECT_EQ(plain.max_memory, 20 * kGiB);
  EXPECT_EQ(plain.max_tokens, (TokenCaps{512, 8192, false}));
  EXPECT_EQ(plain.params.defaults, json({{"temperature", 0.7}}));
  EXPECT_EQ(plain.max_concurrency, 2);
  EXPECT_EQ(plain.queue, (QueueConfig{16, 1min}));
  EXPECT_EQ(plain.priority, 5);
  EXPECT_EQ(plain.min_residency, 30s);
  const ModelConfig& custom = *c->find_model("custom");
  EXPECT_EQ(custom.kv_reservation, 8 * kGiB);
  EXPECT_EQ(custom.memory_utilization, 0.9);
  EXPECT_EQ(custom.overhead, 0ull);
  EXPECT_EQ(custom.max_memory, 30 * kGiB);
  EXPECT_EQ(custom.max_tokens, (TokenCaps{std::nullopt, 100, false}));  // replaces the top-level map whole
  EXPECT_EQ(custom.params.defaults, json::object());                     // likewise
  EXPECT_EQ(custom.params.strip, Words{"seed"});
  EXPECT_EQ(custom.max_concurrency, 0);
  EXPECT_EQ(custom.queue, (QueueConfig{16, 10s}));  // queue is merged field by field
  EXPECT_EQ(custom.priority, 1);
  EXPECT_EQ(custom.min_residency, 0ms);
  EXPECT_EQ(c->warnings, Words{});
}

TEST(ConfigLimits, MaxTokensForms) {
  EXPECT_EQ(model_a(load(with({}, {"maxTokens: 2048"}))).max_tokens, (TokenCaps{std::nullopt, 2048, false}));
  EXPECT_EQ(model_a(load(with({}, {"maxTokens: {default: 300}"}))).max_tokens, (TokenCaps{300, std::nullopt}));
  EXPECT_EQ(model_a(load(with({}, {"maxTokens: {limit: 300, onExceed: clamp}"}))).max_tokens,
            (TokenCaps{std::nullopt, 300, false}));
  EXPECT_EQ(model_a(load(with({}, {"maxTokens: {default: 300, limit: 300}"}))).max_tokens, (TokenCaps{300, 300}));
}

TEST(ConfigLimits, ParamsBecomeJson) {
  const auto c = load(with({}, {
                                   "params:",
                                   "  defaults:",
                                   "    temperature: 0.6",
                                   "    top_k: 20",
                                   "    big: 18446744073709551615",
                                   "    stream_options: {include_usage: true}",
                                   "    stop: [\"\\n\\n\", END]",
                                   "    seed: null",
                                   "    quoted: '42'",
                                   "    tagged: !!str 7",
                                   "    yes_is_text: yes",
                                   "    exp: 1e3",
                                   "    inf: .inf",
                                   "    negative: -3",
                                   "    block: |",
                                   "      line",
                                   "  force:",
                                   "    chat_template_kwargs: {enable_thinking: false}",
                                   "    logprobs: ~",
                                   "  strip: [user, seed, user]",
                               }));
  const ParamRules& p = model_a(c).params;
  const json defaults = json::parse(R"({"temperature": 0.6, "top_k": 20, "big": 18446744073709551615,
      "stream_options": {"include_usage": true}, "stop": ["\n\n", "END"], "seed": null, "quoted": "42",
      "tagged": "7", "yes_is_text": "yes", "exp": 1000.0, "inf": ".inf", "negative": -3, "block": "line\n"})");
  EXPECT_EQ(p.defaults, defaults);
  EXPECT_TRUE(p.defaults["top_k"].is_number_integer());
  EXPECT_TRUE(p.defaults["temperature"].is_number_float());
  EXPECT_TRUE(p.defaults["exp"].is_number_float());
  EXPECT_EQ(p.force, json::parse(R"({"chat_template_kwargs": {"enable_thinking": false}, "logprobs": null})"));
  EXPECT_EQ(p.strip, (Words{"user", "seed"}));
  EXPECT_EQ(c->warnings, Words{});
}

TEST(ConfigLimits, LlamaSwapFiltersMergeIntoParams) {
  const auto c = load(with({}, {
                                   "params:",                                              // 4
                                   "  force: {temperature: 0.2}",                          // 5
                                   "  strip: [seed]",                                      // 6
                                   "filters:",                                             // 7
                                   "  stripParams: \"top_p, seed ,, model, min_p\"",       // 8
                                   "  setParams:",                                         // 9
                                   "    temperature: 0.9",                                 // 10
                                   "    chat_template_kwargs: {enable_thinking: false}",   // 11
                                   "    model: other",                                     // 12
                                   "  setParamsByID: {}",                                  // 13
                               }));
  const ParamRules& p = model_a(c).params;
  EXPECT_EQ(p.strip, (Words{"seed", "top_p", "min_p"}));
  EXPECT_EQ(p.force, json::parse(R"({"temperature": 0.2, "chat_template_kwargs": {"enable_thinking": false}})"));
  EXPECT_EQ(c->warnings, (Words{
                             "t.yaml:8: models.a.filters.stripParams: model is protected, not stripped",
                             "t.yaml:12: models.a.filters.setParams.model: model is protected, not set",
                         }));
}

TEST(ConfigLimits, FiltersAloneAndOnTopOfTopLevelParams) {
  const auto c = load(lines({
      "params: {strip: [user]}",
      "models:",
      "  a:",
      "    cmd: engine --port ${PORT}",
      "    filters: {stripParams: temperature}",
  }));
  EXPECT_EQ(model_a(c).params.strip, (Words{"user", "temperature"}));
  EXPECT_EQ(c->warnings, Words{});
}

TEST(ConfigLimits, ConcurrencyLimitHasLlamaSwapsMeaning) {
  const auto c = load(with({}, {"concurrencyLimit: 3"}));
  EXPECT_EQ(model_a(c).max_concurrency, 3);
  EXPECT_TRUE(model_a(c).refuse_over_limit);  // 429 at once beyond it, as llama-swap
  EXPECT_FALSE(load(with({}, {"maxConcurrency: 3"}))->models[0].refuse_over_limit);
  EXPECT_EQ(c->warnings, Words{});
}

TEST(ConfigLimits, MemorySection) {
  const auto c = load(lines({
      "memory:",
      "  budget: 48GiB",
      "  reserve: 10%",
      "  ceilingSlack: 1.5",
      "  onCeiling: restart",
      "  swapWait: 0",
      "  sampleInterval: 100ms",
      "  pressure: {evictAt: critical, psiWarning: 5%, psiCritical: 25.5}",
      "maxSwapsWaited: 1",
      "models:",
      "  a:",
      "    cmd: engine --port ${PORT}",
  }));
  const MemoryConfig& m = c->memory;
  EXPECT_EQ(m.budget, (MemoryAmount{0, 48 * kGiB}));
  EXPECT_EQ(m.reserve, (MemoryAmount{0.1, 0}));
  EXPECT_EQ(m.ceiling_slack, 1.5);
  EXPECT_EQ(m.on_ceiling, OnCeiling::restart);
  EXPECT_EQ(m.swap_wait, 0ms);
  EXPECT_EQ(m.sample_interval, 100ms);
  EXPECT_EQ(m.pressure, (PressureConfig{PressureLevel::critical, 5, 25.5}));
  EXPECT_EQ(c->max_swaps_waited, 1);
  EXPECT_EQ(c->warnings, Words{});
  EXPECT_EQ(load(lines({"memory: {budget: 1, reserve: 0.05}", kTail}))->memory.budget,
            (MemoryAmount{1, 0}));
  EXPECT_EQ(load(lines({"memory: {budget: 75%}", kTail}))->memory.budget,
            (MemoryAmount{0.75, 0}));
}

TEST(ConfigLimits, MemoryMacrosExpandAtLoad) {
  const auto c = load(lines({
      "macros:",
      "  serve: engine --port ${PORT} --cache-memory-mb ${KV_MB} --util ${MEM_UTIL}",
      "kvReservation: 1536MiB",
      "memoryUtilization: 0.5",
      "models:",
      "  a:",
      "    cmd: ${serve} --bytes ${KV_BYTES} --gb ${KV_GB}",
      "    env: [\"KV=${KV_GB}\"]",
      "  b:",
      "    cmd: ${serve} --gb ${KV_GB}",
      "    kvReservation: 4GiB",
      "    memoryUtilization: 0.95",
      "  c:",
      "    cmd: x --port ${PORT} --gb ${KV_GB} --mb ${KV_MB}",
      "    kvReservation: 1.25GiB",
      "  d:",
      "    cmd: x --port ${PORT} --gb ${KV_GB} --mb ${KV_MB}",
      "    kvReservation: 3000MiB",
  }));
  EXPECT_EQ(c->find_model("a")->argv,
            (Words{"engine", "--port", "${PORT}", "--cache-memory-mb", "1536", "--util", "0.5", "--bytes",
                   "1610612736", "--gb", "1.5"}));
  EXPECT_EQ(c->find_model("a")->env, Words{"KV=1.5"});
  EXPECT_EQ(c->find_model("b")->argv, (Words{"engine", "--port", "${PORT}", "--cache-memory-mb", "4096", "--util",
                                             "0.95", "--gb", "4"}));
  EXPECT_EQ(c->find_model("c")->argv, (Words{"x", "--port", "${PORT}", "--gb", "1.25", "--mb", "1280"}));
  EXPECT_EQ(c->find_model("d")->argv, (Words{"x", "--port", "${PORT}", "--gb", "2.93", "--mb", "3000"}));
}

TEST(ConfigLimits, WeightsPaths) {
  const fs::path dir = fs::temp_directory_path() / ("llmux-weights-" + std::to_string(::getpid()));
  fs::create_directories(dir / "m");
  std::ofstream(dir / "m" / "x.gguf") << "12345";
  const auto c = load(lines({
      "macros: {dir: " + dir.string() + "}",
      "models:",
      "  file:",
      "    cmd: x --port ${PORT}",
      "    weights: ${dir}/m/x.gguf",
      "  folder:",
      "    cmd: x --port ${PORT}",
      "    weights: ${dir}/m",
      "  glob:",
      "    cmd: x --port ${PORT}",
      "    weights: ${dir}/*/x.gg?f",
      "  missing:",
      "    cmd: x --port ${PORT}",
      "    weights: ${dir}/nothing/*.gguf",
      "  bytes:",
      "    cmd: x --port ${PORT}",
      "    weights: 7000000000",
  }));
  EXPECT_EQ(c->find_model("file")->weights_path, (dir / "m" / "x.gguf").string());
  EXPECT_EQ(c->find_model("folder")->weights_path, (dir / "m").string());
  EXPECT_EQ(c->find_model("glob")->weights_path, dir.string() + "/*/x.gg?f");
  EXPECT_EQ(c->find_model("glob")->weights_bytes, std::nullopt);
  EXPECT_EQ(c->find_model("bytes")->weights_bytes, 7000000000u);
  EXPECT_EQ(c->find_model("bytes")->weights_path, "");
  EXPECT_EQ(c->warnings, (Words{"t.yaml:14: models.missing.weights: nothing to measure at '" + dir.string() +
                                "/nothing/*.gguf' (no such file, or no .gguf/.safetensors/.npz files): the "
                                "estimate uses cmd instead"}));
  fs::remove_all(dir);
}

TEST(ConfigLimits, WeightsTildeIsHome) {
  const char* home = std::getenv("HOME");
  ASSERT_NE(home, nullptr);
  const auto c = load(with({}, {"weights: ~/llmux-test-does-not-exist.gguf"}));
  EXPECT_EQ(model_a(c).weights_path, std::string(home) + "/llmux-test-does-not-exist.gguf");
  EXPECT_EQ(c->warnings.size(), 1u);
}

}  // namespace
}  // namespace llmux
