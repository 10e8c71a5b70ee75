#include "stream/normalize.h"

#include <nlohmann/json.hpp>

#include "stream/agent_formats.h"

namespace orch {
namespace {

using Json = nlohmann::json;

// The longest piece of a line shown for a line too long to read.
constexpr size_t kCompact = 200;

AgentEvent Make(AgentEventKind kind, std::string text = "") {
  AgentEvent e;
  e.kind = kind;
  e.text = std::move(text);
  return e;
}

}  // namespace

Normalizer::Normalizer(uint64_t offset, std::string workdir, AgentFormat format)
    : offset_(offset), format_(format) {
  memory_.workdir = std::move(workdir);
}

void Normalizer::StartRun(std::string workdir, AgentFormat format) {
  format_ = format;
  memory_ = LineMemory();
  memory_.workdir = std::move(workdir);
}

std::vector<AgentEvent> Normalizer::Feed(std::string_view bytes) {
  std::vector<AgentEvent> out;
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view piece = bytes.substr(0, nl == std::string_view::npos ? bytes.size() : nl);
    line_bytes_ += piece.size();
    if (!overlong_) {
      partial_.append(piece.substr(0, std::min(piece.size(), kMaxLine + 1 - partial_.size())));
      if (partial_.size() > kMaxLine) {
        overlong_ = true;
        AgentEvent e = Make(AgentEventKind::kOther,
                            "a line longer than 8 MiB, left out: " + Cut(partial_, kCompact));
        e.line_offset = offset_;
        out.push_back(e);
        std::string().swap(partial_);
      }
    }
    if (nl == std::string_view::npos) break;
    bytes.remove_prefix(nl + 1);
    uint64_t start = offset_;
    offset_ += line_bytes_ + 1;
    if (!overlong_) {
      for (AgentEvent& e : Line(partial_)) {
        e.line_offset = start;
        out.push_back(std::move(e));
      }
    }
    overlong_ = false;
    partial_.clear();
    line_bytes_ = 0;
  }
  return out;
}

std::vector<AgentEvent> Normalizer::Flush() {
  uint64_t start = offset_;
  offset_ += line_bytes_;
  std::vector<AgentEvent> out;
  if (!partial_.empty() && !overlong_) out = Line(partial_);
  for (AgentEvent& e : out) e.line_offset = start;
  partial_.clear();
  overlong_ = false;
  line_bytes_ = 0;
  return out;
}

std::vector<AgentEvent> Normalizer::Line(std::string_view line) {
  std::vector<AgentEvent> out;
  size_t first = line.find_first_not_of(" \t");
  Json j;
  if (format_ == AgentFormat::kAuto && first != std::string_view::npos && line[first] == '{') {
    j = Json::parse(line, nullptr, false);
  }
  if (!j.is_object() || !j["type"].is_string()) {
    out.push_back(Make(AgentEventKind::kText, PlainLine(line)));
  } else {
    out = JsonLineEvents(memory_, j);
  }
  for (size_t i = 0; i < out.size(); ++i) out[i].index = static_cast<int>(i);
  return out;
}

}  // namespace orch