#include "server.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <thread>

namespace orch::sim {
namespace {

using nlohmann::json;

constexpr char kDocs[] = "https://docs.github.com/rest";
constexpr int kThreads = 32;

Reply Unauthorized(const std::string& message) {
  return JsonReply(401, {{"message", message}, {"documentation_url", kDocs}});
}

bool SameScheme(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// "Bearer" or "token", and the credential; both "" when the header has neither.
std::pair<std::string, std::string> SplitAuthorization(const std::string& header) {
  size_t space = header.find(' ');
  if (space == std::string::npos) return {"", ""};
  std::string scheme = header.substr(0, space), token = header.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.erase(0, 1);
  if (SameScheme(scheme, "Bearer")) return {"Bearer", token};
  if (SameScheme(scheme, "token")) return {"token", token};
  return {"", ""};
}

std::string RawQuery(const httplib::Request& req) {
  size_t q = req.target.find('?');
  return q == std::string::npos ? "" : req.target.substr(q + 1);
}

std::string RawPath(const httplib::Request& req) {
  return req.target.empty() ? req.path : req.target.substr(0, req.target.find('?'));
}

Reply FaultReply(const Fault& f, const std::string& login) {
  Reply r;
  r.status = f.status;
  if (f.secondary || f.status == 429) {
    r.body = {{"message",
               "You have exceeded a secondary rate limit. Please wait a few minutes before you "
               "try again."},
              {"documentation_url",
               "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}};
  } else if (f.status == 403) {
    // A 403 that is not secondary reads as the primary limit running out.
    r.body = {
        {"message", "API rate limit exceeded for user ID " + std::to_string(UserId(login)) + "."},
        {"documentation_url",
         "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}};
    r.headers.emplace_back("x-ratelimit-remaining", "0");
  } else {
    r.body = {{"message", f.status == 502 ? "Server Error" : "Internal Server Error"}};
  }
  if (f.retry_after > 0) r.headers.emplace_back("retry-after", std::to_string(f.retry_after));
  return r;
}

bool HasHeader(const Reply& reply, std::string_view key) {
  return std::any_of(reply.headers.begin(), reply.headers.end(),
                     [&](const auto& h) { return SameScheme(h.first, key); });
}

bool ParseBody(const std::string& text, json* out) {
  if (text.empty()) {
    *out = json::object();
    return true;
  }
  *out = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return !out->is_discarded();
}

Reply Invoke(const Route& route, Sim& sim, const Call& call) {
  try {
    return route.handler(sim, call);
  } catch (const std::exception& e) {
    // nlohmann::json throws when a field has the wrong type; GitHub answers 400 for that.
    return JsonReply(400, {{"message", std::string("Problems parsing JSON: ") + e.what()},
                           {"documentation_url", kDocs}});
  }
}

// What every REST answer carries: the rate limit after this request, and the API version.
std::vector<std::pair<std::string, std::string>> StandardHeaders(const RateLimiter& rate) {
  return {{"x-ratelimit-limit", std::to_string(rate.limit())},
          {"x-ratelimit-remaining", std::to_string(rate.remaining())},
          {"x-ratelimit-reset", std::to_string(rate.reset())},
          {"x-ratelimit-used", std::to_string(rate.used())},
          {"x-ratelimit-resource", "core"},
          {"x-github-api-version-selected", "2022-11-28"},
          {"x-github-media-type", "github.v3; format=json"}};
}

Reply BadJson() {
  return JsonReply(400, {{"message", "Problems parsing JSON"}, {"documentation_url", kDocs}});
}

}  // namespace

Result<std::unique_ptr<SimServer>> SimServer::Create(Seeded seeded, ServerOptions options) {
  if (!options.wall) options.wall = [] { return static_cast<int64_t>(std::time(nullptr)); };
  std::optional<JwtVerifier> verifier;
  const AppSettings& app = seeded.settings.app;
  if (!app.enabled() && !options.app_public_key_pem.empty()) {
    return Status::InvalidArgument("--app-public-key", "the seed has no \"app\"");
  }
  if (app.enabled()) {
    Result<JwtVerifier> made = JwtVerifier::Create(app.id, options.app_public_key_pem);
    if (!made.ok()) return made.status();
    verifier = *made;
  }
  auto sim = std::make_unique<Sim>(std::move(seeded), std::move(verifier), options.wall,
                                   options.webhook_url, options.webhook_secret);
  return std::unique_ptr<SimServer>(new SimServer(std::move(sim)));
}

SimServer::SimServer(std::unique_ptr<Sim> sim) : sim_(std::move(sim)) {
  http_.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  http_.set_tcp_nodelay(true);
  for (auto* table : {&ControlRoutes, &AccountRoutes, &IssueRoutes, &PullRoutes}) {
    for (const Route& route : table()) AddRoute(route);
  }
  // Anything else is GitHub's 404, behind the same checks as a real route.
  auto missing = [](Sim&, const Call&) { return NotFound(); };
  for (const char* method : {"GET", "POST", "PATCH", "PUT", "DELETE"}) {
    AddRoute({method, "/_sim/.*", Auth::kNone, missing});
    AddRoute({method, ".*", Auth::kToken, missing});
  }
}

void SimServer::AddRoute(const Route& route) {
  auto handler = [this, route](const httplib::Request& req, httplib::Response& res) {
    if (route.auth == Auth::kNone) {
      ServeControl(route, req, res);
    } else {
      ServeRest(route, req, res);
    }
  };
  const std::string method = route.method;
  if (method == "GET") http_.Get(route.pattern, handler);
  if (method == "POST") http_.Post(route.pattern, handler);
  if (method == "PATCH") http_.Patch(route.pattern, handler);
  if (method == "PUT") http_.Put(route.pattern, handler);
  if (method == "DELETE") http_.Delete(route.pattern, handler);
}

Result<int> SimServer::Bind(const std::string& host, int port) {
  bool ok = port == 0 ? (port = http_.bind_to_any_port(host)) > 0 : http_.bind_to_port(host, port);
  if (!ok) return Status::IOError("bind " + host + ":" + std::to_string(port), "failed");
  port_ = port;
  return port;
}

Status SimServer::Run() {
  if (!http_.listen_after_bind()) return Status::IOError("listen", "failed");
  return Status::OK();
}

Urls SimServer::UrlsFor(const httplib::Request& req) const {
  std::string host = req.get_header_value("Host");
  if (host.empty()) host = "127.0.0.1:" + std::to_string(port_);
  return {"http://" + host, sim_->settings.html_url};
}

void SimServer::ServeRest(const Route& route, const httplib::Request& req, httplib::Response& res) {
  std::optional<Fault> fault;
  {
    std::lock_guard<std::mutex> lock(sim_->mu);
    fault = sim_->faults.Take(req.method, req.path);
  }
  if (fault && fault->delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(fault->delay_ms));
  }
  const Urls urls = UrlsFor(req);
  Call call{req, urls, urls.api + RawPath(req), SplitQuery(RawQuery(req)), json(), ""};
  Reply reply;
  {
    std::lock_guard<std::mutex> lock(sim_->mu);
    reply = Decide(route, call, fault);
    Finish(req, reply, res);
  }
  for (Webhook& hook : reply.webhooks) sim_->deliverer.Post(std::move(hook));
}

Reply SimServer::Decide(const Route& route, Call& call, const std::optional<Fault>& fault) {
  const std::string user = sim_->settings.authenticated_user;
  if (fault && fault->status != 0) return FaultReply(*fault, user);
  if (std::optional<Reply> rejected = Authenticate(route.auth, call)) return *rejected;
  if (sim_->rate.Exhausted(sim_->wall())) {
    Reply r = FaultReply({"", "", 403, 1, 0, false, 0}, call.login);
    r.headers.clear();
    return r;
  }
  if (!ParseBody(call.req.body, &call.body)) return BadJson();
  Reply reply = Invoke(route, *sim_, call);
  if (call.plain_token && !sim_->settings.oauth_scopes.empty()) {
    reply.headers.push_back({"x-oauth-scopes", sim_->settings.oauth_scopes});
  }
  return reply;
}

std::optional<Reply> SimServer::Authenticate(Auth auth, Call& call) {
  auto [scheme, token] = SplitAuthorization(call.req.get_header_value("Authorization"));
  if (token.empty()) return Unauthorized("Requires authentication");
  const Settings& s = sim_->settings;
  if (auth == Auth::kJwt) {
    if (!sim_->jwt || scheme != "Bearer" || !sim_->jwt->Verify(token, sim_->wall()).ok()) {
      return Unauthorized("A JSON web token could not be decoded");
    }
    call.login = s.app.bot_login();
    return std::nullopt;
  }
  if (auto it = sim_->install_tokens.find(token); it != sim_->install_tokens.end()) {
    if (it->second <= sim_->wall()) return Unauthorized("Bad credentials");
    call.login = s.app.bot_login();
    return std::nullopt;
  }
  if (!s.tokens.empty() && std::find(s.tokens.begin(), s.tokens.end(), token) == s.tokens.end()) {
    return Unauthorized("Bad credentials");
  }
  call.login = s.authenticated_user;
  call.plain_token = true;
  return std::nullopt;
}

void SimServer::Finish(const httplib::Request& req, const Reply& reply, httplib::Response& res) {
  const std::string body = reply.text ? *reply.text : reply.body.dump();
  std::string etag;
  if (req.method == "GET" && reply.status == 200) etag = WeakEtag(body);
  if (!etag.empty() && EtagMatches(req.get_header_value("If-None-Match"), etag)) {
    res.status = 304;  // costs nothing against the rate limit, as on GitHub
  } else {
    sim_->rate.Count();
    res.status = reply.status;
    res.set_content(body, reply.text ? reply.content_type : "application/json; charset=utf-8");
  }
  if (!etag.empty()) res.set_header("ETag", etag);
  for (const auto& [key, value] : StandardHeaders(sim_->rate)) {
    if (!HasHeader(reply, key)) res.set_header(key, value);
  }
  for (const auto& [key, value] : reply.headers) res.set_header(key, value);
  const std::string scheme = SplitAuthorization(req.get_header_value("Authorization")).first;
  sim_->requests.push_back({{"method", req.method},
                            {"path", req.path},
                            {"query", RawQuery(req)},
                            {"status", res.status},
                            {"if_none_match", req.has_header("If-None-Match")},
                            {"authorization_scheme", scheme},
                            {"body", req.body}});
}

void SimServer::ServeControl(const Route& route, const httplib::Request& req,
                             httplib::Response& res) {
  const Urls urls = UrlsFor(req);
  Call call{req, urls, urls.api + RawPath(req), SplitQuery(RawQuery(req)), json(), ""};
  Reply reply;
  if (!ParseBody(req.body, &call.body)) {
    reply = BadJson();
  } else if (route.needs_state) {
    std::lock_guard<std::mutex> lock(sim_->mu);
    reply = Invoke(route, *sim_, call);
  } else {
    reply = Invoke(route, *sim_, call);
  }
  // Sent with the mutex released: orch may call the REST API while it handles the webhook.
  json sent = json::array();
  for (Webhook& hook : reply.webhooks)
    sent.push_back(sim_->deliverer.Send(std::move(hook)).Summary());
  if (!sent.empty()) reply.body["delivery"] = sent.back();
  if (sent.size() > 1) reply.body["deliveries"] = sent;
  res.status = reply.status;
  for (const auto& [key, value] : reply.headers) res.set_header(key, value);
  if (reply.text) {
    res.set_content(*reply.text, reply.content_type);
  } else {
    res.set_content(reply.body.dump(), "application/json; charset=utf-8");
  }
}

}  // namespace orch::sim
