// Encoding and decoding of plan cache entries; see plan_cache_format.h. Integers are stored in
// the machine's byte order: an entry is only ever read by the moat that wrote it (its binary's
// stamp is part of every entry).
#include "cli/plan_cache_format.h"

#include <cstdint>
#include <cstring>

#include "policy/tool_config.h"

namespace moat::cli {
namespace {

// Bump whenever the layout below or the Plan's meaning changes.
constexpr char kMagic[] = "moat-plan-cache 7\n";

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) { raw(&v, sizeof(v)); }
  void u64(std::uint64_t v) { raw(&v, sizeof(v)); }
  void i64(std::int64_t v) { raw(&v, sizeof(v)); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  void strings(const std::vector<std::string>& v) {
    u32(static_cast<std::uint32_t>(v.size()));
    for (const std::string& s : v) str(s);
  }
  void source(const policy::SourceRef& s) {
    str(s.file);
    i64(s.line);
    i64(s.col);
  }
  void optional(const std::optional<std::uint64_t>& v) {
    boolean(v.has_value());
    u64(v.value_or(0));
  }
  std::string take() { return std::move(out_); }

 private:
  void raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
};

// Every read checks what is left; the first failure makes every later read fail too.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return ok_ && in_.empty(); }
  std::uint8_t u8() {
    std::uint8_t v = 0;
    raw(&v, 1);
    return v;
  }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    raw(&v, sizeof(v));
    return v;
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    raw(&v, sizeof(v));
    return v;
  }
  std::int64_t i64() {
    std::int64_t v = 0;
    raw(&v, sizeof(v));
    return v;
  }
  bool boolean() {
    std::uint8_t v = u8();
    if (v > 1) ok_ = false;
    return v == 1;
  }
  std::string str() {
    std::uint32_t n = u32();
    if (!ok_ || n > in_.size()) {
      ok_ = false;
      return {};
    }
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }
  // A count of items that each take at least `min_bytes`: a corrupt count fails here rather
  // than reserving memory for billions of items.
  std::uint32_t count(size_t min_bytes) {
    std::uint32_t n = u32();
    if (!ok_ || static_cast<std::uint64_t>(n) * min_bytes > in_.size()) {
      ok_ = false;
      return 0;
    }
    return n;
  }
  std::vector<std::string> strings() {
    std::vector<std::string> v(count(4));
    for (std::string& s : v) s = str();
    return v;
  }
  policy::SourceRef source() {
    policy::SourceRef s;
    s.file = str();
    s.line = static_cast<int>(i64());
    s.col = static_cast<int>(i64());
    return s;
  }
  std::optional<std::uint64_t> optional() {
    bool has = boolean();
    std::uint64_t v = u64();
    return has ? std::optional<std::uint64_t>(v) : std::nullopt;
  }

 private:
  void raw(void* p, size_t n) {
    if (!ok_ || in_.size() < n) {
      ok_ = false;
      return;
    }
    std::memcpy(p, in_.data(), n);
    in_.remove_prefix(n);
  }
  std::string_view in_;
  bool ok_ = true;
};

// Every field of the Plan is written below and read back in read_plan, in the same order. A field
// added to the Plan must be added to both (and kMagic bumped): this stops the build until it is,
// on the 64-bit libstdc++ targets moat is built for.
#if defined(__GLIBCXX__) && defined(__LP64__)
static_assert(sizeof(policy::Plan) == 640,
              "policy::Plan changed: add the new field to write_plan/read_plan, bump kMagic, and "
              "update this size");
#endif

void write_plan(Writer& w, const policy::Plan& p) {
  w.str(p.profile_name);
  w.str(p.description);
  w.strings(p.profile_files);
  w.strings(p.tool_files);
  w.strings(p.tool_caches);
  w.u32(static_cast<std::uint32_t>(p.paths.size()));
  for (const auto& r : p.paths) {
    w.str(r.path);
    w.u32(r.access);
    w.source(r.origin);
  }
  w.u32(static_cast<std::uint32_t>(p.deny.size()));
  for (const auto& d : p.deny) {
    w.str(d.path);
    w.source(d.origin);
  }
  w.u32(static_cast<std::uint32_t>(p.protect.size()));
  for (const auto& r : p.protect) {
    w.str(r.path);
    w.str(r.protection);
    w.boolean(r.directory);
    w.source(r.origin);
    w.str(r.placeholder);
  }
  w.u32(static_cast<std::uint32_t>(p.redacted.size()));
  for (const auto& r : p.redacted) {
    w.str(r.path);
    w.str(r.content);
    w.source(r.origin);
  }
  w.strings(p.unprotected);
  w.u32(static_cast<std::uint32_t>(p.env.size()));
  for (const auto& e : p.env) {
    w.str(e.name);
    w.str(e.value);
  }
  w.strings(p.dropped_env);
  w.u8(static_cast<std::uint8_t>(p.network));
  w.u32(static_cast<std::uint32_t>(p.net_allow.size()));
  for (const auto& r : p.net_allow) {
    w.str(r.text);
    w.source(r.origin);
  }
  w.u32(static_cast<std::uint32_t>(p.net_hosts.size()));
  for (const auto& h : p.net_hosts) {
    w.str(h.name);
    w.str(h.address);
    w.source(h.origin);
  }
  w.optional(p.limits.processes);
  w.optional(p.limits.memory_bytes);
  w.optional(p.limits.time_ms);
  w.optional(p.limits.file_size_bytes);
  w.optional(p.limits.open_files);
  w.u8(static_cast<std::uint8_t>(p.min_tier));
  w.boolean(p.learning);
  w.str(p.learned_from);
  w.str(p.home);
  w.str(p.project);
  w.str(p.cwd);
  w.str(p.tmpdir);
  w.str(p.user);
}

std::optional<policy::Plan> read_plan(Reader& r) {
  // Smallest encodings: a string is 4 bytes, a source 20.
  policy::Plan p;
  p.profile_name = r.str();
  p.description = r.str();
  p.profile_files = r.strings();
  p.tool_files = r.strings();
  p.tool_caches = r.strings();
  p.paths.resize(r.count(28));
  for (auto& x : p.paths) {
    x.path = r.str();
    x.access = r.u32();
    x.origin = r.source();
  }
  p.deny.resize(r.count(24));
  for (auto& x : p.deny) {
    x.path = r.str();
    x.origin = r.source();
  }
  p.protect.resize(r.count(33));
  for (auto& x : p.protect) {
    x.path = r.str();
    x.protection = r.str();
    x.directory = r.boolean();
    x.origin = r.source();
    x.placeholder = r.str();
  }
  p.redacted.resize(r.count(28));
  for (auto& x : p.redacted) {
    x.path = r.str();
    x.content = r.str();
    x.origin = r.source();
  }
  p.unprotected = r.strings();
  p.env.resize(r.count(8));
  for (auto& x : p.env) {
    x.name = r.str();
    x.value = r.str();
  }
  p.dropped_env = r.strings();
  std::uint8_t network = r.u8();
  if (network > static_cast<std::uint8_t>(policy::NetworkMode::kAllowlist)) return std::nullopt;
  p.network = static_cast<policy::NetworkMode>(network);
  p.net_allow.resize(r.count(24));
  for (auto& x : p.net_allow) {
    x.text = r.str();
    x.origin = r.source();
  }
  p.net_hosts.resize(r.count(28));
  for (auto& x : p.net_hosts) {
    x.name = r.str();
    x.address = r.str();
    x.origin = r.source();
  }
  p.limits.processes = r.optional();
  p.limits.memory_bytes = r.optional();
  p.limits.time_ms = r.optional();
  p.limits.file_size_bytes = r.optional();
  p.limits.open_files = r.optional();
  std::uint8_t tier = r.u8();
  if (tier > static_cast<std::uint8_t>(policy::Tier::kLandlock)) return std::nullopt;
  p.min_tier = static_cast<policy::Tier>(tier);
  p.learning = r.boolean();
  p.learned_from = r.str();
  p.home = r.str();
  p.project = r.str();
  p.cwd = r.str();
  p.tmpdir = r.str();
  p.user = r.str();
  if (!r.ok()) return std::nullopt;
  return p;
}

}  // namespace

std::string encode_cache_entry(const CacheEntry& entry) {
  Writer w;
  w.str(kMagic);
  w.str(entry.inputs);
  w.str(entry.stamps);
  w.strings(entry.diagnostics);
  write_plan(w, entry.plan);
  return w.take();
}

std::optional<CacheEntry> decode_cache_entry(std::string_view bytes) {
  Reader r(bytes);
  if (r.str() != kMagic) return std::nullopt;
  CacheEntry entry;
  entry.inputs = r.str();
  entry.stamps = r.str();
  entry.diagnostics = r.strings();
  auto plan = read_plan(r);
  if (!plan || !r.at_end()) return std::nullopt;
  entry.plan = std::move(*plan);
  return entry;
}

std::string encode_inputs(const std::string& name_or_path, const policy::Context& ctx,
                          const policy::Overrides& ov) {
  Writer w;
  w.str(kMagic);
  w.str(name_or_path);
  for (const std::string* s : {&ctx.home, &ctx.project, &ctx.cwd, &ctx.user, &ctx.tmpdir}) {
    w.str(*s);
  }
  w.strings(ctx.environ);
  w.strings(ctx.search_path);
  // Not the whole command (one entry per package list would pile up): what resolvers read of it.
  w.strings(policy::tool_command_key(ctx.argv));
  w.strings(ov.allow_read);
  w.strings(ov.allow_write);
  w.strings(ov.allow_exec);
  w.boolean(ov.network.has_value());
  w.u8(static_cast<std::uint8_t>(ov.network.value_or(policy::NetworkMode::kNone)));
  w.optional(ov.time_ms);
  w.strings(ov.keep_env);
  w.strings(ov.allow_hosts);
  w.strings(ov.add_hosts);
  w.boolean(ov.learn_network);
  return w.take();
}

std::string encode_stamps(const std::vector<FileStamp>& stamps) {
  Writer w;
  w.u32(static_cast<std::uint32_t>(stamps.size()));
  for (const FileStamp& s : stamps) {
    w.str(s.path);
    w.boolean(s.exists);
    w.u64(s.dev);
    w.u64(s.ino);
    w.i64(s.size);
    w.i64(s.mtime_ns);
    w.i64(s.ctime_ns);
  }
  return w.take();
}

}  // namespace moat::cli
