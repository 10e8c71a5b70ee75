// RestGitHubClient against the GitHub simulator: every endpoint orch uses, over real HTTP, with
// GitHub's paths and JSON shapes. (Intake and polling are in github_test.cc.)
#include <gmock/gmock.h>
#include <httplib.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "base/subprocess.h"
#include "github/github_rest.h"
#include "testing/test_util.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

class GitHubClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Json seed = {{"authenticated_user", "orch-bot"},
                 {"tokens", {"t0ken"}},
                 {"per_page_default", 2},
                 {"repos",
                  {{{"full_name", "acme/widgets"},
                    {"collaborators", {{"alice", "admin"}, {"carol", "maintain"}}},
                    {"issues",
                     {{{"number", 1}, {"title", "one"}, {"user", "alice"}, {"labels", {"orch"}}},
                      {{"number", 2}, {"title", "two"}, {"user", "alice"}},
                      {{"number", 3}, {"title", "three"}, {"user", "alice"}}}}}}}};
    WriteFile(dir_.Sub("seed.json"), seed.dump());
    sim_ = std::make_unique<Background>(
        std::vector<std::string>{ORCH_GITHUB_SIM, "--port-file", dir_.Sub("port"), "--seed",
                                 dir_.Sub("seed.json")},
        std::map<std::string, std::string>{}, dir_.Sub("sim.out"));
    ASSERT_TRUE(Eventually([&] { return !ReadFile(dir_.Sub("port")).empty(); }));
    port_ = std::stoi(ReadFile(dir_.Sub("port")));
    Result<std::unique_ptr<RestGitHubClient>> c = RestGitHubClient::Make(
        {.api_url = "http://127.0.0.1:" + std::to_string(port_), .token = "t0ken"},
        [](const std::string&) { return std::nullopt; }, runner_, clock_);
    ASSERT_TRUE(c.ok()) << c.status().message();
    client_ = std::move(c).value();
    control_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  }

  TempDir dir_;
  SystemClock clock_;
  PosixProcessRunner runner_;
  std::unique_ptr<Background> sim_;
  int port_ = 0;
  std::unique_ptr<RestGitHubClient> client_;
  std::unique_ptr<httplib::Client> control_;
};

TEST_F(GitHubClientTest, IssuesLabelsAndCommentsRoundTrip) {
  Result<GitHubUser> me = client_->AuthenticatedUser();
  ASSERT_TRUE(me.ok()) << me.status().message();
  EXPECT_EQ(me->login, "orch-bot");

  // Three issues at two per page: the client follows Link to the end.
  Result<IssueListing> all = client_->ListIssues("acme/widgets", {.per_page = 2});
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(all->issues.size(), 3u);
  Result<IssueListing> labelled =
      client_->ListIssues("acme/widgets", {.labels = {"orch"}, .per_page = 2});
  ASSERT_EQ(labelled->issues.size(), 1u);
  EXPECT_EQ(labelled->issues[0].number, 1);

  ASSERT_TRUE(client_->EnsureLabel("acme/widgets", "status:done", "0e8a16", "orch").ok());
  ASSERT_TRUE(client_->EnsureLabel("acme/widgets", "status:done", "0e8a16", "orch").ok());
  ASSERT_TRUE(client_->AddLabels("acme/widgets", 2, {"status:done"}).ok());
  EXPECT_EQ(client_->GetIssue("acme/widgets", 2)->labels, std::vector<std::string>{"status:done"});
  ASSERT_TRUE(client_->RemoveLabel("acme/widgets", 2, "status:done").ok());
  EXPECT_TRUE(client_->RemoveLabel("acme/widgets", 2, "status:done").ok());  // already gone
  EXPECT_TRUE(client_->GetIssue("acme/widgets", 2)->labels.empty());
  Result<std::vector<IssueEvent>> events = client_->ListIssueEvents("acme/widgets", 2);
  ASSERT_TRUE(events.ok());
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->front().event, "labeled");
  EXPECT_EQ(events->front().actor.login, "orch-bot");

  Result<Comment> c = client_->CreateComment("acme/widgets", 1, "on it");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_GT(c->id, 0);
  Result<std::vector<Comment>> comments = client_->ListComments("acme/widgets", 1);
  ASSERT_EQ(comments->size(), 1u);
  EXPECT_EQ(comments->front().body, "on it");
  EXPECT_EQ(comments->front().user.login, "orch-bot");

  EXPECT_EQ(*client_->CollaboratorPermission("acme/widgets", "carol"), "maintain");
  EXPECT_EQ(*client_->CollaboratorPermission("acme/widgets", "nobody"), "none");
  EXPECT_TRUE(client_->GetIssue("acme/widgets", 99).status().IsNotFound());
}

TEST_F(GitHubClientTest, PullRequestsReviewsAndChecks) {
  Result<PullRequest> pr = client_->CreatePullRequest(
      "acme/widgets",
      {.title = "Fix one", .body = "Closes #1", .head = "orch/1-fix", .base = "main"});
  ASSERT_TRUE(pr.ok()) << pr.status().message();
  EXPECT_EQ(pr->head_ref, "orch/1-fix");
  EXPECT_EQ(pr->state, "open");
  // A second PR for the same branch is refused (422), as GitHub does.
  EXPECT_TRUE(client_
                  ->CreatePullRequest("acme/widgets",
                                      {.title = "again", .head = "orch/1-fix", .base = "main"})
                  .status()
                  .IsConflict());
  Result<std::vector<PullRequest>> found =
      client_->ListPullRequests("acme/widgets", "orch/1-fix", "open");
  ASSERT_TRUE(found.ok()) << found.status().message();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().number, pr->number);

  std::string base = "/_sim/repos/acme/widgets/pulls/" + std::to_string(pr->number);
  ASSERT_EQ(control_
                ->Post(base + "/reviews",
                       Json{{"user", "alice"},
                            {"state", "CHANGES_REQUESTED"},
                            {"body", "almost"},
                            {"comments",
                             {{{"path", "a.cc"},
                               {"line", 3},
                               {"body", "rename"},
                               {"diff_hunk", "@@ -1 +1 @@"}}}}}
                           .dump(),
                       "application/json")
                ->status,
            200);
  Result<std::vector<Review>> reviews = client_->ListReviews("acme/widgets", pr->number);
  ASSERT_TRUE(reviews.ok()) << reviews.status().message();
  ASSERT_EQ(reviews->size(), 1u);
  EXPECT_EQ(reviews->front().state, "CHANGES_REQUESTED");
  EXPECT_EQ(reviews->front().user.login, "alice");
  Result<std::vector<ReviewComment>> rc =
      client_->ListReviewComments("acme/widgets", pr->number, reviews->front().id);
  ASSERT_TRUE(rc.ok()) << rc.status().message();
  ASSERT_EQ(rc->size(), 1u);
  EXPECT_EQ(rc->front().path, "a.cc");
  EXPECT_EQ(rc->front().line, 3);
  EXPECT_EQ(rc->front().diff_hunk, "@@ -1 +1 @@");

  ASSERT_EQ(control_
                ->Post("/_sim/repos/acme/widgets/check-runs",
                       Json{{"ref", "orch/1-fix"},
                            {"name", "ci"},
                            {"status", "completed"},
                            {"conclusion", "success"}}
                           .dump(),
                       "application/json")
                ->status,
            200);
  Result<std::vector<CheckRun>> checks = client_->ListCheckRuns("acme/widgets", "orch/1-fix");
  ASSERT_TRUE(checks.ok()) << checks.status().message();
  ASSERT_EQ(checks->size(), 1u);
  EXPECT_EQ(checks->front().conclusion, "success");

  ASSERT_EQ(
      control_->Post(base + "/merge", Json{{"user", "alice"}}.dump(), "application/json")->status,
      200);
  Result<PullRequest> merged = client_->GetPullRequest("acme/widgets", pr->number);
  ASSERT_TRUE(merged.ok()) << merged.status().message();
  EXPECT_TRUE(merged->merged);
}

TEST_F(GitHubClientTest, RateLimitsAndServerErrorsAreRetryableWithTheWait) {
  auto fault = [&](Json f) {
    ASSERT_EQ(control_->Post("/_sim/faults", f.dump(), "application/json")->status, 200);
  };
  fault({{"method", "GET"},
         {"path_prefix", "/repos/acme/widgets/issues"},
         {"status", 429},
         {"count", 1},
         {"retry_after", 7}});
  Status s = client_->ListIssues("acme/widgets", {}).status();
  EXPECT_TRUE(s.IsRetryable());
  EXPECT_EQ(s.retry_after_seconds(), 7);
  fault({{"method", "GET"},
         {"path_prefix", "/repos/acme/widgets/issues"},
         {"status", 403},
         {"count", 1},
         {"secondary", true},
         {"retry_after", 3}});
  s = client_->ListIssues("acme/widgets", {}).status();
  EXPECT_TRUE(s.IsRetryable());
  EXPECT_THAT(s.message(), HasSubstr("secondary rate limit"));
  fault({{"method", "GET"}, {"path_prefix", "/user"}, {"status", 502}, {"count", 1}});
  EXPECT_TRUE(client_->AuthenticatedUser().status().IsRetryable());
  EXPECT_TRUE(client_->AuthenticatedUser().ok());  // the fault was for one request
}

TEST_F(GitHubClientTest, AWrongTokenIsAConfigurationError) {
  Result<std::unique_ptr<RestGitHubClient>> c = RestGitHubClient::Make(
      {.api_url = "http://127.0.0.1:" + std::to_string(port_), .token = "wrong"},
      [](const std::string&) { return std::nullopt; }, runner_, clock_);
  Status s = (*c)->AuthenticatedUser().status();
  EXPECT_TRUE(s.IsUsageError());
  EXPECT_THAT(s.message(), HasSubstr("Bad credentials"));
  EXPECT_THAT(s.message(), Not(HasSubstr("wrong")));
}

}  // namespace
}  // namespace orch::test
