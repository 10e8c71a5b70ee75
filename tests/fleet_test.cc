// The fleet end to end (issue 18): three `orch serve` processes (hosts a, b and c), each with its
// own ORCH_HOME and tmux socket, sharing one PostgreSQL store (a fresh schema of the test
// process's server, testing/postgres_server.h), the GitHub simulator and the agent stand-ins.
// The project is registered once in the shared store. Hosts hear GitHub by polling (a sync
// every second) unless a test turns their webhook receivers on; the simulator sends no webhooks
// (its URL is empty): the webhook test posts a delivery itself.
#include <gmock/gmock.h>
#include <signal.h>

#include <barrier>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "github/webhook_signature.h"
#include "github_fixture.h"
#include "store/sql.h"
#include "testing/postgres_server.h"

namespace orch::test {
namespace {

using Clock = std::chrono::steady_clock;
using ::testing::SizeIs;

constexpr int kLeaseTtl = 3;  // cluster.lease_ttl, seconds; engine.tick_interval is 1 s

struct Host {
  std::string id;
  std::string home;
  std::string socket;
  int webhook_port = 0;
  std::unique_ptr<Background> proc;
};

class FleetTest : public GitHubLoopTest {
 protected:
  void SetUp() override {
    url_ = PostgresServer::Shared().FreshDatabaseUrl();
    StartSim(Json::object(), {});
    Sim("POST", "/_sim/webhook", {{"url", ""}, {"secret", kSecret}});
    std::string checkout = RepoWithStandins();
    extra_env_["ORCH_STORE_URL"] = url_;
    SystemClock clock;
    auto store = std::move(Store::Open(url_, clock)).value();
    ASSERT_TRUE(
        store->AddProject({.name = "acme/widgets", .repo = "acme/widgets", .path = checkout}).ok());
    db_ = sql::OpenPostgres(url_);
  }
  void TearDown() override {
    for (auto& [id, h] : hosts_) {
      if (h.proc) h.proc->Signal(SIGTERM);
    }
    for (auto& [id, h] : hosts_) {
      if (h.proc) h.proc->Wait(std::chrono::seconds(5));
      test::Run({"tmux", "-L", h.socket, "kill-server"});
    }
  }

  std::map<std::string, std::string> HostEnv(const Host& h) const {
    std::map<std::string, std::string> env = Env();
    env["ORCH_HOME"] = h.home;
    env["ORCH_TMUX_SOCKET"] = h.socket;
    return env;
  }
  // Starts `orch serve` as host `id`, running up to `max_parallel` agents; with `webhooks` its
  // receiver listens on a port of its own.
  void StartHost(const std::string& id, int max_parallel, bool webhooks = false) {
    Host& h = hosts_[id];
    h.id = id;
    h.home = dir_.Sub("home-" + id);
    h.socket = tmux_socket_ + "-" + id;
    std::filesystem::create_directories(h.home);
    std::string webhook = "webhook:\n  enabled: false\n";
    if (webhooks) {
      h.webhook_port = FreePort();
      webhook = "webhook:\n  secret: " + std::string(kSecret) +
                "\n  port: " + std::to_string(h.webhook_port) + "\n";
    }
    WriteFile(h.home + "/config.yml",
              webhook + "github:\n  api_url: http://127.0.0.1:" + std::to_string(sim_port_) +
                  "\n  token: " + kToken + "\nengine:\n  tick_interval: 1\n  sync_interval: " +
                  (webhooks ? "3600" : "1") + "\n  max_parallel: " + std::to_string(max_parallel) +
                  "\ncluster:\n  host_id: " + id + "\n  lease_ttl: " + std::to_string(kLeaseTtl) +
                  "s\nrouter:\n  mode: round_robin\n  agents: [claude]\n  breaker_failures: 100\n"
                  "workflow:\n  max_attempts: 3\n  timeout_seconds: 60\n  retry_base_delay: 0\n"
                  "api:\n  port: 0\n");
    h.proc = std::make_unique<Background>(std::vector<std::string>{ORCH_BINARY, "serve"},
                                          HostEnv(h), dir_.Sub("serve-" + id + ".out"));
  }
  void StartHosts(int max_parallel, bool webhooks = false) {
    for (const char* id : {"a", "b", "c"}) StartHost(id, max_parallel, webhooks);
    for (const char* id : {"a", "b", "c"}) {
      ASSERT_TRUE(
          Eventually([&] { return HostLog(id).find("engine: ticking") != std::string::npos; },
                     std::chrono::seconds(20)))
          << id << ": " << ReadFile(dir_.Sub(std::string("serve-") + id + ".out"));
    }
  }
  std::string HostLog(const std::string& id) {
    return ReadFile(hosts_[id].home + "/state/orch.log");
  }
  std::string Logs() {
    std::string out;
    for (auto& [id, h] : hosts_) out += "---- host " + id + "\n" + HostLog(id);
    return out;
  }
  // Kills host `id` as a power cut would: orch with SIGKILL, and the agents it ran with it.
  void KillHost(const std::string& id) {
    Host& h = hosts_[id];
    h.proc->Signal(SIGKILL);
    EXPECT_EQ(h.proc->Wait(std::chrono::seconds(5)), 128 + SIGKILL);
    h.proc.reset();
    test::Run({"tmux", "-L", h.socket, "kill-server"});
    // The hosts share one checkout here, where real hosts each have their own: the dead
    // host's work trees go with it, as they would with its machine.
    std::filesystem::remove_all(h.home + "/worktrees");
    test::Run({"git", "-C", dir_.Sub("work"), "worktree", "prune"});
  }
  // `orch args...` as host `id` would run it.
  Json HostJson(const std::string& id, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {ORCH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = test::Run(argv, dir_.path(), HostEnv(hosts_[id]));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out, nullptr, false);
  }

  // Rows of a query on the shared store, each of its `columns` as text.
  std::vector<std::vector<std::string>> Query(const std::string& q, int columns = 1) {
    sql::Statement s(*db_, q);
    std::vector<std::vector<std::string>> rows;
    while (s.executeStep()) {
      std::vector<std::string> row;
      for (int i = 0; i < columns; ++i) row.push_back(s.getColumn(i).getString());
      rows.push_back(std::move(row));
    }
    return rows;
  }
  int64_t Count(const std::string& q) { return std::stoll(Query(q).at(0).at(0)); }

  // Opens an issue and has bob (write access) label it `orch`; its number.
  int LabelledIssueWith(const std::string& body, const std::string& title) {
    int number = Sim("POST", "/_sim/repos/acme/widgets/issues",
                     {{"user", "alice"}, {"title", title}, {"body", body}})["issue"]["number"];
    Label(number, "bob");
    return number;
  }
  // Polls `pred` every 250 ms (each look runs a query) until it holds or `timeout` passes.
  static bool Within(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return pred();
  }
  int64_t TasksIn(const std::string& status) {
    return Count("SELECT COUNT(*) FROM tasks WHERE status = '" + status + "'");
  }
  // Every pull request, open or not: head branch -> how many.
  std::map<std::string, int> PullsByBranch() {
    std::map<std::string, int> out;
    for (int page = 1;; ++page) {
      Json pulls = Sim(
          "GET", "/repos/acme/widgets/pulls?state=all&per_page=100&page=" + std::to_string(page));
      if (!pulls.is_array() || pulls.empty()) break;
      for (const Json& p : pulls) ++out[p["head"]["ref"].get<std::string>()];
    }
    return out;
  }
  // Checks one PR per task (on the task's branch, the number the task holds) and no repeated
  // comment by orch on any issue.
  void ExpectOnePullRequestAndNoRepeatedCommentPerTask() {
    std::map<std::string, int> pulls = PullsByBranch();
    auto tasks = Query("SELECT external_id, branch, pr_number FROM tasks ORDER BY id", 3);
    EXPECT_EQ(pulls.size(), tasks.size());
    for (const auto& t : tasks) {
      EXPECT_EQ(pulls[t[1]], 1) << "issue " << t[0] << " branch " << t[1];
      EXPECT_FALSE(t[2].empty()) << "issue " << t[0] << " has no PR number";
      Json comments = Sim("GET", "/repos/acme/widgets/issues/" + t[0] + "/comments?per_page=100");
      std::set<std::string> bodies;
      for (const Json& c : comments) {
        if (c["user"]["login"] != "orch-bot") continue;
        EXPECT_TRUE(bodies.insert(c["body"].get<std::string>()).second)
            << "issue " << t[0] << " has this comment twice: " << c["body"];
      }
    }
  }
  // The attempts of the tasks `where` picks, with their agents' output: for failure messages.
  std::string Attempts(const std::string& where) {
    std::string out;
    for (const auto& r : Query("SELECT task_id, attempt, host, outcome, error_class, summary, "
                               "run_dir FROM task_runs WHERE " +
                                   where + " ORDER BY task_id, attempt",
                               7)) {
      out += "task " + r[0] + " attempt " + r[1] + " on " + r[2] + ": " + r[3] + " " + r[4] + " " +
             r[5] + "\n" + ReadFile(r[6] + "/output.log") + "\n";
    }
    return out;
  }
  std::string LeaderOf(const std::string& asked) {
    Json status = HostJson(asked, {"status", "--json"});
    for (const Json& h : status["hosts"]) {
      if (h["leader"].get<bool>()) return h["id"];
    }
    return "";
  }

  std::string url_;
  std::unique_ptr<sql::Connection> db_;
  std::map<std::string, Host> hosts_;
};

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

TEST_F(FleetTest, ThreeHostsTakeSixtyIssuesEachDoneOnceWithOnePullRequest) {
  constexpr int kIssues = 60;
  StartHosts(/*max_parallel=*/4);
  auto start = Clock::now();
  for (int i = 0; i < kIssues; ++i) {
    LabelledIssueWith("standin: write f" + std::to_string(i) + ".txt hello\n",
                      "Task " + std::to_string(i));
  }
  EXPECT_TRUE(Within([&] { return TasksIn("in_review") == kIssues; }, std::chrono::seconds(120)))
      << TasksIn("in_review") << " in review\n"
      << Logs();
  std::printf("[fleet] %d issues to in_review on 3 hosts in %.1f s\n", kIssues,
              SecondsSince(start));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM tasks"), kIssues);
  // Each task reached in_review once, after one attempt.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE to_status = 'in_review'"), kIssues);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM (SELECT task_id FROM events WHERE to_status = "
                  "'in_review' GROUP BY task_id HAVING COUNT(*) > 1) x"),
            0);
  // One attempt did the work for each task. Any other failed to start: the three hosts share
  // one checkout here (real hosts each have their own), and git can trip over another
  // process's `git worktree add` in it ("failed to read .git/worktrees/X/commondir").
  EXPECT_EQ(Count("SELECT COUNT(*) FROM task_runs WHERE outcome = 'done'"), kIssues);
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT task_id) FROM task_runs WHERE outcome = 'done'"), kIssues);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM task_runs WHERE outcome <> 'done' AND NOT (error_class "
                  "= 'spawn' AND summary LIKE '%git worktree%')"),
            0)
      << Attempts("task_id IN (SELECT task_id FROM task_runs WHERE attempt > 1)") << Logs();
  ExpectOnePullRequestAndNoRepeatedCommentPerTask();
  // The attempts were spread over the hosts.
  auto by_host = Query("SELECT host, COUNT(*) FROM task_runs GROUP BY host ORDER BY host", 2);
  std::string spread;
  for (const auto& r : by_host) spread += r[0] + "=" + r[1] + " ";
  std::printf("[fleet] attempts per host: %s\n", spread.c_str());
  EXPECT_GT(by_host.size(), 1u) << spread;
  for (const auto& r : by_host) EXPECT_NE(r[0], "") << spread;
}

TEST_F(FleetTest, AKilledHostsTasksFinishOnTheOthersWithinTheLeaseTtl) {
  constexpr int kIssues = 6;
  StartHosts(/*max_parallel=*/2);
  for (int i = 0; i < kIssues; ++i) {
    LabelledIssueWith("standin: sleep 5000\nstandin: write s" + std::to_string(i) + ".txt x\n",
                      "Slow " + std::to_string(i));
  }
  // Every task running, two per host; the victim is a host that does not lead (the next test
  // kills the leader).
  ASSERT_TRUE(Within([&] { return TasksIn("in_progress") == kIssues; }, std::chrono::seconds(20)))
      << Logs();
  std::string victim = LeaderOf("a") == "b" ? "c" : "b";
  auto theirs =
      Query("SELECT id FROM tasks WHERE lease_owner = '" + victim + "' AND status = 'in_progress'");
  ASSERT_THAT(theirs, SizeIs(2)) << Logs();
  auto killed_at = Clock::now();
  KillHost(victim);
  // Its tasks start again on another host once the lease runs out.
  std::string mine = "(" + theirs[0][0] + ", " + theirs[1][0] + ")";
  ASSERT_TRUE(Within(
      [&] {
        return Count("SELECT COUNT(*) FROM task_runs WHERE task_id IN " + mine + " AND host <> '" +
                     victim + "'") == 2;
      },
      std::chrono::seconds(15)))
      << Attempts("task_id IN " + mine) << Logs();
  double restarted = SecondsSince(killed_at);
  ASSERT_TRUE(Within([&] { return TasksIn("in_review") == kIssues; }, std::chrono::seconds(30)))
      << Logs();
  double finished = SecondsSince(killed_at);
  std::printf(
      "[fleet] host %s killed: its 2 tasks restarted elsewhere after %.1f s, all %d done "
      "after %.1f s (lease_ttl %d s, tick 1 s, agent 5 s)\n",
      victim.c_str(), restarted, kIssues, finished, kLeaseTtl);
  EXPECT_LE(restarted, kLeaseTtl + 3.0);
  // The lost attempts are ended as such; the new ones ran on the living hosts.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM task_runs WHERE task_id IN " + mine + " AND host = '" +
                  victim + "' AND error_class = 'host_lost'"),
            2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM task_runs WHERE task_id IN " + mine + " AND host <> '" +
                  victim + "' AND outcome = 'done'"),
            2);
  ExpectOnePullRequestAndNoRepeatedCommentPerTask();
}

TEST_F(FleetTest, AnotherHostLeadsOnceTheLeaderIsKilledAndNewIssuesStillBecomePullRequests) {
  StartHosts(/*max_parallel=*/2);
  std::string leader;
  ASSERT_TRUE(Within(
      [&] {
        leader = LeaderOf("a");
        return !leader.empty();
      },
      std::chrono::seconds(10)))
      << HostJson("a", {"status", "--json"}).dump() << Logs();
  std::string other = leader == "a" ? "b" : "a";
  auto killed_at = Clock::now();
  KillHost(leader);
  std::string next;
  ASSERT_TRUE(Within(
      [&] {
        next = LeaderOf(other);
        return !next.empty() && next != leader;
      },
      std::chrono::seconds(15)))
      << Logs();
  double took = SecondsSince(killed_at);
  std::printf("[fleet] leader %s killed: %s leads after %.1f s (lease_ttl %d s)\n", leader.c_str(),
              next.c_str(), took, kLeaseTtl);
  EXPECT_LE(took, kLeaseTtl + 2.0);
  // The dashboard's Fleet page (its API, with the host's token) shows the hosts and the leader.
  const Host& seen = hosts_.at(other);
  Json api = Json::parse(ReadFile(seen.home + "/state/api.json"));
  std::string token = ReadFile(seen.home + "/state/api.token");
  while (!token.empty() && token.back() == '\n') token.pop_back();
  httplib::Client client(api["url"].get<std::string>());
  httplib::Result fleet = client.Get("/api/fleet", {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(fleet && fleet->status == 200) << (fleet ? fleet->body : "no answer");
  Json hosts = Json::parse(fleet->body)["hosts"];
  ASSERT_EQ(hosts.size(), 3u) << hosts.dump();
  for (const Json& h : hosts) EXPECT_EQ(h["leader"].get<bool>(), h["id"] == next) << h.dump();
  // The new leader syncs: a newly labelled issue becomes a task and a pull request.
  int number = LabelledIssueWith("standin: write after.txt x\n", "After the leader");
  ASSERT_TRUE(Within(
      [&] {
        return Count("SELECT COUNT(*) FROM tasks WHERE external_id = '" + std::to_string(number) +
                     "' AND status = 'in_review'") == 1;
      },
      std::chrono::seconds(20)))
      << Logs();
  ExpectOnePullRequestAndNoRepeatedCommentPerTask();
}

TEST_F(FleetTest, OneDeliveryPostedToTwoHostsAtOnceIsStoredAndAppliedOnce) {
  StartHosts(/*max_parallel=*/2, /*webhooks=*/true);
  int number = LabelledIssueWith("standin: write hook.txt x\n", "By webhook");
  // The simulator could not send it (no URL): its body, signed as it would have been.
  Json delivery;
  for (const Json& d : Sim("GET", "/_sim/deliveries")) {
    if (d["event"] == "issues" && d["action"] == "labeled") delivery = d;
  }
  ASSERT_TRUE(delivery.is_object());
  std::string body = delivery["body"], guid = delivery["guid"];
  httplib::Headers headers = {{"X-GitHub-Event", "issues"},
                              {"X-GitHub-Delivery", guid},
                              {"X-Hub-Signature-256", SignBody(kSecret, body)}};
  std::barrier together(2);
  int status[2] = {0, 0};
  std::vector<std::thread> posts;
  for (int i = 0; i < 2; ++i) {
    posts.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", hosts_[i == 0 ? "a" : "b"].webhook_port);
      together.arrive_and_wait();
      if (auto r = c.Post("/webhook", headers, body, "application/json")) status[i] = r->status;
    });
  }
  for (std::thread& t : posts) t.join();
  EXPECT_GE(status[0], 200);
  EXPECT_LT(status[0], 300);
  EXPECT_GE(status[1], 200);
  EXPECT_LT(status[1], 300);
  // Stored once, applied once: one row in the shared inbox, one task.
  std::string task_of =
      "SELECT COUNT(*) FROM tasks WHERE external_id = '" + std::to_string(number) + "'";
  ASSERT_TRUE(Within([&] { return Count(task_of) == 1; }, std::chrono::seconds(10))) << Logs();
  Json rows = Json::array();
  ASSERT_TRUE(Within(
      [&] {
        rows = Json::array();
        for (const Json& d : HostJson("c", {"webhook", "deliveries", "--json"})) {
          if (d["delivery_id"] == guid) rows.push_back(d);
        }
        return rows.size() == 1 && rows[0]["state"] == "applied";
      },
      std::chrono::seconds(10)))
      << rows.dump() << Logs();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM webhook_deliveries WHERE delivery_id = '" + guid + "'"), 1);
  EXPECT_EQ(Count(task_of), 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events e JOIN tasks t ON t.id = e.task_id WHERE "
                  "t.external_id = '" +
                  std::to_string(number) + "' AND e.kind = 'created'"),
            1);
}

}  // namespace
}  // namespace orch::test
