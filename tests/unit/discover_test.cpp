// `llmux models --discover` logic over a temp dir: a fake Hugging Face cache (snapshots linking into blobs) and
// .gguf model dirs made of sparse files.
#include "proxy/cli/discover.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/config.hpp"

namespace llmux {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMiB = 1ull << 20;

class Tree {
 public:
  Tree() {
    std::string tmpl = (fs::temp_directory_path() / "llmux-discover-XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
  }
  ~Tree() { fs::remove_all(root_); }
  std::string path(const std::string& rel) const { return (root_ / rel).string(); }
  std::string file(const std::string& rel, uint64_t size, const std::string& text = "") const {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    if (text.empty()) {
      EXPECT_EQ(::truncate(p.c_str(), static_cast<off_t>(size)), 0);
    }
    return p.string();
  }
  void link(const std::string& rel, const std::string& target) const {
    fs::create_directories((root_ / rel).parent_path());
    fs::create_symlink(target, root_ / rel);
  }
  // A cached repo: blobs/<name>, snapshots/<rev>/<file> → ../../blobs/<name>, refs/main = rev.
  void hf_file(const std::string& repo_dir, const std::string& rev, const std::string& file, const std::string& blob,
               uint64_t size, const std::string& text = "") const {
    if (!fs::exists(root_ / repo_dir / "blobs" / blob)) this->file(repo_dir + "/blobs/" + blob, size, text);
    link(repo_dir + "/snapshots/" + rev + "/" + file, "../../blobs/" + blob);
    std::ofstream(root_ / repo_dir / "refs" / "main") << rev;
  }

 private:
  fs::path root_;
};

const FoundModel* by_name(const std::vector<FoundModel>& v, const std::string& name) {
  for (const auto& m : v)
    if (m.name == name) return &m;
  return nullptr;
}

// hub/ with an mlx repo (one blob linked twice), a plain safetensors repo, an mlx-by-config repo, a GGUF repo
// and a repo with nothing usable.
void make_hub(const Tree& t) {
  fs::create_directories(t.path("hub/models--mlx-community--Qwen3-4B-4bit/refs"));
  t.hf_file("hub/models--mlx-community--Qwen3-4B-4bit", "r1", "model.safetensors", "aaa", 3 * kMiB);
  t.hf_file("hub/models--mlx-community--Qwen3-4B-4bit", "r1", "again.safetensors", "aaa", 3 * kMiB);
  t.hf_file("hub/models--mlx-community--Qwen3-4B-4bit", "r1", "config.json", "cfg", 0, R"({"model_type":"qwen3"})");
  fs::create_directories(t.path("hub/models--meta--Llama-3-8B/refs"));
  t.hf_file("hub/models--meta--Llama-3-8B", "r2", "model-00001-of-00002.safetensors", "b1", 5 * kMiB);
  t.hf_file("hub/models--meta--Llama-3-8B", "r2", "model-00002-of-00002.safetensors", "b2", 4 * kMiB);
  t.hf_file("hub/models--meta--Llama-3-8B", "r2", "config.json", "c2", 0, R"({"architectures":["Llama"]})");
  fs::create_directories(t.path("hub/models--acme--Tiny-q4/refs"));
  t.hf_file("hub/models--acme--Tiny-q4", "r3", "weights.safetensors", "b3", kMiB);
  t.hf_file("hub/models--acme--Tiny-q4", "r3", "config.json", "c3", 0, R"({"quantization":{"bits":4}})");
  fs::create_directories(t.path("hub/models--bartowski--Foo-GGUF/refs"));
  t.hf_file("hub/models--bartowski--Foo-GGUF", "r4", "Foo-Q4_K_M.gguf", "g4", 2 * kMiB);
  fs::create_directories(t.path("hub/models--x--readme-only/refs"));
  t.hf_file("hub/models--x--readme-only", "r5", "README.md", "md", 0, "hello");
}

TEST(Discover, HfCacheFormatsAndSizesEachBlobOnce) {
  Tree t;
  make_hub(t);
  auto found = scan_hf_cache(t.path("hub"));
  ASSERT_EQ(found.size(), 4u);
  const FoundModel* mlx = by_name(found, "mlx-community/Qwen3-4B-4bit");
  ASSERT_TRUE(mlx);
  EXPECT_EQ(mlx->format, "mlx");
  EXPECT_EQ(mlx->bytes, 3 * kMiB);  // two links to one blob count once
  EXPECT_EQ(mlx->id, "qwen3-4b-4bit");
  EXPECT_EQ(mlx->path, t.path("hub/models--mlx-community--Qwen3-4B-4bit/snapshots/r1"));
  const FoundModel* llama = by_name(found, "meta/Llama-3-8B");
  ASSERT_TRUE(llama);
  EXPECT_EQ(llama->format, "safetensors");
  EXPECT_EQ(llama->bytes, 9 * kMiB);
  ASSERT_TRUE(by_name(found, "acme/Tiny-q4"));
  EXPECT_EQ(by_name(found, "acme/Tiny-q4")->format, "mlx");  // config.json has "quantization"
  const FoundModel* gguf = by_name(found, "Foo-Q4_K_M");
  ASSERT_TRUE(gguf);
  EXPECT_EQ(gguf->format, "gguf");
  EXPECT_EQ(gguf->bytes, 2 * kMiB);
}

TEST(Discover, HfCacheMissingOrEmptyIsNothing) {
  Tree t;
  EXPECT_TRUE(scan_hf_cache(t.path("nope")).empty());
  EXPECT_TRUE(scan_hf_cache("").empty());
}

TEST(Discover, GgufDirsSkipProjectorsAndMergeSplitParts) {
  Tree t;
  t.file("models/a.gguf", 2 * kMiB);
  t.file("models/mmproj-a-f16.gguf", kMiB);
  t.file("models/big-00001-of-00002.gguf", kMiB);
  t.file("models/big-00002-of-00002.gguf", 2 * kMiB);
  t.file("models/sub/deep/c.GGUF", kMiB);
  t.file("models/sub/1/2/3/too-deep.gguf", kMiB);
  t.file("models/notes.txt", 10);
  auto found = scan_gguf_dirs({t.path("models"), t.path("missing")});
  ASSERT_EQ(found.size(), 3u);
  const FoundModel* big = by_name(found, "big");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->bytes, 3 * kMiB);
  EXPECT_EQ(big->path, t.path("models/big-00001-of-00002.gguf"));
  EXPECT_TRUE(by_name(found, "a"));
  EXPECT_TRUE(by_name(found, "c"));
  EXPECT_FALSE(by_name(found, "too-deep"));
}

TEST(Discover, FinalizeDedupesMarksConfiguredAndMakesIdsUnique) {
  Tree t;
  make_hub(t);
  const std::string a = t.file("models/a.gguf", kMiB);
  t.file("other/a.gguf", kMiB);
  t.file("other/b.gguf", kMiB);
  auto found = scan_hf_cache(t.path("hub"));
  for (auto& m : scan_gguf_dirs({t.path("models"), t.path("models/"), t.path("other")})) found.push_back(m);
  const std::vector<std::vector<std::string>> argvs = {
      {"llama-server", "--port", "${PORT}", "-m", a},
      {"llama-server", "--model=" + t.path("other/b.gguf")},
      {"mlx_lm.server", "--model", "mlx-community/Qwen3-4B-4bit"}};
  finalize(found, argvs);
  ASSERT_EQ(found.size(), 7u);  // 4 from the cache, a.gguf once from models/, a.gguf and b.gguf from other/
  EXPECT_TRUE(by_name(found, "mlx-community/Qwen3-4B-4bit")->configured);
  EXPECT_FALSE(by_name(found, "meta/Llama-3-8B")->configured);
  EXPECT_TRUE(by_name(found, "b")->configured);
  int a_configured = 0, a_ids = 0;
  for (const auto& m : found) {
    if (m.name != "a") continue;
    a_configured += m.configured;
    a_ids += m.id == "a" || m.id == "a-2";
  }
  EXPECT_EQ(a_configured, 1);
  EXPECT_EQ(a_ids, 2);
}

TEST(Discover, DirsFromEnvAndCommands) {
  Tree t;
  const std::string a = t.file("m1/a.gguf", kMiB);
  EXPECT_EQ(split_dirs("/x::/y:"), (std::vector<std::string>{"/x", "/y"}));
  auto dirs = gguf_dirs_of({{"llama-server", "-m", a}, {"llama-server", "--model=" + a}, {"x", "/gone/b.gguf"}});
  EXPECT_EQ(dirs, std::vector<std::string>{t.path("m1")});
}

TEST(Discover, FitUsesTwentyPercentMargin) {
  EXPECT_FALSE(fits(100, std::nullopt).has_value());
  EXPECT_TRUE(*fits(100, 120));
  EXPECT_FALSE(*fits(101, 120));
}

TEST(Discover, SnippetIsAValidConfigForWhatIsNotConfigured) {
  std::vector<FoundModel> found = {
      {"qwen3-8b-q4_k_m", "Qwen3-8B-Q4_K_M", "gguf", "/m/Qwen3-8B-Q4_K_M.gguf", kMiB, false},
      {"spaced", "spaced", "gguf", "/m/my models/spaced.gguf", kMiB, false},
      {"qwen3-4b-4bit", "mlx-community/Qwen3-4B-4bit", "mlx", "/hub/x", kMiB, false},
      {"llama-3-8b", "meta/Llama-3-8B", "safetensors", "/hub/y", kMiB, false},
      {"done", "done", "gguf", "/m/done.gguf", kMiB, true}};
  const std::string s = config_snippet(found);
  EXPECT_NE(s.find("-m /m/Qwen3-8B-Q4_K_M.gguf --ctx-size 8192"), std::string::npos) << s;
  EXPECT_NE(s.find("checkEndpoint: /health"), std::string::npos) << s;
  EXPECT_NE(s.find("--model mlx-community/Qwen3-4B-4bit"), std::string::npos) << s;
  EXPECT_NE(s.find("useModelName: mlx-community/Qwen3-4B-4bit"), std::string::npos) << s;
  EXPECT_NE(s.find("vllm serve meta/Llama-3-8B"), std::string::npos) << s;
  EXPECT_EQ(s.find("done"), std::string::npos) << s;
  auto cfg = load_config_text(s, "snippet.yaml");
  ASSERT_EQ(cfg->models.size(), 4u);
  const ModelConfig* spaced = cfg->find_model("spaced");
  ASSERT_TRUE(spaced);
  EXPECT_NE(std::find(spaced->argv.begin(), spaced->argv.end(), "/m/my models/spaced.gguf"), spaced->argv.end());
  EXPECT_EQ(cfg->find_model("qwen3-4b-4bit")->readiness, Readiness::completion);
  EXPECT_EQ(config_snippet({found.back()}), "");
}

}  // namespace
}  // namespace llmux
