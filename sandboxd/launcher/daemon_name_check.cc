// DaemonNameCheck: gate::KernelBinding over a sandboxd connection. See daemon_name_check.h.
#include "sandboxd/launcher/daemon_name_check.h"

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "sandboxd/bpf_net/name_binding.h"  // describe_kernel_verdict
#include "sandboxd/daemon/client.h"

namespace moat::launcher {
namespace {

class DaemonNameCheck final : public gate::KernelBinding {
 public:
  explicit DaemonNameCheck(daemon::Client client) : client_(std::move(client)) {}

  Status bind(int sock, std::uint64_t connection, std::string_view name) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto number = client_.bind_name(sock, name);
    if (!number) return number.error();
    // Only refusals come back, so passed connections stay here: the newest are kept.
    if (ours_.size() >= kMaxKept) ours_.erase(ours_.begin());
    ours_[*number] = {connection, std::string(name)};
    return {};
  }

  int poll_fd() const override { return -1; }

  std::vector<gate::KernelVerdict> take_verdicts() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<gate::KernelVerdict> out;
    while (true) {
      auto refusal = client_.next_name_refusal();
      if (!refusal || refusal->connection == 0) break;
      auto it = ours_.find(refusal->connection);
      if (it == ours_.end()) continue;
      gate::KernelVerdict v;
      v.connection = it->second.first;
      v.reason = refusal->reason;
      v.protocol = refusal->protocol;
      v.decision = bpfnet::describe_kernel_verdict(true, refusal->reason, refusal->protocol,
                                                   refusal->seen, it->second.second);
      ours_.erase(it);
      out.push_back(std::move(v));
    }
    return out;
  }

 private:
  static constexpr size_t kMaxKept = 4096;
  daemon::Client client_;
  std::mutex mu_;  // bind() runs on the gate's workers too
  // The daemon's number -> the gate's connection and the name it was bound to.
  std::map<std::uint64_t, std::pair<std::uint64_t, std::string>> ours_;
};

}  // namespace

Result<std::unique_ptr<gate::KernelBinding>> connect_daemon_name_check(
    const std::string& socket_path) {
  auto client = daemon::Client::connect(socket_path);
  if (!client) return client.error();
  if (!client->offers(daemon::kFeatureNameCheck)) {
    return make_error(ErrorCode::kUnsupported,
                      "sandboxd at " + socket_path + " has no kernel name check");
  }
  return std::unique_ptr<gate::KernelBinding>(
      std::make_unique<DaemonNameCheck>(std::move(*client)));
}

}  // namespace moat::launcher
