// Harness for the integration and escape suites: temp project + fake HOME with canary secrets, the
// moat-test user, and running `moat run` (or the same command unconfined, as a control) via fork/exec.
// Every run happens as a chosen identity (root or moat-test), with pipes or a pty the test owns.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <ostream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moat::testing {

// True when MOAT_MUST_WORK=1: CI demands every environment feature, so a skip is a failure.
bool must_work();

// A skip for a missing environment feature (no pty, cannot create the user...). Under
// MOAT_MUST_WORK=1 it fails instead, so CI never passes by skipping (bubblewrap's BWRAP_MUST_WORK).
#define MOAT_SKIP_OR_FAIL(reason)                                            \
  do {                                                                       \
    if (::moat::testing::must_work()) {                                      \
      FAIL() << "MOAT_MUST_WORK=1 forbids skipping: " << (reason);           \
    } else {                                                                 \
      GTEST_SKIP() << (reason);                                              \
    }                                                                        \
  } while (0)

enum class Identity { kRoot, kUser };
std::string identity_name(Identity id);
// Readable parameter values in gtest and ctest output ("root" / "user").
void PrintTo(Identity id, std::ostream* os);

inline constexpr char kTestUser[] = "moat-test";

struct Account {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

// Creates the moat-test user if missing (useradd -m; idempotent and safe against concurrent test
// processes). Returns nullopt with *why set when the user cannot exist here.
std::optional<Account> ensure_test_user(std::string* why);

// Paths of the binaries under test: compile definitions, overridable by MOAT_BIN / MOAT_PROBE_BIN.
std::string moat_binary();
std::string probe_binary();

struct RunResult {
  int status = -1;  // as a shell reports it: the exit code, or 128+N when killed by signal N
  bool timed_out = false;
  std::string out;          // stdout; with a pty, everything the terminal displayed
  std::string err;          // stderr (empty with a pty)
  std::string tty_pending;  // with a pty: input left unread in the terminal after the run
  double seconds = 0;

  // The probe's report: the first line starting with "OK " or "ERR ", or "" when there is none.
  std::string probe_line() const;
  bool probe_ok() const { return probe_line().rfind("OK ", 0) == 0; }
  // "EPERM" for "ERR EPERM ...", "" otherwise.
  std::string probe_errno() const;
  std::string all() const { return out + err + tty_pending; }
  std::string describe() const;  // for assertion messages
};

struct RunSpec {
  std::vector<std::string> argv;                         // exec'd as is (argv[0] is a path)
  std::vector<std::pair<std::string, std::string>> env;  // added to / overriding the base env
  std::string cwd;                                       // default: the project
  std::string stdin_data;
  bool pty = false;  // fds 0-2 on a new pty that becomes the controlling terminal
  // (fd open in the harness, fd number in the child) left open WITHOUT close-on-exec: models a caller
  // that leaks descriptors into moat.
  std::vector<std::pair<int, int>> leak_fds;
  double timeout_s = 30;
};

// One test's world: BASE (/var/tmp/moat-t-XXXXXX, 0755) holding
//   project/  the ${PROJECT} of the run (cwd), with ./moat-probe copied in; owned by the identity
//   home/     the fake $HOME given to moat, with canary secrets; owned by the identity
//   outside/  a host directory outside the project and home, writable by the identity
// Destroyed with everything it started (processes carrying its tag are killed).
class Sandbox {
 public:
  Sandbox(Identity id, Account user);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  bool ready() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  Identity identity() const { return id_; }
  uid_t uid() const { return uid_; }
  gid_t gid() const { return gid_; }
  const std::string& tag() const { return tag_; }
  const std::string& base() const { return base_; }
  const std::string& project() const { return project_; }
  const std::string& home() const { return home_; }
  const std::string& outside() const { return outside_; }
  std::string in_project(std::string_view rel) const { return project_ + "/" + std::string(rel); }
  std::string in_home(std::string_view rel) const { return home_ + "/" + std::string(rel); }
  std::string in_outside(std::string_view rel) const { return outside_ + "/" + std::string(rel); }

  // A unique token for WHAT, e.g. MOATCANARY_ssh_<tag>.
  std::string canary(std::string_view what) const;

  struct Secret {
    std::string rel;     // relative to home
    std::string canary;  // contained in the file
  };
  // The secret stores of the base profile, each planted with its own canary.
  const std::vector<Secret>& secrets() const { return secrets_; }

  // moat run MOAT_ARGS... -- CMD...; spec.argv is ignored.
  RunResult moat(const std::vector<std::string>& cmd, const std::vector<std::string>& moat_args = {},
                 RunSpec spec = {}) const;
  // The control: CMD run unconfined, as the same identity, same cwd and env.
  RunResult direct(const std::vector<std::string>& cmd, RunSpec spec = {}) const;
  // The probe as a command: {"./moat-probe", verb, args...}.
  static std::vector<std::string> probe(std::vector<std::string> verb_and_args);
  RunResult run(const RunSpec& spec) const;

  // Host-side file helpers (as root; files are chowned to the identity unless told otherwise).
  void write_file(const std::string& path, std::string_view content, mode_t mode = 0644,
                  bool own = true) const;
  void make_dir(const std::string& path, mode_t mode = 0755, bool own = true) const;
  // A path that must be removed at teardown (artifacts a broken sandbox may leave on the host).
  void remove_at_exit(std::string path) { cleanup_.push_back(std::move(path)); }
  // `git init` of the project on the host, as the identity.
  bool git_init(std::string* why) const;

  // Starts `sleep 300` on the host, as the identity, with MOAT_HOST_SECRET=CANARY in its env.
  pid_t spawn_host_sleep(const std::string& canary);
  static bool alive(pid_t pid);

 private:
  std::vector<std::string> base_env() const;
  void kill_tagged() const;

  Identity id_;
  Account user_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::string error_, tag_, base_, project_, home_, outside_;
  std::vector<Secret> secrets_;
  std::vector<std::string> cleanup_;
  std::vector<pid_t> spawned_;
};

// Host-side helpers.
std::string read_file(const std::string& path);  // "" when unreadable
bool exists(const std::string& path);            // lstat succeeds
std::string file_sha(const std::string& path);   // content fingerprint; "<absent>" when missing

// Fixture for TEST_P over {root, user}: creates the user and the Sandbox, skips honestly.
class SandboxTest : public ::testing::TestWithParam<Identity> {
 protected:
  void SetUp() override;
  void TearDown() override { sb_.reset(); }
  Sandbox& sb() { return *sb_; }
  bool as_root() const { return GetParam() == Identity::kRoot; }

  std::unique_ptr<Sandbox> sb_;
};

struct IdentityName {
  std::string operator()(const ::testing::TestParamInfo<Identity>& info) const {
    return identity_name(info.param);
  }
};

}  // namespace moat::testing
