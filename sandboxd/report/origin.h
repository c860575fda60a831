// Which package a process works for: npm-family lifecycle scripts export npm_package_name,
// npm_package_version and npm_lifecycle_event to the script and everything it starts; pip builds
// an sdist in a directory named after the package. Pure functions, unit-tested.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace moat::report {

struct Origin {
  std::string tool;     // "npm" (pnpm and yarn export the same variables), "pip"
  std::string package;  // the package's name
  std::string version;  // when known
  std::string script;   // npm: the lifecycle event ("postinstall"); pip: "build"
  // An installed package's own code, not the project's: a lifecycle script npm (pnpm, yarn)
  // started in the package's directory under node_modules, a pip build of a downloaded
  // distribution, and everything either starts, whatever environment or directory it moves to.
  bool dependency = false;

  bool empty() const { return package.empty() && script.empty(); }
  // "npm evil-pkg@1.0.0 postinstall", "pip wheelpkg build"
  std::string describe() const;
  bool operator==(const Origin&) const = default;
};

// From a process's environment: NUL-separated "KEY=value" entries as in /proc/PID/environ (a
// truncated last entry is ignored). Empty when no npm variable is set.
Origin origin_from_environment(std::string_view environ_block);

// From a pip build subprocess: pip unpacks an sdist to .../pip-install-XXXX/<name>_<32 hex> (or
// .../pip-req-build-XXXX for a local path or URL, whose name pip only learns from the metadata)
// and runs the build backend with that directory as its working directory.
Origin origin_from_pip_build(std::string_view cwd);

// The origin a process gets: its own environment's, else a pip build directory's, else its
// parent's (children of a lifecycle script keep working for the package even when they scrub
// their environment). `dependency` is set where an origin first appears in a directory under
// node_modules (npm starts a package's script in the package's directory), and for a pip build;
// once set, every descendant keeps that origin, whatever environment or directory it moves to
// (a script cannot become the project's own, or another package, by setting npm's variables).
Origin resolve_origin(std::string_view environ_block, std::string_view cwd, const Origin& parent);

// Whether PATH has a `node_modules` component.
bool under_node_modules(std::string_view path);

}  // namespace moat::report
