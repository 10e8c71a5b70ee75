// Platform: the few things that still differ between Linux and macOS once libuv carries the
// rest, and the only place in src/ allowed to ask which system it is on (`#ifdef __APPLE__`,
// `__linux__`). PlatformTest.SourcesUseNoLinuxOnlyApi fails the unit tests when any other file
// in src/ uses a Linux-only API (epoll, inotify, accept4, pipe2, eventfd, prctl, MSG_NOSIGNAL,
// SOCK_NONBLOCK or SOCK_CLOEXEC as a socket() flag, /proc/) or asks about the system itself.
//
// Why libuv for the portable core, not standalone Asio or code of our own per system: libuv is
// a C library made to be the event loop of one thread, shipped by Debian (libuv1-dev) and
// Homebrew (libuv), well kept (Node.js's loop), and it covers every OS effect orch had written
// for Linux alone: the loop with timers and a thread-safe wake-up (uv_async), TCP streams,
// file watching (uv_fs_event: inotify on Linux, FSEvents on macOS; Asio has no file watching),
// close-on-exec pipes (uv_pipe) and the executable's path (uv_exepath). Being C it links the
// same into a libstdc++ or a libc++ build. Asio would have brought sockets and timers only, and
// a second mechanism for the rest.
//
// Every function is thread-safe and fails as it says; none throws.
#ifndef ORCH_BASE_PLATFORM_H_
#define ORCH_BASE_PLATFORM_H_

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace orch {

enum class Os { kLinux, kMacOS, kOther };

// The system orch was built for, and its name as people say it ("Linux", "macOS").
Os ThisOs();
const char* OsName();

// The absolute path of the running orch binary (uv_exepath, symlinks resolved), or "" when it
// cannot be known. Its directory is where the installed simulators and prompts are.
std::string ExecutablePath();

// Puts what was written to `fd` on stable storage, as fdatasync(2) means it: on macOS
// fcntl(F_FULLFSYNC), since its fsync leaves the data in the drive's cache. 0, or -1 with
// errno (EINTR is retried here).
int SyncFileData(int fd);

// The most RLIMIT_NOFILE's soft limit may be raised to: 65,536; 10,240 on macOS (OPEN_MAX:
// setrlimit refuses more there when the hard limit is infinite).
uint64_t OpenFileCeiling();

// Names the calling thread (top and debuggers show it); at most 15 characters are kept.
void SetThreadName(const char* name);

// socket(2) whose descriptor is close-on-exec (atomically where the system can), or -1 with
// errno. Children started meanwhile by another thread must not inherit a listener or a client.
int CloexecSocket(int family, int type, int protocol);

// accept(2) whose descriptor is close-on-exec (atomically where the system can) and, on macOS,
// SO_NOSIGPIPE, which SendNoSignal() relies on there. -1 with errno as accept(2).
int AcceptCloexec(int listen_fd, sockaddr* addr, socklen_t* len);

// send(2) that gives EPIPE rather than SIGPIPE when the peer is gone (MSG_NOSIGNAL on Linux; a
// socket from AcceptCloexec() on macOS).
ssize_t SendNoSignal(int fd, const void* data, size_t len);

// In a child just forked: asks for `signal` when the parent dies (Linux's PR_SET_PDEATHSIG),
// then checks the parent is still `parent`. False when the parent is already gone (the child
// should exit); true, having asked nothing, on a system without it. Async-signal-safe.
bool SignalWhenParentDies(int signal, pid_t parent);

// True while process `pid` exists and is not a zombie (kill(pid, 0) counts zombies alive).
bool ProcessRunning(pid_t pid);

}  // namespace orch

#endif  // ORCH_BASE_PLATFORM_H_
