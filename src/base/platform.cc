#include "base/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <filesystem>
#include <fstream>
#include <string_view>

#if defined(__linux__)
#include <sys/prctl.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#endif

namespace orch {

Os ThisOs() {
#if defined(__linux__)
  return Os::kLinux;
#elif defined(__APPLE__)
  return Os::kMacOS;
#else
  return Os::kOther;
#endif
}

const char* OsName() {
  switch (ThisOs()) {
    case Os::kLinux:
      return "Linux";
    case Os::kMacOS:
      return "macOS";
    case Os::kOther:
      break;
  }
  return "unknown";
}

std::string ExecutablePath() {
  char buf[4096];
  size_t size = sizeof(buf);
  if (uv_exepath(buf, &size) != 0) return "";
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::canonical(std::string_view(buf, size), ec);
  return ec ? "" : exe.string();
}

int SyncFileData(int fd) {
  int r;
  do {
#if defined(__APPLE__)
    r = ::fcntl(fd, F_FULLFSYNC);
#else
    r = ::fdatasync(fd);
#endif
  } while (r != 0 && errno == EINTR);
  return r;
}

uint64_t OpenFileCeiling() { return ThisOs() == Os::kMacOS ? 10240 : 65536; }

void SetThreadName(const char* name) {
  char shortened[16] = {};
  std::string_view(name).copy(shortened, sizeof(shortened) - 1);
#if defined(__APPLE__)
  pthread_setname_np(shortened);  // names the calling thread only
#else
  pthread_setname_np(pthread_self(), shortened);
#endif
}

int CloexecSocket(int family, int type, int protocol) {
#if defined(__linux__)
  return socket(family, type | SOCK_CLOEXEC, protocol);
#else
  int fd = socket(family, type, protocol);
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
#endif
}

int AcceptCloexec(int listen_fd, sockaddr* addr, socklen_t* len) {
#if defined(__linux__)
  return accept4(listen_fd, addr, len, SOCK_CLOEXEC);
#else
  int fd = accept(listen_fd, addr, len);
  if (fd < 0) return fd;
  fcntl(fd, F_SETFD, FD_CLOEXEC);
#if defined(__APPLE__)
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
  return fd;
#endif
}

ssize_t SendNoSignal(int fd, const void* data, size_t len) {
#if defined(MSG_NOSIGNAL)
  return send(fd, data, len, MSG_NOSIGNAL);
#else
  return send(fd, data, len, 0);
#endif
}

bool SignalWhenParentDies(int signal, pid_t parent) {
#if defined(__linux__)
  prctl(PR_SET_PDEATHSIG, signal);
#else
  (void)signal;
#endif
  return getppid() == parent;
}

bool ProcessRunning(pid_t pid) {
#if defined(__linux__)
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');  // the command may hold spaces and parentheses
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
#elif defined(__APPLE__)
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, pid};
  kinfo_proc info{};
  size_t len = sizeof(info);
  if (sysctl(mib, 4, &info, &len, nullptr, 0) != 0 || len == 0) return false;
  return info.kp_proc.p_stat != SZOMB;
#else
  return kill(pid, 0) == 0 || errno == EPERM;
#endif
}

}  // namespace orch
