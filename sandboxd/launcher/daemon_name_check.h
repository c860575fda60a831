// The kernel name check through sandboxd, for gates without root: the daemon loaded the sk_msg
// program once; each name-bound HTTPS connection is sent to it (SCM_RIGHTS) before the sandbox
// gets it, and its refusals are asked for. A connection of its own, so the gate's threads never
// share the launcher's.
#pragma once

#include <memory>
#include <string>

#include "policy/result.h"
#include "sandboxd/gate/kernel_binding.h"

namespace moat::launcher {

// Connects to sandboxd at SOCKET_PATH; kUnsupported when it offers no name check.
Result<std::unique_ptr<gate::KernelBinding>> connect_daemon_name_check(
    const std::string& socket_path);

}  // namespace moat::launcher
