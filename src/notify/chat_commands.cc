#include "notify/chat_commands.h"

#include <map>
#include <sstream>

#include "base/log.h"
#include "base/secret_scan.h"
#include "engine/task_actions.h"

namespace orch {
namespace {

constexpr size_t kStreamLines = 20;
constexpr size_t kActiveShown = 15;

const char* kHelp =
    "/status: tasks by status\n"
    "/stream ID: the last lines of task ID's agent output\n"
    "/retry ID: another attempt at task ID\n"
    "/unblock ID: task ID starts over with a fresh attempt count";

// Drops ESC [ ... final-byte sequences and carriage returns: the pane's colours mean nothing
// in a chat.
std::string StripEscapes(const std::string& line) {
  std::string out;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
      i += 2;
      while (i < line.size() && !(line[i] >= 0x40 && line[i] <= 0x7e)) ++i;
      continue;
    }
    if (line[i] == '\r') continue;
    out += line[i];
  }
  return out;
}

std::optional<int64_t> ParseTaskId(std::string_view arg) {
  if (arg.size() > 0 && arg[0] == '#') arg.remove_prefix(1);
  if (arg.empty() || arg.size() > 18) return std::nullopt;
  int64_t id = 0;
  for (char c : arg) {
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + (c - '0');
  }
  return id;
}

std::string StatusReply(Store& store) {
  Result<std::vector<Task>> tasks = store.ListTasks({});
  if (!tasks.ok()) return "cannot read tasks: " + tasks.status().message();
  std::map<std::string, int> counts;
  std::ostringstream active;
  size_t shown = 0;
  for (const Task& t : *tasks) {
    ++counts[TaskStatusName(t.status)];
    bool is_active = t.status != TaskStatus::kDone && t.status != TaskStatus::kNew;
    if (is_active && shown++ < kActiveShown) {
      active << "\n#" << t.id << " [" << TaskStatusName(t.status) << "] " << t.project << ": "
             << t.title;
    }
  }
  std::ostringstream out;
  out << tasks->size() << " task(s)";
  for (TaskStatus s : kAllTaskStatuses) {
    auto it = counts.find(TaskStatusName(s));
    if (it != counts.end()) out << ", " << it->second << " " << it->first;
  }
  out << active.str();
  if (shown > kActiveShown) out << "\n(" << shown - kActiveShown << " more)";
  return out.str();
}

std::string Stream(Store& store, int64_t id) {
  Result<std::vector<Attempt>> runs = store.ListAttempts(id);
  if (!runs.ok()) return "task " + std::to_string(id) + ": " + runs.status().message();
  if (runs->empty()) return "task " + std::to_string(id) + " has no runs yet";
  const Attempt& run = runs->back();
  Result<std::string> tail = TailLog(run.run_dir + "/output.log", kStreamLines);
  if (!tail.ok()) return "task " + std::to_string(id) + ": " + tail.status().message();
  std::string head = "task " + std::to_string(id) + ", run " + std::to_string(run.attempt) + " (" +
                     run.agent + (run.finished_at ? ", finished" : ", running") + "):\n";
  return head + (tail->empty() ? "(no output yet)" : *tail);
}

// A task action's sentence as the reply, or why it did nothing.
ChatReply ActionReply(const Result<std::string>& done) {
  if (!done.ok()) return {done.status().message()};
  return {*done, true};
}

}  // namespace

Result<std::string> TailLog(const std::string& path, size_t n) {
  Result<std::vector<std::string>> lines = TailLines(path, n);
  if (!lines.ok()) return Status::NotFound(path, lines.status().message());
  std::string out;
  for (const std::string& l : *lines) {
    if (!out.empty()) out += "\n";
    out += StripEscapes(l);
  }
  return out;
}

std::optional<ChatReply> HandleChatCommand(Store& store, const Config& config,
                                           std::string_view text, const std::string& actor) {
  std::istringstream in{std::string(text)};
  std::string command, arg;
  in >> command >> arg;
  if (command.empty() || command[0] != '/') return std::nullopt;
  if (size_t at = command.find('@'); at != std::string::npos) command.resize(at);
  ChatReply reply;
  std::optional<int64_t> id = ParseTaskId(arg);
  bool needs_id = command == "/stream" || command == "/retry" || command == "/unblock";
  if (command == "/status") {
    reply.text = StatusReply(store);
  } else if (needs_id && !id) {
    reply.text = "usage: " + command + " ID (a task id, as /status shows)";
  } else if (command == "/stream") {
    reply.text = Stream(store, *id);
  } else if (command == "/retry") {
    reply = ActionReply(RetryTask(store, *id, config.workflow.max_attempts, actor, "/unblock"));
  } else if (command == "/unblock") {
    reply = ActionReply(UnblockTask(store, *id, actor));
  } else {
    reply.text = kHelp;
  }
  reply.text = RedactSecrets(reply.text);
  return reply;
}

}  // namespace orch
