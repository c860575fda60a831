// Layouts shared by net_layer.bpf.c and sandboxd/bpf_net: the allowlist trie keys and the counters.
// Fixed-width types only; every size and offset is asserted so both compilers must agree.
#pragma once

#include <linux/types.h>

#ifdef __cplusplus
#define MOAT_BPF_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define MOAT_BPF_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

// LPM trie keys. The matched bits are, in order: the destination port (network byte order, 16
// bits), 16 zero bits, then the address. An entry for "any port" stores port 0; the programs look
// a destination up twice, once with its port and once with port 0. So an entry's prefix length is
// kMoatKeyPortBits + the CIDR prefix, and a CIDR with a port is expressible (the port comes first).
#define MOAT_KEY_PORT_BITS 32

struct moat_allow_key4 {
  __u32 prefixlen;  // MOAT_KEY_PORT_BITS + CIDR prefix (0..32)
  __u16 port;       // network byte order; 0 = any port
  __u16 zero;       // always 0: keeps the address 4-byte aligned
  __u8 addr[4];     // network byte order
};

struct moat_allow_key6 {
  __u32 prefixlen;  // MOAT_KEY_PORT_BITS + CIDR prefix (0..128)
  __u16 port;
  __u16 zero;
  __u8 addr[16];
};

// Value of both tries: why the entry exists (informational; any present entry allows).
struct moat_allow_val {
  __u32 flags;
};
#define MOAT_ALLOW_LOOPBACK 1u  // put there by allow_loopback()
#define MOAT_ALLOW_RULE 2u      // put there by allow()

// Index of the per-cpu refusal counters, one per hook.
enum moat_deny_slot {
  MOAT_DENY_CONNECT4 = 0,
  MOAT_DENY_CONNECT6 = 1,
  MOAT_DENY_SENDMSG4 = 2,
  MOAT_DENY_SENDMSG6 = 3,
  MOAT_DENY_SOCK_CREATE = 4,
  MOAT_DENY_SLOTS = 5,
};

#define MOAT_ALLOW_MAX_ENTRIES 16384

// Without a network namespace (tier landlock) port 53 of ANY address is the sandbox's resolver,
// whatever the host's resolv.conf names: connects and datagrams to it are rewritten to moat's DNS
// stub on the host's loopback. Index 0 of the `dns_redirect` array; enabled = 0 leaves port 53
// to the allowlist like any other port (inside a network namespace).
struct moat_dns_redirect {
  __u32 enabled;
  __u8 addr4[4];  // the stub's IPv4 address, network byte order (IPv6 sockets get ::ffff:addr4)
  __u16 tcp_port;  // network byte order
  __u16 udp_port;  // network byte order
};

MOAT_BPF_STATIC_ASSERT(sizeof(struct moat_allow_key4) == 12, "moat_allow_key4 size");
MOAT_BPF_STATIC_ASSERT(__builtin_offsetof(struct moat_allow_key4, port) == 4, "key4.port");
MOAT_BPF_STATIC_ASSERT(__builtin_offsetof(struct moat_allow_key4, addr) == 8, "key4.addr");
MOAT_BPF_STATIC_ASSERT(sizeof(struct moat_allow_key6) == 24, "moat_allow_key6 size");
MOAT_BPF_STATIC_ASSERT(__builtin_offsetof(struct moat_allow_key6, port) == 4, "key6.port");
MOAT_BPF_STATIC_ASSERT(__builtin_offsetof(struct moat_allow_key6, addr) == 8, "key6.addr");
MOAT_BPF_STATIC_ASSERT(sizeof(struct moat_allow_val) == 4, "moat_allow_val size");
MOAT_BPF_STATIC_ASSERT(sizeof(struct moat_dns_redirect) == 12, "moat_dns_redirect size");
MOAT_BPF_STATIC_ASSERT(__builtin_offsetof(struct moat_dns_redirect, addr4) == 4, "dns.addr4");
MOAT_BPF_STATIC_ASSERT(__builtin_offsetof(struct moat_dns_redirect, tcp_port) == 8, "dns.tcp_port");
MOAT_BPF_STATIC_ASSERT(__builtin_offsetof(struct moat_dns_redirect, udp_port) == 10, "dns.udp_port");
