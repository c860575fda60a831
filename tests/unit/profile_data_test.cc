// Data-driven profile tests: every tests/data/bad/x.yaml must produce exactly x.err, every
// tests/data/good/x.yaml must compile without errors (and match x.err when one exists, for
// warnings). MOAT_UPDATE_GOLDEN=1 rewrites the .err files (review the diff before committing).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "tests/unit/policy_test_util.h"

namespace moat::policy {
namespace {

using namespace testing;
namespace fs = std::filesystem;

std::vector<std::string> yaml_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".yaml") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string err_path(const std::string& yaml) {
  return yaml.substr(0, yaml.size() - 5) + ".err";
}

bool updating() { return std::getenv("MOAT_UPDATE_GOLDEN") != nullptr; }

TEST(ProfileData, EveryBadFileHasItsExactDiagnostics) {
  const std::vector<std::string> files = yaml_files(data_dir() + "/bad");
  ASSERT_GE(files.size(), 20u);
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    CompileOutput out = check_profile_file(file, test_context());
    EXPECT_FALSE(out.plan.has_value()) << "a bad profile compiled";
    const std::string got = render(out.diagnostics);
    if (updating()) {
      write_text(err_path(file), got);
      continue;
    }
    ASSERT_TRUE(fs::exists(err_path(file))) << "missing " << err_path(file) << ", got:\n" << got;
    EXPECT_EQ(read_text(err_path(file)), got);
  }
}

TEST(ProfileData, EveryBadErrFileHasItsProfile) {
  for (const auto& e : fs::directory_iterator(data_dir() + "/bad")) {
    if (e.path().extension() != ".err") continue;
    fs::path yaml = e.path();
    yaml.replace_extension(".yaml");
    EXPECT_TRUE(fs::exists(yaml)) << e.path() << " has no profile";
  }
}

TEST(ProfileData, EveryGoodFileCompiles) {
  const std::vector<std::string> files = yaml_files(data_dir() + "/good");
  ASSERT_GE(files.size(), 3u);
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    CompileOutput out = check_profile_file(file, test_context());
    EXPECT_TRUE(out.plan.has_value()) << render(out.diagnostics);
    const std::string got = render(out.diagnostics);
    if (updating() && !got.empty()) write_text(err_path(file), got);
    if (fs::exists(err_path(file))) {
      EXPECT_EQ(read_text(err_path(file)), got);
    } else {
      EXPECT_EQ("", got);
    }
  }
}

TEST(ProfileData, ShippedProfilesCompileCleanly) {
  // The tool profiles read the tools' configuration: a user who named a registry and an index.
  Context ctx = test_context();
  ctx.read_file = [](const std::string& path) -> std::optional<std::string> {
    if (path == "/home/alice/.npmrc") return "registry=https://registry.example.test/\n";
    if (path == "/home/alice/.config/pip/pip.conf") {
      return "[global]\nindex-url = https://index.example.test/simple\n";
    }
    if (path == "/home/alice/.config/uv/uv.toml") {
      return "[[index]]\nurl = \"https://index.example.test/simple\"\ndefault = true\n";
    }
    return std::nullopt;
  };
  for (const std::string& file : yaml_files(builtin_dir())) {
    SCOPED_TRACE(file);
    CompileOutput out = check_profile_file(file, ctx);
    EXPECT_TRUE(out.plan.has_value());
    EXPECT_EQ("", render(out.diagnostics));
  }
}

}  // namespace
}  // namespace moat::policy
