// Git: the repository operations orch needs, behind an interface.
//
// Libgit2Git is the real one. It initialises libgit2 for its lifetime; create one per process
// (the daemon's wiring or the CLI's) and pass it by reference. libgit2 is thread-safe across
// repositories; each call here opens and closes its own repository handle.
#ifndef ORCH_GIT_H_
#define ORCH_GIT_H_

#include <optional>
#include <string>

#include "status.h"

namespace orch {

class Git {
 public:
  virtual ~Git() = default;
  // The top of the work tree that contains `path`. NotFound when `path` is not in a work tree.
  virtual Result<std::string> WorkTreeRoot(const std::string& path) = 0;
  // The URL of remote `name` of the repository at `repo_path`, or nullopt if there is none.
  virtual Result<std::optional<std::string>> RemoteUrl(const std::string& repo_path,
                                                       const std::string& name) = 0;
  // Makes a bare clone of `url` at `dest`, which must not exist. Unavailable on network errors.
  virtual Status CloneBare(const std::string& url, const std::string& dest) = 0;
  // The contents of `file` in HEAD's tree (bare or not), or nullopt when HEAD has no such file
  // or the repository has no commits.
  virtual Result<std::optional<std::string>> ReadFileAtHead(const std::string& repo_path,
                                                            const std::string& file) = 0;
};

class Libgit2Git : public Git {
 public:
  Libgit2Git();
  ~Libgit2Git() override;
  Libgit2Git(const Libgit2Git&) = delete;
  Libgit2Git& operator=(const Libgit2Git&) = delete;

  Result<std::string> WorkTreeRoot(const std::string& path) override;
  Result<std::optional<std::string>> RemoteUrl(const std::string& repo_path,
                                               const std::string& name) override;
  Status CloneBare(const std::string& url, const std::string& dest) override;
  Result<std::optional<std::string>> ReadFileAtHead(const std::string& repo_path,
                                                    const std::string& file) override;
};

}  // namespace orch

#endif  // ORCH_GIT_H_
