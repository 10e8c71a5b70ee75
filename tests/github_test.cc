// The whole intake loop with real parts: the built `orch serve`, the GitHub simulator
// (tools/github-sim) sending signed webhooks to it and answering its REST calls, and SQLite
// files, all over real HTTP on 127.0.0.1.
#include <gmock/gmock.h>
#include <httplib.h>
#include <signal.h>

#include <thread>

#include "github_fixture.h"
#include "store/store.h"

namespace orch::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(GitHubLoopTest, LabellingAnIssueCreatesExactlyOneTask) {
  // Given orch serving webhooks, bob (write access) labels an issue `orch`: GitHub's signed
  // delivery is accepted (202) and one tick later there is exactly one task for the issue.
  Configure();
  StartOrch();
  int number = OpenIssue()["issue"]["number"];
  Json labeled = Label(number, "bob");
  EXPECT_EQ(labeled["delivery"]["status"], 202);
  ASSERT_TRUE(Eventually([&] { return Tasks().size() == 1; })) << Log();
  Json task = Tasks()[0];
  EXPECT_EQ(task["external_id"], std::to_string(number));
  EXPECT_EQ(task["title"], "Fix the frobnicator");
  EXPECT_EQ(task["source"], "github");
  // orch asked GitHub whether bob may start work, with its token.
  std::vector<Json> asked = Requests("/repos/acme/widgets/collaborators/bob/permission");
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0]["authorization_scheme"], "Bearer");
  // The `opened` event started nothing and says why.
  EXPECT_THAT(Deliveries().dump(), HasSubstr("no trigger label"));
  // The token is used, never logged.
  EXPECT_THAT(Log(), HasSubstr("credentials from github.token"));
  EXPECT_THAT(Log(), Not(HasSubstr(kToken)));
}

TEST_F(GitHubLoopTest, TheSameDeliveryTwiceMakesOneTask) {
  Configure();
  StartOrch();
  int number = OpenIssue()["issue"]["number"];
  std::string guid = Label(number, "bob")["delivery"]["guid"];
  ASSERT_TRUE(Eventually([&] { return Tasks().size() == 1; }));
  Json again = Sim("POST", "/_sim/deliveries/" + guid + "/redeliver");
  EXPECT_EQ(again["delivery"]["status"], 200);  // a duplicate: acknowledged, not applied
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a tick or two
  EXPECT_EQ(Tasks().size(), 1u);
  Json stats = OrchJson({"webhook", "stats", "--json"});
  EXPECT_EQ(stats["duplicates"], 1);
  EXPECT_EQ(stats["received"], 3);  // opened, labeled, labeled again
  EXPECT_EQ(stats["applied"], 2);
  EXPECT_EQ(stats["by_event"]["issues.labeled"], 2);

  // `orch webhook redeliver` replays an applied delivery; applying is idempotent.
  int64_t id = 0;
  for (const Json& d : Deliveries()) {
    if (d["delivery_id"] == guid) id = d["id"];
  }
  ProcessResult replay = Orch({"webhook", "redeliver", std::to_string(id)});
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  ASSERT_TRUE(Eventually([&] {
    for (const Json& d : Deliveries()) {
      if (d["id"] == id && d["state"] == "applied") return true;
    }
    return false;
  }));
  EXPECT_THAT(Deliveries().dump(), HasSubstr("already exists"));
  EXPECT_EQ(Tasks().size(), 1u);
  EXPECT_EQ(Orch({"webhook", "redeliver", "9999"}).exit_code, 2);
}

TEST_F(GitHubLoopTest, AFailedApplicationThenARedeliveryIsAppliedOnce) {
  // GitHub fails the permission check, so applying the label event fails and is retried with
  // backoff; GitHub's "redeliver" then makes it due at once, and it is applied exactly once.
  Configure();
  StartOrch();
  int number = OpenIssue()["issue"]["number"];
  Sim("POST", "/_sim/faults",
      {{"method", "GET"},
       {"path_prefix", "/repos/acme/widgets/collaborators"},
       {"status", 502},
       {"count", 1000}});
  std::string guid = Label(number, "bob")["delivery"]["guid"];
  ASSERT_TRUE(Eventually([&] {
    for (const Json& d : Deliveries()) {
      if (d["delivery_id"] == guid && d["state"] == "retrying") return true;
    }
    return false;
  })) << Log();
  EXPECT_THAT(Deliveries().dump(), HasSubstr("HTTP 502"));
  EXPECT_TRUE(Tasks().empty());
  Sim("DELETE", "/_sim/faults");
  Json again = Sim("POST", "/_sim/deliveries/" + guid + "/redeliver");
  EXPECT_EQ(again["delivery"]["status"], 202);  // requeued, due now
  ASSERT_TRUE(Eventually([&] { return Tasks().size() == 1; })) << Log();
  // The backoff's own retry finds it applied and does nothing more.
  std::this_thread::sleep_for(std::chrono::seconds(6));
  EXPECT_EQ(Tasks().size(), 1u);
  for (const Json& d : Deliveries()) {
    if (d["delivery_id"] == guid) {
      EXPECT_EQ(d["state"], "applied");
    }
  }
}

TEST_F(GitHubLoopTest, KillNineRightAfterThe2xxLosesNothingAndAppliesOnce) {
  // GitHub answers orch's permission check slowly, so the label event is acknowledged and
  // stored but not yet applied when orch is killed with SIGKILL. After a restart it is applied
  // exactly once.
  Configure();
  StartOrch();
  int number = OpenIssue()["issue"]["number"];
  Sim("POST", "/_sim/faults",
      {{"method", "GET"},
       {"path_prefix", "/repos/acme/widgets/collaborators"},
       {"delay_ms", 5000},
       {"count", 1}});
  Json labeled = Label(number, "bob");
  ASSERT_EQ(labeled["delivery"]["status"], 202);
  orch_->Signal(SIGKILL);
  orch_->Wait(std::chrono::seconds(5));
  orch_.reset();
  EXPECT_TRUE(Tasks().empty());
  Sim("DELETE", "/_sim/faults");
  StartOrch();
  ASSERT_TRUE(Eventually([&] { return Tasks().size() == 1; })) << Log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(Tasks().size(), 1u);
}

TEST_F(GitHubLoopTest, AnUntrustedLabelerStartsNothingAndTheReasonIsRecorded) {
  Configure();
  StartOrch();
  int number = OpenIssue()["issue"]["number"];
  std::string guid = Label(number, "eve")["delivery"]["guid"];
  ASSERT_TRUE(Eventually([&] {
    for (const Json& d : Deliveries()) {
      if (d["delivery_id"] == guid && d["state"] == "applied") return true;
    }
    return false;
  })) << Log();
  EXPECT_TRUE(Tasks().empty());
  ProcessResult listing = Orch({"webhook", "deliveries"});
  EXPECT_THAT(listing.out, HasSubstr("ignored: untrusted: eve has read access to acme/widgets"));
}

TEST_F(GitHubLoopTest, OrchsOwnLabelChangesStartNothing) {
  // orch-bot has write access, but GitHub's echo of orch's own action must not loop.
  Configure();
  StartOrch();
  int number = OpenIssue()["issue"]["number"];
  httplib::Result r =
      sim_client_->Post("/repos/acme/widgets/issues/" + std::to_string(number) + "/labels",
                        httplib::Headers{{"Authorization", std::string("Bearer ") + kToken}},
                        Json{{"labels", {"orch"}}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  ASSERT_TRUE(Eventually([&] {
    return Deliveries().dump().find("orch's own event") != std::string::npos;
  })) << Log();
  EXPECT_TRUE(Tasks().empty());
}

TEST_F(GitHubLoopTest, WithWebhooksDisabledPollingCreatesTheTask) {
  // Webhooks off, syncing every second.
  ConfigurePolling();
  StartOrch();
  EXPECT_THAT(Log(), HasSubstr("webhook: disabled"));
  int number = OpenIssue()["issue"]["number"];
  Label(number, "bob");
  ASSERT_TRUE(Eventually([&] { return Tasks().size() == 1; })) << Log();
  EXPECT_EQ(Tasks()[0]["external_id"], std::to_string(number));
  // It asked who added the label before trusting it.
  EXPECT_FALSE(
      Requests("/repos/acme/widgets/issues/" + std::to_string(number) + "/events").empty());
}

TEST_F(GitHubLoopTest, AnIdleSyncOfAnUnchangedRepoCostsOnly304s) {
  ConfigurePolling();
  int number = OpenIssue()["issue"]["number"];
  Label(number, "bob");
  StartOrch();
  ASSERT_TRUE(Eventually([&] { return Tasks().size() == 1; })) << Log();
  // Let the cursor settle (the first listing after a change is a new URL), then watch.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  Sim("DELETE", "/_sim/requests");
  int remaining = Sim("GET", "/_sim/rate_limit")["remaining"];
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  std::vector<Json> requests = Requests("/");
  ASSERT_GE(requests.size(), 2u);
  for (const Json& r : requests) {
    // The issues, and the comments that may mention orch (issues' and reviews').
    EXPECT_THAT(
        r["path"].get<std::string>(),
        ::testing::AnyOf("/repos/acme/widgets/issues", "/repos/acme/widgets/issues/comments",
                         "/repos/acme/widgets/pulls/comments"));
    EXPECT_EQ(r["status"], 304) << r.dump();
    EXPECT_EQ(r["if_none_match"], true);
  }
  EXPECT_EQ(Sim("GET", "/_sim/rate_limit")["remaining"], remaining);
}

TEST_F(GitHubLoopTest, AnUnreachableReceiverMeansFallbackSyncsUntilItIsBack) {
  // The health check fetches a URL where nothing listens (as when a tunnel is down): orch logs
  // that it enters polling fallback mode and syncs every fallback_sync_interval; once the URL
  // answers again it leaves fallback mode.
  int health_port = FreePort();
  Configure("  fallback_sync_interval: 1\n  webhook_health_check_interval: 1\n");
  std::string config = ReadFile(home() + "/config.yml");
  config.replace(
      config.find("webhook:\n"), 9,
      "webhook:\n  health_url: http://127.0.0.1:" + std::to_string(health_port) + "/health\n");
  WriteFile(home() + "/config.yml", config);
  StartOrch();
  ASSERT_TRUE(Eventually([&] {
    return Log().find("entering polling fallback mode") != std::string::npos;
  })) << Log();
  Sim("DELETE", "/_sim/requests");
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  // sync_interval is an hour: only fallback mode lists issues this often.
  EXPECT_GE(Requests("/repos/acme/widgets/issues").size(), 2u);

  httplib::Server health;
  health.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  ASSERT_TRUE(health.bind_to_port("127.0.0.1", health_port));
  std::thread serving([&] { health.listen_after_bind(); });
  bool recovered =
      Eventually([&] { return Log().find("exiting polling fallback mode") != std::string::npos; });
  health.stop();
  serving.join();
  EXPECT_TRUE(recovered) << Log();
}

TEST_F(GitHubLoopTest, AGitHubAppAuthenticatesWithAJwtAndActsAsItsBot) {
  // orch holds only the App's private key: it signs a JWT, exchanges it for an installation
  // token, and recognises "<slug>[bot]" as itself.
  WriteFile(dir_.Sub("app.pem"), RsaPrivateKeyPem());
  StartSim({{"app", {{"id", 42}, {"installation_id", 7}, {"slug", "orch-app"}}}},
           {"--app-public-key", dir_.Sub("app.pem")});
  WriteFile(home() + "/config.yml",
            "webhook:\n  secret: " + std::string(kSecret) +
                "\n  port: " + std::to_string(orch_port_) +
                "\ngithub:\n  api_url: http://127.0.0.1:" + std::to_string(sim_port_) +
                "\n  app_id: 42\n  private_key_path: " + dir_.Sub("app.pem") +
                "\nengine:\n  tick_interval: 1\n  sync_interval: 3600\n");
  StartOrch();
  int number = OpenIssue()["issue"]["number"];
  Label(number, "bob");
  ASSERT_TRUE(Eventually([&] { return Tasks().size() == 1; })) << Log();
  EXPECT_THAT(Log(), HasSubstr("credentials from GitHub App 42"));
  EXPECT_THAT(Log(), HasSubstr("acting as orch-app[bot]"));
  EXPECT_FALSE(Requests("/app/installations/7/access_tokens").empty());
  EXPECT_THAT(Log(), Not(HasSubstr("ghs_")));
}

TEST_F(GitHubLoopTest, WebhooksThatStopArrivingAreNoticedByTheSyncAndFallbackSaysWhy) {
  // Issue 22: the receiver is up (its /health answers), but GitHub's deliveries go nowhere, as
  // when a tunnel is down. A label made on GitHub is picked up by the sync, orch enters polling
  // fallback within one sync interval and says why in `orch status` and `orch doctor`; once
  // deliveries arrive again it leaves fallback.
  StartSim({{"start_time", ""}}, {});  // GitHub's clock is the wall clock, as orch's
  Configure("  fallback_sync_interval: 1\n  webhook_health_check_interval: 1\n");
  std::string config = ReadFile(home() + "/config.yml");
  config.replace(config.find("sync_interval: 3600"), 19, "sync_interval: 3");
  WriteFile(home() + "/config.yml", config);
  StartOrch();
  ASSERT_TRUE(Eventually([&] {
    return OrchJson({"status", "--json"})["webhook_mode"] == "webhook";
  })) << Log();
  Sim("POST", "/_sim/webhook", {{"url", "http://127.0.0.1:1/webhook"}, {"secret", kSecret}});
  // As with a token that may not read the repository's webhooks: only the sync can tell.
  Sim("POST", "/_sim/faults",
      {{"method", "GET"},
       {"path_prefix", "/repos/acme/widgets/hooks"},
       {"status", 404},
       {"count", 1000}});
  int number = OpenIssue()["issue"]["number"];
  Json labeled = Label(number, "bob");
  EXPECT_EQ(labeled["delivery"]["status"], 0);  // nothing answered: not delivered
  ASSERT_TRUE(Eventually([&] { return Tasks().size() == 1; }, std::chrono::seconds(10))) << Log();
  // Within one sync interval (3 s) of the sync that picked the label up, and a tick or two.
  ASSERT_TRUE(Eventually(
      [&] {
        return OrchJson({"status", "--json"})["webhook_mode"] == "polling fallback";
      },
      std::chrono::seconds(6)))
      << Log();
  Json status = OrchJson({"status", "--json"});
  std::string why = status.value("webhook_mode_reason", "");
  EXPECT_THAT(why, HasSubstr("acme/widgets #" + std::to_string(number) + " changed"));
  EXPECT_THAT(why, HasSubstr("no webhook delivery"));
  ProcessResult text = Orch({"status"});
  EXPECT_THAT(text.out, HasSubstr("webhooks: polling fallback"));
  EXPECT_THAT(text.out, HasSubstr("why: acme/widgets #"));
  EXPECT_THAT(Log(), HasSubstr("no webhook delivery for it arrived within 3s: entering polling "
                               "fallback mode"));
  ProcessResult doctor = Orch({"doctor", "--json"});
  Json checks = Json::parse(doctor.out, nullptr, false);
  bool said = false;
  ASSERT_TRUE(checks.is_array()) << doctor.out;
  for (const Json& c : checks) {
    if (c["check"] != "webhook deliveries") continue;
    said = c["warning"] == true &&
           c["detail"].get<std::string>().rfind("polling fallback: acme/widgets #", 0) == 0;
  }
  EXPECT_TRUE(said) << doctor.out;

  // Deliveries come back: the next one takes orch out of fallback.
  Sim("POST", "/_sim/webhook", {{"url", WebhookUrl()}, {"secret", kSecret}});
  Json comment =
      Sim("POST", "/_sim/repos/acme/widgets/issues/" + std::to_string(number) + "/comments",
          {{"user", "alice"}, {"body", "any news?"}});
  EXPECT_EQ(comment["delivery"]["status"], 202);
  EXPECT_TRUE(Eventually([&] {
    return OrchJson({"status", "--json"})["webhook_mode"] == "webhook";
  })) << Log();
  EXPECT_THAT(Log(), HasSubstr("webhook deliveries arrive again: exiting polling fallback mode"));
}

TEST_F(GitHubLoopTest, GitHubsRecordOfFailedDeliveriesPutsOrchInFallback) {
  // The token may read the repository's webhooks: GitHub's own record of orch's hook shows the
  // attempts that failed, and orch says so.
  StartSim({{"start_time", ""}}, {});
  Configure("  fallback_sync_interval: 1\n");
  std::string config = ReadFile(home() + "/config.yml");
  config.replace(config.find("sync_interval: 3600"), 19, "sync_interval: 3");
  WriteFile(home() + "/config.yml", config);
  StartOrch();
  Sim("POST", "/_sim/webhook", {{"url", "http://127.0.0.1:1/webhook"}, {"secret", kSecret}});
  EXPECT_EQ(OpenIssue()["delivery"]["status"], 0);
  ASSERT_TRUE(Eventually([&] {
    return OrchJson({"status", "--json"})["webhook_mode"] == "polling fallback";
  })) << Log();
  EXPECT_THAT(OrchJson({"status", "--json"}).value("webhook_mode_reason", ""),
              HasSubstr("GitHub's record of webhook 424242 (http://127.0.0.1:1/webhook) shows its "
                        "last 1 delivery attempt(s) failed"));
  EXPECT_FALSE(Requests("/repos/acme/widgets/hooks/424242/deliveries").empty());
}

}  // namespace
}  // namespace orch::test
