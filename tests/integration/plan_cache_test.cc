// The plan cache never serves a stale plan: editing the profile, or adding a user profile that
// shadows it, changes what the next `moat run` enforces. Runs the real moat binary.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "cli/plan_cache_format.h"

namespace {
namespace fs = std::filesystem;

struct Run {
  int status;
};

class PlanCache : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/moat-cache-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    home_ = root_ + "/home";
    project_ = root_ + "/project";
    fs::create_directories(home_);
    fs::create_directories(project_);
    fs::create_directories(root_ + "/extra");
  }
  void TearDown() override { fs::remove_all(root_); }

  // Runs `moat run -p PROFILE -- sh -c 'echo x > EXTRA/f'` in the project; exit status.
  int run(const std::string& profile) {
    pid_t pid = ::fork();
    if (pid == 0) {
      if (::chdir(project_.c_str()) != 0) _exit(99);
      ::setenv("HOME", home_.c_str(), 1);
      ::unsetenv("MOAT_NO_PLAN_CACHE");
      std::string cmd = "echo x > " + root_ + "/extra/f";
      ::execl(MOAT_BIN, "moat", "run", "-p", profile.c_str(), "--", "/bin/sh", "-c", cmd.c_str(),
              static_cast<char*>(nullptr));
      _exit(98);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  void write_profile(const std::string& path, bool allow_extra) {
    std::ofstream out(path);
    out << "version: 1\nextends: base\n";
    if (allow_extra) out << "filesystem:\n  write: [\"" << root_ << "/extra\"]\n";
  }

  std::string root_, home_, project_;
};

TEST_F(PlanCache, EditingTheProfileChangesTheNextRun) {
  std::string profile = root_ + "/p.yaml";
  write_profile(profile, false);
  EXPECT_NE(run(profile), 0);  // compiled, cached
  EXPECT_NE(run(profile), 0);  // from the cache
  EXPECT_FALSE(fs::exists(root_ + "/extra/f"));
  ASSERT_TRUE(fs::exists(home_ + "/.cache/moat/plans"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write_profile(profile, true);
  EXPECT_EQ(run(profile), 0);
  EXPECT_TRUE(fs::exists(root_ + "/extra/f"));
  // And back: the wider plan must not be served after the grant is removed.
  fs::remove(root_ + "/extra/f");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write_profile(profile, false);
  EXPECT_NE(run(profile), 0);
  EXPECT_FALSE(fs::exists(root_ + "/extra/f"));
}

TEST_F(PlanCache, AUserProfileShadowingTheBuiltInIsSeen) {
  EXPECT_NE(run("base"), 0);
  EXPECT_NE(run("base"), 0);
  fs::create_directories(home_ + "/.config/moat/profiles");
  {
    std::ofstream out(home_ + "/.config/moat/profiles/base.yaml");
    out << "version: 1\nextends: base\nfilesystem:\n  write: [\"" << root_ << "/extra\"]\n";
  }
  EXPECT_EQ(run("base"), 0);
  EXPECT_TRUE(fs::exists(root_ + "/extra/f"));
}

// An entry someone else could have written (group/world-writable) is not trusted. The control
// shows the poisoned entry would widen the sandbox if it were.
TEST_F(PlanCache, AnUntrustedCacheFileIsIgnored) {
  EXPECT_NE(run("base"), 0);
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(home_ + "/.cache/moat/plans")) {
    entries.push_back(e.path());
  }
  ASSERT_EQ(entries.size(), 1u);
  auto poison = [&](fs::perms perms) {
    std::ifstream in(entries[0], std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto entry = moat::cli::decode_cache_entry(bytes);
    ASSERT_TRUE(entry.has_value());
    entry->plan.paths.push_back({root_ + "/extra", 3, {"poison", 0, 0}});
    std::ofstream(entries[0], std::ios::binary | std::ios::trunc)
        << moat::cli::encode_cache_entry(*entry);
    fs::permissions(entries[0], perms);
  };
  poison(fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_write |
         fs::perms::others_write | fs::perms::group_read | fs::perms::others_read);
  EXPECT_NE(run("base"), 0);
  EXPECT_FALSE(fs::exists(root_ + "/extra/f"));
  // Control: the same entry, private to its owner, is used as it is.
  poison(fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(run("base"), 0);
  EXPECT_TRUE(fs::exists(root_ + "/extra/f"));
}

// Every field survives the cache: an entry read back encodes to the very same bytes, and a
// truncated or extended entry is a miss.
TEST_F(PlanCache, EntriesRoundTripAndDamagedOnesAreMisses) {
  EXPECT_NE(run("base"), 0);
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(home_ + "/.cache/moat/plans")) {
    entries.push_back(e.path());
  }
  ASSERT_EQ(entries.size(), 1u);
  std::ifstream in(entries[0], std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto entry = moat::cli::decode_cache_entry(bytes);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(moat::cli::encode_cache_entry(*entry), bytes);
  EXPECT_EQ(entry->plan.profile_name, "base");
  EXPECT_FALSE(entry->plan.paths.empty());
  EXPECT_FALSE(entry->plan.deny.empty());
  EXPECT_FALSE(entry->plan.protect.empty());
  EXPECT_EQ(entry->plan.home, home_);
  EXPECT_FALSE(moat::cli::decode_cache_entry(bytes.substr(0, bytes.size() - 1)).has_value());
  EXPECT_FALSE(moat::cli::decode_cache_entry(bytes + "x").has_value());
  EXPECT_FALSE(moat::cli::decode_cache_entry(std::string(64, '\xff')).has_value());
}

// A plan built from a tool's configuration depends on its files: creating, editing and removing
// the project's .npmrc each change what the next run enforces (here npm's cache, a write grant,
// set by the user file; the project file cannot move it, which the last step shows).
TEST_F(PlanCache, EditingAnNpmrcChangesTheNextRun) {
  std::string profile = root_ + "/npm-like.yaml";
  {
    std::ofstream out(profile);
    out << "version: 1\nextends: base\nfilesystem:\n  write: [\"${npm.cache}\"]\n";
  }
  EXPECT_NE(run(profile), 0);  // ~/.npm: the extra directory is not writable
  EXPECT_NE(run(profile), 0);  // from the cache
  EXPECT_FALSE(fs::exists(root_ + "/extra/f"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::ofstream(home_ + "/.npmrc") << "cache=" << root_ << "/extra\n";  // created: a miss
  EXPECT_EQ(run(profile), 0);
  EXPECT_TRUE(fs::exists(root_ + "/extra/f"));
  fs::remove(root_ + "/extra/f");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::ofstream(home_ + "/.npmrc") << "cache=" << root_ << "/other\n";  // edited: a miss
  EXPECT_NE(run(profile), 0);
  EXPECT_FALSE(fs::exists(root_ + "/extra/f"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::ofstream(home_ + "/.npmrc") << "cache=" << root_ << "/extra\n";
  EXPECT_EQ(run(profile), 0);
  fs::remove(root_ + "/extra/f");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  fs::remove(home_ + "/.npmrc");  // removed: a miss
  EXPECT_NE(run(profile), 0);
  EXPECT_FALSE(fs::exists(root_ + "/extra/f"));
  // The project's .npmrc is read (registries) but does not choose a writable directory.
  std::ofstream(project_ + "/.npmrc") << "cache=" << root_ << "/extra\n";
  EXPECT_NE(run(profile), 0);
  EXPECT_FALSE(fs::exists(root_ + "/extra/f"));
}

}  // namespace
