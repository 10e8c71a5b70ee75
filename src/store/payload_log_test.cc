#include "store/payload_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "testing/test_util.h"

namespace orch {
namespace {

class PayloadLogTest : public ::testing::Test {
 protected:
  std::string LogDir() const { return PayloadLog::DirFor(dir_.Sub("orch.db")); }
  std::vector<PayloadRef> Append(PayloadLog& log, const std::vector<std::string_view>& ps) {
    Result<std::vector<PayloadRef>> r = log.Append(ps);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : std::vector<PayloadRef>();
  }

  test::TempDir dir_;
};

TEST_F(PayloadLogTest, ReadsBackWhatOneAppendWrote) {
  PayloadLog log(LogDir());
  std::vector<PayloadRef> refs = Append(log, {"{\"a\":1}", "", std::string(20000, 'x')});
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs[0].segment, refs[2].segment);
  EXPECT_EQ(log.Read(refs[0]).value(), "{\"a\":1}");
  EXPECT_EQ(log.Read(refs[1]).value(), "");
  EXPECT_EQ(log.Read(refs[2]).value(), std::string(20000, 'x'));
}

TEST_F(PayloadLogTest, SurvivesReopeningAndANewWriterTakesANewSegment) {
  // Given a payload written by one writer that then went away (as after kill -9),
  // another writer neither overwrites nor shares its segment.
  PayloadRef first;
  {
    PayloadLog log(LogDir());
    first = Append(log, {"first"})[0];
  }
  PayloadLog again(LogDir());
  PayloadRef second = Append(again, {"second"})[0];
  EXPECT_GT(second.segment, first.segment);
  EXPECT_EQ(again.Read(first).value(), "first");
  EXPECT_EQ(again.Read(second).value(), "second");
}

TEST_F(PayloadLogTest, MissingSegmentIsNotFoundAndShortOneIsCorruption) {
  PayloadLog log(LogDir());
  PayloadRef ref = Append(log, {"payload"})[0];
  PayloadRef past = ref;
  past.offset += 100;
  Result<std::string> short_read = log.Read(past);
  ASSERT_FALSE(short_read.ok());
  EXPECT_EQ(short_read.status().code(), StatusCode::kCorruption);
  ASSERT_EQ(::unlink(log.SegmentPath(ref.segment).c_str()), 0);
  Result<std::string> missing = log.Read(ref);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().message();
  EXPECT_NE(missing.status().message().find("missing"), std::string::npos);
}

TEST_F(PayloadLogTest, PruneDeletesOnlyOldUnneededSegmentsOtherThanTheCurrentOne) {
  PayloadRef a, b;
  {
    PayloadLog old_writer(LogDir());
    a = Append(old_writer, {"a"})[0];
  }
  {
    PayloadLog old_writer(LogDir());
    b = Append(old_writer, {"b"})[0];
  }
  PayloadLog log(LogDir());
  PayloadRef c = Append(log, {"c"})[0];
  int64_t future = ::time(nullptr) + 10;  // every segment counts as old
  EXPECT_EQ(log.Prune({b.segment}, ::time(nullptr) - 3600).value(), 0);  // none old enough
  EXPECT_EQ(log.Prune({b.segment}, future).value(), 1);
  EXPECT_FALSE(log.Read(a).ok());
  EXPECT_EQ(log.Read(b).value(), "b");
  EXPECT_EQ(log.Read(c).value(), "c");  // still being written
}

TEST_F(PayloadLogTest, PruningBeforeAnyAppendFindsNothingToDelete) {
  // Regression: the engine prunes hourly even when no webhook ever arrived.
  PayloadLog log(LogDir());
  Result<int> pruned = log.Prune({}, ::time(nullptr) + 10);
  ASSERT_TRUE(pruned.ok()) << pruned.status().message();
  EXPECT_EQ(*pruned, 0);
}

TEST_F(PayloadLogTest, ImpossibleReferenceIsCorruptionNotACrash) {
  PayloadLog log(LogDir());
  Append(log, {"x"});
  Result<std::string> r = log.Read({1, 0, int64_t{1} << 40});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace orch
