#include "common/footprint.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace llmux {
namespace {

namespace fs = std::filesystem;
using Words = std::vector<std::string>;

constexpr uint64_t kKiB = 1ull << 10;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

// A temporary directory with helpers to create files of a given (sparse) size.
class TempTree {
 public:
  TempTree() {
    std::string tmpl = (fs::temp_directory_path() / "llmux-footprint-XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
  }
  ~TempTree() { fs::remove_all(root_); }
  const fs::path& root() const { return root_; }
  std::string file(const std::string& rel, uint64_t size) const {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p).close();
    EXPECT_EQ(::truncate(p.c_str(), static_cast<off_t>(size)), 0);
    return p.string();
  }
  std::string dir(const std::string& rel) const {
    fs::create_directories(root_ / rel);
    return (root_ / rel).string();
  }
  std::string link(const std::string& rel, const std::string& target) const {
    fs::create_directories((root_ / rel).parent_path());
    fs::create_symlink(target, root_ / rel);
    return (root_ / rel).string();
  }
  std::string path(const std::string& rel) const { return (root_ / rel).string(); }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }

 private:
  fs::path root_;
};

// Sets (or unsets, with nullptr) an environment variable for the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value != nullptr ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { old_ ? ::setenv(name_.c_str(), old_->c_str(), 1) : ::unsetenv(name_.c_str()); }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

TEST(FormatBytes, BinaryUnitsOneDecimal) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(12), "12 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1 KiB");
  EXPECT_EQ(format_bytes(900 * kKiB), "900 KiB");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(512 * kMiB), "512 MiB");
  EXPECT_EQ(format_bytes(static_cast<uint64_t>(4.2 * kGiB)), "4.2 GiB");
  EXPECT_EQ(format_bytes(kGiB - kMiB / 100), "1 GiB");  // 1023.99 MiB rounds up into the next unit
  EXPECT_EQ(format_bytes(3 * (kGiB << 10) / 2), "1.5 TiB");
}

TEST(WeightsSize, FileDirectoryAndGlob) {
  TempTree t;
  t.file("m/a.gguf", 5 * kGiB);  // sparse: no disk space used
  t.file("m/b.safetensors", 1000);
  t.file("m/c.npz", 10);
  t.file("m/README.md", 99999);
  t.file("m/sub/d.GGUF", 7);
  EXPECT_EQ(weights_size(t.path("m")), 5 * kGiB + 1000 + 10 + 7);  // recursive, model files only
  EXPECT_EQ(weights_size(t.path("m/a.gguf")), 5 * kGiB);
  EXPECT_EQ(weights_size(t.path("m/README.md")), 99999u);  // named directly: counted whatever its extension
  EXPECT_EQ(weights_size(t.path("m/*.gguf")), 5 * kGiB);
  EXPECT_EQ(weights_size(t.path("m/[bc].*")), 1010u);
  EXPECT_EQ(weights_size(t.path("m/*")), 5 * kGiB + 1000 + 10 + 7);  // README.md matched but is not a model file
  EXPECT_EQ(weights_size(t.path("m/?.npz")), 10u);
}

TEST(WeightsSize, NothingFound) {
  TempTree t;
  t.dir("empty");
  t.file("docs/readme.txt", 5);
  EXPECT_EQ(weights_size(t.path("missing.gguf")), std::nullopt);
  EXPECT_EQ(weights_size(t.path("empty")), std::nullopt);
  EXPECT_EQ(weights_size(t.path("docs")), std::nullopt);
  EXPECT_EQ(weights_size(t.path("*.gguf")), std::nullopt);
  EXPECT_EQ(weights_size(""), std::nullopt);
  EXPECT_EQ(weights_size(t.path("empty.gguf")), std::nullopt);
  t.file("zero.gguf", 0);
  EXPECT_EQ(weights_size(t.path("zero.gguf")), 0u);  // found, but empty
}

TEST(WeightsSize, SymlinksAreFollowedAndCountedOnce) {
  TempTree t;
  t.file("blobs/1111", 300);
  t.file("blobs/2222", 20);
  t.link("snap/model-1.safetensors", t.path("blobs/1111"));
  t.link("snap/model-copy.safetensors", t.path("blobs/1111"));  // same blob twice
  t.link("snap/extra.gguf", "../blobs/2222");                   // relative link
  t.link("snap/loop", t.path("snap"));                          // directory cycle
  t.link("snap/dangling.gguf", t.path("blobs/none"));
  t.link("linkdir", t.path("snap"));
  EXPECT_EQ(weights_size(t.path("snap")), 320u);
  EXPECT_EQ(weights_size(t.path("linkdir")), 320u);
  EXPECT_EQ(weights_size(t.path("snap/model-1.safetensors")), 300u);
}

TEST(WeightsSize, SplitGgufCountsEveryPart) {
  TempTree t;
  t.file("q-00001-of-00003.gguf", 100);
  t.file("q-00002-of-00003.gguf", 100);
  t.file("q-00003-of-00003.gguf", 50);
  t.file("q-00001-of-00002.gguf", 7);  // another split of the same name
  EXPECT_EQ(weights_size(t.path("q-00001-of-00003.gguf")), 250u);
  EXPECT_EQ(weights_size(t.path("q-00002-of-00003.gguf")), 100u);
  EXPECT_EQ(weights_size(t.path("q-00001-of-00002.gguf")), 7u);
}

TEST(WeightsSize, TildeIsHome) {
  TempTree t;
  t.file("models/x.gguf", 42);
  ScopedEnv home("HOME", t.root().c_str());
  EXPECT_EQ(expand_home("~/models/x.gguf"), t.path("models/x.gguf"));
  EXPECT_EQ(expand_home("~"), t.root().string());
  EXPECT_EQ(expand_home("/a/~/b"), "/a/~/b");
  EXPECT_EQ(expand_home("~other/x"), "~other/x");
  EXPECT_EQ(weights_size("~/models/x.gguf"), 42u);
  EXPECT_EQ(weights_size("~/models/*.gguf"), 42u);
}

TEST(DetectWeightsPath, EachEngineShape) {
  TempTree t;
  const std::string gguf = t.file("m.gguf", 1);
  const std::string dir = t.dir("mlx-model");
  EXPECT_EQ(detect_weights_path({"llama-server", "--port", "${PORT}", "-m", gguf}), gguf);
  EXPECT_EQ(detect_weights_path({"/usr/bin/llama-server", "--model", gguf, "-c", "4096"}), gguf);
  EXPECT_EQ(detect_weights_path({"llama-server", "--model=" + gguf}), gguf);
  EXPECT_EQ(detect_weights_path({"mlx_lm.server", "--host", "127.0.0.1", "--model", dir}), dir);
  EXPECT_EQ(detect_weights_path({"python3", "-m", "mlx_lm.server", "--model", dir}), dir);
  EXPECT_EQ(detect_weights_path({"mlx-openai-server", "launch", "--model-path", dir}), dir);
  EXPECT_EQ(detect_weights_path({"vllm", "serve", dir, "--port", "${PORT}"}), dir);
  EXPECT_EQ(detect_weights_path({"/opt/venv/bin/vllm-mlx", "serve", dir, "--continuous-batching"}), dir);
  EXPECT_EQ(detect_weights_path({"python", "-m", "vllm.entrypoints.openai.api_server", "--model", dir}), dir);
}

TEST(DetectWeightsPath, NothingLocal) {
  ScopedEnv hub("HF_HUB_CACHE", "/nonexistent-llmux-hub");
  EXPECT_EQ(detect_weights_path({}), "");
  EXPECT_EQ(detect_weights_path({"llama-server", "--port", "${PORT}"}), "");
  EXPECT_EQ(detect_weights_path({"llama-server", "-hf", "org/name-GGUF"}), "");  // remote: not ours to measure
  EXPECT_EQ(detect_weights_path({"llama-server", "-m", "/no/such/file.gguf"}), "");
  EXPECT_EQ(detect_weights_path({"vllm", "serve", "org/not-downloaded"}), "");
  EXPECT_EQ(detect_weights_path({"serve", "x"}), "");
  EXPECT_EQ(detect_weights_path({"vllm", "serve", "--help"}), "");
}

// Hugging Face cache layout: hub/models--ORG--NAME/{blobs/<hash>, snapshots/<rev>/<file> -> ../../blobs/<hash>,
// refs/main = <rev>}.
void make_snapshot(const TempTree& t, const std::string& repo_dir, const std::string& rev, uint64_t size) {
  const std::string blob = "blob-" + rev;
  t.file(repo_dir + "/blobs/" + blob, size);
  t.file(repo_dir + "/blobs/" + blob + "-config", 100);
  t.link(repo_dir + "/snapshots/" + rev + "/model.safetensors", "../../blobs/" + blob);
  t.link(repo_dir + "/snapshots/" + rev + "/config.json", "../../blobs/" + blob + "-config");
}

TEST(DetectWeightsPath, HuggingFaceCacheThroughHfHome) {
  TempTree t;
  ScopedEnv hub_cache("HF_HUB_CACHE", nullptr);
  ScopedEnv hf_home("HF_HOME", t.path("hf").c_str());
  const std::string repo = "hf/hub/models--mlx-community--Qwen3-4B-4bit";
  make_snapshot(t, repo, "aaa", 2 * kGiB);
  make_snapshot(t, repo, "bbb", 3 * kGiB);
  t.write(repo + "/refs/main", "aaa\n");
  const std::string expected = t.path(repo + "/snapshots/aaa");
  EXPECT_EQ(detect_weights_path({"mlx_lm.server", "--model", "mlx-community/Qwen3-4B-4bit"}), expected);
  EXPECT_EQ(detect_weights_path({"vllm-mlx", "serve", "mlx-community/Qwen3-4B-4bit"}), expected);
  EXPECT_EQ(weights_size(expected), 2 * kGiB);  // config.json is not a weights file
  EXPECT_EQ(detect_weights_path({"vllm", "serve", "mlx-community/other"}), "");
}

TEST(DetectWeightsPath, HuggingFaceCacheWithoutRefsTakesTheNewestSnapshot) {
  TempTree t;
  ScopedEnv hub_cache("HF_HUB_CACHE", t.path("hub").c_str());
  const std::string repo = "hub/models--Qwen--Qwen3-8B";
  make_snapshot(t, repo, "old", 1);
  make_snapshot(t, repo, "new", 2);
  fs::last_write_time(t.path(repo + "/snapshots/old"), fs::file_time_type::clock::now() - std::chrono::hours(1));
  EXPECT_EQ(detect_weights_path({"vllm", "serve", "Qwen/Qwen3-8B"}), t.path(repo + "/snapshots/new"));
}

TEST(DetectWeightsPath, DefaultHuggingFaceCacheUnderHome) {
  TempTree t;
  ScopedEnv hub_cache("HF_HUB_CACHE", nullptr);
  ScopedEnv hf_home("HF_HOME", nullptr);
  ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
  ScopedEnv home("HOME", t.root().c_str());
  make_snapshot(t, ".cache/huggingface/hub/models--org--name", "r1", 5);
  t.write(".cache/huggingface/hub/models--org--name/refs/main", "r1");
  EXPECT_EQ(detect_weights_path({"vllm", "serve", "org/name"}),
            t.path(".cache/huggingface/hub/models--org--name/snapshots/r1"));
}

TEST(EstimateFootprint, SourcesInOrderOfPrecedence) {
  TempTree t;
  const std::string cmd_file = t.file("cmd.gguf", 3 * kGiB);
  const std::string configured = t.file("w/configured.safetensors", kGiB);
  ModelConfig m;
  m.argv = {"llama-server", "-m", cmd_file};
  m.kv_reservation = 2 * kGiB;
  m.overhead = 256 * kMiB;

  Footprint f = estimate_footprint(m);
  EXPECT_EQ(f.weights, 3 * kGiB);
  EXPECT_EQ(f.weights_source, "detected from cmd: " + cmd_file);
  EXPECT_EQ(f.kv, 2 * kGiB);
  EXPECT_EQ(f.overhead, 256 * kMiB);
  EXPECT_EQ(f.total(), 5 * kGiB + 256 * kMiB);

  m.weights_path = t.path("w");
  f = estimate_footprint(m);
  EXPECT_EQ(f.weights, kGiB);
  EXPECT_EQ(f.weights_source, "weights: " + t.path("w"));

  m.weights_bytes = static_cast<uint64_t>(4.2 * kGiB);
  f = estimate_footprint(m);
  EXPECT_EQ(f.weights, static_cast<uint64_t>(4.2 * kGiB));
  EXPECT_EQ(f.weights_source, "weights: 4.2 GiB");
}

// A remote model runs elsewhere: only its local bridge process counts against this machine's budget.
TEST(EstimateFootprint, ARemoteModelCountsOnlyItsBridge) {
  ModelConfig m;
  m.remote = "https://cluster.example/v1";
  m.argv = {"llmux", "bridge", "--port", "${PORT}"};
  Footprint f = estimate_footprint(m);
  EXPECT_EQ(f.total(), 32 * kMiB);
  EXPECT_EQ(f.gpu_part(), 0u);
  EXPECT_EQ(f.engine, "remote");
  EXPECT_EQ(f.weights_source, "remote upstream");
  m.overhead = 8 * kMiB;
  EXPECT_EQ(estimate_footprint(m).total(), 8 * kMiB);
  EXPECT_EQ(estimate_footprint(m).source, "override");
}

TEST(EstimateFootprint, UnknownWeightsCountAsZero) {
  ScopedEnv hub("HF_HUB_CACHE", "/nonexistent-llmux-hub");
  ModelConfig m;
  m.argv = {"vllm", "serve", "org/not-here"};
  Footprint f = estimate_footprint(m);
  EXPECT_EQ(f.weights, 0u);
  EXPECT_EQ(f.kv, 0u);
  EXPECT_EQ(f.overhead, 512 * kMiB);  // the ModelConfig default
  EXPECT_EQ(f.weights_source, "unknown");
  m.weights_path = "/no/such/dir";
  EXPECT_EQ(estimate_footprint(m).weights_source, "unknown (nothing to measure at /no/such/dir)");
}

TEST(EstimateFootprint, MissingConfiguredPathFallsBackToCmd) {
  TempTree t;
  const std::string cmd_file = t.file("cmd.gguf", 77);
  ModelConfig m;
  m.argv = {"llama-server", "-m", cmd_file};
  m.weights_path = t.path("gone/*.gguf");
  const Footprint f = estimate_footprint(m);
  EXPECT_EQ(f.weights, 77u);
  EXPECT_EQ(f.weights_source, "detected from cmd: " + cmd_file);
}

}  // namespace
}  // namespace llmux
