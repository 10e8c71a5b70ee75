#include "dashboard/auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "github/webhook_signature.h"
#include "store/store.h"

namespace orch {

Result<std::string> RandomHex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    return Status::Internal("random", "no random bytes from OpenSSL");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : raw) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

Result<std::string> CreateLoginCode(const Home& home, int64_t now) {
  Result<std::string> code = RandomHex(32);
  if (!code.ok()) return code.status();
  std::string dir = LoginCodeDir(home);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  std::string path = dir + "/" + Sha256Hex(*code);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError(path, std::strerror(errno));
  std::string expiry = std::to_string(now + kLoginCodeTtl) + "\n";
  bool ok = write(fd, expiry.data(), expiry.size()) == static_cast<ssize_t>(expiry.size());
  close(fd);
  if (!ok) return Status::IOError(path, "cannot write the login code");
  return code;
}

bool ClaimLoginCode(const Home& home, std::string_view code, int64_t now) {
  std::string dir = LoginCodeDir(home);
  std::error_code ec;
  // Codes nobody used: gone once expired.
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(entry.path());
    int64_t expires = 0;
    if (!(in >> expires) || expires <= now) std::filesystem::remove(entry.path(), ec);
  }
  if (code.size() != 64) return false;
  std::string path = dir + "/" + Sha256Hex(code);
  std::string claimed = path + ".claimed";
  // rename is atomic: of two requests with the same code, one finds the file gone.
  if (rename(path.c_str(), claimed.c_str()) != 0) return false;
  std::ifstream in(claimed);
  int64_t expires = 0;
  bool fresh = static_cast<bool>(in >> expires) && expires > now;
  std::filesystem::remove(claimed, ec);
  return fresh;
}

std::string CookieValue(std::string_view header, std::string_view name) {
  size_t at = 0;
  while (at < header.size()) {
    size_t end = header.find(';', at);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(at, end - at);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.substr(0, name.size()) == name &&
        pair[name.size()] == '=') {
      return std::string(pair.substr(name.size() + 1));
    }
    at = end + 1;
  }
  return "";
}

bool SameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void Sessions::LoadLocked(int64_t now) {
  if (loaded_) return;
  Result<std::optional<std::string>> kept = [&] {
    std::lock_guard<std::mutex> lock(store_mu_);
    return store_.GetKv(kKvKey);
  }();
  if (!kept.ok()) {
    spdlog::warn("dashboard: cannot read the kept sessions: {}", kept.status().message());
    return;  // asked again next time
  }
  loaded_ = true;
  nlohmann::json j = nlohmann::json::parse(kept->value_or("{}"), nullptr, false);
  if (!j.is_object()) return;
  size_t dropped = 0;
  for (const auto& [hash, e] : j.items()) {
    if (!e.is_object() || !e.value("csrf", nlohmann::json()).is_string() ||
        !e.value("expires", nlohmann::json()).is_number_integer() || e["expires"] <= now) {
      ++dropped;
      continue;
    }
    int64_t expires = e["expires"];
    open_[hash] = {e["csrf"], expires, expires};
  }
  if (dropped > 0) (void)SaveLocked();
}

Status Sessions::SaveLocked() {
  nlohmann::json j = nlohmann::json::object();
  for (auto& [hash, e] : open_) {
    j[hash] = {{"csrf", e.csrf}, {"expires", e.expires}};
    e.kept_expires = e.expires;
  }
  std::lock_guard<std::mutex> lock(store_mu_);
  return store_.SetKv(kKvKey, j.dump());
}

Result<Sessions::Session> Sessions::Open(int64_t now) {
  Result<std::string> id = RandomHex(32);
  if (!id.ok()) return id.status();
  Result<std::string> csrf = RandomHex(32);
  if (!csrf.ok()) return csrf.status();
  std::lock_guard<std::mutex> lock(mu_);
  LoadLocked(now);
  for (auto it = open_.begin(); it != open_.end();) {
    it = it->second.expires <= now ? open_.erase(it) : std::next(it);
  }
  // Keyed by the id's hash: the store never holds the cookie, and a lookup's timing says
  // nothing of the ids held.
  std::string hash = Sha256Hex(*id);
  open_[hash] = {*csrf, now + kSessionTtl};
  if (Status kept = SaveLocked(); !kept.ok()) {
    open_.erase(hash);
    return kept;
  }
  return Session{*id, *csrf};
}

std::optional<Sessions::Session> Sessions::Find(std::string_view id, int64_t now) {
  if (id.empty()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  LoadLocked(now);
  auto it = open_.find(Sha256Hex(id));
  if (it == open_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    open_.erase(it);
    (void)SaveLocked();
    return std::nullopt;
  }
  it->second.expires = now + kSessionTtl;
  Session found{std::string(id), it->second.csrf};
  if (it->second.expires - it->second.kept_expires >= kSessionSaveSlack) {
    if (Status s = SaveLocked(); !s.ok()) {
      spdlog::warn("dashboard: cannot keep a session's expiry: {}", s.message());
    }
  }
  return found;
}

Status Sessions::Close(std::string_view id) {
  std::lock_guard<std::mutex> lock(mu_);
  LoadLocked(0);
  if (open_.erase(Sha256Hex(id)) == 0) return Status::OK();
  return SaveLocked();
}

}  // namespace orch
