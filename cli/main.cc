// `moat`: the command line. Owns the top-level catch and the exit codes; each subcommand lives
// in its own file.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <variant>

#include "cli/commands.h"
#include "cli/doctor.h"
#include "cli/run.h"
#include "policy/units.h"

namespace {

void add_override_flags(CLI::App* cmd, moat::policy::Overrides& ov) {
  cmd->add_option("--allow-write", ov.allow_write, "also allow writing PATH")
      ->type_name("PATH")
      ->allow_extra_args(false);
  cmd->add_option("--allow-read", ov.allow_read, "also allow reading PATH")
      ->type_name("PATH")
      ->allow_extra_args(false);
  cmd->add_option("--allow-exec", ov.allow_exec, "also allow reading and executing PATH")
      ->type_name("PATH")
      ->allow_extra_args(false);
}

}  // namespace

// A repeatable option takes one value per occurrence (--allow-host a --allow-host b), so it never
// swallows the command after it.
CLI::Option* one_value_each(CLI::Option* option) { return option->allow_extra_args(false); }

int main(int argc, char** argv) {
  CLI::App app{"moat: a kernel-enforced sandbox for package installs and coding agents"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "moat 0.1.0");

  moat::cli::RunOptions run;
  std::string net, timeout, tier;
  // `run` and `learn` take the same flags: learn is a run whose network is recorded, not judged.
  auto add_run_flags = [&](CLI::App* cmd) {
    cmd->add_option("-p,--profile", run.profile, "profile name or file (default: base)");
    add_override_flags(cmd, run.overrides);
    cmd->add_option("--net", net, "network: none | host | allowlist")
        ->check(CLI::IsMember({"none", "host", "allowlist"}));
    one_value_each(cmd->add_option(
                       "--allow-host", run.overrides.allow_hosts,
                       "allow a host name, *.domain, address or CIDR, each with an optional :PORT "
                       "(implies --net allowlist)"))
        ->type_name("RULE");
    one_value_each(
        cmd->add_option("--add-host", run.overrides.add_hosts,
                        "answer NAME with ADDRESS in the sandbox's DNS (like docker --add-host)"))
        ->type_name("NAME=ADDRESS");
    cmd->add_option("--audit", run.audit_path, "write every event as a JSON line to FILE")
        ->type_name("FILE");
    cmd->add_option("--timeout", timeout, "kill everything after this long (30s, 10m, 1h)");
    one_value_each(
        cmd->add_option("--keep-env", run.overrides.keep_env, "pass this variable through"))
        ->type_name("NAME");
    cmd->add_flag(
        "--allow-tier", run.allow_tier_landlock,
        "--allow-tier landlock: fall back to the landlock tier without user namespaces");
    cmd->add_option("--tier", tier, "full (default) | landlock: the weaker tier, explicitly")
        ->check(CLI::IsMember({"full", "landlock"}));
    cmd->add_flag("--allow-degraded", run.allow_degraded,
                  "run without limits that need root, the watch if it cannot load, or a "
                  "protection a symlink makes impossible (each warned)");
    cmd->add_flag("--no-watch", run.no_watch,
                  "do not load the eBPF watch (root): no exec/file events in the audit");
    cmd->add_option("command", run.command, "the command and its arguments")->required();
    cmd->prefix_command(false);
  };
  // Startup time: when the first argument names a subcommand, only that one gets its options
  // (building CLI11's options for every subcommand, run's twice over with learn, cost ~0.1 ms of
  // every run); anything else (--help, a typo) gets the whole interface.
  const std::string invoked = argc > 1 ? argv[1] : "";
  const bool one_subcommand = invoked == "run" || invoked == "install" || invoked == "learn" ||
                              invoked == "explain" || invoked == "check" || invoked == "report" ||
                              invoked == "doctor" || invoked == "profiles";
  auto defines = [&](const char* name) { return !one_subcommand || invoked == name; };
  CLI::App* run_cmd = app.add_subcommand("run", "run a command in a sandbox");
  if (defines("run")) {
    add_run_flags(run_cmd);
    run_cmd->add_flag("--fail-on-drift", run.fail_on_drift,
                      "with a learned profile: exit 1 when the run drifted from it, or lost "
                      "events and so cannot show it did not (and the command itself succeeded)");
  }
  CLI::App* install_cmd = app.add_subcommand(
      "install",
      "two-phase install: -p npm -- npm install ARGS fetches with --ignore-scripts (registry, "
      "tokens), then runs the install scripts with no network and no tokens");
  if (defines("install")) {
    add_run_flags(install_cmd);
    install_cmd->add_flag("--trust-project-yarn", run.trust_project_yarn,
                          "run the project's own yarn release and plugins (.yarnrc.yml yarnPath, "
                          "plugins) in phase 1, where your registry tokens are readable");
  }
  CLI::App* learn_cmd = app.add_subcommand(
      "learn", "run a command under a permissive but contained policy and write the profile it needs");
  if (defines("learn")) {
    add_run_flags(learn_cmd);
    learn_cmd->add_option("--out", run.learn_out, "write the learned profile to FILE")
        ->type_name("FILE")
        ->required();
  }

  std::string explain_profile = "base";
  moat::policy::Overrides explain_ov;
  std::vector<std::string> explain_command;
  CLI::App* explain_cmd = app.add_subcommand(
      "explain", "what a profile allows, in plain words (for a command: -- pip install -i URL x)");
  if (defines("explain")) {
    explain_cmd->add_option("-p,--profile", explain_profile, "profile name or file");
    add_override_flags(explain_cmd, explain_ov);
    explain_cmd->add_option("command", explain_command,
                            "the command it would run: its tool's registry options count");
    explain_cmd->prefix_command(false);
  }

  std::vector<std::string> check_files;
  CLI::App* check_cmd = app.add_subcommand("check", "validate profile files");
  if (defines("check")) check_cmd->add_option("files", check_files, "profile files")->required();

  app.add_subcommand("profiles", "list the profiles on the search path");
  moat::cli::ReportOptions report;
  CLI::App* report_cmd =
      app.add_subcommand("report", "summarise a run again from its --audit file");
  if (defines("report")) {
    report_cmd->add_option("file", report.audit_file, "the JSON lines written by --audit")
        ->required();
    report_cmd->add_option("--format", report.format, "text (default) or json")
        ->check(CLI::IsMember({"text", "json"}));
    report_cmd->add_option("--html", report.html_out, "write a self-contained HTML page to FILE")
        ->type_name("FILE");
  }
  bool doctor_json = false;
  CLI::App* doctor_cmd = app.add_subcommand("doctor", "what this kernel offers each layer");
  if (defines("doctor")) doctor_cmd->add_flag("--json", doctor_json, "print JSON");

  // `--allow-tier landlock` takes a value; CLI11 flags cannot, so we rewrite it first.
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--allow-tier" || args[i].rfind("--allow-tier=", 0) == 0) {
      std::string value =
          args[i] == "--allow-tier" && i + 1 < args.size() ? args[i + 1] : args[i].substr(13);
      if (value != "landlock") {
        std::fprintf(stderr, "moat: --allow-tier takes 'landlock'\n");
        return 125;
      }
      if (args[i] == "--allow-tier") args.erase(args.begin() + static_cast<long>(i) + 1);
      args[i] = "--allow-tier";
    }
  }
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 125;
  }

  try {
    if (*run_cmd || *learn_cmd || *install_cmd) {
      run.overrides.learn_network = learn_cmd->parsed();
      run.force_tier_landlock = tier == "landlock";
      if (!net.empty()) {
        run.overrides.network = net == "host"        ? moat::policy::NetworkMode::kHost
                                : net == "allowlist" ? moat::policy::NetworkMode::kAllowlist
                                                     : moat::policy::NetworkMode::kNone;
      }
      if (!timeout.empty()) {
        auto ms = moat::policy::parse_duration_ms(timeout);
        if (const auto* why = std::get_if<std::string>(&ms)) {
          std::fprintf(stderr, "moat: --timeout: %s (try 30s, 10m, 1h)\n", why->c_str());
          return 125;
        }
        run.overrides.time_ms = std::get<std::uint64_t>(ms);
      }
      if (*install_cmd) return moat::cli::install_main(run);
      return moat::cli::run_main(run);
    }
    if (*explain_cmd) return moat::cli::explain_main(explain_profile, explain_ov, explain_command);
    if (*check_cmd) return moat::cli::check_main(check_files);
    if (*report_cmd) return moat::cli::report_main(report);
    if (*doctor_cmd) return moat::cli::doctor_main(doctor_json);
    if (app.got_subcommand("profiles")) return moat::cli::profiles_main();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moat: internal error: %s\n", e.what());
    return 125;
  }
  return 125;
}
