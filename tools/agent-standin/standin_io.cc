#include "standin_io.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace orch::standin {
namespace {

void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a closed pipe: nobody is listening any more
    done += static_cast<size_t>(n);
  }
}

std::mt19937_64& Rng() {
  static std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(NowMs()) ^
                             static_cast<uint64_t>(getpid()));
  return rng;
}

std::string SessionDir(const std::string& agent) {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/tmp") + "/.standin/" + agent;
}

}  // namespace

void Out(const std::string& text) { WriteAll(STDOUT_FILENO, text); }
void Err(const std::string& text) { WriteAll(STDERR_FILENO, text); }
void EmitJson(const Json& event) { Out(event.dump() + "\n"); }

bool StdinIsTerminal() { return isatty(STDIN_FILENO) == 1; }

std::string ReadStdin() {
  if (StdinIsTerminal()) return "";
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::string RandomHex(int length) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < length; ++i) out += kDigits[Rng()() % 16];
  return out;
}

std::string RandomBase62(int length) {
  static const char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out;
  for (int i = 0; i < length; ++i) out += kDigits[Rng()() % 62];
  return out;
}

std::string NewUuid() {
  std::string hex = RandomHex(32);
  hex[12] = '4';
  hex[16] = "89ab"[Rng()() % 4];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

bool IsUuid(const std::string& text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (text[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::error_code ec;
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string CurrentDir() {
  std::error_code ec;
  return std::filesystem::current_path(ec).string();
}

bool SessionExists(const std::string& agent, const std::string& id) {
  // An id with a slash would escape the directory; the real CLIs know no such session either.
  if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..") return false;
  return FileExists(SessionDir(agent) + "/" + id);
}

void SaveSession(const std::string& agent, const std::string& id, const std::string& prompt) {
  Json record = {{"id", id}, {"cwd", CurrentDir()}, {"time_ms", NowMs()}, {"prompt", prompt}};
  // Appended, so a resumed session keeps the history of its turns.
  std::error_code ec;
  std::filesystem::create_directories(SessionDir(agent), ec);
  std::ofstream out(SessionDir(agent) + "/" + id, std::ios::app);
  out << record.dump() << "\n";
}

std::string LatestSession(const std::string& agent) {
  std::error_code ec;
  std::string latest;
  std::filesystem::file_time_type latest_time;
  for (const auto& entry : std::filesystem::directory_iterator(SessionDir(agent), ec)) {
    auto time = entry.last_write_time(ec);
    if (latest.empty() || time > latest_time) {
      latest = entry.path().filename().string();
      latest_time = time;
    }
  }
  return latest;
}

}  // namespace orch::standin
