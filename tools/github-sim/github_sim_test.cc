// The simulator's REST face, over real HTTP against the built binary: authentication, paging
// and Link headers, filters, pull requests in the issue list, ETags, the rate limit, injected
// faults, permissions, labels and events.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>

#include "sim_fixture.h"

namespace orch::sim::test {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<int> Numbers(const json& items) {
  std::vector<int> out;
  for (const json& item : items) out.push_back(item["number"].get<int>());
  return out;
}

int Remaining(const httplib::Result& res) {
  return std::stoi(res->get_header_value("x-ratelimit-remaining"));
}

using GithubSimRestTest = SimTest;

TEST_F(GithubSimRestTest, RequiresAnAcceptedToken) {
  // No Authorization header is GitHub's "Requires authentication"; a token not in the seed is
  // "Bad credentials"; both spellings of a good token work.
  auto none = Get("/repos/acme/widgets/issues", {});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(json::parse(none->body)["message"], "Requires authentication");

  auto wrong = Get("/repos/acme/widgets/issues", AuthHeaders("nope"));
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(json::parse(wrong->body)["message"], "Bad credentials");

  EXPECT_EQ(Get("/repos/acme/widgets/issues", AuthHeaders("t0ken", "Bearer"))->status, 200);
  json user = GetJson("/user");
  EXPECT_EQ(user["login"], "orch-bot");
  EXPECT_EQ(user["type"], "User");
  EXPECT_TRUE(user["id"].is_number_integer());
}

TEST_F(GithubSimRestTest, PagesIssuesWithGithubLinkHeaders) {
  // Five open issues at per_page=2 make three pages, newest first; Link keeps per_page and
  // points at absolute URLs, and the last page has no "next".
  const std::string url = sim_->base_url() + "/repos/acme/widgets/issues";
  auto first = Get("/repos/acme/widgets/issues?per_page=2");
  ASSERT_EQ(first->status, 200);
  EXPECT_THAT(Numbers(json::parse(first->body)), ElementsAre(5, 4));
  EXPECT_EQ(first->get_header_value("Link"), "<" + url + "?per_page=2&page=2>; rel=\"next\", <" +
                                                 url + "?per_page=2&page=3>; rel=\"last\"");

  auto middle = Get("/repos/acme/widgets/issues?per_page=2&page=2");
  EXPECT_THAT(Numbers(json::parse(middle->body)), ElementsAre(3, 2));
  EXPECT_EQ(middle->get_header_value("Link"), "<" + url + "?per_page=2&page=1>; rel=\"prev\", <" +
                                                  url + "?per_page=2&page=3>; rel=\"next\", <" +
                                                  url + "?per_page=2&page=3>; rel=\"last\", <" +
                                                  url + "?per_page=2&page=1>; rel=\"first\"");

  auto last = Get("/repos/acme/widgets/issues?per_page=2&page=3");
  EXPECT_THAT(Numbers(json::parse(last->body)), ElementsAre(1));
  EXPECT_THAT(last->get_header_value("Link"), ::testing::Not(HasSubstr("rel=\"next\"")));
  EXPECT_THAT(last->get_header_value("Link"), HasSubstr("page=2>; rel=\"prev\""));

  EXPECT_FALSE(Get("/repos/acme/widgets/issues")->has_header("Link"));  // fits on one page
}

TEST_F(GithubSimRestTest, FiltersByStateLabelsAndSince) {
  EXPECT_THAT(Numbers(GetJson("/repos/acme/widgets/issues?labels=orch,bug")), ElementsAre(3));
  EXPECT_THAT(Numbers(GetJson("/repos/acme/widgets/issues?labels=orch")), ElementsAre(5, 3, 1));
  EXPECT_THAT(Numbers(GetJson("/repos/acme/widgets/issues?state=closed")), ElementsAre(6));
  EXPECT_EQ(GetJson("/repos/acme/widgets/issues?state=all").size(), 6u);

  // The seed ticks the clock once per issue from 10:00:00, so #3 was updated at 10:00:03.
  json third = GetJson("/repos/acme/widgets/issues/3");
  ASSERT_EQ(third["updated_at"], "2026-11-21T10:00:03Z");
  const std::string since = "/repos/acme/widgets/issues?sort=updated&direction=asc&since=";
  EXPECT_THAT(Numbers(GetJson(since + "2026-11-21T10:00:03Z")), ElementsAre(3, 4, 5));

  // Labelling #1 moves its updated_at past everything else.
  Act("/_sim/repos/acme/widgets/issues/1/labels", {{"label", "bug"}, {"user", "alice"}});
  EXPECT_THAT(Numbers(GetJson(since + "2026-11-21T10:00:03Z")), ElementsAre(3, 4, 5, 1));
  EXPECT_EQ(Get("/repos/acme/widgets/issues?since=yesterday")->status, 422);
}

TEST_F(GithubSimRestTest, PullRequestsShowUpInTheIssueList) {
  auto created = Post("/repos/acme/widgets/pulls", {{"title", "Fix #1"},
                                                    {"head", "orch/issue-1"},
                                                    {"base", "main"},
                                                    {"body", "Fixes #1"},
                                                    {"draft", true}});
  ASSERT_EQ(created->status, 201) << created->body;
  json pr = json::parse(created->body);
  EXPECT_EQ(pr["number"], 7);  // shares the issue numbers
  EXPECT_EQ(pr["head"]["label"], "acme:orch/issue-1");
  EXPECT_EQ(pr["head"]["ref"], "orch/issue-1");
  EXPECT_EQ(pr["head"]["sha"].get<std::string>().size(), 40u);
  EXPECT_EQ(pr["base"]["ref"], "main");
  EXPECT_EQ(pr["user"]["login"], "orch-bot");
  EXPECT_EQ(pr["merged"], false);
  EXPECT_EQ(pr["draft"], true);
  EXPECT_TRUE(pr["merged_at"].is_null());

  json issues = GetJson("/repos/acme/widgets/issues");
  ASSERT_EQ(Numbers(issues).front(), 7);
  EXPECT_EQ(issues[0]["pull_request"]["url"], sim_->base_url() + "/repos/acme/widgets/pulls/7");
  EXPECT_FALSE(issues[1].contains("pull_request"));

  EXPECT_THAT(Numbers(GetJson("/repos/acme/widgets/pulls?head=acme:orch/issue-1")), ElementsAre(7));
  EXPECT_TRUE(GetJson("/repos/acme/widgets/pulls?head=acme:other").empty());
  EXPECT_EQ(GetJson("/repos/acme/widgets/pulls/7")["title"], "Fix #1");
  EXPECT_EQ(Get("/repos/acme/widgets/pulls/1")->status, 404);  // an issue, not a pull

  auto again = Post("/repos/acme/widgets/pulls", {{"title", "Again"}, {"head", "orch/issue-1"}});
  EXPECT_EQ(again->status, 422);
  EXPECT_EQ(json::parse(again->body)["errors"][0]["message"],
            "A pull request already exists for acme:orch/issue-1.");
}

TEST_F(GithubSimRestTest, EtagAnswers304WithoutSpendingRateLimit) {
  auto first = Get("/repos/acme/widgets/issues/1");
  ASSERT_EQ(first->status, 200);
  const std::string etag = first->get_header_value("ETag");
  EXPECT_THAT(etag, StartsWith("W/\""));
  EXPECT_EQ(etag.size(), 2u + 1 + 32 + 1);

  httplib::Headers conditional = AuthHeaders();
  conditional.emplace("If-None-Match", etag);
  auto same = Get("/repos/acme/widgets/issues/1", conditional);
  EXPECT_EQ(same->status, 304);
  EXPECT_TRUE(same->body.empty());
  EXPECT_EQ(same->get_header_value("ETag"), etag);
  EXPECT_EQ(Remaining(same), Remaining(first));

  Act("/_sim/repos/acme/widgets/issues/1/comments", {{"user", "bob"}, {"body", "ping"}});
  auto changed = Get("/repos/acme/widgets/issues/1", conditional);
  EXPECT_EQ(changed->status, 200);
  EXPECT_NE(changed->get_header_value("ETag"), etag);
  EXPECT_EQ(json::parse(changed->body)["comments"], 1);
  EXPECT_EQ(Remaining(changed), Remaining(first) - 1);
}

TEST_F(GithubSimRestTest, RateLimitHeadersCountDownAndRunOut) {
  auto a = Get("/user");
  auto b = Get("/repos/acme/widgets/issues");
  EXPECT_EQ(a->get_header_value("x-ratelimit-limit"), "5000");
  EXPECT_EQ(Remaining(b), Remaining(a) - 1);
  EXPECT_EQ(std::stoi(b->get_header_value("x-ratelimit-used")), 5000 - Remaining(b));
  EXPECT_EQ(b->get_header_value("x-ratelimit-resource"), "core");
  const int64_t reset = std::stoll(b->get_header_value("x-ratelimit-reset"));
  EXPECT_NEAR(static_cast<double>(reset), static_cast<double>(std::time(nullptr) + 3600), 60);

  Act("/_sim/rate_limit", {{"remaining", 1}});
  auto last = Get("/user");
  EXPECT_EQ(last->status, 200);
  EXPECT_EQ(Remaining(last), 0);
  auto refused = Get("/user");
  EXPECT_EQ(refused->status, 403);
  EXPECT_THAT(json::parse(refused->body)["message"].get<std::string>(),
              StartsWith("API rate limit exceeded for user"));
  EXPECT_EQ(Remaining(refused), 0);
}

TEST_F(GithubSimRestTest, InjectedFaultsHitOnlyMatchingRequestsAndRunOut) {
  Act("/_sim/faults", {{"method", "GET"},
                       {"path_prefix", "/repos/acme/widgets/issues"},
                       {"status", 429},
                       {"count", 2},
                       {"retry_after", 1}});
  auto first = Get("/repos/acme/widgets/issues");
  EXPECT_EQ(first->status, 429);
  EXPECT_EQ(first->get_header_value("retry-after"), "1");
  EXPECT_EQ(Get("/user")->status, 200);  // another path is untouched
  EXPECT_EQ(Get("/repos/acme/widgets/issues/1")->status, 429);
  EXPECT_EQ(Get("/repos/acme/widgets/issues")->status, 200);  // both hits used

  Act("/_sim/faults", {{"status", 403}, {"secondary", true}, {"retry_after", 60}});
  auto secondary = Get("/repos/acme/widgets/issues");
  EXPECT_EQ(secondary->status, 403);
  EXPECT_EQ(secondary->get_header_value("retry-after"), "60");
  EXPECT_THAT(json::parse(secondary->body)["message"].get<std::string>(),
              HasSubstr("exceeded a secondary rate limit"));

  Act("/_sim/faults", {{"status", 502}, {"count", 5}});
  ASSERT_TRUE(Delete("/_sim/faults", {}));
  EXPECT_EQ(Get("/user")->status, 200);

  Act("/_sim/faults", {{"path_prefix", "/user"}, {"delay_ms", 300}});
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Get("/user")->status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
}

TEST_F(GithubSimRestTest, CollaboratorPermissionFoldsMaintainIntoWrite) {
  json carol = GetJson("/repos/acme/widgets/collaborators/carol/permission");
  EXPECT_EQ(carol["permission"], "write");
  EXPECT_EQ(carol["role_name"], "maintain");
  EXPECT_EQ(carol["user"]["login"], "carol");
  EXPECT_EQ(GetJson("/repos/acme/widgets/collaborators/alice/permission")["permission"], "admin");
  EXPECT_EQ(GetJson("/repos/acme/widgets/collaborators/eve/permission")["permission"], "read");
  json stranger = GetJson("/repos/acme/widgets/collaborators/mallory/permission");
  EXPECT_EQ(stranger["permission"], "none");
  EXPECT_EQ(Get("/repos/acme/nothing/collaborators/alice/permission")->status, 404);
}

TEST_F(GithubSimRestTest, LabelsAreCreatedAddedAndRemovedLikeGithub) {
  auto missing = Get("/repos/acme/widgets/labels/orch:running");
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["message"], "Not Found");
  auto made = Post("/repos/acme/widgets/labels",
                   {{"name", "orch:running"}, {"color", "0e8a16"}, {"description", "busy"}});
  EXPECT_EQ(made->status, 201);
  EXPECT_EQ(GetJson("/repos/acme/widgets/labels/orch:running")["color"], "0e8a16");
  auto dup = Post("/repos/acme/widgets/labels", {{"name", "orch:running"}});
  EXPECT_EQ(dup->status, 422);
  EXPECT_EQ(json::parse(dup->body)["errors"][0],
            json({{"resource", "Label"}, {"code", "already_exists"}, {"field", "name"}}));

  auto added = Post("/repos/acme/widgets/issues/4/labels", {{"labels", {"orch", "fresh"}}});
  ASSERT_EQ(added->status, 200);
  json names = json::array();
  for (const json& l : json::parse(added->body)) names.push_back(l["name"]);
  EXPECT_EQ(names, json({"orch", "fresh"}));
  EXPECT_EQ(GetJson("/repos/acme/widgets/labels/fresh")["name"], "fresh");  // created on use

  auto removed = Delete("/repos/acme/widgets/issues/4/labels/orch");
  EXPECT_EQ(removed->status, 200);
  EXPECT_EQ(json::parse(removed->body).size(), 1u);
  auto absent = Delete("/repos/acme/widgets/issues/4/labels/orch");
  EXPECT_EQ(absent->status, 404);
  EXPECT_EQ(json::parse(absent->body)["message"], "Label does not exist");
}

TEST_F(GithubSimRestTest, IssueEventsRecordEveryChange) {
  Act("/_sim/repos/acme/widgets/issues/2/labels", {{"label", "orch"}, {"user", "carol"}});
  ASSERT_EQ(Delete("/repos/acme/widgets/issues/2/labels/bug")->status, 200);
  Act("/_sim/repos/acme/widgets/issues/2/close", {{"user", "bob"}});
  Act("/_sim/repos/acme/widgets/issues/2/reopen", {{"user", "alice"}});
  json events = GetJson("/repos/acme/widgets/issues/2/events");
  ASSERT_EQ(events.size(), 5u);  // the seed's "bug" label first
  std::vector<std::string> seen;
  for (const json& e : events)
    seen.push_back(e["event"].get<std::string>() + "/" + e["actor"]["login"].get<std::string>());
  EXPECT_THAT(seen, ElementsAre("labeled/bob", "labeled/carol", "unlabeled/orch-bot", "closed/bob",
                                "reopened/alice"));
  EXPECT_EQ(events[1]["label"]["name"], "orch");
  EXPECT_EQ(events[2]["label"]["name"], "bug");
  EXPECT_LT(events[1]["created_at"].get<std::string>(), events[4]["created_at"].get<std::string>());
}

TEST_F(GithubSimRestTest, RequestLogNamesTheSchemeButNeverTheToken) {
  ASSERT_TRUE(Delete("/_sim/requests", {}));
  httplib::Headers conditional = AuthHeaders("t0ken", "Bearer");
  conditional.emplace("If-None-Match", "W/\"nope\"");
  Get("/repos/acme/widgets/issues?state=all&per_page=3", conditional);
  Post("/repos/acme/widgets/issues/1/comments", {{"body", "hello"}});
  auto log = sim_->Client()->Get("/_sim/requests");
  ASSERT_EQ(log->status, 200);
  EXPECT_THAT(log->body, ::testing::Not(HasSubstr("t0ken")));
  json requests = json::parse(log->body);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0], json({{"method", "GET"},
                               {"path", "/repos/acme/widgets/issues"},
                               {"query", "state=all&per_page=3"},
                               {"status", 200},
                               {"if_none_match", true},
                               {"authorization_scheme", "Bearer"},
                               {"body", ""}}));
  EXPECT_EQ(requests[1]["status"], 201);
  EXPECT_EQ(requests[1]["authorization_scheme"], "token");
  EXPECT_EQ(json::parse(requests[1]["body"].get<std::string>())["body"], "hello");
}

TEST_F(GithubSimRestTest, CheckRunsSetOnABranchAreFoundByItsHeadSha) {
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "orch-bot"}, {"title", "T"}, {"head", "feat"}});
  const std::string sha = GetJson("/repos/acme/widgets/pulls/7")["head"]["sha"];
  Act("/_sim/repos/acme/widgets/check-runs",
      {{"ref", "feat"}, {"name", "ci"}, {"status", "completed"}, {"conclusion", "failure"}});
  json runs = GetJson("/repos/acme/widgets/commits/" + sha + "/check-runs");
  ASSERT_EQ(runs["total_count"], 1);
  EXPECT_EQ(runs["check_runs"][0]["name"], "ci");
  EXPECT_EQ(runs["check_runs"][0]["conclusion"], "failure");
  EXPECT_EQ(GetJson("/repos/acme/widgets/commits/feat/check-runs")["total_count"], 1);
  EXPECT_EQ(GetJson("/repos/acme/widgets/commits/other/check-runs")["total_count"], 0);
}

TEST_F(GithubSimRestTest, UnknownPathsAreGithubsNotFound) {
  auto res = Get("/repos/acme/widgets/nothing-here");
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(json::parse(res->body), json({{"message", "Not Found"},
                                          {"documentation_url", "https://docs.github.com/rest"}}));
  EXPECT_EQ(Get("/repos/acme/nothing/issues")->status, 404);
}

TEST_F(GithubSimRestTest, StopsCleanlyOnSigterm) { EXPECT_EQ(sim_->Stop(), 0); }

}  // namespace
}  // namespace orch::sim::test
