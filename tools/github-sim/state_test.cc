// The simulated GitHub's data rules, in memory: the clock, labels, pull requests, reviews,
// filters, and seed loading.
#include "state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "seed.h"

namespace orch::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kStart = 1795255200;  // 2026-11-21T10:00:00Z

class StateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<Repo*> repo = state_.AddRepo("acme/widgets", "main");
    ASSERT_TRUE(repo.ok());
    repo_ = *repo;
  }
  Issue& NewIssue(const std::string& title, std::vector<std::string> labels = {}) {
    return **state_.CreateIssue(*repo_, {"alice", title, "", std::move(labels)});
  }
  std::vector<int> Numbers(const IssueFilter& f) {
    std::vector<int> out;
    for (const Issue* i : state_.List(*repo_, f)) out.push_back(i->number);
    return out;
  }

  State state_{kStart};
  Repo* repo_ = nullptr;
};

TEST_F(StateTest, EveryMutationTicksTheClockSoUpdatedAtStrictlyIncreases) {
  Issue& issue = NewIssue("a");
  EXPECT_EQ(issue.created_at, kStart + 1);
  state_.AddLabels(*repo_, issue, "bob", {"x"});
  EXPECT_EQ(issue.updated_at, kStart + 2);
  state_.AddComment(issue, "bob", "hi");
  EXPECT_EQ(issue.updated_at, kStart + 3);
  state_.SetWallClock([] { return kStart + 100; });
  EXPECT_EQ(state_.Tick(), kStart + 100);  // catches up with the wall
  EXPECT_EQ(state_.Tick(), kStart + 101);  // and still always moves
}

TEST_F(StateTest, LabelsAreCaseInsensitiveAndOnlyNewOnesCount) {
  Issue& issue = NewIssue("a", {"Orch"});
  std::vector<Label> added = state_.AddLabels(*repo_, issue, "bob", {"orch", "bug", "BUG"});
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].name, "bug");
  EXPECT_THAT(issue.labels, ElementsAre("Orch", "bug"));
  EXPECT_TRUE(state_.RemoveLabel(*repo_, issue, "bob", "ORCH").ok());
  Result<Label> gone = state_.RemoveLabel(*repo_, issue, "bob", "orch");
  EXPECT_TRUE(gone.status().IsNotFound());
  EXPECT_EQ(gone.status().message(), "Label does not exist");
  EXPECT_TRUE(state_.CreateLabel(*repo_, {0, "BUG", "fff", ""}).status().IsConflict());
}

TEST_F(StateTest, PullRequestsShareNumbersAndRefuseASecondOpenHead) {
  NewIssue("a");
  Result<Issue*> pull = state_.CreatePull(*repo_, {"bot", "Fix", "", "feat", "", false});
  ASSERT_TRUE(pull.ok());
  EXPECT_EQ((*pull)->number, 2);
  EXPECT_EQ((*pull)->pull->head_label(), "acme:feat");
  EXPECT_EQ((*pull)->pull->base_ref, "main");
  Result<Issue*> dup = state_.CreatePull(*repo_, {"bot", "Fix", "", "acme:feat", "", false});
  EXPECT_THAT(dup.status().message(), HasSubstr("A pull request already exists for acme:feat."));
  ASSERT_TRUE(state_.Merge(**pull, "alice").ok());
  EXPECT_TRUE((*pull)->pull->merged);
  EXPECT_FALSE(state_.Merge(**pull, "alice").ok());
  EXPECT_TRUE(state_.CreatePull(*repo_, {"bot", "Again", "", "feat", "", false}).ok());
}

TEST_F(StateTest, ReviewStatesAcceptGithubsSpellings) {
  Issue& pull = **state_.CreatePull(*repo_, {"bot", "Fix", "", "feat", "", false});
  EXPECT_EQ((*state_.AddReview(pull, "a", "REQUEST_CHANGES", "", {}))->state, "CHANGES_REQUESTED");
  EXPECT_EQ((*state_.AddReview(pull, "a", "approved", "", {}))->state, "APPROVED");
  const Review* r = *state_.AddReview(pull, "a", "COMMENT", "", {{"f.cc", 3, "nit", ""}});
  EXPECT_EQ(r->state, "COMMENTED");
  ASSERT_EQ(r->comments.size(), 1u);
  EXPECT_EQ(r->comments[0].review_id, r->id);
  EXPECT_FALSE(state_.AddReview(pull, "a", "LGTM", "", {}).ok());
}

TEST_F(StateTest, ListFiltersAndSorts) {
  NewIssue("a", {"orch"});
  Issue& b = NewIssue("b", {"orch", "bug"});
  NewIssue("c");
  state_.SetOpen(b, "bob", false);
  IssueFilter open;
  EXPECT_THAT(Numbers(open), ElementsAre(3, 1));
  IssueFilter all;
  all.state = "all";
  all.labels = {"ORCH"};
  EXPECT_THAT(Numbers(all), ElementsAre(2, 1));
  all.labels.clear();
  all.sort = "updated";
  all.ascending = true;
  all.since = kStart + 2;
  EXPECT_THAT(Numbers(all), ElementsAre(3, 2));  // b was closed last
}

TEST(SeedTest, LoadsSettingsReposAndNumbers) {
  Result<Seeded> s = LoadSeed(R"({
    "authenticated_user": "me", "tokens": ["a"], "app": {"id": "42", "installation_id": 7},
    "start_time": "2026-11-21T10:00:00Z",
    "repos": [{"full_name": "o/r", "collaborators": {"x": "maintain"},
               "issues": [{"number": 5, "title": "t", "labels": ["l"], "state": "closed",
                           "comments": [{"user": "y", "body": "c"}]}],
               "pulls": [{"title": "p", "head": "h", "merged": true}]}]})",
                              0);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->settings.authenticated_user, "me");
  EXPECT_EQ(s->settings.app.id, 42);
  EXPECT_EQ(s->settings.app.bot_login(), "orch-app[bot]");
  Repo* repo = s->state.FindRepo("O", "R");
  ASSERT_NE(repo, nullptr);
  EXPECT_EQ(CollaboratorRole(*repo, "X"), "maintain");
  Issue* issue = s->state.FindIssue(*repo, 5);
  ASSERT_NE(issue, nullptr);
  EXPECT_EQ(issue->state, "closed");
  EXPECT_EQ(issue->comments.size(), 1u);
  EXPECT_TRUE(s->state.FindIssue(*repo, 6)->pull->merged);
}

TEST(SeedTest, ExplainsWhatIsWrong) {
  EXPECT_THAT(LoadSeed("{", 0).status().message(), HasSubstr("seed"));
  EXPECT_THAT(LoadSeed(R"({"repos": [{"full_name": "nope"}]})", 0).status().message(),
              HasSubstr("repos[0]"));
  EXPECT_THAT(LoadSeed(R"({"repos": [{"full_name": "o/r", "issues": [{"title": "a", "number": 3},
                                                             {"title": "b", "number": 2}]}]})",
                       0)
                  .status()
                  .message(),
              HasSubstr("repos[0].issues[1].number: must be at least 4"));
  EXPECT_TRUE(LoadSeed("", 0).ok());
}

}  // namespace
}  // namespace orch::sim
