// The simulator's seed file: who the token belongs to, which tokens work, the GitHub App,
// paging and rate-limit sizes, and the repositories with their collaborators, labels, issues and
// pull requests. Every key is optional; see tools/github-sim/README.md for the format.
//
// LoadSeed is a pure function of the text (and of `wall_now` when the seed fixes no
// "start_time"); thread-safe.
#ifndef ORCH_SIM_SEED_H_
#define ORCH_SIM_SEED_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "state.h"

namespace orch::sim {

struct AppSettings {
  int64_t id = 0;  // 0: no GitHub App
  int64_t installation_id = 0;
  std::string slug = "orch-app";
  std::string name = "orch-app";
  bool enabled() const { return id != 0; }
  std::string bot_login() const { return slug + "[bot]"; }
};

struct Settings {
  std::string authenticated_user = "orch-bot";  // GET /user for a plain token
  std::vector<std::string> tokens;              // empty: any token is accepted
  // X-OAuth-Scopes on answers to a plain token, as for GitHub's classic tokens; "" sends none
  // (fine-grained tokens). Installation tokens never get it.
  std::string oauth_scopes = "repo";
  AppSettings app;
  int per_page_default = 30;
  int rate_limit = 5000;
  std::string html_url = "https://github.com";  // base of every html_url
  // Set: the clock starts there and only ticks (deterministic). Unset: it follows the wall.
  std::optional<int64_t> start_time;
};

struct Seeded {
  Settings settings;
  State state;
};

// Parses `text` (JSON; "" means an empty seed). Fails with InvalidArgument naming the bad key,
// e.g. "seed: repos[0].issues[2].number: must be at least 3".
Result<Seeded> LoadSeed(std::string_view text, int64_t wall_now);

}  // namespace orch::sim

#endif  // ORCH_SIM_SEED_H_
