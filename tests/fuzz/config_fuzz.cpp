// A config file's bytes (load_config_text): every way of getting it wrong is a ConfigError (file, line, key,
// reason), never another exception, a crash or undefined behaviour. Seeds: configs/ (scripts/fuzz.sh) and corpus/.
#include <spdlog/spdlog.h>

#include <string>

#include "common/config.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace llmux;
using namespace llmux::fuzz;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // config warnings would fill the fuzzer's output
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(as_text(data, size));
  try {
    const auto config = load_config_text(text, "fuzz.yaml");
    FUZZ_CHECK(config != nullptr);
  } catch (const ConfigError& e) {
    FUZZ_CHECK(e.file() == "fuzz.yaml" && !e.reason().empty());
  }
  return 0;
}
