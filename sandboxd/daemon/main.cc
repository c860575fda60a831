// sandboxd: the optional privileged daemon (DESIGN §6). Loads and attaches the eBPF watch once
// and hands each registered sandbox its own ring, so `moat run` skips the per-run load.
//   sandboxd [--socket PATH] [--max-sandboxes N] [--max-per-uid N] [--warm N]
#include <mntent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sandboxd/daemon/client.h"
#include "sandboxd/daemon/server.h"
#include "sandboxd/watch/shared_watch.h"

namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage: sandboxd [--socket PATH] [--max-sandboxes N] [--max-per-uid N] [--warm N]\n"
      "                [--max-bound-per-uid N] [--max-ring-mib-per-uid N]\n"
      "  --socket PATH      default $MOAT_SANDBOXD_SOCKET or %s\n"
      "  --max-sandboxes N  sandboxes watched at once (default 1024)\n"
      "  --max-per-uid N    sandboxes per client uid (default 64)\n"
      "  --warm N           rings (1 MiB) kept ready for registrations (default 8)\n"
      "  --max-bound-per-uid N  sockets under the kernel name check per uid (default 1024)\n"
      "  --max-ring-mib-per-uid N  watch ring memory per uid, MiB, counted until the kernel\n"
      "                     frees a ring (default 512)\n",
      moat::daemon::kDefaultSocket);
  return 2;
}

bool parse_count(const char* text, std::uint32_t* out) {
  char* end = nullptr;
  unsigned long v = std::strtoul(text, &end, 10);
  if (end == text || *end != '\0' || v == 0 || v > 65536) return false;
  *out = static_cast<std::uint32_t>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  moat::daemon::ServerOptions options;
  options.socket_path = moat::daemon::socket_path();
  std::uint32_t warm = 8;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--socket" && value != nullptr) {
      options.socket_path = value;
    } else if (arg == "--max-sandboxes" && value != nullptr) {
      if (!parse_count(value, &options.max_sandboxes)) return usage();
    } else if (arg == "--warm" && value != nullptr) {
      if (!parse_count(value, &warm)) return usage();
    } else if (arg == "--max-per-uid" && value != nullptr) {
      if (!parse_count(value, &options.max_sandboxes_per_uid)) return usage();
    } else if (arg == "--max-bound-per-uid" && value != nullptr) {
      if (!parse_count(value, &options.max_bound_per_uid)) return usage();
    } else if (arg == "--max-ring-mib-per-uid" && value != nullptr) {
      std::uint32_t mib = 0;
      if (!parse_count(value, &mib)) return usage();
      options.max_ring_bytes_per_uid = static_cast<std::uint64_t>(mib) << 20;
    } else {
      return usage();
    }
    ++i;
  }
  // Taken by the server's signalfd; blocked before anything can deliver them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  ::sigprocmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  moat::watch::SharedWatchOptions watch_options;
  watch_options.max_sandboxes = options.max_sandboxes;
  watch_options.warm = std::min(warm, options.max_sandboxes);
  auto watch = moat::watch::SharedWatch::load(watch_options);
  if (!watch) {
    std::fprintf(stderr, "sandboxd: %s\n", watch.error().to_string().c_str());
    return 125;
  }
  // Delegated cgroups for unprivileged callers go under <cgroup v2>/moat-sandboxd (and
  // <v1 memory>/moat-sandboxd for memory limits on hybrid hosts).
  if (FILE* mounts = ::setmntent("/proc/self/mounts", "r"); mounts != nullptr) {
    while (mntent* m = ::getmntent(mounts)) {
      if (std::strcmp(m->mnt_type, "cgroup2") == 0 && options.cgroup_root.empty()) {
        options.cgroup_root = std::string(m->mnt_dir) + "/moat-sandboxd";
      }
      if (std::strcmp(m->mnt_type, "cgroup") == 0 && ::hasmntopt(m, "memory") != nullptr &&
          options.v1_memory_root.empty()) {
        options.v1_memory_root = std::string(m->mnt_dir) + "/moat-sandboxd";
      }
    }
    ::endmntent(mounts);
  }
  if (!options.v1_memory_root.empty() && ::mkdir(options.v1_memory_root.c_str(), 0755) != 0 &&
      errno != EEXIST) {
    options.v1_memory_root.clear();
  }
  if (!options.cgroup_root.empty() && ::mkdir(options.cgroup_root.c_str(), 0755) != 0 &&
      errno != EEXIST) {
    std::fprintf(stderr, "sandboxd: mkdir %s: %s; unprivileged callers get no cgroup\n",
                 options.cgroup_root.c_str(), std::strerror(errno));
    options.cgroup_root.clear();
  }
  // The serving thread (not the refill thread, made above) answers each run in microseconds of
  // CPU, but on a busy machine waited for a time slice: 10-20 ms registrations at load 8 against
  // 0.4 ms at nice -10. Best effort: a daemon without CAP_SYS_NICE only answers later.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), -10);
  auto server = moat::daemon::Server::listen(**watch, options);
  if (!server) {
    std::fprintf(stderr, "sandboxd: %s\n", server.error().to_string().c_str());
    return 125;
  }
  std::fprintf(stderr, "sandboxd: serving %s (protocol %u), the watch is attached\n",
               options.socket_path.c_str(), moat::daemon::kProtocolVersion);
  moat::Status served = server->serve();
  if (!served) {
    std::fprintf(stderr, "sandboxd: %s\n", served.error().to_string().c_str());
    return 1;
  }
  std::fprintf(stderr, "sandboxd: stopping after %llu registrations\n",
               static_cast<unsigned long long>(server->served()));
  return 0;
}
