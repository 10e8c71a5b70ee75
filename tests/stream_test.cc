// Live agent output through the daemon's local API: `orch serve` with the GitHub simulator and
// the agent stand-ins (as in agents_test.cc), read by `orch stream` and by a plain HTTP
// client speaking SSE.
#include "stream/stream.h"

#include <gmock/gmock.h>
#include <signal.h>

#include <filesystem>
#include <sstream>

#include "github_fixture.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;

class StreamTest : public GitHubLoopTest {
 protected:
  std::string ProjectPath() override { return RepoWithStandins(); }
  void SetUp() override {
    GitHubLoopTest::SetUp();
    // Round robin to the claude stand-in; the API on a free port.
    Configure(
        "router:\n  mode: round_robin\n  agents: [claude]\n"
        "workflow:\n  max_attempts: 1\n  timeout_seconds: 30\n"
        "api:\n  port: 0\n");
  }
  void StopOrch() {
    orch_->Signal(SIGTERM);
    orch_->Wait(std::chrono::seconds(5));
    orch_.reset();
  }
  // Labels a fresh issue with `body`; returns the task's id.
  int64_t LabelledTask(const std::string& body) { return LabelledIssue(body, "Talk").second; }
  // Everything the task's single run wrote.
  std::string RunLog(int64_t id) {
    Json runs = Task(id)["runs"];
    EXPECT_EQ(runs.size(), 1u);
    return runs.empty() ? "" : ReadFile(runs[0]["run_dir"].get<std::string>() + "/output.log");
  }
  // Lines that say "tok-NN" (the stand-in's say directives), as NN in order of appearance.
  static std::vector<std::string> Tokens(const std::string& text) {
    std::vector<std::string> out;
    for (size_t at = text.find("tok-"); at != std::string::npos; at = text.find("tok-", at + 1)) {
      out.push_back(text.substr(at, 6));
    }
    return out;
  }
  static std::string Script(int lines, int gap_ms) {
    std::string body = "Talk slowly.\n\nstandin: sleep 800\n";
    for (int i = 1; i <= lines; ++i) {
      char tok[8];
      snprintf(tok, sizeof tok, "tok-%02d", i);
      body +=
          std::string("standin: say ") + tok + "\nstandin: sleep " + std::to_string(gap_ms) + "\n";
    }
    return body + "standin: write notes.txt done\n";  // a change, so the task gets a PR
  }
  // Reads the task's stream from `from` (0: no Last-Event-ID); stops after `max_events`.
  std::vector<StreamEvent> Read(int64_t id, uint64_t from, size_t max_events = SIZE_MAX) {
    httplib::Headers h = {{"Authorization", "Bearer " + Token()}};
    if (from > 0) h.emplace("Last-Event-ID", std::to_string(from));
    std::vector<StreamEvent> events;
    SseParser parser;
    Api()->Get("/api/tasks/" + std::to_string(id) + "/stream", h, [&](const char* data, size_t n) {
      parser.Feed(std::string_view(data, n), [&](const SseMessage& m) {
        Result<StreamEvent> e = ParseStreamEvent(m);
        EXPECT_TRUE(e.ok()) << m.data;
        if (e.ok()) events.push_back(*e);
      });
      return events.size() < max_events;
    });
    return events;
  }
  // Reads the task's normalized events from `last_id` ("" for the start): (id, data) pairs.
  std::vector<std::pair<std::string, Json>> ReadEvents(int64_t id, const std::string& last_id) {
    httplib::Headers h = {{"Authorization", "Bearer " + Token()}};
    if (!last_id.empty()) h.emplace("Last-Event-ID", last_id);
    std::vector<std::pair<std::string, Json>> events;
    SseParser parser;
    Api()->Get("/api/tasks/" + std::to_string(id) + "/events", h, [&](const char* data, size_t n) {
      parser.Feed(std::string_view(data, n), [&](const SseMessage& m) {
        events.emplace_back(m.id, Json::parse(m.data, nullptr, false));
      });
      return true;
    });
    return events;
  }
  static std::string Content(const std::vector<StreamEvent>& events) {
    std::string out;
    for (const StreamEvent& e : events) out += e.content;
    return out;
  }
};

TEST_F(StreamTest, TwoClientsOnALiveTaskEachPrintEveryLineOnceInOrder) {
  // Given a running agent that says twelve things, two `orch stream` clients that joined
  // while it ran each print the run's log exactly, then exit 0 after the final event.
  StartOrch();
  EXPECT_THAT(Log(), HasSubstr("api: listening on http://127.0.0.1:"));
  int64_t id = LabelledTask(Script(12, 100));
  std::string id_arg = std::to_string(id);
  Background a({ORCH_BINARY, "stream", "--raw", id_arg}, Env(), dir_.Sub("a.out"));
  Background b({ORCH_BINARY, "stream", "--raw", id_arg}, Env(), dir_.Sub("b.out"));
  ASSERT_TRUE(Eventually([&] { return !Tokens(ReadFile(dir_.Sub("a.out"))).empty(); },
                         std::chrono::seconds(20)))
      << Log();
  EXPECT_EQ(Task(id)["status"], "in_progress");  // it was live when the first line arrived
  EXPECT_EQ(a.Wait(std::chrono::seconds(30)), 0) << ReadFile(dir_.Sub("a.out"));
  EXPECT_EQ(b.Wait(std::chrono::seconds(30)), 0) << ReadFile(dir_.Sub("b.out"));
  std::string log = RunLog(id);
  std::vector<std::string> want;
  for (int i = 1; i <= 12; ++i) want.push_back((i < 10 ? "tok-0" : "tok-") + std::to_string(i));
  std::vector<std::string> said = Tokens(log);  // the result event repeats them afterwards
  said.resize(std::min(said.size(), want.size()));
  ASSERT_EQ(said, want) << log;
  EXPECT_EQ(ReadFile(dir_.Sub("a.out")), log);
  EXPECT_EQ(ReadFile(dir_.Sub("b.out")), log);
}

TEST_F(StreamTest, AReconnectWithLastEventIdResumesWhereItLeftOff) {
  StartOrch();
  int64_t id = LabelledTask(Script(8, 150));
  // The first connection takes two events and hangs up mid-run.
  std::vector<StreamEvent> first = Read(id, 0, 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_FALSE(first.back().is_final);
  EXPECT_EQ(first.back().id, Content(first).size());  // ids are byte offsets
  // The second resumes from the last id it saw and reads to the end.
  std::vector<StreamEvent> rest = Read(id, first.back().id);
  ASSERT_FALSE(rest.empty());
  EXPECT_TRUE(rest.back().is_final);
  EXPECT_EQ(rest.back().content, "");
  for (const StreamEvent& e : rest) EXPECT_EQ(e.task_id, id);
  std::string log = RunLog(id);
  EXPECT_EQ(Content(first) + Content(rest), log);
  EXPECT_EQ(rest.back().id, log.size());
  // Any offset works, even one inside a chunk.
  EXPECT_EQ(Content(Read(id, 5)), log.substr(5));
}

TEST_F(StreamTest, AFinishedTaskReplaysEverythingAndEndsWithIsFinal) {
  StartOrch();
  int64_t id = LabelledTask("standin: say tok-01\nstandin: say tok-02\nstandin: write a.txt a\n");
  ASSERT_TRUE(Reaches(id, "in_review", std::chrono::seconds(30))) << Log();
  std::string log = RunLog(id);
  std::vector<StreamEvent> events = Read(id, 0);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(Content(events), log);
  EXPECT_TRUE(events.back().is_final);
  EXPECT_EQ(events.back().id, log.size());
  for (size_t i = 0; i + 1 < events.size(); ++i) EXPECT_FALSE(events[i].is_final);
  ProcessResult r = Orch({"stream", "--raw", std::to_string(id)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, log);
  // Resuming at the end gives only the final event.
  std::vector<StreamEvent> tail = Read(id, log.size());
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_TRUE(tail[0].is_final);
}

TEST_F(StreamTest, AWrongOrMissingTokenIs401AndAnUnknownTaskIs404) {
  StartOrch();
  int64_t id = LabelledTask("standin: say hi\n");
  std::string path = "/api/tasks/" + std::to_string(id) + "/stream";
  httplib::Result none = Api()->Get(path);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  httplib::Result wrong = Api()->Get(path, {{"Authorization", "Bearer not-the-token"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  httplib::Result tasks = Api()->Get("/api/tasks", {{"Authorization", "Bearer " + Token()}});
  ASSERT_TRUE(tasks);
  EXPECT_EQ(tasks->status, 200);
  Json list = Json::parse(tasks->body);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], id);
  EXPECT_EQ(list[0]["project"], "acme/widgets");
  httplib::Result unknown =
      Api()->Get("/api/tasks/999/stream", {{"Authorization", "Bearer " + Token()}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  ProcessResult r = Orch({"stream", "999"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("999"));
}

TEST_F(StreamTest, FollowingEveryTaskPrefixesEachLine) {
  StartOrch();
  Background all({ORCH_BINARY, "stream"}, Env(), dir_.Sub("all.out"));
  int64_t id = LabelledTask(Script(3, 100));
  std::string prefix = "[acme/widgets#" + std::to_string(id) + "] ";
  ASSERT_TRUE(Reaches(id, "in_review", std::chrono::seconds(30))) << Log();
  EXPECT_TRUE(Eventually([&] { return Tokens(ReadFile(dir_.Sub("all.out"))).size() >= 3; }))
      << ReadFile(dir_.Sub("all.out"));
  all.Signal(SIGTERM);
  all.Wait(std::chrono::seconds(5));
  std::string out = ReadFile(dir_.Sub("all.out"));
  EXPECT_THAT(out, HasSubstr(prefix));
  EXPECT_EQ(RunLog(id).find("tok-01") != std::string::npos, true);
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) EXPECT_EQ(line.rfind(prefix, 0), 0u) << line;
}

TEST_F(StreamTest, StreamPrintsTheRunForPeopleWithoutRawJson) {
  // Given a finished run of the claude stand-in that said something and wrote a file,
  // `orch stream ID` prints its text, one line for the write and a footer with the duration,
  // tokens and cost, and none of the stream-json it read.
  StartOrch();
  int64_t id = LabelledTask(
      "standin: say Reading the README first\nstandin: write notes.txt done\n"
      "standin: say All done here\n");
  ASSERT_TRUE(Reaches(id, "in_review", std::chrono::seconds(30))) << Log();
  ASSERT_THAT(RunLog(id), HasSubstr("{\"type\":\"assistant\""));  // what it read
  ProcessResult r = Orch({"stream", std::to_string(id)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_NE(line.rfind("{", 0), 0u) << "a raw JSON line: " << line;
    EXPECT_EQ(line.find("\x1b["), std::string::npos) << "colours into a file: " << line;
  }
  EXPECT_THAT(r.out, HasSubstr("\nReading the README first\n"));
  EXPECT_THAT(r.out, HasSubstr("\n✎ notes.txt +1\n  ↳ File created successfully at: notes.txt\n"));
  EXPECT_THAT(r.out, HasSubstr("\nAll done here\n"));
  EXPECT_THAT(r.out, HasSubstr("■ done: standin claude 3 directive(s) done"));  // the contract
  EXPECT_THAT(r.out, ::testing::ContainsRegex("── done · [0-9.hms]+ · [0-9,]+ tokens in, [0-9,]+ "
                                              "out · \\$0\\.0123\n$"));
  // On a terminal (script(1) gives it one), the same in colour.
  if (std::filesystem::exists("/usr/bin/script")) {
    ProcessResult tty =
        test::Run({"/usr/bin/script", "-qec",
                   std::string(ORCH_BINARY) + " stream " + std::to_string(id), "/dev/null"},
                  dir_.path(), Env());
    EXPECT_THAT(tty.out, HasSubstr("\x1b[33m✎ notes.txt\x1b[0m")) << tty.out << tty.err;
  }
  // --json: the same events, one JSON object a line, the last one final.
  ProcessResult j = Orch({"stream", "--json", std::to_string(id)});
  EXPECT_EQ(j.exit_code, 0) << j.err;
  std::vector<Json> events;
  std::istringstream json_lines(j.out);
  for (std::string line; std::getline(json_lines, line);) events.push_back(Json::parse(line));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["kind"], "final");
  bool started = false, wrote = false;
  for (const Json& e : events) {
    EXPECT_EQ(e["task_id"], id);
    started = started || (e["kind"] == "start" && e["model"] == "sonnet");
    wrote = wrote || (e["kind"] == "tool_call" && e["file"] == "notes.txt" && e["added"] == 1);
  }
  EXPECT_TRUE(started) << j.out;
  EXPECT_TRUE(wrote) << j.out;
}

TEST_F(StreamTest, CodexAndOpencodeRunsReadLikeClaudes) {
  // Given the codex and the opencode stand-ins in turn (their own JSON formats, codex with its
  // stderr in the same log), `orch stream` shows the same things: text, the write, the footer.
  for (const char* agent : {"codex", "opencode"}) {
    SCOPED_TRACE(agent);
    Configure(std::string("router:\n  mode: round_robin\n  agents: [") + agent +
              "]\nworkflow:\n  max_attempts: 1\n  timeout_seconds: 30\napi:\n  port: 0\n");
    StartOrch();
    int64_t id = LabelledTask("standin: say Looking around\nstandin: write notes.txt done\n");
    ASSERT_TRUE(Reaches(id, "in_review", std::chrono::seconds(30))) << Log();
    ProcessResult r = Orch({"stream", std::to_string(id)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("\nLooking around\n"));
    EXPECT_THAT(r.out, ::testing::ContainsRegex("\n✎ notes.txt( \\+1| \\(add\\))\n"));
    EXPECT_THAT(r.out, HasSubstr(std::string("■ done: standin ") + agent));
    EXPECT_THAT(r.out, ::testing::ContainsRegex("\n── done · [0-9.hms]+ · [0-9,]+ tokens in"));
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) EXPECT_NE(line.rfind("{", 0), 0u) << line;
    StopOrch();
  }
}

TEST_F(StreamTest, ALiveRunIsPrintedAsItHappens) {
  // Given a running agent, `orch stream ID` prints its first words while it still runs.
  StartOrch();
  int64_t id = LabelledTask(Script(6, 300));
  Background watch({ORCH_BINARY, "stream", std::to_string(id)}, Env(), dir_.Sub("w.out"));
  ASSERT_TRUE(Eventually([&] { return !Tokens(ReadFile(dir_.Sub("w.out"))).empty(); },
                         std::chrono::seconds(20)))
      << Log();
  EXPECT_EQ(Task(id)["status"], "in_progress");
  EXPECT_EQ(watch.Wait(std::chrono::seconds(30)), 0);
  std::string out = ReadFile(dir_.Sub("w.out"));
  EXPECT_THAT(out, HasSubstr("\ntok-01\n"));
  EXPECT_THAT(out, HasSubstr("\ntok-06\n"));
  EXPECT_THAT(out, HasSubstr("\n── done · "));
}

TEST_F(StreamTest, TheEventsEndpointResumesAfterLastEventId) {
  // Given a finished run, a client that saw the first three events and reconnects with the
  // third's id gets exactly the rest; a byte offset also works, and a bad id is 400.
  StartOrch();
  int64_t id = LabelledTask("standin: say tok-01\nstandin: say tok-02\nstandin: write a.txt a\n");
  ASSERT_TRUE(Reaches(id, "in_review", std::chrono::seconds(30))) << Log();
  std::vector<std::pair<std::string, Json>> all = ReadEvents(id, "");
  ASSERT_GE(all.size(), 6u);
  EXPECT_EQ(all.back().second["kind"], "final");
  EXPECT_GE(all.back().second.value("duration_ms", 0), 0);
  std::vector<std::pair<std::string, Json>> rest = ReadEvents(id, all[2].first);
  ASSERT_EQ(rest.size(), all.size() - 3);
  for (size_t i = 0; i < rest.size(); ++i) EXPECT_EQ(rest[i], all[i + 3]);
  // A result line makes usage and end: resuming between them gives the end.
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    if (all[i].second["kind"] != "usage") continue;
    std::vector<std::pair<std::string, Json>> after = ReadEvents(id, all[i].first);
    ASSERT_FALSE(after.empty());
    EXPECT_EQ(after.front(), all[i + 1]);
  }
  EXPECT_EQ(ReadEvents(id, "0").size(), all.size());
  // The final event's id is the end's byte offset: resuming there gives only the final.
  EXPECT_EQ(all.back().first.find(':'), std::string::npos) << all.back().first;
  std::vector<std::pair<std::string, Json>> tail = ReadEvents(id, all.back().first);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].second["kind"], "final");
  httplib::Result bad =
      Api()->Get("/api/tasks/" + std::to_string(id) + "/events",
                 {{"Authorization", "Bearer " + Token()}, {"Last-Event-ID", "x"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  httplib::Result unknown =
      Api()->Get("/api/tasks/999/events", {{"Authorization", "Bearer " + Token()}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
}

TEST_F(StreamTest, WithoutADaemonStreamSaysSo) {
  ProcessResult r = Orch({"stream", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("orch serve is not running"));
}

}  // namespace
}  // namespace orch::test
