// NameBinding: the sk_msg program of bpf/name_binding.bpf.c on a SOCKHASH, the expected name in
// each socket's storage, and the verdict ring. See name_binding.h and gate/kernel_binding.h.
#include "sandboxd/bpf_net/name_binding.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "bpf/name_binding.h"
#include "name_binding.skel.h"
#include "sandboxd/gate/tls_client_hello.h"  // check_dns_host_name
#include "sandboxd/sys/libbpf_log.h"

namespace moat::bpfnet {
namespace {

const char* protocol_name(unsigned protocol) {
  switch (protocol) {
    case MOAT_BIND_PROTO_TLS:
      return "tls";
    case MOAT_BIND_PROTO_HTTP:
      return "http";
    default:
      return "other";
  }
}

std::string reason_text(unsigned reason, std::string_view seen, std::string_view want) {
  const std::string w(want);
  switch (reason) {
    case MOAT_BIND_SNI_MATCHES:
      return "SNI " + w + " matches";
    case MOAT_BIND_NOT_TLS_OR_HTTP:
      return "not TLS or HTTP: bound to the address only";
    case MOAT_BIND_SNI_MISMATCH:
      return "SNI " + std::string(seen) + " does not match " + w + " (domain fronting)";
    case MOAT_BIND_NO_SNI:
      return "TLS without SNI to an address allowed for " + w;
    case MOAT_BIND_ECH:
      return "encrypted ClientHello (ECH) hides the server name from the gate";
    case MOAT_BIND_SSLV2:
      return "TLS ClientHello refused: SSLv2-compatible ClientHello: it has no extensions, so no "
             "SNI to check";
    case MOAT_BIND_RECORD:
      return "TLS ClientHello refused: the first record's type, version or length is invalid";
    case MOAT_BIND_NOT_CLIENT_HELLO:
      return "TLS ClientHello refused: the first handshake message is not a ClientHello";
    case MOAT_BIND_SPLIT_HELLO:
      return "TLS ClientHello refused: it continues beyond its first record, which the kernel "
             "check does not reassemble";
    case MOAT_BIND_BAD_HELLO:
      return "TLS ClientHello refused: a length or field is inconsistent";
    case MOAT_BIND_BAD_SERVER_NAME:
      return "TLS ClientHello refused: server_name is empty, has several entries or is not a "
             "host_name";
    case MOAT_BIND_DUPLICATE_SNI:
      return "TLS ClientHello refused: it repeats the server_name extension";
    case MOAT_BIND_TOO_MANY_EXTENSIONS:
      return "TLS ClientHello refused: more extensions than the kernel check reads";
    case MOAT_BIND_PLAIN_HTTP:
      return "clear-text HTTP to port 443 is refused: only TLS is checked there";
    default:
      return "refused by the kernel name check (reason " + std::to_string(reason) + ")";
  }
}

struct SkelDeleter {
  void operator()(name_binding_bpf* s) const { name_binding_bpf__destroy(s); }
};
struct RingDeleter {
  void operator()(ring_buffer* r) const { ring_buffer__free(r); }
};

class NameBinding final : public NameCheck {
 public:
  Status load() {
    sys::LibbpfLog capture;
    skel_.reset(name_binding_bpf__open_and_load());
    if (!skel_) {
      int err = errno;
      return syscall_error(
          "loading the kernel name check (sk_msg program)", "bpf(BPF_PROG_LOAD)",
          "name_binding.bpf.c", err,
          err == EPERM ? "it needs root (CAP_BPF and CAP_NET_ADMIN)" : capture.tail());
    }
    const int prog = bpf_program__fd(skel_->progs.check_first_bytes);
    const int map = bpf_map__fd(skel_->maps.bound_sockets);
    if (bpf_prog_attach(prog, map, BPF_SK_MSG_VERDICT, 0) != 0) {
      return syscall_error("attaching the kernel name check to its socket map", "bpf(PROG_ATTACH)",
                           "BPF_SK_MSG_VERDICT", errno);
    }
    ring_.reset(ring_buffer__new(bpf_map__fd(skel_->maps.verdicts), &NameBinding::on_record, this,
                                 nullptr));
    if (!ring_) {
      return syscall_error("opening the kernel name check's verdict ring", "ring_buffer__new", "",
                           errno);
    }
    return {};
  }

  Status bind(int sock, std::uint64_t connection, std::string_view name) override {
    moat_bind_expect want{};
    if (name.size() > MOAT_BIND_NAME_MAX) {
      return make_error(ErrorCode::kInvalidArgument, "host name longer than 253 bytes");
    }
    want.connection = connection;
    want.state = MOAT_BIND_PENDING;
    want.name_len = static_cast<__u32>(name.size());
    std::copy(name.begin(), name.end(), want.name);  // lowercase already: the allowlist's form
    {
      std::lock_guard<std::mutex> lock(mu_);
      // A connection closed before its first byte gets no verdict: the newest names are kept.
      if (names_.size() >= kMaxNames) names_.erase(names_.begin());
      names_[connection] = std::string(name);
    }
    // The expectation first: the program refuses a socket without one.
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.expected), &sock, &want, BPF_NOEXIST) != 0) {
      return forget_after(connection, "storing the expected name on the socket",
                          "bpf(BPF_MAP_UPDATE_ELEM)", "expected");
    }
    std::uint64_t fd = static_cast<std::uint64_t>(sock);
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.bound_sockets), &connection, &fd,
                            BPF_NOEXIST) != 0) {
      return forget_after(connection, "putting the socket under the kernel name check",
                          "bpf(BPF_MAP_UPDATE_ELEM)", "bound_sockets");
    }
    return {};
  }

  int poll_fd() const override { return ring_buffer__epoll_fd(ring_.get()); }

  std::vector<gate::KernelVerdict> take_verdicts() override {
    taken_.clear();
    ring_buffer__consume(ring_.get());
    for (const gate::KernelVerdict& v : taken_) {
      // Passed: out of the map, so the socket's sends and receives take the plain path again.
      if (v.decision.binding == gate::Binding::kAllowed) {
        (void)bpf_map_delete_elem(bpf_map__fd(skel_->maps.bound_sockets), &v.connection);
      }
    }
    return std::move(taken_);
  }

  bool still_bound(std::uint64_t connection) const override {
    std::uint64_t cookie = 0;
    return bpf_map_lookup_elem(bpf_map__fd(skel_->maps.bound_sockets), &connection, &cookie) == 0;
  }

 private:
  static int on_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<NameBinding*>(ctx);
    if (size < sizeof(moat_bind_verdict)) return 0;
    moat_bind_verdict v{};
    std::memcpy(&v, data, sizeof(v));
    std::string want;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      if (auto it = self->names_.find(v.connection); it != self->names_.end()) {
        want = std::move(it->second);
        self->names_.erase(it);
      }
    }
    const std::string_view seen(v.seen, std::min<size_t>(v.seen_len, MOAT_BIND_NAME_MAX));
    self->taken_.push_back(
        {v.connection, describe_kernel_verdict(v.refused != 0, v.reason, v.protocol, seen, want),
         v.reason, v.protocol});
    return 0;
  }

  Status forget_after(std::uint64_t connection, const char* what, const char* call,
                      const char* map) {
    const int err = errno;
    std::lock_guard<std::mutex> lock(mu_);
    names_.erase(connection);
    return syscall_error(
        what, call, map, err,
        err == E2BIG || err == ENOSPC ? "too many connections under the check" : "");
  }

  std::unique_ptr<name_binding_bpf, SkelDeleter> skel_;
  std::unique_ptr<ring_buffer, RingDeleter> ring_;
  static constexpr size_t kMaxNames = 4096;
  std::vector<gate::KernelVerdict> taken_;  // filled by on_record during take_verdicts
  std::mutex mu_;                           // bind() runs on the gate's workers too
  std::map<std::uint64_t, std::string> names_;
};

}  // namespace

gate::BindingDecision describe_kernel_verdict(bool refused, unsigned reason, unsigned protocol,
                                              std::string_view seen, std::string_view expected) {
  gate::BindingDecision d;
  d.binding = refused ? gate::Binding::kRefused : gate::Binding::kAllowed;
  d.protocol = protocol_name(protocol);
  // The SNI is attacker bytes: only a valid host name is repeated in the log.
  std::string name(seen);
  if (!name.empty() && gate::check_dns_host_name(name, nullptr) == gate::HelloDefect::kNone) {
    std::transform(name.begin(), name.end(), name.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
    d.seen = name;
  } else if (!name.empty()) {
    name = "(not a host name)";
  }
  d.reason = reason_text(reason, name, expected);
  return d;
}

Result<std::unique_ptr<NameCheck>> load_name_binding() {
  auto binding = std::make_unique<NameBinding>();
  if (Status st = binding->load(); !st) return st.error();
  return std::unique_ptr<NameCheck>(std::move(binding));
}

}  // namespace moat::bpfnet
