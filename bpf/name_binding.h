// Layouts shared by name_binding.bpf.c and sandboxd/bpf_net/name_binding.cc: what the gate expects
// of a connection it hands over unrelayed, and the verdict the program reports for it.
// Fixed-width types only; sizes are asserted so both compilers agree.
#pragma once

#include <linux/types.h>

#ifdef __cplusplus
#define MOAT_BIND_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define MOAT_BIND_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define MOAT_BIND_NAME_MAX 253  // a DNS name's longest text form

// Per-socket storage (BPF_MAP_TYPE_SK_STORAGE), written by the gate before the sandbox gets the
// socket: the name the destination address was resolved for, lowercase.
struct moat_bind_expect {
  __u64 connection;  // the gate's number for the connection, echoed in the verdict
  __u32 state;       // MOAT_BIND_PENDING, then what the first bytes decided
  __u32 name_len;
  char name[256];
};
MOAT_BIND_STATIC_ASSERT(sizeof(struct moat_bind_expect) == 272, "moat_bind_expect layout");

#define MOAT_BIND_PENDING 0u
#define MOAT_BIND_PASSED 1u
#define MOAT_BIND_REFUSED 2u  // every later send is refused too

// What the client's first bytes were.
#define MOAT_BIND_PROTO_TLS 1u
#define MOAT_BIND_PROTO_HTTP 2u
#define MOAT_BIND_PROTO_OTHER 3u

// Why. The texts live in name_binding.cc and follow gate/relay.cc's decide_binding.
#define MOAT_BIND_SNI_MATCHES 1u
#define MOAT_BIND_NOT_TLS_OR_HTTP 2u  // passed, bound to the address only
#define MOAT_BIND_SNI_MISMATCH 10u    // domain fronting
#define MOAT_BIND_NO_SNI 11u
#define MOAT_BIND_ECH 12u               // encrypted_client_hello or legacy ESNI
#define MOAT_BIND_SSLV2 13u             // SSLv2-compatible hello: no extensions, no SNI
#define MOAT_BIND_RECORD 14u            // record type, version or length
#define MOAT_BIND_NOT_CLIENT_HELLO 15u  // the first handshake message is not a ClientHello
#define MOAT_BIND_SPLIT_HELLO 16u       // the ClientHello continues beyond its first record
#define MOAT_BIND_BAD_HELLO 17u         // a length or field of the ClientHello is inconsistent
#define MOAT_BIND_BAD_SERVER_NAME 18u   // server_name: empty, several entries, or not host_name
#define MOAT_BIND_DUPLICATE_SNI 19u     // two server_name extensions
#define MOAT_BIND_TOO_MANY_EXTENSIONS 20u
#define MOAT_BIND_PLAIN_HTTP 21u      // clear-text HTTP where only TLS is checked in the kernel
#define MOAT_BIND_NO_EXPECTATION 22u  // the socket has no storage: never handed over this way

// One per decided connection, through the ring buffer.
struct moat_bind_verdict {
  __u64 connection;
  __u32 refused;   // 0: passed (the gate takes the socket out of the map), 1: refused
  __u32 reason;    // MOAT_BIND_* above
  __u32 protocol;  // MOAT_BIND_PROTO_*
  __u32 seen_len;  // bytes of `seen` (the SNI the client sent), at most MOAT_BIND_NAME_MAX
  char seen[256];
};
MOAT_BIND_STATIC_ASSERT(sizeof(struct moat_bind_verdict) == 280, "moat_bind_verdict layout");
