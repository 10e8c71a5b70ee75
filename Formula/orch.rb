# Homebrew formula for orch. This repository is its own tap:
#   brew tap orch-dev/orch https://github.com/orch-dev/orch
#   brew install orch            # the release below; --HEAD for main
# scripts/release VERSION rewrites url and sha256 (AGENTS.md, "Releasing"). orch-dev is a
# placeholder owner until the public repository exists; README.md and scripts/release read it
# from the head line below.
class Orch < Formula
  desc "Turns labelled GitHub issues into pull requests written by AI coding agents"
  homepage "https://github.com/orch-dev/orch"
  url "https://github.com/orch-dev/orch/releases/download/v0.1.0/orch-0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "MIT"
  head "https://github.com/orch-dev/orch.git", branch: "main"

  # All in homebrew-core. Header-only libraries are needed to build only. git comes with macOS's
  # command line tools, which Homebrew requires.
  depends_on "cli11" => :build
  depends_on "cmake" => :build
  depends_on "cpp-httplib" => :build
  depends_on "nlohmann-json" => :build
  depends_on "pkgconf" => :build
  depends_on "libgit2"
  depends_on "libpq"
  depends_on "libuv"
  depends_on "openssl@3"
  depends_on "spdlog"
  depends_on "sqlite"
  depends_on "tmux"
  depends_on "yaml-cpp"

  def install
    # No tests or benchmarks: neither GoogleTest nor Google Benchmark is needed.
    system "cmake", "-S", ".", "-B", "build", "-DBUILD_TESTING=OFF", "-DORCH_BUILD_BENCH=OFF",
                    "-DORCH_WERROR=OFF", *std_cmake_args
    system "cmake", "--build", "build"
    # bin/orch and the demo's orch-github-sim and orch-agent-standin beside it; prompts/, flows/
    # and config.example.yml in share/orch, where orch looks for them (<its bin>/../share/orch).
    system "cmake", "--install", "build"
  end

  def post_install
    (var/"log/orch").mkpath
  end

  # No ORCH_HOME here: the service uses the CLI's own default ($ORCH_HOME, else ~/.orch), so
  # `orch status` in a shell and the service see the same tasks. `orch serve` raises its own
  # descriptor limit (the service DSL sets none) and keeps its log under ~/.orch/state; launchd's
  # stdout and stderr go to var/log/orch.
  service do
    run [opt_bin/"orch", "serve"]
    keep_alive true
    log_path var/"log/orch/orch.log"
    error_log_path var/"log/orch/orch.error.log"
    environment_variables PATH: std_service_path_env, ORCH_LOG_STDERR: "0"
  end

  test do
    ENV["ORCH_HOME"] = (testpath/"orch").to_s
    ENV["ORCH_TMUX_SOCKET"] = "orch-brew-test"
    expected = version.head? ? /^orch \d+\.\d+\.\d+/ : /^orch #{Regexp.escape(version.to_s)}/
    assert_match expected, shell_output("#{bin}/orch version")
    system bin/"orch", "config", "validate", pkgshare/"config.example.yml"

    # The offline demo, headless: the GitHub simulator, the stand-in agent and orch serve, all on
    # 127.0.0.1. Labelling issue #1 must reach orch's webhook receiver and be accepted.
    log = testpath/"demo.log"
    pid = spawn("#{bin}/orch", "demo", "start", [:out, :err] => log.to_s)
    begin
      banner = false
      60.times do
        banner = log.exist? && log.read.include?("demo label 1")
        break if banner

        sleep 1
      end
      assert banner, "orch demo start printed no banner:\n#{log.exist? ? log.read : ""}"
      ENV["ORCH_HOME"] = (testpath/"orch/demo").to_s
      ENV["ORCH_TMUX_SOCKET"] = "orch-brew-test-demo"
      assert_match "orch answered 202", shell_output("#{bin}/orch demo label 1")
    ensure
      Process.kill("TERM", pid)
      Process.wait(pid)
    end
  end
end
