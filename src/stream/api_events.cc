// GET /api/tasks/{id}/events: a task's output normalized (normalize.h), as Server-Sent Events.
// The bytes are read as GET /api/tasks/{id}/stream reads them (ApiServer::Pump); each
// subscriber has its own Normalizer, so a client's Last-Event-ID ("<line offset>:<index>")
// is all it needs to resume.
#include <httplib.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "stream/api_server.h"
#include "stream/normalize.h"

namespace orch {
namespace {

// One client's normalizer, and what it has seen already.
struct EventsState {
  Normalizer normalizer;
  int64_t run = -1;       // the run the normalizer is in
  EventCursor seen = {};  // events at or before this one were sent on an earlier connection
};

// The offset where the run holding byte `offset` begins (the last run's start when `offset`
// is at or past the end).
uint64_t RunStartBefore(const std::vector<RunLog>& runs, uint64_t offset) {
  uint64_t base = 0;
  for (size_t i = 0; i + 1 < runs.size(); ++i) {
    struct stat st;
    uint64_t size = stat((runs[i].dir + "/output.log").c_str(), &st) == 0
                        ? static_cast<uint64_t>(st.st_size)
                        : 0;
    if (offset < base + size) break;
    base += size;
  }
  return std::min(base, offset);
}

}  // namespace

void ApiServer::Events(const httplib::Request& req, httplib::Response& res) {
  auto sub = std::make_shared<Subscriber>();
  sub->task_id = std::stoll(req.matches[1]);
  EventCursor from;
  if (req.has_header("Last-Event-ID")) {
    Result<EventCursor> cursor = ParseEventCursor(req.get_header_value("Last-Event-ID"));
    if (!cursor.ok()) {
      res.status = 400;
      res.set_content(nlohmann::json{{"error", cursor.status().ToString()}}.dump(),
                      "application/json");
      return;
    }
    from = *cursor;
  }
  if (!OpenStream(*sub, res)) return;
  // What a line means can depend on the run's earlier lines (a tool's name, whether claude
  // printed text before its result), so the run that holds the cursor is read from its start
  // and what the client saw is skipped.
  sub->offset = RunStartBefore(sub->runs, from.offset);
  auto state = std::make_shared<EventsState>(EventsState{Normalizer(sub->offset), -1, from});
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream", [this, sub, state](size_t, httplib::DataSink& sink) {
        auto send = [&](std::vector<AgentEvent> events) {
          std::string wire;
          for (AgentEvent& e : events) {
            const EventCursor& seen = state->seen;
            if (e.line_offset < seen.offset ||
                (e.line_offset == seen.offset && e.index <= seen.index)) {
              continue;  // the client had it before it reconnected
            }
            e.task_id = sub->task_id;
            wire += FormatAgentEventSse(e);
          }
          if (wire.empty()) return Sent::kNothing;
          sub->last_write = clock_.Monotonic();
          return sink.write(wire.data(), wire.size()) ? Sent::kSent : Sent::kFailed;
        };
        auto on_chunk = [&](const Chunk& chunk) {
          std::vector<AgentEvent> events;
          Normalizer& n = state->normalizer;
          if (state->run != static_cast<int64_t>(chunk.run)) {
            if (state->run >= 0) events = n.Flush();  // the earlier run's unfinished line
            const RunLog* run = chunk.run < sub->runs.size() ? &sub->runs[chunk.run] : nullptr;
            n.StartRun(run ? run->worktree : "",
                       run && run->plain_text ? AgentFormat::kText : AgentFormat::kAuto);
            state->run = static_cast<int64_t>(chunk.run);
          }
          for (AgentEvent& e : n.Feed(chunk.content)) events.push_back(std::move(e));
          return send(std::move(events));
        };
        auto on_end = [&] {
          if (send(state->normalizer.Flush()) == Sent::kFailed) return false;
          AgentEvent final;
          final.kind = AgentEventKind::kFinal;
          final.duration_ms = RunsMillis(*sub);
          final.line_offset = sub->offset;
          // A bare offset: a client that resumes from it (orch stream following a task that
          // starts again) gets the next attempt's first line, which begins there too.
          final.index = -1;
          state->seen = {};
          if (send({final}) == Sent::kFailed) return false;
          sink.done();
          return true;
        };
        return Pump(*sub, sink, on_chunk, on_end);
      });
}

int64_t ApiServer::RunsMillis(const Subscriber& sub) const {
  // The shim's files tell to the millisecond (the store keeps whole seconds): spec.json is
  // written just before the session starts, exit.json as the agent ends.
  auto mtime_ms = [](const std::string& path, int64_t* ms) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return false;
    *ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
    return true;
  };
  int64_t total = 0;
  for (const RunLog& run : sub.runs) {
    int64_t start = 0, end = 0;
    if (!mtime_ms(run.dir + "/spec.json", &start)) continue;
    if (!mtime_ms(run.dir + "/exit.json", &end)) {
      end = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
    }
    total += std::max<int64_t>(0, end - start);
  }
  return total;
}

}  // namespace orch
