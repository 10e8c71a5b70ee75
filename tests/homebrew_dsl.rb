# Loads a Homebrew formula with a stand-in for the part of Homebrew's formula DSL that
# Formula/orch.rb uses. Two uses:
#   ruby tests/homebrew_dsl.rb Formula/orch.rb
#     runs its install and post_install steps and its service block against a fake prefix
#     (/PREFIX), recording what they do instead of doing it, and prints that as JSON.
#     packaging_test.cc reads it to check what the formula really says, not what its text
#     looks like: which home the service runs with, what install runs, the dependencies.
#   ruby tests/homebrew_dsl.rb --test KEG VERSION Formula/orch.rb
#     runs its `test do` block for real against an installed keg (install_test.cc installs
#     one), in a temporary directory as `brew test` does; exits non-zero when it fails.
# Anything the formula calls that this file does not know fails loudly (NoMethodError).
require "json"
require "pathname"
require "tmpdir"

PREFIX = "/PREFIX".freeze

# A path that records mkpath and install instead of touching the disk.
class FakePath
  attr_reader :path

  def initialize(path) = @path = path
  def /(other) = FakePath.new("#{@path}/#{other}")
  def to_s = @path
  alias to_str to_s

  def mkpath
    RECORD[:mkpath] << @path
  end

  def install(*sources)
    RECORD[:installs] << { "into" => @path, "sources" => sources.flatten.map(&:to_s) }
  end
end

RECORD = { mkpath: [], installs: [], systems: [] }.freeze

# What Homebrew's service block is evaluated on (Homebrew::Service), in part.
class FakeService
  attr_reader :fields

  def initialize(formula)
    @formula = formula
    @fields = {}
  end

  %i[run keep_alive log_path error_log_path working_dir environment_variables run_type
     process_type].each do |name|
    define_method(name) do |*args, **kwargs|
      value = kwargs.empty? ? args : [*args, kwargs]
      @fields[name.to_s] = value.length == 1 ? value.first : value
    end
  end

  def opt_bin = @formula.opt_bin
  def var = @formula.var
  def std_service_path_env = "#{PREFIX}/bin:#{PREFIX}/sbin:/usr/bin:/bin:/usr/sbin:/sbin"
end

# What a formula class derives from (Formula), in part.
class Formula
  class << self
    attr_reader :attrs, :deps, :service_block, :test_block

    def inherited(sub)
      super
      sub.instance_variable_set(:@attrs, {})
      sub.instance_variable_set(:@deps, [])
    end

    %i[desc homepage license sha256].each do |name|
      define_method(name) { |value| @attrs[name.to_s] = value }
    end

    def url(value, **options) = @attrs["url"] = [value, options]
    def head(value, **options) = @attrs["head"] = [value, options]

    def depends_on(spec)
      name, kind = spec.is_a?(Hash) ? spec.first : [spec, nil]
      @deps << { "name" => name, "build_only" => kind == :build }
    end

    def service(&block) = @service_block = block
    def test(&block) = @test_block = block
  end

  def prefix = FakePath.new("#{PREFIX}/Cellar/orch/1.0")
  def bin = prefix / "bin"
  def share = prefix / "share"
  def pkgshare = share / "orch"
  def var = FakePath.new("#{PREFIX}/var")
  def opt_bin = FakePath.new("#{PREFIX}/opt/orch/bin")
  def std_cmake_args = ["<std_cmake_args>"]

  def system(*argv)
    RECORD[:systems] << argv.map(&:to_s)
  end
end

# What `brew test` gives a test block, in part: the keg's real paths, a temporary testpath,
# and Homebrew's assertions and helpers.
class FormulaUnderTest < Formula
  FakeVersion = Struct.new(:string) do
    def head? = string.start_with?("HEAD")
    def to_s = string
  end

  def initialize(keg, version, testpath)
    super()
    @keg = Pathname(keg)
    @version = FakeVersion.new(version)
    @testpath = Pathname(testpath)
  end

  attr_reader :testpath

  def version = @version
  def prefix = @keg
  def bin = @keg/"bin"
  def share = @keg/"share"

  def system(*argv)
    Kernel.system(*argv.map(&:to_s)) || raise("failed: #{argv.join(" ")}")
  end

  def shell_output(cmd, result = 0)
    out = `#{cmd}`
    raise "#{cmd}: exit #{$CHILD_STATUS.exitstatus}, not #{result}\n#{out}" if $CHILD_STATUS.exitstatus != result

    out
  end

  def assert(value, message = "assertion failed") = value || raise(message)

  def assert_match(expected, actual)
    ok = expected.is_a?(Regexp) ? expected.match?(actual) : actual.include?(expected)
    ok || raise("#{expected.inspect} does not match #{actual.inspect}")
  end
end

if ARGV[0] == "--test"
  require "English"
  _, keg, version, file = ARGV
  load file
  formula_class = ObjectSpace.each_object(Class).find { |c| c < Formula && c != FormulaUnderTest }
  Dir.mktmpdir do |dir|
    Dir.chdir(dir) do
      runner = FormulaUnderTest.new(keg, version, dir)
      runner.instance_exec(&formula_class.test_block)
    end
  end
  puts "test do: passed"
  exit 0
end

load ARGV.fetch(0)
formula_class = ObjectSpace.each_object(Class).find { |c| c < Formula && c != FormulaUnderTest }
formula = formula_class.new
formula.install
formula.post_install if formula.respond_to?(:post_install)
service = FakeService.new(formula)
service.instance_exec(&formula_class.service_block) if formula_class.service_block

stringify = lambda do |v|
  case v
  when Hash then v.to_h { |k, x| [k.to_s, stringify.call(x)] }
  when Array then v.map { |x| stringify.call(x) }
  when FakePath, Symbol then v.to_s
  else v
  end
end
puts JSON.generate(
  "attrs" => stringify.call(formula_class.attrs),
  "deps" => formula_class.deps,
  "systems" => RECORD[:systems],
  "installs" => RECORD[:installs],
  "mkpath" => RECORD[:mkpath],
  "service" => stringify.call(service.fields),
  "has_test" => !formula_class.test_block.nil?,
)
