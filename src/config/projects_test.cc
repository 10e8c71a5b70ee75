#include "config/projects.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "config/config_loader.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;

TEST(ProjectSpecTest, TellsPathsSlugsAndUrlsApart) {
  EXPECT_EQ(ParseProjectSpec("acme/widgets", false)->kind, ProjectSpecKind::kSlug);
  EXPECT_EQ(ParseProjectSpec("acme/widgets", true)->kind, ProjectSpecKind::kPath);
  EXPECT_EQ(ParseProjectSpec("./widgets", false)->kind, ProjectSpecKind::kPath);
  EXPECT_EQ(ParseProjectSpec("/src/widgets", false)->kind, ProjectSpecKind::kPath);
  Result<ProjectSpec> url = ParseProjectSpec("https://github.com/acme/widgets.git", false);
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->kind, ProjectSpecKind::kUrl);
  EXPECT_EQ(url->owner, "acme");
  EXPECT_EQ(url->repo, "widgets");
  EXPECT_FALSE(ParseProjectSpec("not a repo", false).ok());
  EXPECT_FALSE(ParseProjectSpec("https://example.com/", false).ok());
}

TEST(ProjectSpecTest, SlugFromEveryKindOfRemote) {
  EXPECT_EQ(SlugFromUrl("https://github.com/acme/widgets.git"), "acme/widgets");
  EXPECT_EQ(SlugFromUrl("https://github.com/acme/widgets/"), "acme/widgets");
  EXPECT_EQ(SlugFromUrl("git@github.com:acme/widgets.git"), "acme/widgets");
  EXPECT_EQ(SlugFromUrl("ssh://git@ghe.corp/acme/widgets"), "acme/widgets");
  EXPECT_EQ(SlugFromUrl("file:///tmp/x/acme/widgets.git"), "acme/widgets");
  EXPECT_EQ(SlugFromUrl("widgets"), std::nullopt);
}

TEST(ProjectSpecTest, CloneUrlFollowsTheApiUrl) {
  EXPECT_EQ(CloneUrlForSlug("https://api.github.com", "a/b"), "https://github.com/a/b.git");
  EXPECT_EQ(CloneUrlForSlug("https://ghe.corp/api/v3/", "a/b"), "https://ghe.corp/a/b.git");
}

class ProjectRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_.root = dir_.Sub("home");
    std::filesystem::create_directories(home_.root);
    auto s = Store::Open(home_.db_path(), clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
  }
  test::TempDir dir_;
  test::FakeClock clock_;
  Home home_;
  Libgit2Git git_;
  std::unique_ptr<Store> store_;
};

TEST_F(ProjectRegistryTest, LocalCheckoutRegistersInPlaceNamedAfterItsOrigin) {
  test::MakeRepoWithOrigin(dir_.Sub("remotes/acme/widgets.git"), dir_.Sub("work"));
  ProjectRegistry registry(*store_, git_, home_, "https://api.github.com");
  std::filesystem::create_directories(dir_.Sub("work/src/deep"));
  Result<Project> p = registry.Add(dir_.Sub("work/src/deep"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->name, "acme/widgets");
  EXPECT_EQ(p->path, dir_.Sub("work"));
  EXPECT_EQ(p->kind, ProjectKind::kLocal);
  EXPECT_TRUE(registry.Add(dir_.Sub("work")).status().IsConflict());
}

TEST_F(ProjectRegistryTest, UrlMakesABareCloneUnderOrchHome) {
  test::MakeRepoWithOrigin(dir_.Sub("remotes/acme/widgets.git"), dir_.Sub("work"),
                           {{".orch.yml", "workflow:\n  max_attempts: 7\n"}});
  ProjectRegistry registry(*store_, git_, home_, "https://api.github.com");
  Result<Project> p = registry.Add("file://" + dir_.Sub("remotes/acme/widgets.git"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->name, "acme/widgets");
  EXPECT_EQ(p->kind, ProjectKind::kClone);
  EXPECT_EQ(p->path, home_.projects_dir() + "/acme/widgets.git");
  EXPECT_TRUE(std::filesystem::exists(p->path + "/HEAD"));
  // The clone's .orch.yml is read from HEAD, through the registry, not the working directory.
  Result<Config> c = LoadConfig(home_, ProcessEnv(), git_, &*p);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->workflow.max_attempts, 7);
}

TEST_F(ProjectRegistryTest, FailedCloneLeavesNothingBehind) {
  ProjectRegistry registry(*store_, git_, home_, "https://api.github.com");
  Result<Project> p = registry.Add("file://" + dir_.Sub("missing/acme/nothing.git"));
  ASSERT_FALSE(p.ok());
  EXPECT_FALSE(std::filesystem::exists(home_.projects_dir() + "/acme/nothing.git"));
  EXPECT_TRUE(store_->ListProjects()->empty());
}

TEST_F(ProjectRegistryTest, InitWritesOrchYmlOnceAndUsesRepoFlag) {
  test::MakeRepoWithOrigin(dir_.Sub("remotes/x/y.git"), dir_.Sub("work"));
  ProjectRegistry registry(*store_, git_, home_, "https://api.github.com");
  auto r = registry.Init(dir_.Sub("work"), "acme/renamed");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->first.name, "acme/renamed");
  EXPECT_TRUE(r->second);
  EXPECT_THAT(test::ReadFile(dir_.Sub("work/.orch.yml")), HasSubstr("orch settings"));
  // The template parses as a config.
  Result<Config> c = LoadConfig(home_, ProcessEnv(), git_, &r->first);
  EXPECT_TRUE(c.ok()) << c.status().message();
  // Again in the same checkout: the registration and the edited file are kept.
  test::WriteFile(dir_.Sub("work/.orch.yml"), "workflow: {max_attempts: 4}\n");
  auto again = registry.Init(dir_.Sub("work"), "acme/renamed");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->first.id, r->first.id);
  EXPECT_FALSE(again->second);
  EXPECT_EQ(test::ReadFile(dir_.Sub("work/.orch.yml")), "workflow: {max_attempts: 4}\n");
  EXPECT_FALSE(registry.Init(dir_.path(), std::nullopt).ok());  // not a checkout
  EXPECT_FALSE(registry.Init(dir_.Sub("work"), "bad slug").ok());
}

}  // namespace
}  // namespace orch
