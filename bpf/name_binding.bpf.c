// Name binding in the kernel: an sk_msg verdict program on the sockets the gate hands over
// unrelayed (name rules on the HTTPS port, as root). It reads the client's first bytes before any
// of them leave the machine, as gate/relay.cc's decide_binding does in user space: a TLS
// ClientHello must carry exactly the SNI the destination address was resolved for and no ECH;
// clear-text HTTP is refused (its Host must be checked on every request, which only the relay
// does); bytes that are neither pass, bound to the address alone. A pass lets everything after
// through unseen (and the gate then takes the socket out of the map: no cost per send); a refusal
// is final: that send and every later one fail with EACCES, and the server receives nothing.
//
// Stricter than the relay where the kernel cannot reassemble: the ClientHello must fit in its
// first TLS record (every TLS library sends it so; splitting it is a DPI-evasion trick).
//
// Plain UAPI headers, as in net_layer.bpf.c: sk_msg_md is a context struct the verifier rewrites.
// clang-format off
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
// clang-format on

#include "name_binding.h"

char LICENSE[] SEC("license") = "GPL";

#define TLS_HANDSHAKE 0x16
#define TLS_MAX_RECORD 16384
#define MAX_EXTENSIONS 64  // real hellos carry ~20 (GREASE included)
#define METHOD_MAX 32      // as http_request_head.cc's kMaxMethodBytes
#define OFFSET_MASK 0x7fff // every offset read is below 5 + TLS_MAX_RECORD

struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, 4096);
  __type(key, __u64);  // the connection number
  __type(value, __u64);
} bound_sockets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct moat_bind_expect);
} expected SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 * 1024);
} verdicts SEC(".maps");

// [0] verdicts that found the ring full (the decision still held), [1] sockets without storage.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which) {
  __u64* n = bpf_map_lookup_elem(&counters, &which);
  if (n) __sync_fetch_and_add(n, 1);
}

// The byte at OFF of the pulled (linear) part of the message, or -1 beyond it.
static __always_inline int byte_at(struct sk_msg_md* msg, __u32 off) {
  __u8* data = msg->data;
  __u8* end = msg->data_end;
  __u8* p = data + (off & OFFSET_MASK);
  if (p + 1 > end) return -1;
  return *p;
}

static __always_inline int u16_at(struct sk_msg_md* msg, __u32 off) {
  int hi = byte_at(msg, off);
  int lo = byte_at(msg, off + 1);
  if (hi < 0 || lo < 0) return -1;
  return (hi << 8) | lo;
}

static __always_inline int lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

// RFC 9110 §5.6.2 tchar.
static __always_inline int is_tchar(int c) {
  if ((c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'z')) return 1;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return 1;
  }
  return 0;
}

// Holds the message until SIZE bytes have been sent, then runs the program again on all of them.
// SK_DROP, not SK_PASS: should the kernel be unable to keep the bytes aside (socket memory
// exhausted), it applies the verdict to them as they are, and unchecked bytes must not leave.
static __always_inline int need_more(struct sk_msg_md* msg, __u32 size) {
  bpf_msg_cork_bytes(msg, size);
  return SK_DROP;
}

// The SNI seen, into the verdict, a byte per bpf_loop step.
struct name_copy {
  struct sk_msg_md* msg;
  struct moat_bind_verdict* verdict;
  __u32 off;
};

static long copy_name_byte(__u32 index, void* ctx) {
  struct name_copy* c = ctx;
  const __u32 i = index & 0xff;
  int byte = byte_at(c->msg, c->off + i);
  if (byte < 0 || i >= MOAT_BIND_NAME_MAX) return 1;
  c->verdict->seen[i] = (char)byte;
  c->verdict->seen_len = i + 1;
  return 0;
}

// One verdict to the gate. A subprogram of its own (verified once, not at every call site):
// what = refused << 16 | reason << 8 | protocol; seen = offset << 16 | length of the SNI seen.
__noinline int report(struct sk_msg_md* msg, __u64 connection, __u32 what, __u32 seen) {
  struct moat_bind_verdict* v = bpf_ringbuf_reserve(&verdicts, sizeof(*v), 0);
  if (!v) {
    count(0);
    return 0;
  }
  v->connection = connection;
  v->refused = (what >> 16) & 1;
  v->reason = (what >> 8) & 0xff;
  v->protocol = what & 0xff;
  v->seen_len = 0;
  const __u32 seen_off = seen >> 16;
  const __u32 seen_len = seen & 0xffff;
  struct name_copy copy = {.msg = msg, .verdict = v, .off = seen_off};
  bpf_loop(seen_len < MOAT_BIND_NAME_MAX ? seen_len : MOAT_BIND_NAME_MAX, copy_name_byte, &copy, 0);
  bpf_ringbuf_submit(v, 0);
  return 0;
}

static __always_inline int pass(struct sk_msg_md* msg, struct moat_bind_expect* want,
                                __u32 reason, __u32 protocol) {
  want->state = MOAT_BIND_PASSED;
  bpf_msg_apply_bytes(msg, 0xffffffff);
  report(msg, want->connection, reason << 8 | protocol, 0);
  return SK_PASS;
}

static __always_inline int refuse_seen(struct sk_msg_md* msg, struct moat_bind_expect* want,
                                       __u32 reason, __u32 protocol, __u32 seen) {
  want->state = MOAT_BIND_REFUSED;
  report(msg, want->connection, 1u << 16 | reason << 8 | protocol, seen);
  return SK_DROP;
}

static __always_inline int refuse(struct sk_msg_md* msg, struct moat_bind_expect* want,
                                  __u32 reason, __u32 protocol) {
  return refuse_seen(msg, want, reason, protocol, 0);
}

// Reads of the ClientHello: beyond the pulled bytes means the hello is inconsistent, and the
// reader gives up at once (FAIL), so no path goes on with a byte it could not read.
#define READ8(dst, at, FAIL)                                       \
  do {                                                             \
    __u8* d_ = msg->data;                                          \
    __u8* p_ = d_ + ((at) & OFFSET_MASK);                          \
    if (p_ + 1 > (__u8*)(long)msg->data_end) FAIL;                 \
    (dst) = *p_;                                                   \
  } while (0)
#define READ16(dst, at, FAIL)                                      \
  do {                                                             \
    __u8* d_ = msg->data;                                          \
    __u8* p_ = d_ + ((at) & OFFSET_MASK);                          \
    if (p_ + 2 > (__u8*)(long)msg->data_end) FAIL;                 \
    (dst) = (__u32)p_[0] << 8 | p_[1];                             \
  } while (0)

// The extensions, one per bpf_loop step (verified as one body, not once per extension).
struct extension_walk {
  struct sk_msg_md* msg;
  __u32 off, end;  // the next extension, the end of the ClientHello
  __u32 sni_off, sni_len;
  __u32 has_sni, has_ech;
  __u32 refusal;  // a reason, or 0
};

#define WALK_REFUSE(reason) \
  do {                      \
    w->refusal = (reason);  \
    return 1;               \
  } while (0)

static long walk_extension(__u32 index, void* ctx) {
  struct extension_walk* w = ctx;
  (void)index;
  struct sk_msg_md* msg = w->msg;
  const __u32 off = w->off, end = w->end;
  if (off >= end) return 1;
  __u32 type, length;
  READ16(type, off, WALK_REFUSE(MOAT_BIND_BAD_HELLO));
  READ16(length, off + 2, WALK_REFUSE(MOAT_BIND_BAD_HELLO));
  const __u32 data = off + 4;
  if (data + length > end) WALK_REFUSE(MOAT_BIND_BAD_HELLO);
  if (type == 0) {  // server_name (RFC 6066 §3): exactly one host_name entry
    if (w->has_sni) WALK_REFUSE(MOAT_BIND_DUPLICATE_SNI);
    w->has_sni = 1;
    if (length < 5) WALK_REFUSE(MOAT_BIND_BAD_SERVER_NAME);
    __u32 list, kind, name;
    READ16(list, data, WALK_REFUSE(MOAT_BIND_BAD_SERVER_NAME));
    READ8(kind, data + 2, WALK_REFUSE(MOAT_BIND_BAD_SERVER_NAME));
    READ16(name, data + 3, WALK_REFUSE(MOAT_BIND_BAD_SERVER_NAME));
    if (list + 2 != length || kind != 0 || name < 1 || name + 3 != list) {
      WALK_REFUSE(MOAT_BIND_BAD_SERVER_NAME);
    }
    w->sni_off = (data + 5) & OFFSET_MASK;  // below `end`: the mask changes nothing
    w->sni_len = name;
  } else if (type == 0xfe0d || type == 0xffce) {  // ECH, legacy ESNI: the real name is hidden
    w->has_ech = 1;
  }
  // Below `end`, so the mask changes nothing; it gives the verifier the same bounds at every
  // step, so it sees the steps converge instead of following each one.
  w->off = (data + length) & OFFSET_MASK;
  return 0;
}

// The ClientHello in the pulled first record (RFC 8446 §4.1.2), RECORD bytes after its 5-byte
// header. Returns the SNI's place (offset << 16 | length) << 8, or a refusal reason (< 256).
// A subprogram of its own: verified once, whatever the paths of the caller.
__noinline __u64 find_sni(struct sk_msg_md* msg, __u32 record) {
  __u32 kind, b1, b2, b3;
  READ8(kind, 5, return MOAT_BIND_SPLIT_HELLO);
  if (kind != 1) return MOAT_BIND_NOT_CLIENT_HELLO;
  READ8(b1, 6, return MOAT_BIND_SPLIT_HELLO);
  READ16(b2, 7, return MOAT_BIND_SPLIT_HELLO);
  b3 = b2 & 0xff;
  b2 >>= 8;
  const __u32 body = b1 << 16 | b2 << 8 | b3;
  if (body + 4 > record) return MOAT_BIND_SPLIT_HELLO;
  const __u32 end = 9 + body;

  // legacy_version, random, legacy_session_id, cipher_suites, compression_methods.
  __u32 off = 9, major, session_id, suites, compression, extensions;
  if (off + 2 + 32 + 1 > end) return MOAT_BIND_BAD_HELLO;
  READ8(major, off, return MOAT_BIND_BAD_HELLO);
  if (major != 3) return MOAT_BIND_BAD_HELLO;
  off += 2 + 32;
  READ8(session_id, off, return MOAT_BIND_BAD_HELLO);
  if (session_id > 32) return MOAT_BIND_BAD_HELLO;
  off += 1 + session_id;
  if (off + 2 > end) return MOAT_BIND_BAD_HELLO;
  READ16(suites, off, return MOAT_BIND_BAD_HELLO);
  if (suites < 2 || (suites & 1) != 0) return MOAT_BIND_BAD_HELLO;
  off += 2 + suites;
  if (off + 1 > end) return MOAT_BIND_BAD_HELLO;
  READ8(compression, off, return MOAT_BIND_BAD_HELLO);
  if (compression < 1) return MOAT_BIND_BAD_HELLO;
  off += 1 + compression;
  if (off > end) return MOAT_BIND_BAD_HELLO;
  if (off == end) return MOAT_BIND_NO_SNI;  // no extensions at all
  if (off + 2 > end) return MOAT_BIND_BAD_HELLO;
  READ16(extensions, off, return MOAT_BIND_BAD_HELLO);
  off += 2;
  if (off + extensions != end) return MOAT_BIND_BAD_HELLO;

  struct extension_walk walk = {.msg = msg, .off = off, .end = end};
  bpf_loop(MAX_EXTENSIONS, walk_extension, &walk, 0);
  if (walk.refusal != 0) return walk.refusal;
  if (walk.off != end) return MOAT_BIND_TOO_MANY_EXTENSIONS;
  if (walk.has_ech) return MOAT_BIND_ECH;
  if (!walk.has_sni) return MOAT_BIND_NO_SNI;
  return ((__u64)(walk.sni_off << 16 | (walk.sni_len & 0xffff))) << 8;
}

// The SNI against the expected name, a byte per bpf_loop step (lowercased; the name is).
struct name_compare {
  struct sk_msg_md* msg;
  struct moat_bind_expect* want;
  __u32 off;
  __u32 differs;
};

static long compare_name_byte(__u32 index, void* ctx) {
  struct name_compare* c = ctx;
  struct sk_msg_md* msg = c->msg;
  __u32 i = index & 0xff;
  int byte = byte_at(msg, c->off + i);
  if (i >= MOAT_BIND_NAME_MAX || lower(byte) != c->want->name[i]) {
    c->differs = 1;
    return 1;
  }
  return 0;
}

// Does the message start like an HTTP request line, a method token and a space? One byte per
// bpf_loop step. kind: 0 not yet known (more bytes needed), 1 HTTP, 2 something else.
struct method_scan {
  struct sk_msg_md* msg;
  __u32 kind;
};

static long scan_method_byte(__u32 index, void* ctx) {
  struct method_scan* s = ctx;
  int c = byte_at(s->msg, index & 0x3f);
  if (c == ' ' && index > 0) {
    s->kind = 1;
    return 1;
  }
  if (index == METHOD_MAX || !is_tchar(c)) {
    s->kind = 2;
    return 1;
  }
  return 0;
}

#define REFUSE_TLS(reason) refuse(msg, want, reason, MOAT_BIND_PROTO_TLS)

// The TLS path: the first record holds the whole ClientHello.
static __always_inline int check_client_hello(struct sk_msg_md* msg,
                                              struct moat_bind_expect* want, __u32 size) {
  if (size < 5) return need_more(msg, 5);
  if (bpf_msg_pull_data(msg, 0, 5, 0) != 0) return REFUSE_TLS(MOAT_BIND_RECORD);
  if (byte_at(msg, 1) != 3) return REFUSE_TLS(MOAT_BIND_RECORD);
  int record = u16_at(msg, 3);
  if (record <= 0 || record > TLS_MAX_RECORD) return REFUSE_TLS(MOAT_BIND_RECORD);
  __u32 record_end = 5 + (__u32)record;
  if (size < record_end) return need_more(msg, record_end);
  if (bpf_msg_pull_data(msg, 0, record_end, 0) != 0) return REFUSE_TLS(MOAT_BIND_RECORD);
  const __u64 found = find_sni(msg, (__u32)record);
  if (found < 256) return REFUSE_TLS((__u32)found);
  const __u32 seen = (__u32)(found >> 8);
  const __u32 sni_off = seen >> 16, sni_len = seen & 0xffff;
  if (sni_len != want->name_len || sni_len > MOAT_BIND_NAME_MAX) {
    return refuse_seen(msg, want, MOAT_BIND_SNI_MISMATCH, MOAT_BIND_PROTO_TLS, seen);
  }
  struct name_compare cmp = {.msg = msg, .want = want, .off = sni_off};
  bpf_loop(sni_len, compare_name_byte, &cmp, 0);
  if (cmp.differs) {
    return refuse_seen(msg, want, MOAT_BIND_SNI_MISMATCH, MOAT_BIND_PROTO_TLS, seen);
  }
  return pass(msg, want, MOAT_BIND_SNI_MATCHES, MOAT_BIND_PROTO_TLS);
}

SEC("sk_msg")
int check_first_bytes(struct sk_msg_md* msg) {
  struct bpf_sock* sk = msg->sk;
  if (!sk) return SK_DROP;
  struct moat_bind_expect* want = bpf_sk_storage_get(&expected, sk, 0, 0);
  if (!want) {
    count(1);
    return SK_DROP;
  }
  if (want->state == MOAT_BIND_REFUSED) return SK_DROP;
  if (want->state == MOAT_BIND_PASSED) {
    bpf_msg_apply_bytes(msg, 0xffffffff);
    return SK_PASS;
  }
  const __u32 size = msg->size;
  if (size == 0) return SK_DROP;
  if (bpf_msg_pull_data(msg, 0, size < METHOD_MAX + 1 ? size : METHOD_MAX + 1, 0) != 0) {
    return SK_DROP;
  }
  int first = byte_at(msg, 0);
  if (first == TLS_HANDSHAKE) return check_client_hello(msg, want, size);
  // An SSLv2-compatible ClientHello (high bit, then message type 1) has no SNI to check.
  if (first & 0x80) {
    if (size < 3) return need_more(msg, 3);
    if (byte_at(msg, 2) == 1) return REFUSE_TLS(MOAT_BIND_SSLV2);
  }
  if (first == '\r' || first == '\n') {
    return refuse(msg, want, MOAT_BIND_PLAIN_HTTP, MOAT_BIND_PROTO_HTTP);
  }
  struct method_scan scan = {.msg = msg};
  bpf_loop(size < METHOD_MAX + 1 ? size : METHOD_MAX + 1, scan_method_byte, &scan, 0);
  if (scan.kind == 0) return need_more(msg, size + 1);
  if (scan.kind == 1) return refuse(msg, want, MOAT_BIND_PLAIN_HTTP, MOAT_BIND_PROTO_HTTP);
  return pass(msg, want, MOAT_BIND_NOT_TLS_OR_HTTP, MOAT_BIND_PROTO_OTHER);
}
