// A minimal BTF reader: walks the type section of a BTF blob (e.g. /sys/kernel/btf/vmlinux) to
// find the type ids of FUNC entries by name, which BPF_PROG_LOAD needs as attach_btf_id.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "sandboxd/probe_internal.h"

namespace moat::probe::detail {
namespace {

// Layouts from include/uapi/linux/btf.h, kept here so that the walker checks sizes itself.
struct BtfHeader {
  std::uint16_t magic;
  std::uint8_t version;
  std::uint8_t flags;
  std::uint32_t hdr_len;
  std::uint32_t type_off;
  std::uint32_t type_len;
  std::uint32_t str_off;
  std::uint32_t str_len;
};
static_assert(sizeof(BtfHeader) == 24);

struct BtfType {
  std::uint32_t name_off;
  std::uint32_t info;  // vlen: bits 0-15, kind: bits 24-28, kind_flag: bit 31
  std::uint32_t size_or_type;
};
static_assert(sizeof(BtfType) == 12);

constexpr std::uint16_t kBtfMagic = 0xeB9F;

enum BtfKind : std::uint32_t {
  kUnknown = 0,
  kInt = 1,
  kPtr = 2,
  kArray = 3,
  kStruct = 4,
  kUnion = 5,
  kEnum = 6,
  kFwd = 7,
  kTypedef = 8,
  kVolatile = 9,
  kConst = 10,
  kRestrict = 11,
  kFunc = 12,
  kFuncProto = 13,
  kVar = 14,
  kDatasec = 15,
  kFloat = 16,
  kDeclTag = 17,
  kTypeTag = 18,
  kEnum64 = 19,
};

// Bytes that follow a btf_type of this kind, or -1 for a kind we do not know.
long trailing_bytes(std::uint32_t kind, std::uint32_t vlen) {
  switch (kind) {
    case kInt:
      return 4;
    case kArray:
      return 12;  // btf_array
    case kStruct:
    case kUnion:
      return 12L * vlen;  // btf_member
    case kEnum:
      return 8L * vlen;  // btf_enum
    case kFuncProto:
      return 8L * vlen;  // btf_param
    case kVar:
      return 4;  // btf_var
    case kDatasec:
      return 12L * vlen;  // btf_var_secinfo
    case kDeclTag:
      return 4;  // btf_decl_tag
    case kEnum64:
      return 12L * vlen;  // btf_enum64
    case kPtr:
    case kFwd:
    case kTypedef:
    case kVolatile:
    case kConst:
    case kRestrict:
    case kFunc:
    case kFloat:
    case kTypeTag:
      return 0;
    default:
      return -1;
  }
}

Error bad_btf(const std::string& why) {
  return make_error(ErrorCode::kInternal, "malformed BTF: " + why);
}

}  // namespace

Result<std::vector<std::uint32_t>> btf_find_funcs(std::span<const std::byte> btf,
                                                  const std::vector<std::string>& names) {
  if (btf.size() < sizeof(BtfHeader)) return bad_btf("shorter than its header");
  BtfHeader hdr;
  std::memcpy(&hdr, btf.data(), sizeof hdr);
  if (hdr.magic != kBtfMagic) return bad_btf("bad magic (or other endianness)");
  if (hdr.hdr_len < sizeof hdr || hdr.hdr_len > btf.size()) return bad_btf("bad header length");
  const std::uint64_t body = btf.size() - hdr.hdr_len;
  if (std::uint64_t{hdr.type_off} + hdr.type_len > body ||
      std::uint64_t{hdr.str_off} + hdr.str_len > body) {
    return bad_btf("sections beyond the end");
  }
  const std::byte* types = btf.data() + hdr.hdr_len + hdr.type_off;
  const char* strings = reinterpret_cast<const char*>(btf.data() + hdr.hdr_len + hdr.str_off);

  std::vector<std::uint32_t> ids(names.size(), 0);
  std::size_t found = 0;
  std::uint32_t id = 1;  // id 0 is void
  std::size_t pos = 0;
  while (pos + sizeof(BtfType) <= hdr.type_len && found < names.size()) {
    BtfType t;
    std::memcpy(&t, types + pos, sizeof t);
    const std::uint32_t kind = (t.info >> 24) & 0x1f;
    const std::uint32_t vlen = t.info & 0xffff;
    const long extra = trailing_bytes(kind, vlen);
    if (extra < 0)
      return bad_btf("unknown kind " + std::to_string(kind) + " at type " + std::to_string(id));
    if (kind == kFunc && t.name_off < hdr.str_len) {
      const char* name = strings + t.name_off;
      const std::size_t max_len = hdr.str_len - t.name_off;
      const std::size_t len = strnlen(name, max_len);
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (ids[i] == 0 && len == names[i].size() && names[i].compare(0, len, name, len) == 0) {
          ids[i] = id;
          ++found;
        }
      }
    }
    pos += sizeof(BtfType) + static_cast<std::size_t>(extra);
    ++id;
  }
  if (pos > hdr.type_len) return bad_btf("a type runs past the type section");
  return ids;
}

Result<std::vector<std::uint32_t>> btf_find_funcs_in_file(const std::string& path,
                                                          const std::vector<std::string>& names) {
  sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return syscall_error("read kernel BTF", "open", path, errno,
                         "rebuild the kernel with CONFIG_DEBUG_INFO_BTF=y");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return syscall_error("read kernel BTF", "fstat", path, errno);
  const std::size_t size = st.st_size > 0 ? static_cast<std::size_t>(st.st_size) : 0;

  // Linux 6.16+ maps vmlinux BTF read-only straight from the kernel image: no copy at all.
  if (size > 0) {
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (map != MAP_FAILED) {
      auto ids = btf_find_funcs({static_cast<const std::byte*>(map), size}, names);
      ::munmap(map, size);
      return ids;
    }
  }
  // Older kernels: read it. sysfs hands out 4 KiB per read(), so this costs ~1 ms.
  std::unique_ptr<std::byte[]> data(new std::byte[size > 0 ? size : std::size_t{8} << 20]);
  std::size_t cap = size > 0 ? size : std::size_t{8} << 20;
  std::size_t got = 0;
  while (got < cap) {
    ssize_t n = ::read(fd.get(), data.get() + got, cap - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return syscall_error("read kernel BTF", "read", path, errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return btf_find_funcs({data.get(), got}, names);
}

}  // namespace moat::probe::detail
