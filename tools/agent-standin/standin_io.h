// The stand-in's few OS effects: output lines written at once, stdin, the clock, random ids,
// files under the working directory and the session records under $HOME/.standin/<agent>/.
//
// The stand-in is a short-lived single-threaded program and its tests drive the built binary,
// so these are plain functions rather than an injected interface. Not thread-safe.
#ifndef ORCH_AGENT_STANDIN_STANDIN_IO_H_
#define ORCH_AGENT_STANDIN_STANDIN_IO_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace orch::standin {

// Keys stay in the order they are written, as in the real CLIs' output.
using Json = nlohmann::ordered_json;

// Writes all of `text` to stdout or stderr with write(2): nothing is buffered, so a test that
// watches the stream sees each event when it happens.
void Out(const std::string& text);
void Err(const std::string& text);

// One JSON object and a newline on stdout.
void EmitJson(const Json& event);

// All of stdin; "" when it is a terminal (nothing would ever come) or unreadable.
std::string ReadStdin();
bool StdinIsTerminal();

int64_t NowMs();
void SleepMs(int64_t ms);

std::string NewUuid();  // a random version-4 UUID
bool IsUuid(const std::string& text);
std::string RandomBase62(int length);  // for opencode's ses_/msg_/prt_ ids
std::string RandomHex(int length);

// Writes `text` to `path`, creating its parent directories. False on failure.
bool WriteFile(const std::string& path, const std::string& text);
bool FileExists(const std::string& path);
std::string CurrentDir();

// Session records: the stand-in writes one per run so a later --resume can tell a known
// session from an unknown one, as the real CLIs do with their own stores.
bool SessionExists(const std::string& agent, const std::string& id);
void SaveSession(const std::string& agent, const std::string& id, const std::string& prompt);
// The most recently written session of `agent`, or "".
std::string LatestSession(const std::string& agent);

}  // namespace orch::standin

#endif  // ORCH_AGENT_STANDIN_STANDIN_IO_H_
