// ChatCommands: what orch answers in a chat (Telegram, telegram.h).
//
//   /status        how many tasks are in each status, and the ones that are active
//   /stream ID     the last 20 lines of task ID's latest run log (run_dir/output.log)
//   /retry ID      as `orch task retry ID`: another attempt, within workflow.max_attempts
//   /unblock ID    as `orch task unblock ID`: back to new with a fresh attempt count
//                  (both by the rules of engine/task_actions.h, which the CLI uses too)
//   /help          this list
//
// A "/cmd@botname" form is the same command. Replies pass RedactSecrets. Who may send commands
// is the caller's to check (only channels.telegram.chat_id). workflow.max_attempts is the
// daemon's (global) value; a project's .orch.yml override is not consulted here.
//
// Thread safety: one thread; `store` is that thread's own connection.
#ifndef ORCH_NOTIFY_CHAT_COMMANDS_H_
#define ORCH_NOTIFY_CHAT_COMMANDS_H_

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "store/store.h"

namespace orch {

struct ChatReply {
  std::string text;
  bool changed = false;  // a task moved: the engine should look
};

// The reply to `text` (a chat message) sent by `actor` ("telegram:alice"), or nullopt when the
// message is no command. Failures (no such task, wrong status) are replies, not errors.
std::optional<ChatReply> HandleChatCommand(Store& store, const Config& config,
                                           std::string_view text, const std::string& actor);

// The last `n` lines of the file at `path`, without terminal escape sequences; NotFound when
// it cannot be read.
Result<std::string> TailLog(const std::string& path, size_t n);

}  // namespace orch

#endif  // ORCH_NOTIFY_CHAT_COMMANDS_H_
