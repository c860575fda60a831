// The kernel types the watch's CO-RE reads need, cut from /sys/kernel/btf/vmlinux once per boot
// (`bpftool gen min_core_btf`, ~1 KiB) and kept in /run/moat (root's, gone at reboot). Loading
// with it instead of the whole vmlinux BTF (5 MiB, ~30 ms to parse and search) is what makes a
// root `moat run` start in milliseconds with the watch.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace moat::watch {

// The cached minimal BTF for this BPF object on this boot, made now if missing. nullopt when it
// cannot be had (no bpftool, not root, no /run): the caller loads with the full vmlinux BTF,
// which is slower but equivalent.
std::optional<std::string> minimal_btf_for(const void* object, std::size_t size);

}  // namespace moat::watch
