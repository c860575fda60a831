// NetLayer: loads net_layer.bpf.c through its generated skeleton, attaches every program to the
// sandbox cgroup as a bpf_link, and edits the allowlist tries. See net_layer.h.
#include "sandboxd/bpf_net/net_layer.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "bpf/net_layer.h"  // the key layouts shared with the programs
#include "net_layer.skel.h"
#include "sandboxd/sys/libbpf_log.h"

namespace moat::bpfnet {
namespace {

using LibbpfCapture = sys::LibbpfLog;

std::string load_hint(int err) {
  if (err == EPERM || err == EACCES) {
    return "loading BPF programs needs root (CAP_BPF and CAP_NET_ADMIN); unprivileged BPF is "
           "disabled (kernel.unprivileged_bpf_disabled)";
  }
  if (err == EINVAL || err == EOPNOTSUPP) {
    return "the kernel needs CONFIG_BPF_SYSCALL=y and CONFIG_CGROUP_BPF=y";
  }
  return {};
}

struct SkelDeleter {
  void operator()(net_layer_bpf* s) const { net_layer_bpf__destroy(s); }
};
using SkelPtr = std::unique_ptr<net_layer_bpf, SkelDeleter>;

struct LinkDeleter {
  void operator()(bpf_link* l) const { bpf_link__destroy(l); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

Result<SkelPtr> open_and_load() {
  LibbpfCapture capture;
  SkelPtr skel(net_layer_bpf__open());
  if (!skel) {
    int err = errno;
    return syscall_error("opening the net_layer BPF object", "net_layer_bpf__open", "", err,
                         capture.tail());
  }
  int rc = net_layer_bpf__load(skel.get());
  if (rc != 0) {
    int err = -rc;
    std::string hint = load_hint(err);
    std::string log = capture.tail();
    if (!log.empty()) hint = (hint.empty() ? "" : hint + "\n  libbpf: ") + log;
    return syscall_error(
        "loading the net_layer BPF programs (cgroup/connect4, connect6, sendmsg4, sendmsg6, "
        "sock_create)",
        "bpf(BPF_PROG_LOAD)", "", err, hint);
  }
  return skel;
}

// ::ffff:a.b.c.d/N (N >= 96) is IPv4 a.b.c.d/(N-96): the programs judge mapped destinations by
// the IPv4 rules, so that is where such an entry must go.
IpNet normalize(IpNet net) {
  const auto& b = net.address.bytes;
  if (net.address.family == policy::IpAddress::Family::kV6 && net.prefix_length >= 96 &&
      policy::ip_is_v4_mapped(net.address)) {
    return IpNet{policy::IpAddress::v4({b[12], b[13], b[14], b[15]}),
                 static_cast<uint8_t>(net.prefix_length - 96)};
  }
  return net;
}

template <size_t N>
void copy_masked(std::uint8_t (&dst)[N], const std::array<uint8_t, 16>& src, unsigned prefix) {
  for (size_t i = 0; i < N; ++i) {
    unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
    std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff00u >> bits);
    dst[i] = src[i] & mask;
  }
}

}  // namespace

struct NetLayer::State {
  SkelPtr skel;
  std::vector<LinkPtr> links;  // destroyed before skel (reverse declaration order)
};

NetLayer::NetLayer(std::unique_ptr<State> state) : state_(std::move(state)) {}
NetLayer::NetLayer(NetLayer&&) noexcept = default;
NetLayer& NetLayer::operator=(NetLayer&&) noexcept = default;
NetLayer::~NetLayer() = default;

Result<NetLayer> NetLayer::attach(int cgroup_fd, AttachOptions options) {
  struct stat st {};
  int err = 0;
  if (cgroup_fd < 0) {
    err = EBADF;
  } else if (::fstat(cgroup_fd, &st) != 0) {
    err = errno;
  } else if (!S_ISDIR(st.st_mode)) {
    err = ENOTDIR;
  }
  if (err != 0) {
    return syscall_error("attaching the network BPF layer", "fstat",
                         "cgroup_fd=" + std::to_string(cgroup_fd), err,
                         "pass an O_DIRECTORY fd of a cgroup v2 directory");
  }
  auto skel = open_and_load();
  if (!skel) return skel.error();
  auto state = std::make_unique<State>();
  state->skel = std::move(*skel);

  net_layer_bpf* s = state->skel.get();
  const std::pair<bpf_program*, const char*> progs[] = {
      {s->progs.moat_connect4, "cgroup/connect4"},
      {s->progs.moat_connect6, "cgroup/connect6"},
      {s->progs.moat_sendmsg4, "cgroup/sendmsg4"},
      {s->progs.moat_sendmsg6, "cgroup/sendmsg6"},
      {s->progs.moat_sock_create, "cgroup/sock_create"},
  };
  NetLayer layer(std::move(state));
  // The allowlist is filled before the first program is attached: no window in which the
  // sandbox's own loopback (its DNS stub) is refused.
  if (options.loopback) {
    if (Status st2 = layer.allow_loopback(); !st2) return st2.error();
  }
  for (const auto& [prog, section] : progs) {
    LibbpfCapture capture;
    LinkPtr link(bpf_program__attach_cgroup(prog, cgroup_fd));
    if (!link) {
      int err = errno;
      std::string hint = err == EPERM || err == EACCES
                             ? "attaching cgroup BPF programs needs root (CAP_NET_ADMIN + CAP_BPF)"
                             : "the kernel needs CONFIG_CGROUP_BPF=y, and the fd must be a cgroup "
                               "v2 directory (not v1)";
      return syscall_error(
          std::string("attaching ") + section + " to the sandbox cgroup", "bpf(BPF_LINK_CREATE)",
          std::string(section) + ", cgroup_fd=" + std::to_string(cgroup_fd), err, hint);
    }
    layer.state_->links.push_back(std::move(link));
  }
  return layer;
}

namespace {

// One LPM-trie entry (IPv4 or IPv6 key), added or removed.
template <typename Key>
int update_entry(bpf_map* map, const IpNet& net, std::uint16_t port_be, const moat_allow_val& val,
                 bool remove) {
  Key key{};
  key.prefixlen = MOAT_KEY_PORT_BITS + net.prefix_length;
  key.port = port_be;
  copy_masked(key.addr, net.address.bytes, net.prefix_length);
  int fd = bpf_map__fd(map);
  return remove ? bpf_map_delete_elem(fd, &key) : bpf_map_update_elem(fd, &key, &val, BPF_ANY);
}

}  // namespace

Status NetLayer::update(const IpNet& in, std::optional<uint16_t> port, std::uint32_t flags,
                        bool remove) {
  IpNet net = normalize(in);
  if (net.prefix_length > net.address.bit_width()) {
    return make_error(ErrorCode::kInvalidArgument, "prefix /" + std::to_string(net.prefix_length) +
                                                       " is too long for " +
                                                       net.address.to_string());
  }
  std::uint16_t port_be = htons(port.value_or(0));
  moat_allow_val val{flags};
  int rc = net.address.family == policy::IpAddress::Family::kV4
               ? update_entry<moat_allow_key4>(state_->skel->maps.allow4, net, port_be, val, remove)
               : update_entry<moat_allow_key6>(state_->skel->maps.allow6, net, port_be, val, remove);
  if (rc != 0) {
    int err = errno;
    std::string what = net.address.to_string() + "/" + std::to_string(net.prefix_length) +
                       " port " + (port.value_or(0) != 0 ? std::to_string(*port) : "any");
    if (remove && err == ENOENT) {
      return make_error(ErrorCode::kNotFound, "no allowlist entry for " + what);
    }
    return syscall_error(remove ? "removing from the BPF allowlist" : "adding to the BPF allowlist",
                         remove ? "bpf(BPF_MAP_DELETE_ELEM)" : "bpf(BPF_MAP_UPDATE_ELEM)", what,
                         err,
                         err == E2BIG || err == ENOSPC
                             ? "the allowlist holds " + std::to_string(MOAT_ALLOW_MAX_ENTRIES) +
                                   " entries per family"
                             : "");
  }
  return {};
}

Status NetLayer::allow(const IpNet& net, std::optional<uint16_t> port) {
  return update(net, port, MOAT_ALLOW_RULE, false);
}

Status NetLayer::allow(const policy::AddressRule& rule) {
  return allow(IpNet{rule.network, rule.prefix_length}, rule.port);
}

Status NetLayer::revoke(const IpNet& net, std::optional<uint16_t> port) {
  return update(net, port, 0, true);
}

Status NetLayer::allow_loopback() {
  std::array<uint8_t, 16> v6_loop{};
  v6_loop[15] = 1;
  const IpNet nets[] = {
      {policy::IpAddress::v4({127, 0, 0, 0}), 8},
      {policy::IpAddress::v4({0, 0, 0, 0}), 32},
      {policy::IpAddress::v6(v6_loop), 128},
      {policy::IpAddress::v6({}), 128},
  };
  for (const IpNet& net : nets) {
    if (Status st = update(net, std::nullopt, MOAT_ALLOW_LOOPBACK, false); !st) return st;
  }
  return {};
}

Status NetLayer::redirect_dns(const policy::IpAddress& stub, uint16_t tcp_port,
                              uint16_t udp_port) {
  if (stub.family != policy::IpAddress::Family::kV4) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the DNS stub must have an IPv4 address, not " + stub.to_string());
  }
  moat_dns_redirect value{};
  value.enabled = 1;
  std::memcpy(value.addr4, stub.bytes.data(), 4);
  value.tcp_port = htons(tcp_port);
  value.udp_port = htons(udp_port);
  std::uint32_t key = 0;
  if (bpf_map_update_elem(bpf_map__fd(state_->skel->maps.dns_redirect), &key, &value, BPF_ANY) !=
      0) {
    return syscall_error("setting the DNS redirect of the BPF layer", "bpf(BPF_MAP_UPDATE_ELEM)",
                         "dns_redirect", errno);
  }
  return {};
}

std::uint64_t NetLayer::denied_count(Hook hook) const {
  int fd = bpf_map__fd(state_->skel->maps.denied);
  int ncpu = libbpf_num_possible_cpus();
  if (fd < 0 || ncpu <= 0) return 0;
  std::vector<std::uint64_t> per_cpu(static_cast<size_t>(ncpu));
  std::uint32_t key = static_cast<std::uint32_t>(hook);
  if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) != 0) return 0;
  std::uint64_t sum = 0;
  for (std::uint64_t v : per_cpu) sum += v;
  return sum;
}

std::uint64_t NetLayer::denied_count() const {
  std::uint64_t sum = 0;
  for (Hook h :
       {Hook::kConnect4, Hook::kConnect6, Hook::kSendmsg4, Hook::kSendmsg6, Hook::kSockCreate}) {
    sum += denied_count(h);
  }
  return sum;
}

bool probe_cgroup_sock_addr() { return open_and_load().ok(); }

static_assert(static_cast<int>(NetLayer::Hook::kConnect4) == MOAT_DENY_CONNECT4);
static_assert(static_cast<int>(NetLayer::Hook::kConnect6) == MOAT_DENY_CONNECT6);
static_assert(static_cast<int>(NetLayer::Hook::kSendmsg4) == MOAT_DENY_SENDMSG4);
static_assert(static_cast<int>(NetLayer::Hook::kSendmsg6) == MOAT_DENY_SENDMSG6);
static_assert(static_cast<int>(NetLayer::Hook::kSockCreate) == MOAT_DENY_SOCK_CREATE);

}  // namespace moat::bpfnet
