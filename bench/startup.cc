// bench/startup: median wall time of `moat run -p base -- true` against bare `true` and against
// bubblewrap with a comparable configuration, measured interleaved in one run.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace {

// `home`, when set, replaces HOME: each moat binary compared keeps its own plan cache (an entry
// is stamped with the binary that wrote it, so two binaries sharing one would miss every time).
double run_once(const std::vector<std::string>& argv, const std::string& home) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string var = *e;
    if (!home.empty() && var.rfind("HOME=", 0) == 0) var = "HOME=" + home;
    env_storage.push_back(var);
  }
  std::vector<char*> env;
  for (std::string& e : env_storage) env.push_back(e.data());
  env.push_back(nullptr);
  auto start = std::chrono::steady_clock::now();
  pid_t pid;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), env.data()) != 0) {
    std::fprintf(stderr, "cannot start %s\n", args[0]);
    std::exit(2);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  auto end = std::chrono::steady_clock::now();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "%s failed (status %d)\n", args[0], status);
    std::exit(2);
  }
  return std::chrono::duration<double, std::milli>(end - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_startup MOAT [ROUNDS [OTHER_MOAT...]]\n");
    return 2;
  }
  std::string moat = argv[1];
  int rounds = argc > 2 ? std::atoi(argv[2]) : 200;
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return 2;
  std::string project = cwd;

  struct Case {
    std::string name;
    std::vector<std::string> argv;
    std::vector<double> samples;
    std::string home;
  };
  std::vector<Case> cases = {
      {"bare", {"/bin/true"}, {}, {}},
      {"bwrap", {"bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/",
                 "/", "--bind", project, project, "--proc", "/proc", "--dev", "/dev", "--tmpfs",
                 "/tmp", "--cap-drop", "ALL", "--", "/bin/true"}, {}, {}},
      {"moat", {moat, "run", "-p", "base", "--", "/bin/true"}, {}, {}},
  };
  bool have_bwrap = access("/usr/bin/bwrap", X_OK) == 0;
  if (!have_bwrap) cases.erase(cases.begin() + 1);
  // Other moat builds (say, the main branch's) measured in the same rounds, each with a HOME of
  // its own under $HOME/.cache/moat-bench-N.
  const char* home = std::getenv("HOME");
  for (int i = 3; i < argc; ++i) {
    std::string other_home =
        std::string(home != nullptr ? home : "/tmp") + "/.cache/moat-bench-" + std::to_string(i - 2);
    std::string mkdir = "mkdir -p " + other_home;
    if (std::system(mkdir.c_str()) != 0) return 2;
    cases.push_back({"moat#" + std::to_string(i - 2), {argv[i], "run", "-p", "base", "--", "/bin/true"},
                     {}, other_home});
  }
  for (Case& c : cases) run_once(c.argv, c.home);  // warm caches
  // Each round starts one case later: a case never always follows the same one (a run's
  // deferred kernel work, such as a network namespace's cleanup, lands on whatever comes next).
  for (int i = 0; i < rounds; ++i) {
    for (size_t k = 0; k < cases.size(); ++k) {
      Case& c = cases[(k + static_cast<size_t>(i)) % cases.size()];
      c.samples.push_back(run_once(c.argv, c.home));
    }
  }
  double bare = median(cases.front().samples);
  std::printf("startup, median of %d interleaved runs (cwd %s):\n", rounds, project.c_str());
  for (Case& c : cases) {
    std::printf("  %-6s %8.2f ms%s%s\n", c.name.c_str(), median(c.samples),
                c.home.empty() ? "" : "  ", c.home.empty() ? "" : c.argv[0].c_str());
  }
  double moat_ms = median(cases[have_bwrap ? 2 : 1].samples);
  std::printf("ratio: moat/bare = %.2fx", moat_ms / bare);
  if (have_bwrap) std::printf(", moat/bwrap = %.2fx", moat_ms / median(cases[1].samples));
  for (size_t i = have_bwrap ? 3 : 2; i < cases.size(); ++i) {
    std::printf(", moat - %s = %+.2f ms", cases[i].name.c_str(),
                moat_ms - median(cases[i].samples));
  }
  std::printf("\n");
  return 0;
}
