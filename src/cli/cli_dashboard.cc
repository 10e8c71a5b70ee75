// `orch dashboard`: a one-time login URL for the daemon's web page (dashboard/auth.h), printed,
// and opened in the browser when there is a desktop to open it on.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "base/subprocess.h"
#include "cli/cli.h"
#include "dashboard/auth.h"
#include "stream/api_client.h"

namespace orch {
namespace {

// The program that opens a URL on this desktop, or "" when there is no desktop: not a
// terminal (a script, a service), or no display on Linux.
std::string Opener(const Context& ctx) {
  if (!isatty(STDOUT_FILENO)) return "";
  if (ThisOs() == Os::kMacOS) return "open";
  bool display =
      ctx.env("DISPLAY").value_or("") != "" || ctx.env("WAYLAND_DISPLAY").value_or("") != "";
  return display ? "xdg-open" : "";
}

class DashboardCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.add_flag("--no-open", no_open_, "Print the URL only; do not open a browser");
  }
  Status Run(Context& ctx) override {
    Result<Home> home = ctx.home();
    if (!home.ok()) return home.status();
    Result<ApiAddress> api = ReadApiAddress(*home);
    if (!api.ok()) return api.status();
    Result<std::string> code = CreateLoginCode(*home, ctx.clock.NowUnix());
    if (!code.ok()) return code.status();
    std::string url = api->url + "/login?code=" + *code;
    ctx.out << url << "\n(one use, good for " << kLoginCodeTtl / 60 << " minutes)\n";
    ctx.out.flush();
    std::string opener = no_open_ ? "" : Opener(ctx);
    if (opener.empty()) return Status::OK();
    // The browser must not write over this terminal, nor hold it.
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    Result<pid_t> pid = Spawn({.argv = {opener, url},
                               .env = ChildEnvironment({}, {}),
                               .fds = {{0, null_fd}, {1, null_fd}, {2, null_fd}}});
    if (null_fd >= 0) close(null_fd);
    if (!pid.ok())
      ctx.err << "orch: could not run " << opener << ": " << pid.status().message() << "\n";
    return Status::OK();
  }

 private:
  bool no_open_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeDashboardCommand() { return std::make_unique<DashboardCommand>(); }

}  // namespace orch
