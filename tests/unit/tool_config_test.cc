// Tool resolvers on sample configuration trees (an in-memory file system: path -> content), and
// their use by the compiler: multi-valued expansion, unknown names, resolver errors, the files
// a plan depends on.
#include "policy/tool_config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "config_tree.h"
#include "policy_test_util.h"

namespace moat::policy {
namespace {

namespace fs = std::filesystem;
using testing::has_code;
using testing::test_context;
using testing::write_text;

using Tree = AliceTree;  // config_tree.h

ToolValues resolve(const char* name, Tree& t) {
  ToolResolver r = find_tool_resolver(name);
  EXPECT_NE(r, nullptr) << name;
  Result<ToolValues> v = r(t.input());
  EXPECT_TRUE(v.ok()) << name << ": " << (v.ok() ? "" : v.error().to_string());
  return v.ok() ? *v : ToolValues{};
}

Error resolve_error(const char* name, Tree& t) {
  Result<ToolValues> v = find_tool_resolver(name)(t.input());
  EXPECT_FALSE(v.ok()) << name;
  return v.ok() ? Error{} : v.error();
}

TEST(ToolConfig, TableNamesTheNpmFamily) {
  auto names = tool_variable_names();
  for (const char* n : {"npm.registry", "npm.registries", "npm.cache", "npm.userconfig",
                        "pnpm.registries", "pnpm.store", "pnpm.cache", "yarn.registries",
                        "yarn.cache"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  EXPECT_EQ(find_tool_resolver("npm.nope"), nullptr);
}

TEST(NpmConfig, NothingConfiguredIsAnErrorNotAGuessedHost) {
  Tree t;
  Error e = resolve_error("npm.registries", t);
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.message, "npm has no registry configured");
  EXPECT_NE(e.hint.find("npm config set registry"), std::string::npos);
}

// The installed npm's definitions file, as npm 9-11 write it (the URL here is a test host).
const char* kDefinitions =
    "  proxy: new Definition('proxy', {\n    default: null,\n  }),\n"
    "  registry: new Definition('registry', {\n    default: 'https://npm-default.example.test/',\n"
    "    type: url,\n    description: `...`,\n  }),\n";

TEST(NpmConfig, NpmsOwnDefaultFromTheInstalledNpmOnPath) {
  Tree t;
  t.env = {"PATH=/home/alice/.nvm/versions/node/v22/bin:/usr/bin"};
  t.files["/usr/lib/node_modules/npm/node_modules/@npmcli/config/lib/definitions/definitions.js"] =
      kDefinitions;
  EXPECT_EQ(resolve("npm.registries", t), ToolValues{"npm-default.example.test:443"});
  EXPECT_EQ(resolve("npm.registry", t), ToolValues{"https://npm-default.example.test/"});
  // The npm a shell would run first wins: nvm's, earlier on PATH.
  t.files["/home/alice/.nvm/versions/node/v22/lib/node_modules/npm/node_modules/@npmcli/config/"
          "lib/definitions/definitions.js"] =
      "registry: new Definition(\"registry\", { default: \"http://nvm-npm.example.test:8080\" })";
  EXPECT_EQ(resolve("npm.registries", t), ToolValues{"nvm-npm.example.test:8080"});
  // Any configuration wins over the default.
  t.env.push_back("npm_config_registry=https://mirror.example.test/npm/");
  EXPECT_EQ(resolve("npm.registries", t), ToolValues{"mirror.example.test:443"});
}

TEST(NpmConfig, UnreadableDefinitionsAreNoRegistry) {
  Tree t;
  t.env = {"PATH=/usr/bin"};
  const std::string defs =
      "/usr/lib/node_modules/npm/node_modules/@npmcli/config/lib/definitions/definitions.js";
  for (const char* text : {"module.exports = {}", "registry: new Definition('registry', { default: null })",
                           "registry: new Definition('registry', { default: 'ftp://x.test/' })",
                           "registry: new Definition('registry', { default: 'https://unclosed"}) {
    t.files[defs] = text;
    EXPECT_EQ(resolve_error("npm.registries", t).message, "npm has no registry configured") << text;
  }
}

TEST(NpmConfig, LevelsInNpmsOrderWithScopes) {
  Tree t;
  t.files["/usr/etc/npmrc"] = "registry=https://global.test/\n@g:registry=https://g.test/\n";
  t.files["/home/alice/.npmrc"] =
      "; user\nregistry = \"https://mirror.test/npm/\"\n@corp:registry=http://corp.test:8080/\n"
      "//mirror.test/npm/:_authToken=secret\n";
  // npm's project is the nearest package.json upwards from the working directory.
  t.files["/home/alice/proj/package.json"] = "{}";
  t.files["/home/alice/proj/.npmrc"] = "# project\n@corp:registry=https://corp2.test/\n";
  EXPECT_EQ(resolve("npm.registry", t), ToolValues{"https://mirror.test/npm/"});
  EXPECT_EQ(resolve("npm.registries", t),
            (ToolValues{"mirror.test:443", "corp2.test:443", "g.test:443"}));
  // The environment wins, whatever the case of the prefix.
  t.env = {"NPM_CONFIG_REGISTRY=http://env.test/", "npm_config_@e:registry=http://e.test:81"};
  EXPECT_EQ(resolve("npm.registries", t),
            (ToolValues{"env.test:80", "corp2.test:443", "e.test:81", "g.test:443"}));
}

TEST(NpmConfig, ReadsEveryLevelNpmReads) {
  Tree t;
  resolve_error("npm.registries", t);
  for (const char* f : {"/usr/share/nodejs/npm/npmrc", "/usr/lib/node_modules/npm/npmrc",
                        "/usr/etc/npmrc", "/home/alice/.npmrc", "/home/alice/proj/sub/package.json",
                        "/home/alice/proj/package.json", "/package.json",
                        "/home/alice/proj/sub/.npmrc"}) {
    EXPECT_NE(std::find(t.reads.begin(), t.reads.end(), f), t.reads.end()) << f;
  }
}

TEST(NpmConfig, UserconfigAndPrefixComeFromTheEnvironment) {
  Tree t;
  t.env = {"NPM_CONFIG_USERCONFIG=/etc/alt/npmrc", "PREFIX=/opt/node"};
  t.files["/etc/alt/npmrc"] = "registry=https://alt.test:8443/";
  t.files["/opt/node/etc/npmrc"] = "@o:registry=https://[2001:db8::1]:4873/";
  t.files["/home/alice/.npmrc"] = "registry=https://ignored.test/";
  EXPECT_EQ(resolve("npm.userconfig", t), ToolValues{"/etc/alt/npmrc"});
  EXPECT_EQ(resolve("npm.registries", t), (ToolValues{"alt.test:8443", "[2001:db8::1]:4873"}));
}

TEST(NpmConfig, BuiltinConfigOfDebiansNpm) {
  Tree t;
  t.files["/usr/share/nodejs/npm/npmrc"] = "globalconfig=/etc/npmrc\n";
  t.files["/etc/npmrc"] = "registry=https://debian.test/\n";
  EXPECT_EQ(resolve("npm.registries", t), ToolValues{"debian.test:443"});
}

TEST(NpmConfig, EnvironmentVariablesInsideNpmrc) {
  Tree t;
  t.env = {"REG_HOST=local.test"};
  t.files["/home/alice/.npmrc"] =
      "registry=http://${REG_HOST}:4873/\n@x:registry=https://${UNSET?}x.test/\n";
  EXPECT_EQ(resolve("npm.registries", t), (ToolValues{"local.test:4873", "x.test:443"}));
  // npm leaves an unset ${NAME} as written: that is not a host we can allow.
  t.files["/home/alice/.npmrc"] = "registry=https://${NOT_SET}/\n";
  Error e = resolve_error("npm.registries", t);
  EXPECT_NE(e.message.find("environment variable is not set"), std::string::npos);
}

// moat reads the project's .npmrc with the caller's whole environment, and hands the registry it
// names into the sandbox (npm_config_registry) and lets it be contacted: a project file must not
// pull a credential out of the environment that way. The user's own files may.
TEST(NpmConfig, ProjectFileGetsNoSecretFromTheEnvironment) {
  Tree t;
  t.env = {"GITHUB_TOKEN=ghp_SECRET", "NPM_TOKEN=npm_SECRET", "REG_HOST=local.test"};
  t.files["/home/alice/proj/package.json"] = "{}";
  t.files["/home/alice/proj/.npmrc"] =
      "registry=http://${REG_HOST}:4873/${GITHUB_TOKEN}/\n@a:registry=https://${NPM_TOKEN}.x.test/"
      "\n";
  EXPECT_EQ(resolve("npm.registry", t), ToolValues{"http://local.test:4873/${GITHUB_TOKEN}/"});
  Error e = resolve_error("npm.registries", t);  // the scoped host is left unexpanded
  EXPECT_EQ(e.message.find("SECRET"), std::string::npos) << e.message;
  t.files["/home/alice/proj/.npmrc"] = "registry=http://${REG_HOST}:4873/${GITHUB_TOKEN}/\n";
  for (const std::string& v : resolve("npm.registries", t)) {
    EXPECT_EQ(v.find("SECRET"), std::string::npos) << v;
  }
  // The user's own file is trusted with its own variables.
  t.files.erase("/home/alice/proj/.npmrc");
  t.files["/home/alice/.npmrc"] = "registry=https://r.test/${NPM_TOKEN}/\n";
  EXPECT_EQ(resolve("npm.registry", t), ToolValues{"https://r.test/npm_SECRET/"});
}

// A registry URL's user information (basic auth) is a credential: not in the value handed into
// the sandbox (where install scripts read npm_config_registry), not in an error message.
TEST(NpmConfig, RegistryCredentialsInTheUrlStayOutside) {
  Tree t;
  t.files["/home/alice/.npmrc"] = "registry=http://ci-user:REGPASS@r.test:4873/\n";
  EXPECT_EQ(resolve("npm.registry", t), ToolValues{"http://r.test:4873/"});
  EXPECT_EQ(resolve("pnpm.registry", t), ToolValues{"http://r.test:4873/"});
  EXPECT_EQ(resolve("npm.registries", t), ToolValues{"r.test:4873"});
  t.env = {"YARN_NPM_REGISTRY_SERVER=https://u:YARNPASS@y.test/"};
  EXPECT_EQ(resolve("yarn.registry", t), ToolValues{"https://y.test/"});
  t.files["/home/alice/.npmrc"] = "registry=http://ci-user:REGPASS@r.test:99999/\n";
  Error e = resolve_error("npm.registries", t);
  EXPECT_EQ(e.message.find("REGPASS"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("http://r.test:99999/"), std::string::npos) << e.message;
}

// A hostile project's .npmrc full of unclosed "${" (800 KB, under the reader's 1 MiB cap) is
// linear work: it was quadratic, ~10^11 bytes scanned per read, seconds per compile (found by
// fuzz_tool_config). Now about a millisecond; the bound leaves room for a loaded machine.
TEST(NpmConfig, UnclosedVariablesAreLinear) {
  Tree t;
  std::string line = "registry=https://r.test/";
  for (int i = 0; i < 400000; ++i) line += "${";
  t.files["/home/alice/.npmrc"] = line + "\n";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(resolve("npm.registries", t), ToolValues{"r.test:443"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(NpmConfig, BadRegistryUrlNamesWhereItCameFrom) {
  Tree t;
  t.files["/home/alice/.npmrc"] = "registry=https://r.test/\n@s:registry=ftp://s.test/\n";
  Error e = resolve_error("npm.registries", t);
  EXPECT_EQ(e.message, "registry 'ftp://s.test/' (@s:registry): the scheme must be http or https");
}

TEST(NpmConfig, Cache) {
  Tree t;
  EXPECT_EQ(resolve("npm.cache", t), ToolValues{"/home/alice/.npm"});
  t.files["/home/alice/.npmrc"] = "cache=~/caches/npm/\n";
  EXPECT_EQ(resolve("npm.cache", t), ToolValues{"/home/alice/caches/npm"});
  t.env = {"npm_config_cache=/var/cache/npm"};
  EXPECT_EQ(resolve("npm.cache", t), ToolValues{"/var/cache/npm"});
}

// The project's .npmrc may choose registries (it says where the project's packages come from),
// not a writable directory: a hostile project, or an install script of an earlier run, would
// name ~/.local/bin.
TEST(NpmConfig, ProjectFileDoesNotChooseTheCache) {
  Tree t;
  t.files["/home/alice/proj/package.json"] = "{}";
  t.files["/home/alice/proj/.npmrc"] = "cache=/home/alice/.local/bin\nregistry=https://p.test/\n";
  EXPECT_EQ(resolve("npm.cache", t), ToolValues{"/home/alice/.npm"});
  EXPECT_EQ(resolve("npm.registries", t), ToolValues{"p.test:443"});
}

TEST(NpmConfig, NodedirHasNoValueUnlessSet) {
  Tree t;
  EXPECT_EQ(resolve("npm.nodedir", t), ToolValues{});
  t.files["/home/alice/.npmrc"] = "nodedir=/usr\n";
  EXPECT_EQ(resolve("npm.nodedir", t), ToolValues{"/usr"});
}

TEST(PnpmConfig, ReadsNpmrcAndItsOwnRc) {
  Tree t;
  t.files["/home/alice/.npmrc"] = "registry=https://npm.test/\n";
  t.files["/home/alice/.config/pnpm/rc"] = "@p:registry=https://p.test/\n";
  EXPECT_EQ(resolve("pnpm.registries", t), (ToolValues{"npm.test:443", "p.test:443"}));
  t.env = {"XDG_CONFIG_HOME=/cfg", "pnpm_config_registry=https://env.test/"};
  t.files["/cfg/pnpm/rc"] = "@q:registry=https://q.test/\n";
  EXPECT_EQ(resolve("pnpm.registries", t), (ToolValues{"env.test:443", "q.test:443"}));
}

TEST(PnpmConfig, StoreCacheAndStateDirectories) {
  Tree t;
  EXPECT_EQ(resolve("pnpm.store", t), ToolValues{"/home/alice/.local/share/pnpm/store"});
  EXPECT_EQ(resolve("pnpm.cache", t), ToolValues{"/home/alice/.cache/pnpm"});
  EXPECT_EQ(resolve("pnpm.state", t), ToolValues{"/home/alice/.local/state/pnpm"});
  t.env = {"XDG_DATA_HOME=/data", "XDG_CACHE_HOME=/c"};
  EXPECT_EQ(resolve("pnpm.store", t), ToolValues{"/data/pnpm/store"});
  EXPECT_EQ(resolve("pnpm.cache", t), ToolValues{"/c/pnpm"});
  t.files["/home/alice/.npmrc"] = "store-dir=~/store\n";
  EXPECT_EQ(resolve("pnpm.store", t), ToolValues{"/home/alice/store"});
  // The project's file does not choose a writable directory.
  t.files["/home/alice/proj/package.json"] = "{}";
  t.files["/home/alice/proj/.npmrc"] = "store-dir=/home/alice/.local/bin\n";
  EXPECT_EQ(resolve("pnpm.store", t), ToolValues{"/home/alice/store"});
}

TEST(YarnConfig, BerryRegistriesAndScopes) {
  Tree t;
  t.files["/home/alice/.yarnrc.yml"] = "npmRegistryServer: \"https://home.test\"\n";
  t.files["/home/alice/proj/.yarnrc.yml"] =
      "# project\nnodeLinker: node-modules\nnpmRegistryServer: 'https://proj.test:8443'\n"
      "npmScopes:\n  corp:\n    npmRegistryServer: http://corp.test  # scoped\n"
      "    npmAlwaysAuth: true\n  \"other\":\n    npmRegistryServer: https://other.test/x\n"
      "packageExtensions:\n  foo@*:\n    dependencies:\n      bar: 1.0.0\n";
  EXPECT_EQ(resolve("yarn.registries", t),
            (ToolValues{"home.test:443", "proj.test:8443", "corp.test:80", "other.test:443"}));
}

TEST(YarnConfig, TheDefaultRegistry) {
  Tree t;
  t.files["/home/alice/.npmrc"] = "registry=https://npm.test/\n";
  EXPECT_EQ(resolve("yarn.registry", t), ToolValues{"https://npm.test/"});
  t.files["/home/alice/.yarnrc"] = "registry \"https://home-classic.test/\"\n";
  EXPECT_EQ(resolve("yarn.registry", t), ToolValues{"https://home-classic.test/"});
  t.files["/home/alice/.yarnrc.yml"] = "npmRegistryServer: https://home.test\n";
  t.files["/home/alice/proj/.yarnrc.yml"] = "npmRegistryServer: https://proj.test\n";
  EXPECT_EQ(resolve("yarn.registry", t), ToolValues{"https://proj.test"});  // the closest
  t.env = {"YARN_NPM_REGISTRY_SERVER=https://env.test"};
  EXPECT_EQ(resolve("yarn.registry", t), ToolValues{"https://env.test"});
}

TEST(YarnConfig, ClassicYarnrcAndNpmrc) {
  Tree t;
  t.files["/home/alice/proj/.yarnrc"] = "# yarn lockfile v1\nregistry \"http://classic.test:4873/\"\n";
  t.files["/home/alice/.npmrc"] = "registry=https://npm.test/\n";
  EXPECT_EQ(resolve("yarn.registries", t), (ToolValues{"classic.test:4873", "npm.test:443"}));
  Tree none;
  EXPECT_EQ(resolve_error("yarn.registries", none).message, "yarn has no registry configured");
}

TEST(YarnConfig, CacheFolders) {
  Tree t;
  EXPECT_EQ(resolve("yarn.cache", t),
            (ToolValues{"/home/alice/.yarn/berry", "/home/alice/.cache/yarn"}));
  t.files["/home/alice/proj/.yarnrc.yml"] = "cacheFolder: ./.yarn/cache\n";
  EXPECT_EQ(resolve("yarn.cache", t),
            (ToolValues{"/home/alice/.yarn/berry", "/home/alice/proj/.yarn/cache",
                        "/home/alice/.cache/yarn"}));
  // Outside the project, a project file is not obeyed.
  t.files["/home/alice/proj/.yarnrc.yml"] = "cacheFolder: ~/.local/bin\nglobalFolder: /home/alice\n";
  EXPECT_EQ(resolve("yarn.cache", t),
            (ToolValues{"/home/alice/.yarn/berry", "/home/alice/.cache/yarn"}));
}

class ToolCompile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moat-tools-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  CompileOutput compile(const std::string& yaml) {
    const std::string file = (dir_ / "p.yaml").string();
    write_text(file, yaml);
    Context ctx = test_context();
    ctx.read_file = [this](const std::string& path) -> std::optional<std::string> {
      auto it = tree_.files.find(path);
      if (it == tree_.files.end()) return std::nullopt;
      return it->second;
    };
    return compile_profile(file, ctx, Overrides{});
  }
  fs::path dir_;
  Tree tree_;
};

TEST_F(ToolCompile, MultiValuedVariableExpandsAnEntryKeepingItsPosition) {
  tree_.files["/home/alice/.npmrc"] =
      "registry=https://r.test/\n@a:registry=http://a.test:8080/\ncache=/var/npm\n";
  CompileOutput out = compile(
      "version: 1\nfilesystem:\n  write: [\"${npm.cache}/x\"]\n"
      "env:\n  set:\n    npm_config_registry: ${npm.registry}\n"
      "network:\n  mode: allowlist\n  allow:\n    - ${npm.registries}\n");
  ASSERT_TRUE(out.plan) << testing::render(out.diagnostics);
  ASSERT_EQ(out.plan->net_allow.size(), 2u);
  EXPECT_EQ(out.plan->net_allow[0].text, "r.test:443");
  EXPECT_EQ(out.plan->net_allow[1].text, "a.test:8080");
  EXPECT_EQ(out.plan->net_allow[1].origin.line, 10);
  EXPECT_EQ(out.plan->net_allow[1].origin.col, 7);
  bool found = false;
  for (const PathRule& r : out.plan->paths) found = found || r.path == "/var/npm/x";
  EXPECT_TRUE(found);
  found = false;
  for (const EnvVar& v : out.plan->env) {
    found = found || (v.name == "npm_config_registry" && v.value == "https://r.test/");
  }
  EXPECT_TRUE(found);
  // Every file asked for is a dependency, present or not.
  const auto& files = out.plan->tool_files;
  EXPECT_NE(std::find(files.begin(), files.end(), "/home/alice/.npmrc"), files.end());
  EXPECT_NE(std::find(files.begin(), files.end(), "/home/alice/proj/sub/.npmrc"), files.end());
}

TEST_F(ToolCompile, UnknownToolVariableSuggestsTheClosest) {
  CompileOutput out = compile(
      "version: 1\nnetwork:\n  mode: allowlist\n  allow: [\"${npm.registy}\"]\n");
  ASSERT_FALSE(out.plan);
  ASSERT_EQ(out.diagnostics.size(), 1u);
  const Diagnostic& d = out.diagnostics[0];
  EXPECT_EQ(d.code, "unknown-variable");
  EXPECT_EQ(d.message, "unknown variable '${npm.registy}' (did you mean 'npm.registry'?)");
  EXPECT_EQ(d.line, 4);
  EXPECT_EQ(d.col, 12);  // the $ (after [")
}

TEST_F(ToolCompile, ResolverErrorIsADiagnosticAtTheEntry) {
  CompileOutput out = compile(
      "version: 1\nnetwork:\n  mode: allowlist\n  allow:\n    - x.test:1\n"
      "    - ${npm.registries}\n");
  ASSERT_FALSE(out.plan);
  ASSERT_TRUE(has_code(out.diagnostics, "tool-config"));
  const Diagnostic& d = out.diagnostics[0];
  EXPECT_EQ(d.message, "${npm.registries}: npm has no registry configured");
  EXPECT_EQ(d.line, 6);
  EXPECT_EQ(d.col, 7);
}

TEST_F(ToolCompile, AnEnvironmentVariableWithoutValueIsLeftUnset) {
  CompileOutput out = compile("version: 1\nenv:\n  set:\n    npm_config_nodedir: ${npm.nodedir}\n");
  ASSERT_TRUE(out.plan) << testing::render(out.diagnostics);
  for (const EnvVar& v : out.plan->env) EXPECT_NE(v.name, "npm_config_nodedir");
  tree_.files["/home/alice/.npmrc"] = "nodedir=/opt/node\n";
  out = compile("version: 1\nenv:\n  set:\n    npm_config_nodedir: ${npm.nodedir}\n");
  ASSERT_TRUE(out.plan);
  bool found = false;
  for (const EnvVar& v : out.plan->env) {
    found = found || (v.name == "npm_config_nodedir" && v.value == "/opt/node");
  }
  EXPECT_TRUE(found);
}

TEST_F(ToolCompile, MultipleValuesInAnEnvironmentVariableAreAnError) {
  tree_.files["/home/alice/.npmrc"] = "registry=https://r.test/\n@a:registry=https://a.test/\n";
  CompileOutput out = compile("version: 1\nenv:\n  set:\n    X: ${npm.registries}\n");
  ASSERT_FALSE(out.plan);
  EXPECT_TRUE(has_code(out.diagnostics, "bad-value"));
}

// `moat check` judges the file: this machine's missing configuration is a warning there.
TEST_F(ToolCompile, CheckWarnsAboutAMachineWithoutConfiguration) {
  const std::string file = (dir_ / "c.yaml").string();
  write_text(file, "version: 1\nnetwork:\n  mode: allowlist\n  allow: [\"${npm.registries}\"]\n");
  CompileOutput out = check_profile_file(file, test_context());
  ASSERT_TRUE(out.plan) << testing::render(out.diagnostics);
  ASSERT_EQ(out.diagnostics.size(), 1u);
  EXPECT_FALSE(out.diagnostics[0].is_error);
  EXPECT_EQ(out.diagnostics[0].code, "tool-config");
  EXPECT_TRUE(out.plan->net_allow.empty());
}

}  // namespace
}  // namespace moat::policy
