#include "stream/stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace orch {
namespace {

using Json = nlohmann::json;

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Size of `path`, 0 when it does not exist.
Result<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) return static_cast<uint64_t>(st.st_size);
  if (errno == ENOENT) return uint64_t{0};
  return Status::IOError(path, std::strerror(errno));
}

Result<std::string> ReadAt(const std::string& path, uint64_t offset, size_t n) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(path, std::strerror(errno));
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, out.data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      return Status::IOError(path, std::strerror(e));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  close(fd);
  out.resize(got);
  return out;
}

}  // namespace

size_t Utf8CompleteLength(std::string_view s) {
  // Look back over at most 3 continuation bytes for the lead byte of the last sequence.
  size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    size_t need = c < 0x80             ? 1
                  : (c & 0xE0) == 0xC0 ? 2
                  : (c & 0xF0) == 0xE0 ? 3
                  : (c & 0xF8) == 0xF0 ? 4
                                       : 1;  // not a lead byte: leave it be
    return back < need ? n - back : n;
  }
  return n;  // only continuation bytes: not UTF-8 we could complete
}

Result<Chunk> ReadChunk(const std::vector<RunLog>& runs, uint64_t offset, size_t max_bytes) {
  Chunk chunk;
  uint64_t base = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    // Whether it ended, before its size: the shim writes exit.json after the last byte.
    bool ended = runs[i].finished || i + 1 < runs.size() || Exists(runs[i].dir + "/exit.json");
    std::string log = runs[i].dir + "/output.log";
    Result<uint64_t> size = FileSize(log);
    if (!size.ok()) return size.status();
    if (offset < base + *size) {
      uint64_t local = offset - base;
      size_t n = static_cast<size_t>(std::min<uint64_t>(*size - local, max_bytes));
      Result<std::string> bytes = ReadAt(log, local, n);
      if (!bytes.ok()) return bytes.status();
      chunk.content = std::move(bytes).value();
      bool whole_rest = local + chunk.content.size() == *size;
      if (!(ended && whole_rest)) chunk.content.resize(Utf8CompleteLength(chunk.content));
      chunk.end = offset + chunk.content.size();
      chunk.run = i;
      return chunk;
    }
    base += *size;
    if (i + 1 == runs.size()) chunk.at_end = ended;
  }
  chunk.end = offset;
  return chunk;
}

std::string FormatSseEvent(const StreamEvent& e) {
  Json data = {{"task_id", e.task_id},
               {"content", e.content},
               {"timestamp", e.timestamp_ms},
               {"is_final", e.is_final}};
  return "id: " + std::to_string(e.id) +
         "\ndata: " + data.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
}

void SseParser::Feed(std::string_view bytes,
                     const std::function<void(const SseMessage&)>& on_message) {
  for (char c : bytes) {
    if (c != '\n') {
      line_ += c;
      continue;
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.empty()) {
      if (has_fields_) on_message(message_);
      message_ = SseMessage();
      has_fields_ = false;
    } else if (line_[0] != ':') {
      size_t colon = line_.find(':');
      std::string field = line_.substr(0, colon);
      std::string value;
      if (colon != std::string::npos) {
        value = line_.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      }
      if (field == "data") {
        if (has_fields_ && !message_.data.empty()) message_.data += '\n';
        message_.data += value;
        has_fields_ = true;
      } else if (field == "id") {
        message_.id = value;
        has_fields_ = true;
      } else if (field == "event") {
        message_.event = value;
        has_fields_ = true;
      }
    }
    line_.clear();
  }
}

Result<StreamEvent> ParseStreamEvent(const SseMessage& m) {
  StreamEvent e;
  try {
    size_t used = 0;
    e.id = std::stoull(m.id, &used);
    if (used != m.id.size()) throw std::invalid_argument(m.id);
  } catch (const std::exception&) {
    return Status::InvalidArgument("stream event", "id \"" + m.id + "\" is not an offset");
  }
  Json j = Json::parse(m.data, nullptr, false);
  if (!j.is_object() || !j["content"].is_string() || !j["is_final"].is_boolean()) {
    return Status::InvalidArgument("stream event", "unexpected data: " + m.data.substr(0, 200));
  }
  e.content = j["content"].get<std::string>();
  e.is_final = j["is_final"].get<bool>();
  if (j["task_id"].is_number_integer()) e.task_id = j["task_id"].get<int64_t>();
  if (j["timestamp"].is_number_integer()) e.timestamp_ms = j["timestamp"].get<int64_t>();
  return e;
}

std::string LinePrefixer::Feed(std::string_view chunk) {
  std::string out;
  for (char c : chunk) {
    partial_ += c;
    if (c == '\n') {
      out += prefix_;
      out += partial_;
      partial_.clear();
    }
  }
  return out;
}

std::string LinePrefixer::Flush() {
  if (partial_.empty()) return "";
  std::string out = prefix_ + partial_ + "\n";
  partial_.clear();
  return out;
}

}  // namespace orch
