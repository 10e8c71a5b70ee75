#include "runs/flow.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace orch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

bool KnownAgent(const std::string& name) { return name == "claude" || name == "codex"; }

Flow Parse(const std::string& yaml) {
  Result<Flow> f = ParseFlow(yaml, "flows/t.yml", KnownAgent);
  EXPECT_TRUE(f.ok()) << f.status().message();
  return f.ok() ? *f : Flow{};
}

std::string Problems(const std::string& yaml) {
  Result<Flow> f = ParseFlow(yaml, "flows/t.yml", KnownAgent);
  EXPECT_FALSE(f.ok());
  return f.ok() ? "" : f.status().message();
}

// plan → (code, docs) → review; test after code. code and docs both write src/.
constexpr char kDiamond[] = R"(name: diamond
steps:
  - id: plan
    agent: claude
    prompt: "Plan {{input}}"
  - id: code
    agent: codex
    prompt: "Code to {{ steps.plan.output }}"
    needs: [plan]
    writes: [src]
  - id: docs
    role: writer
    prompt: "Document {{steps.plan.output}}"
    needs: [plan]
    writes: [src/README.md]
  - id: test
    kind: code
    command: [make, test]
    needs: [code]
  - id: review
    agent: claude
    prompt: "Review {{steps.code.output}} after {{steps.plan.output}}"
    needs: [code, docs]
)";

TEST(FlowTest, ParsesStepsAndTheirWaves) {
  Flow f = Parse(kDiamond);
  ASSERT_EQ(f.steps.size(), 5u);
  EXPECT_EQ(f.steps[3].kind, StepKind::kCode);
  EXPECT_THAT(f.steps[3].command, ElementsAre("make", "test"));
  EXPECT_EQ(f.steps[2].role, "writer");
  EXPECT_EQ(f.steps[1].line, 6);
  EXPECT_THAT(StaticWaves(f), ElementsAre(ElementsAre("plan"), ElementsAre("code", "docs"),
                                          ElementsAre("test", "review")));
}

TEST(FlowTest, ACycleIsRejectedWithAMessageNamingIt) {
  std::string p = Problems(R"(name: loop
steps:
  - id: plan
    agent: claude
    prompt: p
    needs: [review]
  - id: code
    agent: claude
    prompt: c
    needs: [plan]
  - id: review
    agent: codex
    prompt: r
    needs: [code]
)");
  EXPECT_THAT(p, HasSubstr("cycle: plan \u2192 code \u2192 review \u2192 plan"));
  EXPECT_THAT(p, HasSubstr("flows/t.yml:3: steps:"));
}

TEST(FlowTest, UnknownStepsAgentsKeysAndPlaceholdersAreErrorsWithFileAndLine) {
  std::string p = Problems(R"(name: bad
steps:
  - id: a
    agent: gpt9
    prompt: "{{steps.b.output}} {{secret}}"
    needs: [nope]
  - id: a
    kind: code
  - id: c
    kind: shell
    colour: red
)");
  EXPECT_THAT(p, HasSubstr("flows/t.yml:3: steps[0].agent: no agent \"gpt9\" is configured"));
  EXPECT_THAT(p, HasSubstr("flows/t.yml:7: steps[1].id: \"a\" is used by an earlier step"));
  EXPECT_THAT(p, HasSubstr("steps[1].command: required for a code step"));
  EXPECT_THAT(p, HasSubstr("steps[2].kind: \"shell\" is not one of agent, code"));
  EXPECT_THAT(p, HasSubstr("flows/t.yml:11: steps[2].colour: unknown key"));
  // References are checked once the steps themselves are sound.
  std::string refs = Problems(R"(name: refs
steps:
  - id: a
    agent: claude
    prompt: "{{steps.b.output}} {{secret}}"
    needs: [nope]
  - id: b
    agent: claude
    prompt: b
)");
  EXPECT_THAT(refs, HasSubstr("flows/t.yml:3: steps[0].needs: unknown step \"nope\""));
  std::string placeholders = Problems(R"(name: refs
steps:
  - id: a
    agent: claude
    prompt: "{{steps.b.output}} {{secret}}"
  - id: b
    agent: claude
    prompt: b
)");
  EXPECT_THAT(placeholders, HasSubstr("{{steps.b.output}}: \"b\" is not a step this one needs"));
  EXPECT_THAT(placeholders, HasSubstr("unknown placeholder {{secret}}"));
  EXPECT_THAT(Problems("steps: [\n"), HasSubstr("flows/t.yml:"));
  EXPECT_THAT(Problems("steps: []\n"), HasSubstr("name: required"));
}

TEST(FlowTest, PromptsUseTheInputAndEarlierOutputs) {
  Flow f = Parse(kDiamond);
  EXPECT_EQ(RenderPrompt(f.steps[4], "x", {{"code", "diff"}, {"plan", "the plan"}}),
            "Review diff after the plan");
  EXPECT_EQ(RenderPrompt(f.steps[0], "issue 7", {}), "Plan issue 7");
}

TEST(FlowTest, WritesOverlapByPathComponents) {
  EXPECT_TRUE(PathsOverlap("src", "src/a.cc"));
  EXPECT_TRUE(PathsOverlap("./src/", "src"));
  EXPECT_TRUE(PathsOverlap(".", "docs"));
  EXPECT_FALSE(PathsOverlap("src", "src2/a.cc"));
  EXPECT_FALSE(PathsOverlap("docs/a.md", "docs/b.md"));
}

TEST(FlowScheduleTest, WavesAdvanceOnTerminalStepsAndWritersNeverOverlap) {
  Flow f = Parse(kDiamond);
  FlowSchedule s(f);
  EXPECT_THAT(s.NextWave(4), ElementsAre("plan"));
  EXPECT_THAT(s.NextWave(4), IsEmpty());  // plan still running
  EXPECT_THAT(s.Finish("plan", true), IsEmpty());
  // code and docs are both ready, but docs writes under code's src/: one at a time.
  EXPECT_THAT(s.NextWave(4), ElementsAre("code"));
  s.Finish("code", true);
  EXPECT_THAT(s.NextWave(4), ElementsAre("docs", "test"));
  s.Finish("test", true);
  EXPECT_THAT(s.NextWave(4), IsEmpty());  // review waits for docs
  s.Finish("docs", true);
  EXPECT_THAT(s.NextWave(4), ElementsAre("review"));
  EXPECT_FALSE(s.Done());
  s.Finish("review", true);
  EXPECT_TRUE(s.Done());
  EXPECT_TRUE(s.Succeeded());
}

TEST(FlowScheduleTest, MaxParallelBoundsAWave) {
  Flow f = Parse(R"(name: fan
steps:
  - {id: a, kind: code, command: [true]}
  - {id: b, kind: code, command: [true]}
  - {id: c, kind: code, command: [true]}
)");
  FlowSchedule s(f);
  EXPECT_THAT(s.NextWave(2), ElementsAre("a", "b"));
  EXPECT_THAT(s.NextWave(2), IsEmpty());
  s.Finish("b", true);
  EXPECT_THAT(s.NextWave(2), ElementsAre("c"));
}

TEST(FlowScheduleTest, AFailureSkipsItsDependentsAndUnrelatedBranchesGoOn) {
  Flow f = Parse(kDiamond);
  FlowSchedule s(f);
  s.NextWave(4);
  s.Finish("plan", true);
  s.NextWave(4);  // code
  EXPECT_THAT(s.Finish("code", false), ElementsAre("test", "review"));
  EXPECT_THAT(s.NextWave(4), ElementsAre("docs"));  // docs does not need code
  EXPECT_FALSE(s.Done());
  s.Finish("docs", true);
  EXPECT_TRUE(s.Done());
  EXPECT_FALSE(s.Succeeded());
  std::string report = s.Report({{"plan", "the plan"}, {"code", "it broke"}, {"docs", "ok"}});
  EXPECT_THAT(report, HasSubstr("# Flow diamond: failed"));
  EXPECT_THAT(report, HasSubstr("## code: failed\n\nit broke\n"));
  EXPECT_THAT(report, HasSubstr("## review: skipped\n\nNot run: it needs code.\n"));
  EXPECT_THAT(report, HasSubstr("## docs: completed\n\nok\n"));
}

TEST(FlowScheduleTest, ARestoredScheduleNeverStartsACompletedStepAgain) {
  Flow f = Parse(kDiamond);
  FlowSchedule s(f);
  s.Restore("plan", StepState::kCompleted);
  s.Restore("code", StepState::kRunning);  // adopted: still running
  s.Restore("nope", StepState::kFailed);   // ignored
  EXPECT_THAT(s.NextWave(4), IsEmpty());   // docs conflicts with the running code
  s.Finish("code", true);
  EXPECT_THAT(s.NextWave(4), ElementsAre("docs", "test"));
  EXPECT_EQ(s.state("plan"), StepState::kCompleted);
  EXPECT_THAT(s.Finish("plan", false), IsEmpty());  // not running: nothing changes
  EXPECT_EQ(s.state("plan"), StepState::kCompleted);
}

TEST(FlowTest, ReviewLoopsReadOnlyStepsAndOtherAgentsAreParsedAndChecked) {
  Flow f = Parse(R"(name: crt
steps:
  - id: code
    role: coder
    prompt: "{{input}}"
  - id: review
    role: reviewer
    needs: [code]
    read_only: true
    not_agent_of: code
    loop_to: code
    max_cycles: 3
    prompt: "Review {{steps.code.output}}"
)");
  const FlowStep* review = f.Find("review");
  ASSERT_NE(review, nullptr);
  EXPECT_TRUE(review->read_only);
  EXPECT_EQ(review->not_agent_of, "code");
  EXPECT_EQ(review->loop_to, "code");
  EXPECT_EQ(review->max_cycles, 3);
  EXPECT_FALSE(f.Find("code")->read_only);
  // A loop may only go back to a step it needs; cycles are bounded; flags are booleans.
  std::string bad = Problems(R"(name: bad
steps:
  - id: a
    agent: claude
    prompt: x
  - id: b
    agent: codex
    prompt: y
    loop_to: a
    max_cycles: 0
    read_only: maybe
    not_agent_of: nobody
)");
  EXPECT_THAT(bad,
              HasSubstr("flows/t.yml:10: steps[1].max_cycles: expected a number from 1 to 20"));
  EXPECT_THAT(bad, HasSubstr("steps[1].read_only: expected true or false"));
  EXPECT_THAT(bad, HasSubstr("steps[1].not_agent_of: unknown step \"nobody\""));
  std::string stray = Problems(R"(name: stray
steps:
  - id: a
    agent: claude
    prompt: x
  - id: b
    agent: codex
    prompt: y
    loop_to: a
)");
  EXPECT_THAT(stray, HasSubstr("steps[1].loop_to: \"a\" is not a step this one needs"));
  // pull_request is the flow's own flag.
  EXPECT_TRUE(Parse("name: pr\npull_request: true\nsteps:\n  - id: a\n    agent: claude\n"
                    "    prompt: x\n")
                  .pull_request);
  EXPECT_FALSE(Parse(kDiamond).pull_request);
  EXPECT_THAT(Problems("name: pr\npull_request: yes please\nsteps:\n  - id: a\n"
                       "    agent: claude\n    prompt: x\n"),
              HasSubstr("flows/t.yml:2: pull_request: expected true or false"));
}

TEST(FlowTest, AFlowSurvivesItsJsonRoundTrip) {
  Flow f = Parse(kDiamond);
  f.model = "opus";
  f.pull_request = true;
  f.steps[1].read_only = true;
  f.steps[1].project = "acme/api";
  Result<Flow> back = FlowFromJson(FlowToJson(f));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(FlowToJson(*back), FlowToJson(f));
  EXPECT_EQ(back->steps.size(), f.steps.size());
  EXPECT_TRUE(back->steps[1].read_only);
  EXPECT_EQ(back->model, "opus");
  EXPECT_TRUE(back->pull_request);
  EXPECT_FALSE(FlowFromJson(nlohmann::json::object()).ok());
}

TEST(FlowTest, AReviewRequestsChangesByItsLastVerdictLine) {
  EXPECT_TRUE(RequestsChanges("Looks risky.\nVERDICT: changes"));
  EXPECT_TRUE(RequestsChanges("- verdict: `changes_requested`"));
  EXPECT_FALSE(RequestsChanges("VERDICT: changes\nFixed now.\nVERDICT: approve"));
  EXPECT_FALSE(RequestsChanges("VERDICT: approve"));
  EXPECT_FALSE(RequestsChanges("No verdict at all; changes would be nice."));
}

TEST(FlowScheduleTest, SkipBlockedSettlesAScheduleRestoredAfterACrash) {
  // The store said `plan` failed, but orch stopped before it skipped the steps after it.
  Flow f = Parse(kDiamond);
  FlowSchedule s(f);
  s.Restore("plan", StepState::kFailed);
  EXPECT_THAT(s.NextWave(8), IsEmpty());
  EXPECT_FALSE(s.Done());
  std::vector<std::string> skipped = s.SkipBlocked();
  EXPECT_EQ(skipped.size(), f.steps.size() - 1);
  EXPECT_TRUE(s.Done());
  EXPECT_FALSE(s.Succeeded());
}

}  // namespace
}  // namespace orch
