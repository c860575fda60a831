// `moat learn` end to end (root: the watch sees the writes): a command that tries to write into
// system directories and to a directory named `${HOME}` must not earn a profile that lets the
// next `moat run -p` write there. Checked from outside: the profile's text and the host's files.
// And a run under the profile whose account has holes is not passed as "no drift".
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "sandbox_harness.h"

namespace moat::testing {
namespace {

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(Learn, RefusedSystemWritesAndDollarNamesAreNotGranted) {
  if (geteuid() != 0) MOAT_SKIP_OR_FAIL("learning writes needs the watch, which needs root");
  Sandbox sb(Identity::kRoot, Account{});
  ASSERT_TRUE(sb.ready()) << sb.error();
  const std::string bin_file = "/usr/local/bin/moat-learn-" + sb.tag();
  const std::string etc_file = "/etc/moat-learn-" + sb.tag();
  const std::string home_file = sb.in_home("moat-learn-canary");
  sb.remove_at_exit(bin_file);
  sb.remove_at_exit(etc_file);
  sb.remove_at_exit("/${HOME}");
  sb.write_file(home_file, "before\n");
  const std::string profile = sb.in_outside("learned.yaml");
  // Every attempt is refused while learning; `|| true` keeps the command's status out of it.
  const std::string attempts = "(echo x > " + bin_file + ") 2>/dev/null; (echo x > " + etc_file +
                               ") 2>/dev/null; mkdir '/${HOME}' 2>/dev/null; true";

  RunSpec learn;
  learn.argv = {moat_binary(), "learn", "-p",      "base", "--out",
                profile,       "--",    "/bin/sh", "-c",   attempts};
  learn.timeout_s = 120;
  RunResult learned = sb.run(learn);
  ASSERT_EQ(learned.status, 0) << learned.describe();
  const std::string yaml = read_file(profile);
  ASSERT_FALSE(yaml.empty()) << learned.describe();
  EXPECT_FALSE(contains(yaml, "\"/usr/local/bin\"")) << yaml;
  EXPECT_FALSE(contains(yaml, "\"/etc\"")) << yaml;
  EXPECT_FALSE(contains(yaml, "\"/${HOME}\"")) << yaml;
  // Listed, in the profile and on the terminal, so the user sees what was left out.
  for (const std::string& left_out : {std::string("/usr/local/bin"), std::string("/etc")}) {
    EXPECT_TRUE(contains(yaml, "# not learned: " + left_out + " ")) << yaml;
    EXPECT_TRUE(contains(learned.err, "not learned: " + left_out + " ")) << learned.describe();
  }

  // The profile in use: the same writes, and one to the home a `${HOME}` grant would open.
  const std::string again = attempts + "; (echo after > " + home_file + ") 2>/dev/null; true";
  RunResult run = sb.moat({"/bin/sh", "-c", again}, {"-p", profile});
  EXPECT_EQ(run.status, 0) << run.describe();
  EXPECT_FALSE(exists(bin_file)) << "written on the host through the learned profile";
  EXPECT_FALSE(exists(etc_file)) << "written on the host through the learned profile";
  EXPECT_EQ(read_file(home_file), "before\n") << "the home was writable:\n" << yaml;
}

// A run whose watch lost events cannot show that it did not drift: --fail-on-drift fails it, and
// without the flag the drift line says the account is incomplete.
TEST(Learn, FailOnDriftFailsARunWhoseAccountIsIncomplete) {
  if (geteuid() != 0) MOAT_SKIP_OR_FAIL("the watch needs root (BPF)");
  Sandbox sb(Identity::kRoot, Account{});
  ASSERT_TRUE(sb.ready()) << sb.error();
  const std::string profile = sb.in_outside("learned.yaml");
  RunSpec learn;
  learn.argv = {moat_binary(), "learn", "-p", "base", "--out", profile, "--", "/bin/true"};
  RunResult learned = sb.run(learn);
  ASSERT_EQ(learned.status, 0) << learned.describe();
  // Writes in the project only (no drift), in a burst a 4 KiB ring cannot hold.
  const std::vector<std::string> burst = {
      "/bin/sh", "-c",
      "mkdir many && i=0; while [ $i -lt 3000 ]; do : > many/f$i; i=$((i+1)); done"};
  RunSpec tiny_ring;
  tiny_ring.timeout_s = 120;
  tiny_ring.env.push_back({"MOAT_WATCH_RING_BYTES", "4096"});
  RunResult strict = sb.moat(burst, {"-p", profile, "--fail-on-drift"}, tiny_ring);
  ASSERT_TRUE(contains(strict.err, "events were lost")) << "nothing lost: " << strict.describe();
  EXPECT_EQ(strict.status, 1) << strict.describe();
  EXPECT_TRUE(contains(strict.err, "moat: drift: unknown")) << strict.describe();
  RunResult lenient =
      sb.moat({"/bin/sh", "-c", "rm -rf many && " + burst[2]}, {"-p", profile}, tiny_ring);
  EXPECT_EQ(lenient.status, 0) << lenient.describe();
  EXPECT_TRUE(contains(lenient.err, "incomplete")) << lenient.describe();
}

}  // namespace
}  // namespace moat::testing
