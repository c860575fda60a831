// The in-kernel network layer of a sandbox: cgroup sock_addr and sock_create programs attached
// to the sandbox's cgroup; they allow loopback and the allowlist tries and refuse the rest (EPERM).
//
// Why plain UAPI headers rather than a generated vmlinux.h: sock_addr and sock programs only read
// `struct bpf_sock_addr` / `struct bpf_sock`, which are UAPI context structs that the verifier
// rewrites to the kernel's real layout at load time. No CO-RE relocation is needed, the build
// needs no /sys/kernel/btf/vmlinux, and linux-libc-dev 6.1 has every field used here.
// linux/bpf.h must come first: bpf_helpers.h uses its types.
// clang-format off
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
// clang-format on

#include "net_layer.h"

#define SOCK_STREAM_ 1
#define SOCK_DGRAM_ 2
#define AF_INET_ 2
#define AF_INET6_ 10

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, MOAT_ALLOW_MAX_ENTRIES);
  __type(key, struct moat_allow_key4);
  __type(value, struct moat_allow_val);
} allow4 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, MOAT_ALLOW_MAX_ENTRIES);
  __type(key, struct moat_allow_key6);
  __type(value, struct moat_allow_val);
} allow6 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct moat_dns_redirect);
} dns_redirect SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, MOAT_DENY_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} denied SEC(".maps");

static __always_inline int deny(__u32 slot) {
  __u64 *n = bpf_map_lookup_elem(&denied, &slot);
  if (n) *n += 1;  // per-cpu slot: no atomics needed
  return 0;        // 0 = refuse: connect()/sendmsg()/socket() fail with EPERM
}

// addr: network byte order, as in bpf_sock_addr.user_ip4. port: network order, low 16 bits.
static __always_inline int allowed4(__u32 addr, __u16 port) {
  struct moat_allow_key4 key = {};
  key.prefixlen = MOAT_KEY_PORT_BITS + 32;
  key.port = port;
  __builtin_memcpy(key.addr, &addr, 4);
  if (bpf_map_lookup_elem(&allow4, &key)) return 1;
  key.port = 0;
  return bpf_map_lookup_elem(&allow4, &key) != 0;
}

static __always_inline int allowed6(const __u32 a[4], __u16 port) {
  // ::ffff:a.b.c.d on a dual-stack socket reaches IPv4: judge it by the IPv4 rules (this hook,
  // not connect4, is the one that runs for it).
  if (a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0x0000ffff)) return allowed4(a[3], port);
  struct moat_allow_key6 key = {};
  key.prefixlen = MOAT_KEY_PORT_BITS + 128;
  key.port = port;
  __builtin_memcpy(key.addr, a, 16);
  if (bpf_map_lookup_elem(&allow6, &key)) return 1;
  key.port = 0;
  return bpf_map_lookup_elem(&allow6, &key) != 0;
}

// Without a network namespace (the redirect enabled): the redirect, else NULL.
static __always_inline const struct moat_dns_redirect *host_network(void) {
  __u32 zero = 0;
  const struct moat_dns_redirect *r = bpf_map_lookup_elem(&dns_redirect, &zero);
  return r && r->enabled ? r : 0;
}

// Port 53 anywhere -> moat's stub (see struct moat_dns_redirect): the redirect, or NULL.
static __always_inline const struct moat_dns_redirect *dns_target(struct bpf_sock_addr *ctx) {
  if ((__u16)ctx->user_port != bpf_htons(53)) return 0;
  return host_network();
}

// On the host's network a datagram may go only to the stub (rewritten above): the allowlist
// names TCP destinations, and "no datagram leaves except DNS answered by moat".
static __always_inline int datagram_refused(struct bpf_sock_addr *ctx) {
  return ctx->type != SOCK_STREAM_ && host_network() != 0;
}

static __always_inline __u32 dns_port(struct bpf_sock_addr *ctx,
                                      const struct moat_dns_redirect *r) {
  return ctx->type == SOCK_STREAM_ ? r->tcp_port : r->udp_port;
}

static __always_inline int check4(struct bpf_sock_addr *ctx, __u32 slot) {
  const struct moat_dns_redirect *r = dns_target(ctx);
  if (r) {
    __u32 stub;
    __builtin_memcpy(&stub, r->addr4, 4);
    ctx->user_ip4 = stub;
    ctx->user_port = dns_port(ctx, r);
    return 1;
  }
  if (datagram_refused(ctx)) return deny(slot);
  __u32 addr = ctx->user_ip4;
  __u16 port = (__u16)ctx->user_port;
  return allowed4(addr, port) ? 1 : deny(slot);
}

static __always_inline int check6(struct bpf_sock_addr *ctx, __u32 slot) {
  const struct moat_dns_redirect *r = dns_target(ctx);
  if (r) {
    // An IPv6 socket reaches the IPv4 stub as ::ffff:a.b.c.d (an IPV6_V6ONLY socket then fails,
    // which is a refusal too).
    __u32 stub;
    __builtin_memcpy(&stub, r->addr4, 4);
    ctx->user_ip6[0] = 0;
    ctx->user_ip6[1] = 0;
    ctx->user_ip6[2] = bpf_htonl(0x0000ffff);
    ctx->user_ip6[3] = stub;
    ctx->user_port = dns_port(ctx, r);
    return 1;
  }
  if (datagram_refused(ctx)) return deny(slot);
  __u32 a[4];
  // 32-bit loads: the access size to user_ip6 that every kernel version accepts.
  a[0] = ctx->user_ip6[0];
  a[1] = ctx->user_ip6[1];
  a[2] = ctx->user_ip6[2];
  a[3] = ctx->user_ip6[3];
  __u16 port = (__u16)ctx->user_port;
  return allowed6(a, port) ? 1 : deny(slot);
}

SEC("cgroup/connect4")
int moat_connect4(struct bpf_sock_addr *ctx) { return check4(ctx, MOAT_DENY_CONNECT4); }

SEC("cgroup/connect6")
int moat_connect6(struct bpf_sock_addr *ctx) { return check6(ctx, MOAT_DENY_CONNECT6); }

SEC("cgroup/sendmsg4")
int moat_sendmsg4(struct bpf_sock_addr *ctx) { return check4(ctx, MOAT_DENY_SENDMSG4); }

SEC("cgroup/sendmsg6")
int moat_sendmsg6(struct bpf_sock_addr *ctx) { return check6(ctx, MOAT_DENY_SENDMSG6); }

// Only TCP and UDP sockets may be created: raw sockets (any protocol), ICMP "ping" sockets
// (SOCK_DGRAM + IPPROTO_ICMP, which carry data to any address without a sendmsg4 hook), SCTP,
// MPTCP and the rest are refused. The kernel runs this hook for AF_INET and AF_INET6 only; the
// family test is defence in depth (AF_PACKET is left to seccomp and the dropped CAP_NET_RAW).
SEC("cgroup/sock_create")
int moat_sock_create(struct bpf_sock *ctx) {
  __u32 family = ctx->family;
  __u32 type = ctx->type;
  __u32 protocol = ctx->protocol;
  if (family != AF_INET_ && family != AF_INET6_) return deny(MOAT_DENY_SOCK_CREATE);
  if (type == SOCK_STREAM_ && protocol == IPPROTO_TCP) return 1;
  if (type == SOCK_DGRAM_ && protocol == IPPROTO_UDP) return 1;
  return deny(MOAT_DENY_SOCK_CREATE);
}
