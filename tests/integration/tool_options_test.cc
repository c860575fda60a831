// Registry options on the wrapped command's line reach the tool variables, through the real moat
// binary: `moat explain` shows the index given to pip with -i (and not another program's -i), and
// the plan cache keeps one plan per index, not one per package list.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {
namespace fs = std::filesystem;

struct Output {
  int status = -1;
  std::string text;  // stdout and stderr
};

class ToolOptions : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/moat-toolopt-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    home_ = root_ + "/home";
    project_ = root_ + "/project";
    fs::create_directories(home_);
    fs::create_directories(project_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // moat ARGS in the project, with a small environment of our own (no PIP_* of the caller's).
  Output moat(const std::vector<std::string>& args,
              const std::vector<std::string>& extra_env = {}) {
    int fds[2];
    if (::pipe(fds) != 0) return {};
    pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      if (::chdir(project_.c_str()) != 0) _exit(99);
      std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=" + home_, "LANG=C.UTF-8"};
      env.insert(env.end(), extra_env.begin(), extra_env.end());
      std::vector<char*> envp, argv = {const_cast<char*>("moat")};
      for (std::string& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      std::vector<std::string> copy = args;
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execve(MOAT_BIN, argv.data(), envp.data());
      _exit(98);
    }
    ::close(fds[1]);
    Output out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) out.text.append(buf, n);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return out;
  }

  std::string root_, home_, project_;
};

TEST_F(ToolOptions, ExplainShowsTheIndexGivenToPip) {
  const std::vector<std::string> env = {"PIP_INDEX_URL=http://10.77.0.8/simple"};
  Output pip = moat(
      {"explain", "-p", "pip", "--", "pip", "install", "-i", "http://10.77.0.9/simple", "x"}, env);
  ASSERT_EQ(pip.status, 0) << pip.text;
  EXPECT_NE(pip.text.find("10.77.0.9:80"), std::string::npos) << pip.text;
  EXPECT_EQ(pip.text.find("10.77.0.8:80"), std::string::npos) << pip.text;  // over the env
  Output module = moat({"explain", "-p", "pip", "--", "python3", "-m", "pip", "install",
                        "--index-url=http://10.77.0.9:8080/simple", "x"},
                       env);
  EXPECT_NE(module.text.find("10.77.0.9:8080"), std::string::npos) << module.text;
  // Another program's -i is its own: the environment's index stays the one allowed.
  Output grep = moat({"explain", "-p", "pip", "--", "grep", "-i", "http://10.77.0.9/simple"}, env);
  ASSERT_EQ(grep.status, 0) << grep.text;
  EXPECT_NE(grep.text.find("10.77.0.8:80"), std::string::npos) << grep.text;
  EXPECT_EQ(grep.text.find("10.77.0.9"), std::string::npos) << grep.text;
}

// `pip` here is /bin/sh under pip's name: it writes what the profile handed it from
// ${pip.index-hosts}, so the output shows which plan the run got.
TEST_F(ToolOptions, ThePlanCacheKeysOnTheIndexNotThePackages) {
  const std::string profile = root_ + "/p.yaml";
  std::ofstream(profile) << "version: 1\nextends: base\nenv:\n  set:\n"
                            "    MOAT_TEST_INDEX_HOSTS: \"${pip.index-hosts}\"\n";
  fs::create_symlink("/bin/sh", project_ + "/pip");
  const std::string out = project_ + "/hosts";
  const std::string script = "echo \"$MOAT_TEST_INDEX_HOSTS\" > " + out;
  auto run = [&](const std::string& index, const std::vector<std::string>& packages) {
    std::vector<std::string> args = {"run", "-p",   profile, "--", project_ + "/pip",
                                     "-c",  script, "-i",    index};
    args.insert(args.end(), packages.begin(), packages.end());
    Output o = moat(args);
    EXPECT_EQ(o.status, 0) << o.text;
    std::ifstream in(out);
    std::string line;
    std::getline(in, line);
    return line;
  };
  EXPECT_EQ(run("http://10.77.0.9/simple", {"a"}), "10.77.0.9:80");
  EXPECT_EQ(run("http://10.77.0.10:8080/simple", {"a"}), "10.77.0.10:8080");  // not the first plan
  EXPECT_EQ(run("http://10.77.0.9/simple", {"b", "c"}), "10.77.0.9:80");
  // Two indexes, two entries: the package lists did not make more.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(home_ + "/.cache/moat/plans")) {
    if (e.path().extension() == ".plan") ++entries;
  }
  EXPECT_EQ(entries, 2);
}

}  // namespace
