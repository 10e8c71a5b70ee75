#include "base/log.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace orch {

Status InitLogging(const std::string& log_path, bool to_stderr) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(log_path).parent_path(), ec);
  try {
    std::vector<spdlog::sink_ptr> sinks;
    sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(log_path, kLogFileBytes,
                                                                           kLogFilesKept));
    if (to_stderr) sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    auto logger = std::make_shared<spdlog::logger>("orch", sinks.begin(), sinks.end());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
  } catch (const spdlog::spdlog_ex& e) {
    return Status::IOError(log_path, e.what());
  }
  return Status::OK();
}

Result<std::vector<std::string>> TailLines(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path, "no log yet (has `orch serve` run?)");
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  // Read backwards in blocks until n newlines (plus the one ending the last line) are seen.
  std::string tail;
  const std::streamoff kBlock = 64 * 1024;
  std::streamoff pos = size;
  size_t newlines = 0;
  while (pos > 0 && newlines <= n) {
    std::streamoff len = std::min(kBlock, pos);
    pos -= len;
    std::string block(static_cast<size_t>(len), '\0');
    in.seekg(pos);
    in.read(block.data(), len);
    newlines += static_cast<size_t>(std::count(block.begin(), block.end(), '\n'));
    tail.insert(0, block);
  }
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < tail.size()) {
    size_t nl = tail.find('\n', start);
    if (nl == std::string::npos) nl = tail.size();
    lines.push_back(tail.substr(start, nl - start));
    start = nl + 1;
  }
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<ptrdiff_t>(n));
  return lines;
}

void FollowFile(const std::string& path, uint64_t offset, int poll_ms,
                const std::atomic<bool>& stop, const std::function<void(std::string_view)>& emit) {
  ino_t inode = 0;
  while (!stop.load()) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0) {
      bool replaced = inode != 0 && st.st_ino != inode;
      if (replaced || static_cast<uint64_t>(st.st_size) < offset) offset = 0;
      inode = st.st_ino;
      if (static_cast<uint64_t>(st.st_size) > offset) {
        std::ifstream in(path, std::ios::binary);
        in.seekg(static_cast<std::streamoff>(offset));
        std::string chunk(static_cast<size_t>(st.st_size) - offset, '\0');
        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        chunk.resize(static_cast<size_t>(in.gcount()));
        offset += chunk.size();
        if (!chunk.empty()) emit(chunk);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

}  // namespace orch
