// Search path: default order, later directories shadow earlier ones, listing with descriptions.
#include <gtest/gtest.h>

#include <filesystem>

#include "policy/resolve.h"
#include "tests/unit/policy_test_util.h"

namespace moat::policy {
namespace {

using namespace testing;
namespace fs = std::filesystem;

TEST(SearchPath, DefaultOrderIsBuiltInThenEtcThenUser) {
  EXPECT_EQ(default_search_path("/home/a"),
            (std::vector<std::string>{MOAT_BUILTIN_PROFILES_DIR, "/etc/moat/profiles",
                                      "/home/a/.config/moat/profiles"}));
}

TEST(SearchPath, ReferencesAndNames) {
  EXPECT_TRUE(is_path_reference("./x"));
  EXPECT_TRUE(is_path_reference("x.yaml"));
  EXPECT_TRUE(is_path_reference("x.yml"));
  EXPECT_FALSE(is_path_reference("npm"));
  EXPECT_TRUE(is_valid_profile_name("python-3.12_x"));
  EXPECT_FALSE(is_valid_profile_name(".hidden"));
  EXPECT_FALSE(is_valid_profile_name("a b"));
  EXPECT_FALSE(is_valid_profile_name(""));
}

class SearchDirs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("moat-search-" + std::string(
                                  ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(root_);
    for (const char* d : {"builtin", "etc", "user"}) fs::create_directories(root_ / d);
    put("builtin/base.yaml", "version: 1\ndescription: built-in base\n");
    put("builtin/npm.yaml", "version: 1\ndescription: npm\n");
    put("etc/npm.yaml", "version: 1\ndescription: site npm\n");
    put("user/npm.yml", "version: 1\ndescription: my npm\n");
    put("user/broken.yaml", "version: [\n");
    put("user/notes.txt", "not a profile");
  }
  void TearDown() override { fs::remove_all(root_); }
  void put(const std::string& rel, const std::string& text) {
    write_text((root_ / rel).string(), text);
  }
  std::vector<std::string> dirs() const {
    return {(root_ / "builtin").string(), (root_ / "etc").string(), (root_ / "user").string(),
            (root_ / "missing").string()};
  }
  fs::path root_;
};

TEST_F(SearchDirs, UserDirectoryWins) {
  EXPECT_EQ(find_profile("npm", dirs()), (root_ / "user/npm.yml").string());
  EXPECT_EQ(find_profile("base", dirs()), (root_ / "builtin/base.yaml").string());
  EXPECT_EQ(find_profile("npm", dirs(), (root_ / "user/npm.yml").string()),
            (root_ / "etc/npm.yaml").string());
  EXPECT_EQ(find_profile("nope", dirs()), std::nullopt);
  EXPECT_EQ(find_profile("../etc/npm", dirs()), std::nullopt);
}

TEST_F(SearchDirs, ListMarksShadowedProfiles) {
  std::vector<ProfileInfo> list = list_profiles(dirs());
  ASSERT_EQ(list.size(), 5u);
  EXPECT_EQ(list[0].name, "base");
  EXPECT_EQ(list[0].description, "built-in base");
  EXPECT_FALSE(list[0].shadowed);
  EXPECT_EQ(list[1].name, "broken");
  EXPECT_EQ(list[1].description, "");
  EXPECT_EQ(list[2].name, "npm");
  EXPECT_EQ(list[2].path, (root_ / "user/npm.yml").string());
  EXPECT_EQ(list[2].description, "my npm");
  EXPECT_FALSE(list[2].shadowed);
  EXPECT_EQ(list[3].path, (root_ / "etc/npm.yaml").string());
  EXPECT_TRUE(list[3].shadowed);
  EXPECT_EQ(list[4].path, (root_ / "builtin/npm.yaml").string());
  EXPECT_TRUE(list[4].shadowed);
}

TEST_F(SearchDirs, CompileByNameUsesTheWinningFile) {
  Context ctx = test_context();
  ctx.search_path = dirs();
  CompileOutput out = compile_profile("npm", ctx, {});
  ASSERT_TRUE(out.plan) << render(out.diagnostics);
  EXPECT_EQ(out.plan->profile_files, std::vector<std::string>{(root_ / "user/npm.yml").string()});
  CompileOutput missing = compile_profile("nope", ctx, {});
  EXPECT_FALSE(missing.plan);
  EXPECT_TRUE(has_code(missing.diagnostics, "profile-not-found"));
}

TEST(SearchPath, BuiltInDirectoryListsBase) {
  bool found = false;
  for (const ProfileInfo& p : list_profiles({builtin_dir()})) found |= p.name == "base";
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace moat::policy
