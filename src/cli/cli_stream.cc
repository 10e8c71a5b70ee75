// `orch stream [ID]`: agents' output, live, from the daemon's local API (api_server.h): for
// people (the normalized events printed by EventPrinter), as JSON lines (--json), or as the
// agent wrote it (--raw).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>

#include "cli/cli.h"
#include "stream/api_client.h"
#include "stream/render.h"

namespace orch {
namespace {

// How long a stream waits for a daemon that went away (a restart) before giving up.
constexpr std::chrono::seconds kPatience{60};

// Where one task's stream is, so its next attempt continues where the last one ended.
struct Cursor {
  uint64_t offset = 0;     // --raw: a byte offset
  std::string event = "";  // otherwise: the last event's id
};

class StreamCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("id", id_, "The task; without one, every running task, each line prefixed");
    app.add_option("--from", from_, "Start at this byte offset of the task's output (default 0)");
    CLI::Option* raw = app.add_flag("--raw", raw_, "The output as the agent wrote it");
    app.add_flag("--json", json_, "The normalized events as JSON lines")->excludes(raw);
  }

  Status Run(Context& ctx) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    // Colours only for a person at a terminal (NO_COLOR, https://no-color.org, turns them off).
    color_ = &ctx.out == &std::cout && isatty(STDOUT_FILENO) == 1 && !ctx.env("NO_COLOR") &&
             ctx.env("TERM").value_or("") != "dumb";
    if (id_) {
      Cursor cursor{.offset = from_, .event = from_ > 0 ? std::to_string(from_) : ""};
      return Follow(*home, *id_, cursor, "", [&](const std::string& text) {
        ctx.out << text;
        ctx.out.flush();
      });
    }
    return All(ctx, *home);
  }

 private:
  // Follows task `id` to its final event, handing `print` what to write: the raw bytes, or
  // the events as JSON lines or as text for people, each line after `prefix`.
  Status Follow(const Home& home, int64_t id, Cursor& cursor, const std::string& prefix,
                const std::function<void(const std::string&)>& print,
                const std::atomic<bool>* stop = nullptr) {
    if (raw_) {
      LinePrefixer lines(prefix);
      auto write = [&](const std::string& s) { print(prefix.empty() ? s : lines.Feed(s)); };
      Status s = FollowTaskStream(
          home, id, &cursor.offset, [&](const StreamEvent& e) { write(e.content); }, kPatience,
          stop);
      if (!prefix.empty()) print(lines.Flush());
      return s;
    }
    EventPrinter printer(PrintOptions{.color = color_, .prefix = prefix});
    return FollowTaskEvents(
        home, id, &cursor.event,
        [&](const AgentEvent& e, const std::string& data) {
          std::string text = json_ ? data + "\n" : printer.Print(e);
          if (!text.empty()) print(text);
        },
        kPatience, stop);
  }

  // Follows every in_progress task, picking up new ones every second, until interrupted.
  // A task's cursor is kept, so its next attempt continues where the last one ended.
  Status All(Context& ctx, const Home& home) {
    struct Followed {
      Cursor cursor;
      std::atomic<bool> active{false};
    };
    std::map<int64_t, std::unique_ptr<Followed>> follows;
    std::list<std::thread> threads;
    std::mutex out_mu;
    std::atomic<bool> stop{false};
    auto print = [&](const std::string& text) {
      std::lock_guard<std::mutex> lock(out_mu);
      ctx.out << text;
      ctx.out.flush();
    };
    Status result;
    while (true) {
      Result<ApiAddress> address = ReadApiAddress(home);
      Result<std::vector<ApiTask>> tasks =
          address.ok() ? ListApiTasks(*address, "in_progress") : address.status();
      if (!tasks.ok() && (!tasks.status().IsRetryable() || follows.empty())) {
        result = tasks.status();
        break;
      }
      for (const ApiTask& t : tasks.ok() ? *tasks : std::vector<ApiTask>{}) {
        std::unique_ptr<Followed>& f = follows[t.id];
        if (!f) f = std::make_unique<Followed>();
        if (f->active.exchange(true)) continue;
        // JSON lines carry their task_id; text lines get the task in front.
        std::string prefix = json_ ? "" : "[" + t.project + "#" + std::to_string(t.id) + "] ";
        threads.emplace_back([&, id = t.id, f = f.get(), prefix] {
          Status s = Follow(home, id, f->cursor, prefix, print, &stop);
          if (!s.ok() && !stop.load()) {
            std::lock_guard<std::mutex> lock(out_mu);
            ctx.err << "orch: task " << id << ": " << s.message() << "\n";
          }
          f->active = false;
        });
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    stop = true;
    for (std::thread& t : threads) t.join();
    return result;
  }

  std::optional<int64_t> id_;
  uint64_t from_ = 0;
  bool raw_ = false;
  bool json_ = false;
  bool color_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeStreamCommand() { return std::make_unique<StreamCommand>(); }

}  // namespace orch
