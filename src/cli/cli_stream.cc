// `orch stream [ID]`: agents' output, live, from the daemon's local API (api_server.h).
#include <CLI/CLI.hpp>
#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>

#include "cli/cli.h"
#include "stream/api_client.h"

namespace orch {
namespace {

// How long a stream waits for a daemon that went away (a restart) before giving up.
constexpr std::chrono::seconds kPatience{60};

class StreamCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_option("id", id_, "The task; without one, every running task, each line prefixed");
    app.add_option("--from", from_, "Start at this byte offset of the task's output (default 0)");
  }

  Status Run(Context& ctx) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    if (id_) return One(ctx, *home);
    return All(ctx, *home);
  }

 private:
  // Prints the task's output raw, as the agent wrote it, and returns after the final event.
  Status One(Context& ctx, const Home& home) {
    uint64_t offset = from_;
    return FollowTaskStream(
        home, *id_, &offset,
        [&](const StreamEvent& e) {
          ctx.out << e.content;
          ctx.out.flush();
        },
        kPatience);
  }

  // Follows every in_progress task, picking up new ones every second, until interrupted.
  // A task's cursor is kept, so its next attempt continues where the last one ended.
  Status All(Context& ctx, const Home& home) {
    struct Follow {
      uint64_t offset = 0;
      std::atomic<bool> active{false};
    };
    std::map<int64_t, std::unique_ptr<Follow>> follows;
    std::list<std::thread> threads;
    std::mutex out_mu;
    std::atomic<bool> stop{false};
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
        std::unique_ptr<Follow>& f = follows[t.id];
        if (!f) f = std::make_unique<Follow>();
        if (f->active.exchange(true)) continue;
        std::string prefix = "[" + t.project + "#" + std::to_string(t.id) + "] ";
        threads.emplace_back([&ctx, &home, &out_mu, &stop, id = t.id, f = f.get(), prefix] {
          LinePrefixer lines(prefix);
          auto print = [&](const std::string& text) {
            std::lock_guard<std::mutex> lock(out_mu);
            ctx.out << text;
            ctx.out.flush();
          };
          Status s = FollowTaskStream(
              home, id, &f->offset, [&](const StreamEvent& e) { print(lines.Feed(e.content)); },
              kPatience, &stop);
          print(lines.Flush());
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
};

}  // namespace

std::unique_ptr<Command> MakeStreamCommand() { return std::make_unique<StreamCommand>(); }

}  // namespace orch
