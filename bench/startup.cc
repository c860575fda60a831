// bench/startup: median wall time of `moat run -p base -- true` against bare `true` and against
// bubblewrap with a comparable configuration, measured interleaved in one run.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace {

// The environment of a case: ours without MOAT_SANDBOXD_SOCKET, plus the case's own.
std::vector<std::string> environment_with(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "MOAT_SANDBOXD_SOCKET=", 21) != 0) env.push_back(*e);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

double run_once(const std::vector<std::string>& argv, const std::vector<std::string>& env_strings) {
  std::vector<char*> env;
  for (const std::string& e : env_strings) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
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
    std::vector<std::string> env = environment_with({});
  };
  std::vector<Case> cases = {
      {"bare", {"/bin/true"}, {}},
      {"bwrap", {"bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/",
                 "/", "--bind", project, project, "--proc", "/proc", "--dev", "/dev", "--tmpfs",
                 "/tmp", "--cap-drop", "ALL", "--", "/bin/true"}, {}},
      {"moat", {moat, "run", "-p", "base", "--", "/bin/true"}, {},
       // No daemon: the watch (as root) loads in-process, whatever runs on the default socket.
       environment_with({"MOAT_SANDBOXD_SOCKET=/nonexistent/sandboxd.sock"})},
  };
  // As root the watch (issue 4's account, which bubblewrap has no equivalent of) is on by
  // default: one line without it shows what the launcher alone costs as root.
  if (::geteuid() == 0) {
    cases.push_back({"moat --no-watch", {moat, "run", "--no-watch", "-p", "base", "--", "/bin/true"},
                     {}, environment_with({"MOAT_SANDBOXD_SOCKET=/nonexistent/sandboxd.sock"})});
  }
  // MOAT_BENCH_SANDBOXD_SOCKET: a sandboxd the script started; one more line through it.
  if (const char* sd = std::getenv("MOAT_BENCH_SANDBOXD_SOCKET"); sd != nullptr && *sd != '\0') {
    cases.push_back({"moat+sandboxd", {moat, "run", "-p", "base", "--", "/bin/true"}, {},
                     environment_with({std::string("MOAT_SANDBOXD_SOCKET=") + sd})});
  }
  // Other moat builds (say, the main branch's) in the same rounds, each with a HOME of its own
  // under $HOME/.cache/moat-bench-N: a plan cache entry is stamped with the binary that wrote it,
  // so two builds sharing one would miss every time.
  const char* home = std::getenv("HOME");
  for (int i = 3; i < argc; ++i) {
    std::string other_home =
        std::string(home != nullptr ? home : "/tmp") + "/.cache/moat-bench-" + std::to_string(i - 2);
    std::string mkdir = "mkdir -p " + other_home;
    if (std::system(mkdir.c_str()) != 0) return 2;
    std::vector<std::string> env;
    for (const std::string& e :
         environment_with({"MOAT_SANDBOXD_SOCKET=/nonexistent/sandboxd.sock"})) {
      env.push_back(e.rfind("HOME=", 0) == 0 ? "HOME=" + other_home : e);
    }
    cases.push_back({"moat#" + std::to_string(i - 2) + " " + argv[i],
                     {argv[i], "run", "-p", "base", "--", "/bin/true"}, {}, env});
    // And through the same sandboxd, when there is one (the daemon's protocol is versioned: an
    // older client that the daemon refuses falls back to loading the watch, and says so).
    if (const char* sd = std::getenv("MOAT_BENCH_SANDBOXD_SOCKET"); sd != nullptr && *sd != '\0') {
      for (std::string& e : env) {
        if (e.rfind("MOAT_SANDBOXD_SOCKET=", 0) == 0) e = std::string("MOAT_SANDBOXD_SOCKET=") + sd;
      }
      cases.push_back({"moat#" + std::to_string(i - 2) + "+sandboxd " + argv[i],
                       {argv[i], "run", "-p", "base", "--", "/bin/true"}, {}, env});
    }
  }
  bool have_bwrap = access("/usr/bin/bwrap", X_OK) == 0;
  if (!have_bwrap) cases.erase(cases.begin() + 1);
  for (Case& c : cases) run_once(c.argv, c.env);  // warm caches
  // Each round starts one case later: a case never always follows the same one (a run's
  // deferred kernel work, such as a network namespace's cleanup, lands on whatever comes next).
  for (int i = 0; i < rounds; ++i) {
    for (size_t k = 0; k < cases.size(); ++k) {
      Case& c = cases[(k + static_cast<size_t>(i)) % cases.size()];
      c.samples.push_back(run_once(c.argv, c.env));
    }
  }
  double bare = median(cases.front().samples);
  std::printf("startup, median of %d interleaved runs (cwd %s):\n", rounds, project.c_str());
  for (Case& c : cases) {
    std::printf("  %-13s %8.2f ms\n", c.name.c_str(), median(c.samples));
  }
  for (const Case& c : cases) {
    if (c.name.rfind("moat", 0) != 0) continue;
    double moat_ms = median(c.samples);
    std::printf("ratio: %s/bare = %.2fx", c.name.c_str(), moat_ms / bare);
    if (have_bwrap) {
      std::printf(", %s/bwrap = %.2fx", c.name.c_str(), moat_ms / median(cases[1].samples));
    }
    std::printf("\n");
  }
  // Back to back: the same case ROUNDS times in a row, as a script or an agent that wraps each
  // command calls it. Interleaving hides what one run leaves for the next (sandboxd's ring pool
  // once ran dry this way: each run then waited ~8 ms for a grace period), so the tail is shown.
  std::printf("back to back, %d runs of each in a row:\n", rounds);
  const Case* bwrap_case = have_bwrap ? &cases[1] : nullptr;
  double bwrap_median = 0;
  for (const Case& c : cases) {
    if (&c != bwrap_case && c.name != "moat --no-watch" && c.name != "moat+sandboxd") continue;
    std::vector<double> samples;
    for (int i = 0; i < rounds; ++i) samples.push_back(run_once(c.argv, c.env));
    std::sort(samples.begin(), samples.end());
    double mean = 0;
    for (double v : samples) mean += v / static_cast<double>(samples.size());
    const double med = median(samples);
    if (&c == bwrap_case) bwrap_median = med;
    std::printf("  %-15s median %6.2f ms  mean %6.2f ms  p90 %6.2f ms  p99 %6.2f ms",
                c.name.c_str(), med, mean, samples[samples.size() * 9 / 10],
                samples[samples.size() * 99 / 100]);
    if (bwrap_median > 0 && &c != bwrap_case) std::printf("  (%.2fx bwrap)", med / bwrap_median);
    std::printf("\n");
  }
  return 0;
}
