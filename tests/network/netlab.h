// The network lab of the network suite: two test hosts in their own network namespaces, reachable
// from the host (and so by moat's supervisor) over veth pairs, with addresses in 10.77.0.0/16 only.
//   registry  10.77.X.2: HTTP on kRegistryHttpPort (a python3 http.server), TLS on 443 (openssl
//             s_server -www, self-signed cert made at setup)
//   collector 10.77.X.3 and fd77::X:3: records EVERYTHING it receives (TCP accepts and data on
//             80/8080/4444/443/53, UDP datagrams on 53/4444) as lines in a log the tests read
// X is picked per run so that parallel test processes (ctest -j) never clash. Root only; set up
// once per test process (a gtest Environment), torn down at exit; leftovers of a crashed run are
// swept by the next setup.
#pragma once

#include <string>
#include <vector>

namespace moat::testing {

class NetLab {
 public:
  static constexpr int kRegistryHttpPort = 8080;
  static constexpr int kRegistryTlsPort = 443;
  static const std::vector<int>& collector_tcp_ports();  // 80, 8080, 4444, 443, 53
  static const std::vector<int>& collector_udp_ports();  // 53, 4444

  // The lab of this process, or nullptr when setup failed (see error()).
  static NetLab* get();
  static const std::string& error();
  static void set_up();
  static void tear_down();

  const std::string& registry4() const { return reg4_; }
  const std::string& collector4() const { return col4_; }
  const std::string& collector6() const { return col6_; }
  const std::string& host4() const { return host4_; }
  // The body the registry serves at "/" (unique per run).
  const std::string& registry_body() const { return body_; }

  // Lines the collector recorded so far ("tcp PORT accept PEER", "tcp PORT data HEX",
  // "udp PORT from PEER len N data HEX").
  std::vector<std::string> collector_log() const;
  size_t collector_count() const { return collector_log().size(); }
  // Lines recorded after the first FROM lines.
  std::vector<std::string> collector_since(size_t from) const;
  // Waits until more than FROM lines exist (up to TIMEOUT_S); returns whether they appeared.
  bool wait_collector_beyond(size_t from, double timeout_s) const;
  // Waits until every connection the collector accepted has been logged as finished (data/nodata),
  // up to TIMEOUT_S.
  void wait_quiet(double timeout_s) const;

 private:
  bool start(std::string* why);
  void stop();
  pid_t spawn_in(const std::string& ns, const std::vector<std::string>& argv, const std::string& log);

  int x_ = -1;
  std::string reg_ns_, col_ns_, reg_if_, col_if_, dir_;
  std::string reg4_, col4_, col6_, host4_, host6_, body_, col_log_;
  std::vector<pid_t> children_;
};

// Runs a shell command as root; returns its exit status (output to *out when given).
int sh(const std::string& cmd, std::string* out = nullptr);

}  // namespace moat::testing
