#include "base/file_system.h"

#include <chrono>
#include <filesystem>

namespace orch {

namespace fs = std::filesystem;

bool RealFileSystem::Exists(const std::string& path) const {
  std::error_code ec;
  return fs::exists(path, ec);
}

bool RealFileSystem::IsDirectory(const std::string& path) const {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::vector<std::string> RealFileSystem::List(const std::string& dir) const {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  return names;
}

Result<int64_t> RealFileSystem::ModifiedAt(const std::string& path) const {
  std::error_code ec;
  fs::file_time_type changed = fs::last_write_time(path, ec);
  if (ec) return Status::NotFound(path, ec.message());
  auto system = std::chrono::file_clock::to_sys(changed);
  return std::chrono::duration_cast<std::chrono::seconds>(system.time_since_epoch()).count();
}

Status RealFileSystem::RemoveAll(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return Status::IOError("deleting " + path, ec.message());
  return Status::OK();
}

}  // namespace orch
