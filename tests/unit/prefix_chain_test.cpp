// The prefix-stability diagnosis on constructed conversations: the prompt chain's fingerprints
// (proxy/http/prompt_scan), the comparison and its hints (proxy/policy/prefix_chain) and the conversation store
// (proxy/policy/prefix_tracker): stable, appended, edited middle, timestamp drift, re-ordered and changed tools,
// interleaved conversations, eviction, identity by session id, completions prompts, Responses input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "proxy/http/prompt_scan.hpp"
#include "proxy/policy/metrics.hpp"
#include "proxy/policy/prefix_tracker.hpp"

namespace llmux {
namespace {

using nlohmann::json;

const std::string kSystem =
    "You are a coding agent. Work in the repository. Be brief.\nEnvironment:\n  cwd: /home/me/project\n"
    "  date: 2025-01-05 12:03:44\n  platform: linux\nFollow the user's instructions exactly.";

json tools() {
  return json::array(
      {{{"type", "function"},
        {"function", {{"name", "read"}, {"description", "Read a file"}, {"parameters", {{"type", "object"}}}}}},
       {{"type", "function"},
        {"function", {{"name", "bash"}, {"description", "Run a command"}, {"parameters", {{"type", "object"}}}}}}});
}

// A chat request with `turns` tool round trips after the first user message.
json chat(int turns, const std::string& system = kSystem, const std::string& task = "fix the failing test") {
  json msgs = json::array({{{"role", "system"}, {"content", system}}, {{"role", "user"}, {"content", task}}});
  for (int t = 0; t < turns; ++t) {
    const std::string id = "call_" + std::to_string(t);
    msgs.push_back({{"role", "assistant"},
                    {"content", nullptr},
                    {"tool_calls", json::array({{{"id", id},
                                                 {"type", "function"},
                                                 {"function", {{"name", "read"}, {"arguments", "{\"path\":\"a.c\"}"}}}}})}});
    msgs.push_back({{"role", "tool"}, {"tool_call_id", id}, {"content", "output of turn " + std::to_string(t)}});
  }
  return {{"model", "m"}, {"messages", msgs}, {"tools", tools()}, {"stream", true}};
}

class Diagnosis : public ::testing::Test {
 protected:
  PrefixReport send(const json& body, const std::string& session = "", int indent = -1) {
    const std::string text = body.dump(indent);
    auto scan = scan_top_level(text);
    EXPECT_TRUE(scan.has_value());
    PromptChain chain = scan_prompt(text, *scan);
    return tracker.observe_chain("model", session, session.empty() ? "" : "x-session-id", std::move(chain), text);
  }
  PrefixTracker tracker;
};

TEST(Hash64, PiecesHashLikeTheWhole) {
  const std::string text = "The quick brown fox jumps over the lazy dog, 0123456789 times.";
  const uint64_t whole = hash_bytes(text);
  for (size_t a = 0; a < text.size(); ++a)
    for (size_t b = a; b < text.size(); b += 5) {
      Hash64 h;
      h.add(std::string_view(text).substr(0, a));
      h.add(std::string_view(text).substr(a, b - a));
      h.add(std::string_view(text).substr(b));
      ASSERT_EQ(h.digest(), whole) << a << " " << b;
    }
  EXPECT_NE(hash_bytes("abc"), hash_bytes("abd"));
  EXPECT_NE(hash_bytes("abc"), hash_bytes("abc", 1));
  EXPECT_NE(hash_bytes(std::string(8, '\0')), hash_bytes(std::string(9, '\0')));
}

TEST(PromptScan, MaskedHashIgnoresDigitsOnly) {
  MessagePrint a, b, c;
  fingerprint_content("date: 2025-01-05 12:03:44, build 7", a);
  fingerprint_content("date: 2026-11-30 09:59:01, build 8", b);
  fingerprint_content("date: 2026-11-30 09:59:01, built 8", c);
  EXPECT_NE(a.content, b.content);
  EXPECT_EQ(a.masked, b.masked);
  EXPECT_NE(b.masked, c.masked);
}

TEST(PromptScan, ChainOfChatMessagesAndTools) {
  const std::string text = chat(2).dump();
  auto scan = scan_top_level(text);
  ASSERT_TRUE(scan);
  PromptChain c = scan_prompt(text, *scan);
  ASSERT_EQ(c.messages.size(), 6u);
  EXPECT_EQ(c.messages[0].role, Role::system);
  EXPECT_EQ(c.messages[1].role, Role::user);
  EXPECT_EQ(c.messages[2].role, Role::assistant);
  EXPECT_NE(c.messages[2].calls, 0u);
  EXPECT_EQ(c.messages[3].role, Role::tool);
  EXPECT_EQ(c.messages[0].length, json(kSystem).dump().size() - 2);  // as written: escapes count as written
  ASSERT_EQ(c.tools.size(), 2u);
  EXPECT_EQ(c.tools[0].name, "read");
  EXPECT_EQ(c.tools[1].name, "bash");
  EXPECT_NE(c.system_key, 0u);
  EXPECT_NE(c.first_key, 0u);
}

TEST(PromptScan, SpacingAndMemberOrderDoNotChangeTheChain) {
  const json body = chat(3);
  const std::string compact = body.dump(), pretty = body.dump(2);
  std::string reordered = compact;  // "content" before "role" in the first message
  const std::string was = R"({"content":)" + json(kSystem).dump() + R"(,"role":"system"})";
  const std::string is = R"({"role":"system","content":)" + json(kSystem).dump() + "}";
  ASSERT_NE(compact.find(was), std::string::npos);
  reordered.replace(compact.find(was), was.size(), is);
  PromptChain a = scan_prompt(compact, *scan_top_level(compact));
  PromptChain b = scan_prompt(pretty, *scan_top_level(pretty));
  PromptChain c = scan_prompt(reordered, *scan_top_level(reordered));
  ASSERT_EQ(a.messages.size(), b.messages.size());
  for (size_t i = 0; i < a.messages.size(); ++i) {
    EXPECT_EQ(a.messages[i].hash, b.messages[i].hash) << i;
    EXPECT_EQ(a.messages[i].hash, c.messages[i].hash) << i;
  }
  EXPECT_EQ(a.tools_hash, b.tools_hash);
}

TEST_F(Diagnosis, StablePrefixIsReusedWhole) {
  EXPECT_TRUE(send(chat(1)).first);
  PrefixReport r = send(chat(1));
  EXPECT_TRUE(r.diagnosed);
  EXPECT_FALSE(r.first);
  EXPECT_EQ(r.diff.reused, 4u);
  EXPECT_EQ(r.diff.first_changed, -1);
  EXPECT_FALSE(r.diff.chain_break);
  EXPECT_EQ(r.diff.reused_bytes, r.diff.prompt_bytes);
}

TEST_F(Diagnosis, AppendedMessagesAreNoBreak) {
  PrefixReport first = send(chat(1));
  PrefixReport r = send(chat(3));
  EXPECT_EQ(r.conversation, first.conversation);
  EXPECT_EQ(r.diff.messages, 8u);
  EXPECT_EQ(r.diff.previous, 4u);
  EXPECT_EQ(r.diff.reused, 4u);
  EXPECT_FALSE(r.diff.chain_break);
  EXPECT_EQ(r.diff.first_changed, -1);
  EXPECT_LT(r.diff.reused_bytes, r.diff.prompt_bytes);
  EXPECT_TRUE(r.diff.hint.empty());
}

TEST_F(Diagnosis, EditedMiddleMessageIsABreakThere) {
  send(chat(3));
  json edited = chat(4);
  edited["messages"][5]["content"] = "OUTPUT of turn 1";
  PrefixReport r = send(edited);
  EXPECT_FALSE(r.first);
  EXPECT_TRUE(r.diff.chain_break);
  EXPECT_EQ(r.diff.first_changed, 5);
  EXPECT_EQ(r.diff.reused, 5u);
  EXPECT_NE(r.diff.hint.find("message 5 (tool)"), std::string::npos) << r.diff.hint;
  EXPECT_NE(r.diff.hint.find("differs"), std::string::npos) << r.diff.hint;
  EXPECT_EQ(r.diff.hint.find("digits only"), std::string::npos) << r.diff.hint;
}

TEST_F(Diagnosis, TimestampDriftInTheSystemMessageIsNamed) {
  PrefixReport first = send(chat(2));
  std::string later = kSystem;
  later.replace(later.find("12:03:44"), 8, "12:04:09");
  PrefixReport r = send(chat(3, later));
  EXPECT_EQ(r.conversation, first.conversation);  // digits masked in the identity: the same conversation
  EXPECT_TRUE(r.diff.chain_break);
  EXPECT_EQ(r.diff.first_changed, 0);
  EXPECT_EQ(r.diff.reused, 0u);
  // The system message's digit runs are known: the run that changed is named exactly (offsets in the content as
  // written: the JSON text between the quotes, escapes counted as written).
  const std::string raw = json(kSystem).dump().substr(1);
  EXPECT_EQ(r.diff.hint, "message 0 (system) differs at char " + std::to_string(raw.find("12:03:44") + 3) +
                             ": digits only - a timestamp?");
}

TEST_F(Diagnosis, DigitsChangedInAnotherMessageAreNamedByBlock) {
  send(chat(3));
  json later = chat(4);
  later["messages"][5]["content"] = "output of turn 7";  // was "output of turn 1"
  PrefixReport r = send(later);
  EXPECT_EQ(r.diff.first_changed, 5);
  // No digit runs kept for other messages: the first digit of the 32-byte checkpoint block that changed.
  EXPECT_EQ(r.diff.hint, "message 5 (tool) differs near char 15: digits only - a timestamp?");
}

TEST_F(Diagnosis, ReorderedToolsAndChangedSchemas) {
  send(chat(1));
  json swapped = chat(2);
  std::swap(swapped["tools"][0], swapped["tools"][1]);
  PrefixReport r = send(swapped);
  EXPECT_TRUE(r.diff.chain_break);
  EXPECT_TRUE(r.diff.tools_changed);
  EXPECT_EQ(r.diff.reused, 0u);
  EXPECT_NE(r.diff.hint.find("tools re-ordered"), std::string::npos) << r.diff.hint;

  json changed = chat(3);
  std::swap(changed["tools"][0], changed["tools"][1]);
  changed["tools"][0]["function"]["description"] = "Run a shell command";
  changed["tools"].push_back({{"type", "function"}, {"function", {{"name", "grep"}}}});
  r = send(changed);
  EXPECT_TRUE(r.diff.tools_changed);
  EXPECT_NE(r.diff.hint.find("tool 'bash' schema changed"), std::string::npos) << r.diff.hint;
  EXPECT_NE(r.diff.hint.find("tool 'grep' added"), std::string::npos) << r.diff.hint;

  json options = changed;
  options["chat_template_kwargs"] = {{"enable_thinking", false}};
  r = send(options);
  EXPECT_TRUE(r.diff.chain_break);
  EXPECT_EQ(r.diff.hint, "chat_template_kwargs changed");
}

TEST_F(Diagnosis, TwoInterleavedConversationsEachCompareWithTheirOwn) {
  const PrefixReport a1 = send(chat(1, kSystem, "task A"));
  const PrefixReport b1 = send(chat(1, kSystem, "task B"));
  EXPECT_NE(a1.conversation, b1.conversation);
  for (int t = 2; t < 5; ++t) {
    PrefixReport a = send(chat(t, kSystem, "task A"));
    PrefixReport b = send(chat(t, kSystem, "task B"));
    EXPECT_EQ(a.conversation, a1.conversation);
    EXPECT_EQ(b.conversation, b1.conversation);
    EXPECT_FALSE(a.diff.chain_break);
    EXPECT_FALSE(b.diff.chain_break);
    EXPECT_EQ(a.diff.reused, static_cast<size_t>(2 * t));
  }
  EXPECT_EQ(tracker.conversations(), 2u);
}

TEST_F(Diagnosis, SideCallWithAnotherSystemPromptIsAConversationOfItsOwn) {
  const PrefixReport main1 = send(chat(0));
  const PrefixReport title = send(chat(0, "Generate a short title for the conversation."));
  EXPECT_NE(title.conversation, main1.conversation);
  EXPECT_TRUE(title.first);
  PrefixReport main2 = send(chat(1));
  EXPECT_EQ(main2.conversation, main1.conversation);
  EXPECT_FALSE(main2.diff.chain_break);
  // A real edit of the system prompt (not digits) in a conversation that goes on: the same conversation, a break.
  PrefixReport edited = send(chat(2, kSystem + " Prefer small diffs."));
  EXPECT_EQ(edited.conversation, main1.conversation);
  EXPECT_TRUE(edited.diff.chain_break);
  EXPECT_EQ(edited.diff.first_changed, 0);
  EXPECT_NE(edited.diff.hint.find("text appended"), std::string::npos) << edited.diff.hint;
}

TEST(DiagnosisEviction, LeastRecentlyUsedConversationsAreForgotten) {
  PrefixTracker tracker(2, 1000);
  auto send = [&](const std::string& task, int turns) {
    const std::string text = chat(turns, kSystem, task).dump();
    return tracker.observe_chain("model", "", "", scan_prompt(text, *scan_top_level(text)), text);
  };
  send("A", 1);
  send("B", 1);
  EXPECT_FALSE(send("A", 2).first);  // A is now the most recent
  send("C", 1);                      // B goes
  EXPECT_EQ(tracker.conversations(), 2u);
  EXPECT_FALSE(send("A", 3).first);
  EXPECT_TRUE(send("B", 2).first);   // forgotten: seen as new
  // The bound on fingerprinted messages also evicts.
  PrefixTracker small(10, 12);
  auto send_small = [&](const std::string& task) {
    const std::string text = chat(2, kSystem, task).dump();  // 6 messages
    return small.observe_chain("model", "", "", scan_prompt(text, *scan_top_level(text)), text);
  };
  send_small("A");
  send_small("B");
  send_small("C");
  EXPECT_EQ(small.conversations(), 2u);
  EXPECT_TRUE(send_small("A").first);
}

TEST_F(Diagnosis, ExplicitSessionIdentifiesTheConversation) {
  send(chat(1, kSystem, "first task"), "sess-1");
  PrefixReport r = send(chat(2, kSystem, "another first message"), "sess-1");
  EXPECT_FALSE(r.first);
  EXPECT_TRUE(r.diff.chain_break);
  EXPECT_EQ(r.diff.first_changed, 1);
  EXPECT_TRUE(send(chat(2, kSystem, "another first message"), "sess-2").first);
  json with_key = chat(1, kSystem, "x");
  with_key["prompt_cache_key"] = "pk";
  send(with_key);
  json other = chat(2, kSystem, "y");
  other["prompt_cache_key"] = "pk";
  EXPECT_FALSE(send(other).first);
}

TEST_F(Diagnosis, SpacingOfTheSameRequestIsNoBreak) {
  send(chat(2));
  PrefixReport r = send(chat(3), "", 2);
  EXPECT_FALSE(r.first);
  EXPECT_FALSE(r.diff.chain_break);
  EXPECT_EQ(r.diff.reused, 6u);
}

TEST_F(Diagnosis, CompletionsPromptExtendedOrEdited) {
  const std::string base = std::string(3000, 'a') + " step 1";
  json p = {{"model", "m"}, {"prompt", base}};
  send(p);
  p["prompt"] = base + " and step 2";
  PrefixReport r = send(p);
  EXPECT_FALSE(r.first);
  EXPECT_FALSE(r.diff.chain_break);
  EXPECT_EQ(r.diff.reused_bytes, base.size());
  std::string edited = base + " and step 2";
  edited[2000] = 'b';
  p["prompt"] = edited + " and 3";
  r = send(p);
  EXPECT_TRUE(r.diff.chain_break);
  EXPECT_EQ(r.diff.first_changed, 0);
  EXPECT_NE(r.diff.hint.find("message 0 (prompt) differs within chars 1920-"), std::string::npos) << r.diff.hint;
}

TEST_F(Diagnosis, ResponsesInstructionsAndInputItems) {
  json req = {{"model", "m"},
              {"instructions", kSystem},
              {"input", json::array({{{"role", "user"}, {"content", "hi"}},
                                     {{"type", "function_call"}, {"call_id", "c1"}, {"name", "read"}, {"arguments", "{}"}},
                                     {{"type", "function_call_output"}, {"call_id", "c1"}, {"output", "file"}}})}};
  const std::string text = req.dump();
  PromptChain c = scan_prompt(text, *scan_top_level(text));
  ASSERT_EQ(c.messages.size(), 4u);
  EXPECT_EQ(c.messages[0].role, Role::system);
  EXPECT_EQ(c.messages[2].role, Role::assistant);
  EXPECT_EQ(c.messages[3].role, Role::tool);
  send(req);
  req["input"][2]["output"] = "file, and more";  // the last message grew: the engine's cache still holds
  PrefixReport r = send(req);
  EXPECT_FALSE(r.diff.chain_break);
  EXPECT_EQ(r.diff.reused, 3u);
  req["input"][1]["arguments"] = "{\"path\":\"b\"}";
  r = send(req);
  EXPECT_TRUE(r.diff.chain_break);
  EXPECT_NE(r.diff.hint.find("message 2 (assistant) differs"), std::string::npos) << r.diff.hint;
}

TEST_F(Diagnosis, ReorderedMessagesAndToolCallsAreNamed) {
  json a = chat(3);
  send(a);
  json b = chat(3);
  std::swap(b["messages"][3], b["messages"][5]);
  PrefixReport r = send(b);
  EXPECT_EQ(r.diff.first_changed, 3);
  EXPECT_NE(r.diff.hint.find("was message 5 before: messages re-ordered?"), std::string::npos) << r.diff.hint;
  send(a);
  json c = chat(3);
  c["messages"][4]["tool_calls"][0]["id"] = "call_renamed";
  r = send(c);
  EXPECT_EQ(r.diff.first_changed, 4);
  EXPECT_NE(r.diff.hint.find("tool calls differ"), std::string::npos) << r.diff.hint;
}

TEST(DiagnosisJson, ListsConversationsWithBreaksAndNoText) {
  PrefixTracker tracker;
  auto send = [&](const json& body) {
    const std::string text = body.dump();
    return tracker.observe_chain("qwen", "", "", scan_prompt(text, *scan_top_level(text)), text);
  };
  send(chat(1));
  std::string later = kSystem;
  later.replace(later.find("12:03:44"), 8, "12:09:00");
  send(chat(2, later));
  const json j = json::parse(tracker.json(10));
  ASSERT_EQ(j["conversations"].size(), 1u);
  const json& c = j["conversations"][0];
  EXPECT_EQ(c["model"], "qwen");
  EXPECT_EQ(c["requests"], 2);
  EXPECT_EQ(c["chainBreaks"], 1);
  EXPECT_EQ(c["identity"], "first messages");
  EXPECT_EQ(c["last"]["firstChanged"], 0);
  ASSERT_EQ(c["breaks"].size(), 1u);
  EXPECT_NE(c["breaks"][0]["hint"].get<std::string>().find("timestamp"), std::string::npos);
  const std::string all = j.dump();
  EXPECT_EQ(all.find("coding agent"), std::string::npos);  // no prompt text
  EXPECT_EQ(all.find("fix the failing"), std::string::npos);
}

TEST(DiagnosisMetrics, ChainBreaksAndReuseShareAreRendered) {
  Metrics m;
  m.prefix("qwen", false, 900, 1000);
  m.prefix("qwen", true, 0, 1000);
  const std::string text = m.render({});
  EXPECT_NE(text.find("llmux_prefix_requests_total{model=\"qwen\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("llmux_prefix_chain_breaks_total{model=\"qwen\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_prefix_reused_bytes_total{model=\"qwen\"} 900\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_prefix_reuse_share{model=\"qwen\"} 0.45\n"), std::string::npos);
}

}  // namespace
}  // namespace llmux
