# Homebrew formula for orch. Release steps in AGENTS.md update url and sha256.
class Orch < Formula
  desc "Turns labelled GitHub issues into pull requests written by AI coding agents"
  homepage "https://github.com/orch-dev/orch" # placeholder until the public repository exists
  url "https://github.com/orch-dev/orch/archive/refs/tags/v0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "MIT"
  head "https://github.com/orch-dev/orch.git", branch: "main"

  depends_on "cmake" => :build
  depends_on "pkg-config" => :build
  depends_on "cli11" => :build
  depends_on "cpp-httplib" => :build
  depends_on "googletest" => :build
  depends_on "google-benchmark" => :build
  depends_on "nlohmann-json" => :build
  depends_on "git"
  depends_on "libgit2"
  depends_on "openssl@3"
  depends_on "spdlog"
  depends_on "sqlite"
  depends_on "sqlitecpp" # not in homebrew-core yet: needs a tap or vendoring before release
  depends_on "tmux"
  depends_on "yaml-cpp"

  def install
    system "cmake", "-S", ".", "-B", "build", *std_cmake_args
    system "cmake", "--build", "build", "--target", "orch"
    bin.install "build/orch"
    (share/"orch").install "prompts", "config.example.yml"
  end

  # The service DSL sets no descriptor limit; `orch serve` raises its own soft limit to the hard
  # one (at most 10,240 on macOS) so the webhook receiver is not capped at launchd's 256.
  service do
    run [opt_bin/"orch", "serve"]
    keep_alive true
    working_dir var/"orch"
    log_path var/"log/orch.log"
    error_log_path var/"log/orch.error.log"
    # orch rotates its own log under ORCH_HOME/state; stderr keeps only what comes before it.
    environment_variables PATH: std_service_path_env, ORCH_HOME: var/"orch", ORCH_LOG_STDERR: "0"
  end

  test do
    assert_match "orch #{version}", shell_output("#{bin}/orch version")
    system bin/"orch", "config", "validate", share/"orch/config.example.yml"
  end
end
