// Unit tests for the pure parts of the kernel probe: the BTF walker and the tier verdict.
// probe_kernel() itself runs on real kernels in integration tests and `moat doctor`.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "sandboxd/probe.h"
#include "sandboxd/probe_internal.h"

namespace moat::probe {
namespace {

// A synthetic BTF blob: [1] INT, [2] FUNC_PROTO(1 param), [3] FUNC vfs_write, [4] STRUCT(2
// members), [5] FUNC bpf_lsm_file_open.
std::vector<std::byte> sample_btf(std::uint32_t bad_kind = 0) {
  const char strings[] = "\0int\0vfs_write\0s\0bpf_lsm_file_open";
  std::vector<std::uint32_t> t;
  auto type = [&](std::uint32_t name, std::uint32_t kind, std::uint32_t vlen, std::uint32_t x) {
    t.insert(t.end(), {name, (kind << 24) | vlen, x});
  };
  type(1, 1, 0, 4);
  t.push_back(32);  // INT encoding
  type(0, 13, 1, 1);
  t.insert(t.end(), {0, 1});  // btf_param
  type(5, 12, 0, 2);
  type(15, bad_kind != 0 ? bad_kind : 4, 2, 8);
  t.insert(t.end(), {0, 1, 0, 0, 1, 32});  // two btf_member
  type(17, 12, 0, 2);
  const std::uint32_t type_len = static_cast<std::uint32_t>(t.size() * 4);
  const std::uint32_t hdr[6] = {0x0001eB9F, 24, 0, type_len, type_len, sizeof strings};
  std::vector<std::byte> out(24 + type_len + sizeof strings);
  std::memcpy(out.data(), hdr, 24);
  std::memcpy(out.data() + 24, t.data(), type_len);
  std::memcpy(out.data() + 24 + type_len, strings, sizeof strings);
  return out;
}

TEST(ProbeBtf, FindsFuncIdsByName) {
  auto ids = detail::btf_find_funcs(sample_btf(), {"bpf_lsm_file_open", "vfs_write", "nope", "s"});
  ASSERT_TRUE(ids.ok()) << ids.error().to_string();
  EXPECT_EQ(*ids, (std::vector<std::uint32_t>{5, 3, 0, 0}));  // "s" is a STRUCT, not a FUNC
}

TEST(ProbeBtf, RejectsMalformedBlobs) {
  auto blob = sample_btf();
  EXPECT_FALSE(detail::btf_find_funcs(std::span(blob).first(20), {"vfs_write"}).ok());
  blob[0] = std::byte{0};
  EXPECT_FALSE(detail::btf_find_funcs(blob, {"vfs_write"}).ok());
  auto unknown_kind = sample_btf(31);
  EXPECT_FALSE(detail::btf_find_funcs(unknown_kind, {"bpf_lsm_file_open"}).ok());
}

TEST(ProbeBtf, ReadsTheRunningKernelsBtf) {
  auto ids = detail::btf_find_funcs_in_file("/sys/kernel/btf/vmlinux", {"vfs_write"});
  if (!ids.ok()) {
    // A kernel without BTF is a real environment; CI's kernel has it, so there it must work.
    const char* must = std::getenv("MOAT_MUST_WORK");
    if (must != nullptr && std::string(must) == "1") FAIL() << ids.error().to_string();
    GTEST_SKIP() << ids.error().to_string();
  }
  EXPECT_NE((*ids)[0], 0u);
}

KernelFeatures everything() {
  KernelFeatures k;
  k.landlock_abi = 7;
  k.landlock.available = true;
  for (Feature* f : {&k.no_new_privs, &k.seccomp, &k.user_ns, &k.mount_ns, &k.pid_ns, &k.net_ns,
                     &k.ipc_ns, &k.uts_ns}) {
    f->available = true;
  }
  return k;
}

TEST(ProbeTier, FullWhenNamespacesLandlockAndSeccomp) {
  TierAssessment t = assess_tier(everything());
  EXPECT_EQ(t.tier, TierVerdict::kFull);
  EXPECT_TRUE(t.reasons.empty());
}

TEST(ProbeTier, LandlockWithoutUserNamespaces) {
  KernelFeatures k = everything();
  k.user_ns = Feature{"user namespace", false, "unshare(CLONE_NEWUSER): EPERM", "sysctl ...", false};
  TierAssessment t = assess_tier(k);
  EXPECT_EQ(t.tier, TierVerdict::kLandlock);
  ASSERT_EQ(t.reasons.size(), 1u);
  EXPECT_NE(t.reasons[0].find("sysctl ..."), std::string::npos);
}

TEST(ProbeTier, NoneWithoutLandlockOrSeccomp) {
  KernelFeatures k = everything();
  k.landlock_abi = -ENOSYS;
  EXPECT_EQ(assess_tier(k).tier, TierVerdict::kNone);
  k = everything();
  k.seccomp.available = false;
  EXPECT_EQ(assess_tier(k).tier, TierVerdict::kNone);
}

}  // namespace
}  // namespace moat::probe
