#include "github/http_session.h"

#include <httplib.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/json_fields.h"

namespace orch {

std::string HttpResponse::Header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

HttpSession::HttpSession(std::string base_url, std::string origin, std::string prefix)
    : base_url_(std::move(base_url)), origin_(std::move(origin)), prefix_(std::move(prefix)) {
  client_ = std::make_unique<httplib::Client>(origin_);
  client_->set_keep_alive(true);
  client_->set_tcp_nodelay(true);
  client_->set_connection_timeout(10);
  client_->set_read_timeout(30);
  client_->set_follow_location(false);
}

HttpSession::~HttpSession() = default;

void HttpSession::set_read_timeout(int seconds) { client_->set_read_timeout(seconds); }

void HttpSession::Stop() { client_->stop(); }

Result<std::unique_ptr<HttpSession>> HttpSession::Open(const std::string& base_url) {
  size_t scheme = base_url.find("://");
  if (scheme == std::string::npos ||
      (base_url.compare(0, scheme, "http") != 0 && base_url.compare(0, scheme, "https") != 0)) {
    return Status::InvalidArgument("github.api_url \"" + base_url + "\"",
                                   "expected http://host[:port][/path] or https://...");
  }
  size_t path = base_url.find('/', scheme + 3);
  std::string origin = base_url.substr(0, path);
  std::string prefix = path == std::string::npos ? "" : base_url.substr(path);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return std::unique_ptr<HttpSession>(new HttpSession(base_url, origin, prefix));
}

Result<HttpResponse> HttpSession::Send(const std::string& method, const std::string& target,
                                       const std::map<std::string, std::string>& headers,
                                       const std::string& body) {
  std::string path = target;
  if (target.rfind(origin_, 0) == 0) {
    path = target.substr(origin_.size());  // a Link URL already carries the prefix
  } else if (target.find("://") != std::string::npos) {
    return Status::InvalidArgument("refusing to follow " + target, "not on " + origin_);
  } else {
    path = prefix_ + target;
  }
  httplib::Headers h(headers.begin(), headers.end());
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = std::move(h);
  if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
    req.body = body;
    req.set_header("Content-Type", "application/json");
  }
  httplib::Result res = client_->send(req);
  if (!res) {
    return Status::Unavailable(method + " " + origin_ + path, httplib::to_string(res.error()));
  }
  HttpResponse out;
  out.status = res->status;
  out.body = std::move(res->body);
  for (const auto& [k, v] : res->headers) {
    std::string name = k;
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    out.headers.emplace(std::move(name), v);
  }
  return out;
}

std::string NextLink(std::string_view link) {
  // <https://api.github.com/...&page=2>; rel="next", <...>; rel="last"
  size_t pos = 0;
  while (pos < link.size()) {
    size_t open = link.find('<', pos);
    size_t close = link.find('>', open);
    if (open == std::string_view::npos || close == std::string_view::npos) break;
    size_t end = link.find(',', close);
    std::string_view params = link.substr(
        close + 1, end == std::string_view::npos ? std::string_view::npos : end - close - 1);
    if (params.find("rel=\"next\"") != std::string_view::npos) {
      return std::string(link.substr(open + 1, close - open - 1));
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return "";
}

Status StatusFromResponse(const HttpResponse& r, const std::string& what, int64_t now_unix) {
  if ((r.status >= 200 && r.status < 300) || r.status == 304) return Status::OK();
  std::string message;
  try {
    message = JsonString(nlohmann::json::parse(r.body), "message");
  } catch (const std::exception&) {
  }
  std::string why = "HTTP " + std::to_string(r.status) + (message.empty() ? "" : ": " + message);
  std::string retry_after = r.Header("retry-after");
  std::string remaining = r.Header("x-ratelimit-remaining");
  bool secondary = message.find("secondary rate limit") != std::string::npos;
  if (r.status == 429 ||
      ((r.status == 403) && (!retry_after.empty() || remaining == "0" || secondary))) {
    int64_t wait = 60;  // GitHub's advice for a secondary limit without retry-after
    if (!retry_after.empty()) {
      wait = std::atoll(retry_after.c_str());
    } else if (remaining == "0" && !r.Header("x-ratelimit-reset").empty()) {
      wait = std::max<int64_t>(1, std::atoll(r.Header("x-ratelimit-reset").c_str()) - now_unix);
    }
    return Status::Unavailable(what,
                               "rate limited (" + why + "), retry in " + std::to_string(wait) + "s")
        .WithRetryAfter(wait);
  }
  if (r.status >= 500) return Status::Unavailable(what, why);
  if (r.status == 401) return Status::Config(what, why + " (check github.token or the App key)");
  if (r.status == 404) return Status::NotFound(what, why);
  if (r.status == 422) return Status::Conflict(what, why);
  return Status::IOError(what, why);
}

}  // namespace orch
