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

// Check runs, annotations and job logs, with a failing CI job at hand.
class GithubSimCheckRunTest : public SimTest {
 protected:
  // A failing CI job on `head_sha` with two annotations and a log, as a control call sets it.
  json FailCi(const std::string& head_sha) {
    return Act("/_sim/repos/acme/widgets/check-runs",
               {{"head_sha", head_sha},
                {"name", "build (ubuntu)"},
                {"status", "completed"},
                {"conclusion", "failure"},
                {"output", {{"title", "2 errors"}, {"summary", "Build failed"}}},
                {"annotations",
                 {{{"path", "src/a.cc"},
                   {"start_line", 3},
                   {"end_line", 4},
                   {"annotation_level", "failure"},
                   {"message", "expected ';'"}},
                  {{"path", "src/b.cc"},
                   {"start_line", 9},
                   {"annotation_level", "warning"},
                   {"message", "unused variable"},
                   {"title", "clang"}}}},
                {"log", "step 1\nsrc/a.cc:3: error: expected ';'\n"}});
  }
};

TEST_F(GithubSimCheckRunTest, CheckRunsCarryOutputAnnotationsAndTheirPullRequest) {
  // CI fails on the head of #7: orch finds the run by branch or sha, with what GitHub
  // Actions gives (id = job id, details_url, check suite, the pull request), and its annotations.
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "bob"}, {"title", "T"}, {"head", "feat"}});
  const std::string sha = GetJson("/repos/acme/widgets/pulls/7")["head"]["sha"];
  ASSERT_EQ(sha.size(), 40u);
  const json set = FailCi(sha)["check_run"];
  const int64_t id = set["id"];

  json runs = GetJson("/repos/acme/widgets/commits/feat/check-runs");
  ASSERT_EQ(runs["total_count"], 1);
  json run = runs["check_runs"][0];
  EXPECT_EQ(run, set);
  EXPECT_EQ(run, GetJson("/repos/acme/widgets/check-runs/" + std::to_string(id)));
  EXPECT_EQ(run["head_sha"], sha);
  EXPECT_EQ(run["conclusion"], "failure");
  EXPECT_EQ(run["output"]["title"], "2 errors");
  EXPECT_EQ(run["output"]["summary"], "Build failed");
  EXPECT_EQ(run["output"]["annotations_count"], 2);
  EXPECT_THAT(run["output"]["annotations_url"].get<std::string>(),
              HasSubstr("/repos/acme/widgets/check-runs/" + std::to_string(id) + "/annotations"));
  const int64_t suite = run["check_suite"]["id"];
  EXPECT_EQ(run["details_url"], "https://github.com/acme/widgets/actions/runs/" +
                                    std::to_string(suite) + "/job/" + std::to_string(id));
  EXPECT_EQ(run["html_url"], run["details_url"]);
  EXPECT_EQ(run["check_suite"]["head_branch"], "feat");
  EXPECT_EQ(run["check_suite"]["head_sha"], sha);
  ASSERT_EQ(run["pull_requests"].size(), 1u);
  EXPECT_EQ(run["pull_requests"][0]["number"], 7);
  EXPECT_EQ(run["pull_requests"][0]["head"]["ref"], "feat");
  EXPECT_EQ(run["pull_requests"][0]["head"]["sha"], sha);
  EXPECT_EQ(run["pull_requests"][0]["base"]["ref"], "main");

  json notes = GetJson("/repos/acme/widgets/check-runs/" + std::to_string(id) + "/annotations");
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0],
            json({{"path", "src/a.cc"},
                  {"blob_href", "https://github.com/acme/widgets/blob/" + sha + "/src/a.cc"},
                  {"start_line", 3},
                  {"end_line", 4},
                  {"start_column", nullptr},
                  {"end_column", nullptr},
                  {"annotation_level", "failure"},
                  {"title", nullptr},
                  {"message", "expected ';'"},
                  {"raw_details", nullptr}}));
  EXPECT_EQ(notes[1]["end_line"], 9);  // defaults to start_line
  EXPECT_EQ(notes[1]["title"], "clang");
  EXPECT_EQ(Get("/repos/acme/widgets/check-runs/999999")->status, 404);
  EXPECT_EQ(Get("/repos/acme/widgets/check-runs/999999/annotations")->status, 404);
}

TEST_F(GithubSimCheckRunTest, ControlCheckRunsAreValidated) {
  auto post = [&](const json& body) {
    return Post("/_sim/repos/acme/widgets/check-runs", body, {})->status;
  };
  EXPECT_EQ(post({{"name", "ci"}}), 422);  // neither head_sha nor ref
  EXPECT_EQ(post({{"ref", "feat"}}), 422);
  EXPECT_EQ(post({{"ref", "feat"}, {"name", "ci"}, {"status", "done"}}), 422);
  EXPECT_EQ(post({{"ref", "feat"},
                  {"name", "ci"},
                  {"annotations",
                   {{{"path", "a"},
                     {"start_line", 1},
                     {"message", "m"},
                     {"annotation_level", "error"}}}}}),
            422);
  EXPECT_EQ(post({{"ref", "feat"}, {"name", "ci"}, {"annotations", {{{"path", "a"}}}}}), 422);
  EXPECT_EQ(Post("/_sim/repos/acme/nope/check-runs", {{"ref", "x"}, {"name", "ci"}}, {})->status,
            404);
}

TEST_F(GithubSimCheckRunTest, JobLogsRedirectToASignedBlobThatNeedsNoToken) {
  // GitHub answers GET .../actions/jobs/{id}/logs with a 302 to a signed URL; the check run id
  // is the job id.
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "bob"}, {"title", "T"}, {"head", "feat"}});
  const std::string sha = GetJson("/repos/acme/widgets/pulls/7")["head"]["sha"];
  const std::string id = std::to_string(FailCi(sha)["check_run"]["id"].get<int64_t>());

  auto res = Get("/repos/acme/widgets/actions/jobs/" + id + "/logs");
  ASSERT_EQ(res->status, 302);
  const std::string location = res->get_header_value("Location");
  ASSERT_THAT(location, StartsWith(sim_->base_url() + "/_sim/blobs/job-logs/" + id + "?sig="));
  auto blob = sim_->Client()->Get(location.substr(sim_->base_url().size()));  // no token
  ASSERT_EQ(blob->status, 200);
  EXPECT_THAT(blob->get_header_value("Content-Type"), StartsWith("text/plain"));
  EXPECT_EQ(blob->body, "step 1\nsrc/a.cc:3: error: expected ';'\n");

  EXPECT_EQ(sim_->Client()->Get("/_sim/blobs/job-logs/" + id + "?sig=forged")->status, 403);
  EXPECT_EQ(Get("/repos/acme/widgets/actions/jobs/999999/logs")->status, 404);
  EXPECT_EQ(Get("/repos/acme/widgets/actions/jobs/" + id + "/logs", {})->status, 401);
}

TEST_F(GithubSimCheckRunTest, APushMovesThePullsHeadAndLaterRunsLandOnIt) {
  // Runs set by branch follow the pull request's head: after a push the branch names the new
  // commit, whose runs start empty, while the old commit keeps its runs.
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "bob"}, {"title", "T"}, {"head", "feat"}});
  const std::string old_sha = GetJson("/repos/acme/widgets/pulls/7")["head"]["sha"];
  Act("/_sim/repos/acme/widgets/check-runs",
      {{"ref", "feat"}, {"name", "ci"}, {"conclusion", "failure"}});
  const std::string new_sha(40, 'b');
  json moved = Act("/_sim/repos/acme/widgets/pulls/7/head", {{"sha", new_sha}});
  EXPECT_EQ(moved["pull_request"]["head"]["sha"], new_sha);
  EXPECT_EQ(GetJson("/repos/acme/widgets/pulls/7")["head"]["sha"], new_sha);
  EXPECT_EQ(GetJson("/repos/acme/widgets/commits/feat/check-runs")["total_count"], 0);

  json run = Act("/_sim/repos/acme/widgets/check-runs",
                 {{"ref", "feat"}, {"name", "ci"}, {"status", "in_progress"}})["check_run"];
  EXPECT_EQ(run["head_sha"], new_sha);
  EXPECT_EQ(run["conclusion"], nullptr);
  EXPECT_EQ(run["pull_requests"][0]["number"], 7);
  json old_runs = GetJson("/repos/acme/widgets/commits/" + old_sha + "/check-runs");
  ASSERT_EQ(old_runs["total_count"], 1);
  EXPECT_EQ(old_runs["check_runs"][0]["conclusion"], "failure");
  EXPECT_NE(old_runs["check_runs"][0]["id"], run["id"]);
  EXPECT_TRUE(old_runs["check_runs"][0]["pull_requests"].empty());  // no longer the head

  EXPECT_EQ(Post("/_sim/repos/acme/widgets/pulls/7/head", {{"sha", ""}}, {})->status, 422);
  EXPECT_EQ(Post("/_sim/repos/acme/widgets/pulls/1/head", {{"sha", new_sha}}, {})->status, 404);
}

TEST_F(GithubSimRestTest, UnknownPathsAreGithubsNotFound) {
  auto res = Get("/repos/acme/widgets/nothing-here");
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(json::parse(res->body), json({{"message", "Not Found"},
                                          {"documentation_url", "https://docs.github.com/rest"}}));
  EXPECT_EQ(Get("/repos/acme/nothing/issues")->status, 404);
}

std::vector<std::string> Bodies(const json& items) {
  std::vector<std::string> out;
  for (const json& item : items) out.push_back(item["body"].get<std::string>());
  return out;
}

TEST_F(GithubSimRestTest, ListsEveryIssueCommentOfTheRepository) {
  // Comments on two issues and on a pull request come back together, oldest first unless
  // told otherwise, narrowed by `since`, paged with Link, and conditional GETs get 304.
  Act("/_sim/repos/acme/widgets/issues/2/comments", {{"user", "bob"}, {"body", "a"}});
  json b = Act("/_sim/repos/acme/widgets/issues/1/comments", {{"user", "alice"}, {"body", "b"}});
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "orch-bot"}, {"title", "T"}, {"head", "feat"}});
  Act("/_sim/repos/acme/widgets/issues/7/comments", {{"user", "carol"}, {"body", "c"}});
  const std::string path = "/repos/acme/widgets/issues/comments";

  json all = GetJson(path);
  EXPECT_THAT(Bodies(all), ElementsAre("a", "b", "c"));
  EXPECT_EQ(all[2]["issue_url"], sim_->base_url() + "/repos/acme/widgets/issues/7");
  EXPECT_THAT(all[2]["html_url"].get<std::string>(), HasSubstr("/pull/7#issuecomment-"));
  EXPECT_EQ(all[0]["user"]["login"], "bob");
  EXPECT_EQ(all[0]["reactions"]["total_count"], 0);
  EXPECT_THAT(Bodies(GetJson(path + "?direction=desc")), ElementsAre("c", "b", "a"));
  EXPECT_THAT(Bodies(GetJson(path + "?sort=updated&direction=desc")), ElementsAre("c", "b", "a"));
  const std::string since = b["comment"]["updated_at"];
  EXPECT_THAT(Bodies(GetJson(path + "?since=" + since)), ElementsAre("b", "c"));

  auto first = Get(path + "?per_page=2");
  EXPECT_THAT(Bodies(json::parse(first->body)), ElementsAre("a", "b"));
  const std::string url = sim_->base_url() + path;
  EXPECT_EQ(first->get_header_value("Link"), "<" + url + "?per_page=2&page=2>; rel=\"next\", <" +
                                                 url + "?per_page=2&page=2>; rel=\"last\"");
  EXPECT_THAT(Bodies(GetJson(path + "?per_page=2&page=2")), ElementsAre("c"));

  httplib::Headers conditional = AuthHeaders();
  conditional.emplace("If-None-Match", first->get_header_value("ETag"));
  EXPECT_EQ(Get(path + "?per_page=2", conditional)->status, 304);
  Act("/_sim/repos/acme/widgets/issues/3/comments", {{"user", "eve"}, {"body", "d"}});
  EXPECT_EQ(Get(path + "?per_page=2", conditional)->status, 304);  // page 1 is unchanged
  EXPECT_EQ(Get(path + "?per_page=2&direction=desc", conditional)->status, 200);

  EXPECT_EQ(Get(path + "?sort=comments")->status, 422);
  EXPECT_EQ(Get(path + "?direction=up")->status, 422);
  EXPECT_EQ(Get(path + "?since=yesterday")->status, 422);
  EXPECT_EQ(Get("/repos/acme/nothing/issues/comments")->status, 404);
}

TEST_F(GithubSimRestTest, ListsEveryReviewCommentOfTheRepository) {
  // A review with two comments on #7, a lone comment on #8, then a reply on #7's first
  // thread: all four, oldest first, the reply carrying in_reply_to_id and its thread's place.
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "orch-bot"}, {"title", "T"}, {"head", "f7"}});
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "orch-bot"}, {"title", "U"}, {"head", "f8"}});
  json review =
      Act("/_sim/repos/acme/widgets/pulls/7/reviews",
          {{"user", "alice"},
           {"state", "COMMENTED"},
           {"comments",
            {{{"path", "a.cc"}, {"line", 3}, {"body", "r1"}, {"diff_hunk", "@@ -1 +1 @@"}},
             {{"path", "b.cc"}, {"line", 9}, {"body", "r2"}}}}});
  const int64_t first_id = review["review"]["comments"][0]["id"];
  Act("/_sim/repos/acme/widgets/pulls/8/comments",
      {{"user", "bob"}, {"body", "lone"}, {"path", "c.cc"}, {"line", 1}, {"diff_hunk", "@@"}});
  json reply = Act("/_sim/repos/acme/widgets/pulls/7/comments",
                   {{"user", "orch-bot"}, {"body", "fixed"}, {"in_reply_to", first_id}});
  const std::string path = "/repos/acme/widgets/pulls/comments";

  json all = GetJson(path);
  EXPECT_THAT(Bodies(all), ElementsAre("r1", "r2", "lone", "fixed"));
  const json& r = all[3];
  EXPECT_EQ(r["in_reply_to_id"], first_id);
  EXPECT_EQ(r["path"], "a.cc");
  EXPECT_EQ(r["line"], 3);
  EXPECT_EQ(r["diff_hunk"], "@@ -1 +1 @@");
  EXPECT_EQ(r["user"]["login"], "orch-bot");
  EXPECT_EQ(r["pull_request_url"], sim_->base_url() + "/repos/acme/widgets/pulls/7");
  EXPECT_THAT(r["html_url"].get<std::string>(), HasSubstr("/pull/7#discussion_r"));
  EXPECT_EQ(r["created_at"], r["updated_at"]);
  EXPECT_EQ(r["id"], reply["comment"]["id"]);
  EXPECT_FALSE(all[0].contains("in_reply_to_id"));
  EXPECT_EQ(all[2]["pull_request_url"], sim_->base_url() + "/repos/acme/widgets/pulls/8");
  EXPECT_EQ(all[2]["user"]["login"], "bob");

  EXPECT_THAT(Bodies(GetJson(path + "?direction=desc")), ElementsAre("fixed", "lone", "r2", "r1"));
  const std::string since = all[2]["updated_at"];
  EXPECT_THAT(Bodies(GetJson(path + "?since=" + since)), ElementsAre("lone", "fixed"));
  auto page = Get(path + "?per_page=3&page=2");
  EXPECT_THAT(Bodies(json::parse(page->body)), ElementsAre("fixed"));
  EXPECT_THAT(page->get_header_value("Link"), HasSubstr("page=1>; rel=\"prev\""));
  httplib::Headers conditional = AuthHeaders();
  conditional.emplace("If-None-Match", Get(path)->get_header_value("ETag"));
  EXPECT_EQ(Get(path, conditional)->status, 304);
  EXPECT_EQ(Get(path + "?sort=nope")->status, 422);
}

TEST_F(GithubSimRestTest, ControlReviewCommentsAreValidated) {
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "orch-bot"}, {"title", "T"}, {"head", "f7"}});
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "orch-bot"}, {"title", "U"}, {"head", "f8"}});
  json on8 = Act("/_sim/repos/acme/widgets/pulls/8/comments",
                 {{"user", "bob"}, {"body", "x"}, {"path", "c.cc"}, {"line", 1}});
  EXPECT_EQ(on8["review"]["state"], "COMMENTED");
  EXPECT_EQ(on8["review"]["body"], "");
  const std::string base = "/_sim/repos/acme/widgets/pulls/";
  auto other_thread =
      Post(base + "7/comments", {{"body", "y"}, {"in_reply_to", on8["comment"]["id"]}}, {});
  EXPECT_EQ(other_thread->status, 422);
  EXPECT_EQ(Post(base + "7/comments", {{"body", ""}, {"path", "a.cc"}}, {})->status, 422);
  EXPECT_EQ(Post(base + "7/comments", {{"body", "no path"}}, {})->status, 422);
  EXPECT_EQ(Post(base + "1/comments", {{"body", "b"}, {"path", "a.cc"}}, {})->status, 404);
  EXPECT_EQ(GetJson("/repos/acme/widgets/pulls/7/reviews").size(), 0u);
}

TEST_F(GithubSimRestTest, ReactionsAreOnePerUserAndContent) {
  // The token's user reacts: new reactions are 201, the same one again 200 with the same id,
  // an unknown content 422, an unknown comment 404; GET lists them and the rollup counts them.
  json c = Act("/_sim/repos/acme/widgets/issues/1/comments", {{"user", "bob"}, {"body", "hi"}});
  const std::string reactions = "/repos/acme/widgets/issues/comments/" +
                                std::to_string(c["comment"]["id"].get<int64_t>()) + "/reactions";
  auto eyes = Post(reactions, {{"content", "eyes"}});
  ASSERT_EQ(eyes->status, 201) << eyes->body;
  json made = json::parse(eyes->body);
  EXPECT_EQ(made["content"], "eyes");
  EXPECT_EQ(made["user"]["login"], "orch-bot");
  EXPECT_TRUE(made["id"].is_number_integer());
  EXPECT_THAT(made["node_id"].get<std::string>(), StartsWith("REA_"));
  EXPECT_THAT(made["created_at"].get<std::string>(), StartsWith("2026-11-21T"));
  auto again = Post(reactions, {{"content", "eyes"}});
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(json::parse(again->body), made);
  EXPECT_EQ(Post(reactions, {{"content", "+1"}})->status, 201);
  auto bad = Post(reactions, {{"content", "thumbsup"}});
  EXPECT_EQ(bad->status, 422);
  EXPECT_EQ(json::parse(bad->body)["errors"][0]["resource"], "Reaction");
  EXPECT_EQ(Post(reactions, json::object())->status, 422);
  EXPECT_EQ(
      Post("/repos/acme/widgets/issues/comments/99999/reactions", {{"content", "eyes"}})->status,
      404);
  EXPECT_EQ(Post(reactions, {{"content", "eyes"}}, {})->status, 401);

  EXPECT_EQ(GetJson(reactions).size(), 2u);
  json plus = GetJson(reactions + "?content=%2B1");
  ASSERT_EQ(plus.size(), 1u);
  EXPECT_EQ(plus[0]["content"], "+1");
  EXPECT_TRUE(Get(reactions + "?per_page=1")->has_header("Link"));
  json rollup = GetJson("/repos/acme/widgets/issues/1/comments")[0]["reactions"];
  EXPECT_EQ(rollup["total_count"], 2);
  EXPECT_EQ(rollup["eyes"], 1);
  EXPECT_EQ(rollup["+1"], 1);
  EXPECT_EQ(rollup["heart"], 0);
  EXPECT_EQ(rollup["url"], sim_->base_url() + reactions);
}

TEST_F(GithubSimRestTest, ReactsToReviewComments) {
  Act("/_sim/repos/acme/widgets/pulls", {{"user", "orch-bot"}, {"title", "T"}, {"head", "f7"}});
  json rc = Act("/_sim/repos/acme/widgets/pulls/7/comments",
                {{"user", "alice"}, {"body", "why?"}, {"path", "a.cc"}, {"line", 2}});
  const std::string id = std::to_string(rc["comment"]["id"].get<int64_t>());
  const std::string reactions = "/repos/acme/widgets/pulls/comments/" + id + "/reactions";
  EXPECT_EQ(Post(reactions, {{"content", "rocket"}})->status, 201);
  EXPECT_EQ(Post(reactions, {{"content", "rocket"}})->status, 200);
  EXPECT_EQ(Post(reactions, {{"content", "party"}})->status, 422);
  json listed = GetJson(reactions);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["content"], "rocket");
  EXPECT_EQ(GetJson("/repos/acme/widgets/pulls/comments")[0]["reactions"]["rocket"], 1);

  // Issue comments and review comments are different things: neither id works for the other.
  json ic = Act("/_sim/repos/acme/widgets/issues/7/comments", {{"user", "bob"}, {"body", "hm"}});
  const std::string ic_id = std::to_string(ic["comment"]["id"].get<int64_t>());
  EXPECT_EQ(
      Post("/repos/acme/widgets/pulls/comments/" + ic_id + "/reactions", {{"content", "eyes"}})
          ->status,
      404);
  EXPECT_EQ(Get("/repos/acme/widgets/issues/comments/" + id + "/reactions")->status, 404);
}

TEST_F(GithubSimRestTest, StopsCleanlyOnSigterm) { EXPECT_EQ(sim_->Stop(), 0); }

}  // namespace
}  // namespace orch::sim::test
