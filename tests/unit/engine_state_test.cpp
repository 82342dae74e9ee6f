// The state file's pure parts: its JSON text both ways, the verdict on a record found at start, and where the
// state directory is.
#include "worker/engine_state.hpp"

#include <gtest/gtest.h>

#include "worker/platform.hpp"

namespace llmux {
namespace {

EngineRecord record(std::string model, pid_t pid, uint64_t start, pid_t owner, uint64_t owner_start) {
  return EngineRecord{std::move(model), pid, pid, start, owner, owner_start, "boot-1"};
}

TEST(EngineState, FormatThenParseGivesTheSameRecords) {
  std::vector<EngineRecord> in{record("qwen", 4242, 123456789, 77, 1000),
                               record("coder \"big\"", 2, 18446744073709551615ull, 77, 1000)};
  in[1].pgid = 2;
  in[1].boot = "";
  auto out = parse_engine_state(format_engine_state(in));
  EXPECT_EQ(out.records, in);
  EXPECT_EQ(out.skipped, 0u);
}

TEST(EngineState, NoRecordsIsAnEmptyListWhateverTheFileSays) {
  EXPECT_TRUE(parse_engine_state("").records.empty());
  EXPECT_TRUE(parse_engine_state(" \n").records.empty());
  EXPECT_TRUE(parse_engine_state("{}").records.empty());
  EXPECT_TRUE(parse_engine_state(format_engine_state({})).records.empty());
  EXPECT_EQ(format_engine_state({}), "{\n  \"engines\": [],\n  \"version\": 1\n}\n");
}

TEST(EngineState, TextThatIsNotAStateFileThrows) {
  EXPECT_THROW(parse_engine_state("{\"engines\": ["), EngineStateError);
  EXPECT_THROW(parse_engine_state("[]"), EngineStateError);
  EXPECT_THROW(parse_engine_state("{\"engines\": {}}"), EngineStateError);
}

TEST(EngineState, RecordsThatCouldSignalTheWrongProcessAreSkipped) {
  auto line = [](const std::string& fields) {
    return "{\"model\":\"m\",\"boot\":\"b\",\"owner\":{\"pid\":10,\"startTime\":5}," + fields + "}";
  };
  std::string text = "{\"engines\":[" +
                     line("\"pid\":100,\"pgid\":100,\"startTime\":7") + "," +  // the one good record
                     line("\"pid\":0,\"pgid\":100,\"startTime\":7") + "," +    // killpg(0): llmux's own group
                     line("\"pid\":100,\"pgid\":1,\"startTime\":7") + "," +    // init
                     line("\"pid\":100,\"pgid\":-5,\"startTime\":7") + "," +
                     line("\"pid\":100,\"pgid\":4294967298,\"startTime\":7") + "," +  // would truncate to 2
                     line("\"pid\":100,\"pgid\":100,\"startTime\":-7") + "," +
                     line("\"pid\":100,\"pgid\":100") + "," +                   // no start time
                     line("\"pid\":\"100\",\"pgid\":100,\"startTime\":7") + "," +
                     "{\"model\":\"m\",\"pid\":100,\"pgid\":100,\"startTime\":7}," +  // no owner
                     "{\"model\":3,\"pid\":100,\"pgid\":100,\"startTime\":7,\"owner\":{\"pid\":10,\"startTime\":5}},"
                     "17]}";
  auto parsed = parse_engine_state(text);
  ASSERT_EQ(parsed.records.size(), 1u);
  EXPECT_EQ(parsed.records[0], (EngineRecord{"m", 100, 100, 7, 10, 5, "b"}));
  EXPECT_EQ(parsed.skipped, 10u);
}

TEST(EngineState, UnknownFieldsAreIgnored) {
  auto parsed = parse_engine_state(
      "{\"version\":2,\"later\":true,\"engines\":[{\"model\":\"m\",\"pid\":100,\"pgid\":100,\"startTime\":7,"
      "\"boot\":\"b\",\"port\":8080,\"owner\":{\"pid\":10,\"startTime\":5,\"listen\":\"x\"}}]}");
  ASSERT_EQ(parsed.records.size(), 1u);
  EXPECT_EQ(parsed.records[0].model, "m");
}

// The verdict table: owner (gone / same process / pid reused) × leader (gone / same process / pid reused) × boot.
struct Case {
  std::optional<uint64_t> owner_now, leader_now;
  std::string boot;
  StaleVerdict want;
};

TEST(EngineState, VerdictReapsOnlyAProvenEngineOfAGoneOwner) {
  const auto r = record("m", 100, 500, 10, 50);  // boot-1
  const Case cases[] = {
      {std::nullopt, 500, "boot-1", StaleVerdict::reap},          // owner gone, engine runs
      {51, 500, "boot-1", StaleVerdict::reap},                    // owner's pid is another process now
      {50, 500, "boot-1", StaleVerdict::keep},                    // owner runs: not ours to touch
      {50, std::nullopt, "boot-1", StaleVerdict::keep},           // ... even when its engine is gone
      {std::nullopt, std::nullopt, "boot-1", StaleVerdict::forget},  // both gone
      {std::nullopt, 501, "boot-1", StaleVerdict::forget},        // engine's pid reused: never kill it
      {51, 499, "boot-1", StaleVerdict::forget},
      {std::nullopt, 500, "boot-2", StaleVerdict::forget},        // another boot: same numbers, other processes
      {50, 500, "boot-2", StaleVerdict::forget},
      {std::nullopt, 500, "", StaleVerdict::forget},              // this boot unknown: nothing is proven
  };
  for (const auto& c : cases) {
    ObservedProcesses now{c.boot, c.owner_now, c.leader_now};
    EXPECT_EQ(to_string(judge_record(r, now)), std::string(to_string(c.want)))
        << "owner " << (c.owner_now ? std::to_string(*c.owner_now) : "gone") << ", leader "
        << (c.leader_now ? std::to_string(*c.leader_now) : "gone") << ", boot '" << c.boot << "'";
  }
}

TEST(EngineState, StateDirectory) {
  EXPECT_EQ(state_directory("/x/state", "/home/u"), "/x/state/llmux");
  EXPECT_EQ(state_directory(nullptr, nullptr), "");
  EXPECT_EQ(state_directory("", "relative"), "");
#ifdef __APPLE__
  EXPECT_EQ(state_directory(nullptr, "/Users/u"), "/Users/u/Library/Application Support/llmux");
  EXPECT_EQ(state_directory("relative", "/Users/u"), "/Users/u/Library/Application Support/llmux");
#else
  EXPECT_EQ(state_directory(nullptr, "/home/u"), "/home/u/.local/state/llmux");
  EXPECT_EQ(state_directory("", "/home/u"), "/home/u/.local/state/llmux");
  EXPECT_EQ(state_directory("relative/state", "/home/u"), "/home/u/.local/state/llmux");  // the XDG spec
#endif
}

}  // namespace
}  // namespace llmux
