// FileSystem: the file operations orch's decision rooms make (the dispatcher, its housekeeping,
// the run engine), behind an interface so a test can run them in memory or make one fail.
// RealFileSystem is std::filesystem; errors become Status, never exceptions.
//
// Thread safety: RealFileSystem's methods may be called from any thread.
#ifndef ORCH_BASE_FILE_SYSTEM_H_
#define ORCH_BASE_FILE_SYSTEM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace orch {

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual bool Exists(const std::string& path) const = 0;
  virtual bool IsDirectory(const std::string& path) const = 0;
  // The names (not paths) of the entries of directory `dir`; empty when it does not exist.
  virtual std::vector<std::string> List(const std::string& dir) const = 0;
  // When `path` last changed, in unix seconds. NotFound when it does not exist.
  virtual Result<int64_t> ModifiedAt(const std::string& path) const = 0;
  // Removes `path` and everything below it; OK when it did not exist.
  virtual Status RemoveAll(const std::string& path) = 0;
};

class RealFileSystem : public FileSystem {
 public:
  bool Exists(const std::string& path) const override;
  bool IsDirectory(const std::string& path) const override;
  std::vector<std::string> List(const std::string& dir) const override;
  Result<int64_t> ModifiedAt(const std::string& path) const override;
  Status RemoveAll(const std::string& path) override;
};

}  // namespace orch

#endif  // ORCH_BASE_FILE_SYSTEM_H_
