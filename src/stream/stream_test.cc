#include "stream/stream.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "base/dir_watcher.h"
#include "stream/api_server.h"
#include "testing/test_util.h"

namespace orch {
namespace {

class StreamTest : public ::testing::Test {
 protected:
  // A run directory `name` with `log` as its output.log (none when nullopt).
  std::string Run(const std::string& name, const std::optional<std::string>& log) {
    std::string d = dir_.Sub(name);
    std::filesystem::create_directories(d);
    if (log) test::WriteFile(d + "/output.log", *log);
    return d;
  }
  void Append(const std::string& run, const std::string& text) {
    std::ofstream(run + "/output.log", std::ios::app) << text;
  }
  void End(const std::string& run) { test::WriteFile(run + "/exit.json", "{}"); }
  // Reads chunk after chunk from `offset` until nothing is left now; returns the bytes.
  std::string Drain(const std::vector<RunLog>& runs, uint64_t* offset, size_t max_bytes,
                    bool* at_end = nullptr) {
    std::string out;
    while (true) {
      Result<Chunk> c = ReadChunk(runs, *offset, max_bytes);
      EXPECT_TRUE(c.ok()) << c.status().message();
      if (!c.ok()) return out;
      EXPECT_EQ(c->end, *offset + c->content.size());
      *offset = c->end;
      out += c->content;
      if (c->content.empty()) {
        if (at_end) *at_end = c->at_end;
        return out;
      }
    }
  }

  test::TempDir dir_;
};

TEST_F(StreamTest, ALiveRunIsReadAsItGrowsAndEndsOnlyAfterExitJson) {
  // Given a running agent's log, a reader gets what is there, then only what was appended,
  // and learns the end only once exit.json exists and everything was read.
  std::string run = Run("1", "one\n");
  std::vector<RunLog> runs = {{run, false}};
  uint64_t offset = 0;
  bool at_end = true;
  EXPECT_EQ(Drain(runs, &offset, 1024, &at_end), "one\n");
  EXPECT_FALSE(at_end);
  Append(run, "two\n");
  EXPECT_EQ(Drain(runs, &offset, 1024, &at_end), "two\n");
  EXPECT_FALSE(at_end);
  Append(run, "three\n");
  End(run);
  EXPECT_EQ(Drain(runs, &offset, 1024, &at_end), "three\n");
  EXPECT_TRUE(at_end);
  EXPECT_EQ(offset, 14u);
}

TEST_F(StreamTest, AttemptsAreOneStreamOfOffsets) {
  // Given a failed first attempt and a running second one, offsets run on across the
  // boundary, and a cursor anywhere resumes without a gap or a repeat.
  std::string a = Run("1", "first attempt\n");
  std::string b = Run("2", "second attempt\n");
  std::vector<RunLog> runs = {{a, true}, {b, false}};
  std::string all = "first attempt\nsecond attempt\n";
  for (uint64_t from = 0; from <= all.size(); ++from) {
    uint64_t offset = from;
    EXPECT_EQ(Drain(runs, &offset, 5), all.substr(from)) << "from " << from;
    EXPECT_EQ(offset, all.size());
  }
}

TEST_F(StreamTest, EachChunkNamesTheRunItCameFrom) {
  // The events endpoint starts a new Normalizer run (its work tree) where a chunk's run changes.
  std::vector<RunLog> runs = {{Run("1", "first\n"), true}, {Run("2", "second\n"), false}};
  Result<Chunk> first = ReadChunk(runs, 0, 1024);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->content, "first\n");
  EXPECT_EQ(first->run, 0u);
  Result<Chunk> second = ReadChunk(runs, first->end, 1024);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->content, "second\n");
  EXPECT_EQ(second->run, 1u);
}

TEST_F(StreamTest, SmallChunksConcatenateToTheLogAndTwoCursorsAreIndependent) {
  std::string run = Run("1", "");
  std::vector<RunLog> runs = {{run, false}};
  uint64_t fast = 0, slow = 0;
  std::string got_fast, got_slow, written;
  for (int i = 0; i < 50; ++i) {
    std::string line = "line " + std::to_string(i) + "\n";
    Append(run, line);
    written += line;
    got_fast += Drain(runs, &fast, 3);
    if (i % 7 == 0) got_slow += Drain(runs, &slow, 64);
  }
  got_slow += Drain(runs, &slow, 64);
  EXPECT_EQ(got_fast, written);
  EXPECT_EQ(got_slow, written);
}

TEST_F(StreamTest, AnIncompleteUtf8SequenceWaitsForItsLastBytes) {
  // "€" is E2 82 AC; the agent's write stops after two of its bytes.
  std::string run = Run("1", "price: \xE2\x82");
  std::vector<RunLog> runs = {{run, false}};
  uint64_t offset = 0;
  EXPECT_EQ(Drain(runs, &offset, 1024), "price: ");
  Append(run, "\xAC 5\n");
  EXPECT_EQ(Drain(runs, &offset, 1024), "\xE2\x82\xAC 5\n");
  // A run that ended on a cut sequence gives its bytes as they are.
  std::string cut = Run("2", "bye \xE2\x82");
  End(cut);
  uint64_t o2 = 0;
  bool at_end = false;
  EXPECT_EQ(Drain({{cut, false}}, &o2, 1024, &at_end), "bye \xE2\x82");
  EXPECT_TRUE(at_end);
}

TEST_F(StreamTest, Utf8CompleteLength) {
  EXPECT_EQ(Utf8CompleteLength(""), 0u);
  EXPECT_EQ(Utf8CompleteLength("abc"), 3u);
  EXPECT_EQ(Utf8CompleteLength("a\xE2"), 1u);
  EXPECT_EQ(Utf8CompleteLength("a\xE2\x82"), 1u);
  EXPECT_EQ(Utf8CompleteLength("a\xE2\x82\xAC"), 4u);
  EXPECT_EQ(Utf8CompleteLength("a\xF0\x9F\x98"), 1u);
  EXPECT_EQ(Utf8CompleteLength("a\xF0\x9F\x98\x80"), 5u);
}

TEST_F(StreamTest, AMissingLogIsEmptyUntilItAppears) {
  std::string run = Run("1", std::nullopt);
  std::vector<RunLog> runs = {{run, false}};
  uint64_t offset = 0;
  bool at_end = true;
  EXPECT_EQ(Drain(runs, &offset, 64, &at_end), "");
  EXPECT_FALSE(at_end);
  runs[0].finished = true;  // the store says it ended (the shim died: no exit.json)
  EXPECT_EQ(Drain(runs, &offset, 64, &at_end), "");
  EXPECT_TRUE(at_end);
}

TEST(SseTest, EventsSurviveAnySplitOfTheBytes) {
  std::string wire;
  std::vector<StreamEvent> sent = {
      {.task_id = 7, .content = "hello\nworld\n", .timestamp_ms = 1790000000123, .id = 12},
      {.task_id = 7, .content = "tab\t\"quoted\" \xE2\x82\xAC\n", .id = 30},
      {.task_id = 7, .content = "", .is_final = true, .id = 30}};
  for (const StreamEvent& e : sent) wire += FormatSseEvent(e);
  wire.insert(0, ": a comment\r\n\r\n");
  for (size_t piece : {size_t{1}, size_t{2}, size_t{7}, wire.size()}) {
    SseParser parser;
    std::vector<StreamEvent> got;
    for (size_t i = 0; i < wire.size(); i += piece) {
      parser.Feed(std::string_view(wire).substr(i, piece), [&](const SseMessage& m) {
        Result<StreamEvent> e = ParseStreamEvent(m);
        ASSERT_TRUE(e.ok()) << e.status().message();
        got.push_back(*e);
      });
    }
    ASSERT_EQ(got.size(), sent.size()) << "piece " << piece;
    for (size_t i = 0; i < sent.size(); ++i) {
      EXPECT_EQ(got[i].content, sent[i].content);
      EXPECT_EQ(got[i].id, sent[i].id);
      EXPECT_EQ(got[i].is_final, sent[i].is_final);
      EXPECT_EQ(got[i].task_id, 7);
    }
    EXPECT_EQ(got[0].timestamp_ms, 1790000000123);
  }
}

TEST(SseTest, TheWireFormatIsIdThenOneDataLine) {
  std::string wire = FormatSseEvent({.task_id = 3, .content = "a\nb", .timestamp_ms = 5, .id = 9});
  EXPECT_EQ(wire,
            "id: 9\ndata: {\"content\":\"a\\nb\",\"is_final\":false,\"task_id\":3,"
            "\"timestamp\":5}\n\n");
}

TEST(SseTest, BadEventsAreRejected) {
  EXPECT_FALSE(ParseStreamEvent({.id = "x", .data = "{}"}).ok());
  EXPECT_FALSE(ParseStreamEvent({.id = "4", .data = "not json"}).ok());
  EXPECT_FALSE(ParseStreamEvent({.id = "4", .data = "{\"content\": 1}"}).ok());
}

TEST(LinePrefixerTest, PrefixesWholeLinesAndHoldsTheRest) {
  LinePrefixer p("[acme/widgets#4] ");
  EXPECT_EQ(p.Feed("one\ntw"), "[acme/widgets#4] one\n");
  EXPECT_EQ(p.Feed("o\nthree"), "[acme/widgets#4] two\n");
  EXPECT_EQ(p.Flush(), "[acme/widgets#4] three\n");
  EXPECT_EQ(p.Flush(), "");
}

TEST(ApiTokenTest, MadeOnceWithMode0600AndReused) {
  test::TempDir dir;
  std::string path = dir.Sub("state/api.token");
  Result<std::string> first = LoadOrCreateApiToken(path);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->size(), 64u);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Result<std::string> again = LoadOrCreateApiToken(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  EXPECT_NE(*LoadOrCreateApiToken(dir.Sub("other.token")), *first);
}

TEST(DirWatcherTest, AWriteInTheDirectoryWakesTheWaiter) {
  test::TempDir dir;
  DirWatcher watcher;
  std::unique_ptr<DirWatcher::Handle> h = watcher.Watch(dir.path());
  uint64_t seen = h->generation();
  EXPECT_FALSE(h->Wait(seen, std::chrono::milliseconds(50)));  // nothing happened
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    test::WriteFile(dir.Sub("output.log"), "x");
  });
  EXPECT_TRUE(h->Wait(seen, std::chrono::seconds(5)));
  writer.join();
  // Shutdown releases waiters at once. A quiet directory of its own: the write above may
  // still have events in flight that would bump the first one's generation.
  test::TempDir quiet;
  std::unique_ptr<DirWatcher::Handle> q = watcher.Watch(quiet.path());
  seen = q->generation();
  std::thread stopper([&] { watcher.Shutdown(); });
  EXPECT_FALSE(q->Wait(seen, std::chrono::seconds(5)));
  stopper.join();
}

}  // namespace
}  // namespace orch
