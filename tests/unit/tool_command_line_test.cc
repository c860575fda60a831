// The wrapped command's own options as the tool resolvers read them: which commands are the tool
// (versioned names, `python3 -m pip`, `uv pip`, another program is not), both option forms and
// short clusters, the bare `--`, and each tool's precedence (command line over the environment
// over files). Host names are .test names and 10.77.0.0/16 addresses only.
#include <gtest/gtest.h>

#include <map>

#include "config_tree.h"
#include "policy/tool_config.h"
#include "policy/tools/common.h"
#include "policy/tools/npm.h"
#include "policy/tools/pip.h"
#include "policy/tools/uv.h"

namespace moat::policy::tools {
namespace {

using Args = std::vector<std::string>;

using Tree = ConfigTree;

std::optional<Args> arguments(const Args& argv, const ToolCommand& tool) {
  ToolConfigInput in;
  in.argv = argv;
  return tool_arguments(in, tool);
}

// --- which command is the tool --------------------------------------------------------------

TEST(ToolCommandLine, TheToolByNameWithOrWithoutAVersion) {
  for (const char* pip : {"pip", "pip3", "pip3.11", "/work/proj/.venv/bin/pip3.12"}) {
    EXPECT_EQ(arguments({pip, "install", "-i", "u"}, kPipCommand), (Args{"install", "-i", "u"}))
        << pip;
  }
  for (const char* other : {"pipx", "pip-audit", "pip3-x", "mypip", "npm"}) {
    EXPECT_EQ(arguments({other, "install", "-i", "u"}, kPipCommand), std::nullopt) << other;
  }
  EXPECT_EQ(arguments({"pipx", "install", "x"}, kPipxCommand), (Args{"install", "x"}));
  EXPECT_EQ(arguments({"uvx", "--index", "u", "tool"}, kUvCommand), (Args{"--index", "u", "tool"}));
  EXPECT_EQ(arguments({"yarnpkg", "add", "x"}, kYarnCommand), (Args{"add", "x"}));
  // npx runs packages; it is not npm's install.
  EXPECT_EQ(arguments({"npx", "--registry", "u", "x"}, kNpmCommand), std::nullopt);
  EXPECT_EQ(arguments({}, kPipCommand), std::nullopt);
}

TEST(ToolCommandLine, PythonDashMRunsTheModule) {
  EXPECT_EQ(arguments({"python3", "-m", "pip", "install", "x"}, kPipCommand),
            (Args{"install", "x"}));
  EXPECT_EQ(arguments({"/work/proj/.venv/bin/python", "-mpip", "install"}, kPipCommand),
            (Args{"install"}));
  // The interpreter's own options first, clustered or with a value.
  EXPECT_EQ(
      arguments({"python3.11", "-I", "-X", "utf8", "-Wignore", "-Im", "pip", "list"}, kPipCommand),
      (Args{"list"}));
  EXPECT_EQ(arguments({"python3", "-m", "uv", "pip", "install"}, kUvCommand),
            (Args{"pip", "install"}));
  // A script, -c code, another module: not pip, whatever follows.
  EXPECT_EQ(arguments({"python3", "setup.py", "-m", "pip", "-i", "u"}, kPipCommand), std::nullopt);
  EXPECT_EQ(arguments({"python3", "-c", "import pip", "-m", "pip"}, kPipCommand), std::nullopt);
  EXPECT_EQ(arguments({"python3", "-m", "pipx", "install"}, kPipCommand), std::nullopt);
  // npm is not a Python module.
  EXPECT_EQ(arguments({"python3", "-m", "npm"}, kNpmCommand), std::nullopt);
}

TEST(ToolCommandLine, ABareDoubleDashEndsTheToolsOptions) {
  EXPECT_EQ(arguments({"npm", "exec", "--registry=a", "--", "x", "--registry=b"}, kNpmCommand),
            (Args{"exec", "--registry=a"}));
}

// --- option values --------------------------------------------------------------------------

TEST(ToolCommandLine, BothFormsAndShortClusters) {
  const Args args = {"install", "--index-url", "A",  "--index-url=B", "-i", "C", "-iD", "-qi", "E",
                     "-Ui=F",   "-r",          "-i", "-rreq.txt",     "-i"};
  // "-r -i": -r's value would be another option, so -i is an option; the trailing -i has no value.
  EXPECT_EQ(option_values(args, kPipCommand, {"--index-url", "-i"}),
            (Args{"A", "B", "C", "D", "E", "F"}));
  // A short option's value is not scanned for ours: -r takes "i.txt".
  EXPECT_EQ(option_values({"-ri.txt", "-ti"}, kPipCommand, {"-i"}), Args{});
  // A value that starts with '-' is another option.
  EXPECT_EQ(option_values({"--index-url", "--pre", "x"}, kPipCommand, {"--index-url"}), Args{});
  EXPECT_TRUE(has_flag({"install", "--no-index", "x"}, kPipCommand, {"--no-index"}));
  EXPECT_FALSE(has_flag({"install", "--no-index-x"}, kPipCommand, {"--no-index"}));
  EXPECT_TRUE(has_flag({"-qU"}, kPipCommand, {"--upgrade", "-U"}));
  EXPECT_FALSE(has_flag({"-rU"}, kPipCommand, {"--upgrade", "-U"}));  // -r's value "U"
}

TEST(ToolCommandLine, TheCacheKeyIsTheToolAndItsOptionTokens) {
  EXPECT_EQ(tool_command_key({"pip3", "install", "-q", "-i", "http://10.77.0.9/s", "a", "b"}),
            (Args{"pip", "-q", "-i", "http://10.77.0.9/s"}));
  // Another package list, the same key; another index, another key.
  EXPECT_EQ(tool_command_key({"pip", "install", "-i", "U", "c"}),
            tool_command_key({"pip", "install", "-i", "U", "d", "e"}));
  EXPECT_NE(tool_command_key({"pip", "install", "-i", "U", "c"}),
            tool_command_key({"pip", "install", "-i", "V", "c"}));
  // pip, and a script that happens to pass -m pip -i, are different commands.
  EXPECT_EQ(tool_command_key({"python3", "setup.py", "-m", "pip", "-i", "U"}), Args{});
  EXPECT_EQ(tool_command_key({"python3", "-m", "pip", "-i", "U"}), (Args{"pip", "-i", "U"}));
  EXPECT_EQ(tool_command_key({"make", "-j", "4"}), Args{});
  EXPECT_EQ(tool_command_key({}), Args{});
}

// --- pip --------------------------------------------------------------------------------------

TEST(PipCommandLine, IndexUrlOverTheEnvironmentAndFiles) {
  Tree t;
  t.files["/etc/pip.conf"] = "[global]\nindex-url = https://conf.test/simple\n";
  t.env.push_back("PIP_INDEX_URL=https://env.test/simple");
  t.argv = {"pip", "install", "--index-url", "http://10.77.23.2/simple/", "pkg"};
  EXPECT_EQ(values(pip_index_hosts(t.input())), ToolValues{"10.77.23.2:80"});
  ASSERT_TRUE(read_pip_settings(t.input()).ok());
  EXPECT_EQ(read_pip_settings(t.input())->index_url_from, "the command line (--index-url)");
  // Every form pip accepts; the last one wins, as in pip.
  for (const Args& argv :
       {Args{"pip3.11", "install", "-i", "http://10.77.23.2/simple/", "pkg"},
        Args{"pip", "install", "-ihttp://10.77.23.2/simple/", "pkg"},
        Args{"pip", "install", "--index-url=http://10.77.23.2/simple/", "pkg"},
        Args{"pip", "install", "-qUi", "http://10.77.23.2/simple/", "pkg"},
        Args{"pip", "install", "-i", "https://first.test/", "-i", "http://10.77.23.2/s", "p"},
        Args{"python3", "-m", "pip", "install", "-i", "http://10.77.23.2/simple/", "pkg"}}) {
    t.argv = argv;
    EXPECT_EQ(values(pip_index_hosts(t.input())), ToolValues{"10.77.23.2:80"}) << argv[2];
  }
  // Without the option, the environment still counts.
  t.argv = {"pip", "install", "pkg"};
  EXPECT_EQ(values(pip_index_hosts(t.input())), ToolValues{"env.test:443"});
}

TEST(PipCommandLine, AnotherProgramsDashIIsNotPips) {
  Tree t;
  t.env.push_back("PIP_INDEX_URL=https://env.test/simple");
  for (const Args& argv : {Args{"grep", "-i", "http://10.77.0.9/x"},
                           Args{"python3", "tool.py", "-i", "http://10.77.0.9/x"},
                           Args{"sh", "-c", "pip install -i http://10.77.0.9/x y"},
                           Args{"pip", "install", "y", "--", "-i", "http://10.77.0.9/x"}}) {
    t.argv = argv;
    EXPECT_EQ(values(pip_index_hosts(t.input())), ToolValues{"env.test:443"}) << argv[0];
  }
}

TEST(PipCommandLine, ListOptionsAppendToTheConfiguredOnes) {
  Tree t;
  t.files["/home/u/.config/pip/pip.conf"] =
      "[global]\nindex-url = https://conf.test/simple\nextra-index-url = https://x1.test/s\n"
      "find-links = https://links.test/\ntrusted-host = x1.test\n";
  t.argv = {"pip",
            "install",
            "--extra-index-url",
            "http://10.77.1.1:8080/s",
            "-f",
            "wheels",
            "--find-links=http://10.77.1.2/l/",
            "--trusted-host",
            "10.77.1.1",
            "x"};
  ToolConfigInput in = t.input();
  EXPECT_EQ(values(pip_indexes(in)), (ToolValues{"https://conf.test/simple", "https://x1.test/s",
                                                 "http://10.77.1.1:8080/s"}));
  EXPECT_EQ(values(pip_index_hosts(in)),
            (ToolValues{"conf.test:443", "x1.test:443", "10.77.1.1:8080", "links.test:443",
                        "10.77.1.2:80"}));
  // A local find-links directory on the command line is relative to the working directory.
  EXPECT_EQ(values(pip_find_links(in)), ToolValues{"/work/proj/wheels"});
  ASSERT_TRUE(read_pip_settings(in).ok());
  EXPECT_EQ(read_pip_settings(in)->trusted_hosts,
            (std::vector<std::string>{"x1.test", "10.77.1.1"}));
}

TEST(PipCommandLine, NoIndexTargetAndCacheDir) {
  Tree t;
  t.env.push_back("PIP_INDEX_URL=https://env.test/simple");
  t.env.push_back("PIP_CACHE_DIR=/home/u/envcache");
  t.env.push_back("PIP_TARGET=/home/u/envtarget");
  t.argv = {"pip",
            "install",
            "--no-index",
            "-f",
            "/srv/wheels",
            "--target",
            "site",
            "--cache-dir=~/pipcache",
            "x"};
  ToolConfigInput in = t.input();
  EXPECT_EQ(values(pip_indexes(in)), ToolValues{});
  EXPECT_EQ(values(pip_index_hosts(in)), ToolValues{});
  EXPECT_EQ(values(pip_find_links(in)), ToolValues{"/srv/wheels"});
  EXPECT_EQ(values(pip_target(in)), ToolValues{"/work/proj/site"});
  EXPECT_EQ(values(pip_cache(in)), ToolValues{"/home/u/pipcache"});
  t.argv = {"pip", "install", "-t/opt/t", "x"};
  EXPECT_EQ(values(pip_target(t.input())), ToolValues{"/opt/t"});
  EXPECT_EQ(values(pip_cache(t.input())), ToolValues{"/home/u/envcache"});
}

TEST(PipCommandLine, IsolatedIgnoresTheEnvironmentAndUserFiles) {
  Tree t;
  t.files["/etc/pip.conf"] = "[global]\nindex-url = https://global.test/simple\n";
  t.files["/home/u/.config/pip/pip.conf"] = "[global]\nindex-url = https://user.test/simple\n";
  t.env.push_back("PIP_EXTRA_INDEX_URL=https://env.test/simple");
  t.argv = {"pip", "install", "x"};
  EXPECT_EQ(values(pip_index_hosts(t.input())), (ToolValues{"user.test:443", "env.test:443"}));
  t.argv = {"pip", "--isolated", "install", "x"};
  EXPECT_EQ(values(pip_index_hosts(t.input())), ToolValues{"global.test:443"});
}

TEST(PipCommandLine, PipxHandsItsIndexAndPipArgsToPip) {
  Tree t;
  t.env.push_back("PIP_INDEX_URL=https://env.test/simple");
  t.argv = {"pipx", "install", "--index-url", "http://10.77.3.1/simple", "tool"};
  EXPECT_EQ(values(pip_index_hosts(t.input())), ToolValues{"10.77.3.1:80"});
  t.argv = {"pipx", "run", "-i", "http://10.77.3.1/simple", "tool"};
  EXPECT_EQ(values(pip_index_hosts(t.input())), ToolValues{"10.77.3.1:80"});
  // --pip-args is split as a shell would; it comes after pipx's --index-url, so it wins.
  t.argv = {"pipx",
            "install",
            "-i",
            "http://10.77.3.1/simple",
            "--pip-args=--index-url 'http://10.77.3.2/s' --extra-index-url=http://10.77.3.3/s",
            "tool"};
  EXPECT_EQ(values(pip_index_hosts(t.input())), (ToolValues{"10.77.3.2:80", "10.77.3.3:80"}));
  // pipx's -f is --force, not find-links.
  t.argv = {"pipx", "install", "-f", "http://10.77.3.4/l/", "tool"};
  EXPECT_EQ(values(pip_index_hosts(t.input())), ToolValues{"env.test:443"});
}

// --- uv ---------------------------------------------------------------------------------------

TEST(UvCommandLine, IndexesOverTheEnvironmentAndFiles) {
  Tree t;
  t.env.push_back("UV_DEFAULT_INDEX=https://env.test/simple");
  t.files["/home/u/.config/uv/uv.toml"] = "[[index]]\nurl = \"https://user.test/simple\"\n";
  t.argv = {"uv", "pip", "install", "-i", "http://10.77.4.1/simple", "x"};
  EXPECT_EQ(values(uv_indexes(t.input())),
            (ToolValues{"http://10.77.4.1/simple", "https://user.test/simple"}));
  t.argv = {"uv",
            "sync",
            "--default-index=http://10.77.4.1/simple",
            "--index",
            "named=http://10.77.4.2/s",
            "--extra-index-url",
            "http://10.77.4.3/s",
            "-f",
            "http://10.77.4.4/links/,wheels"};
  ToolConfigInput in = t.input();
  EXPECT_EQ(values(uv_index_hosts(in)), (ToolValues{"10.77.4.1:80", "10.77.4.2:80", "10.77.4.3:80",
                                                    "user.test:443", "10.77.4.4:80"}));
  EXPECT_EQ(values(uv_find_links(in)), ToolValues{"/work/proj/wheels"});
  // uvx (uv tool run) too; without an option, the environment's default.
  t.argv = {"uvx", "--index-url", "http://10.77.4.5/simple", "tool"};
  EXPECT_EQ(values(uv_indexes(t.input())),
            (ToolValues{"http://10.77.4.5/simple", "https://user.test/simple"}));
  t.argv = {"uv", "pip", "install", "x"};
  EXPECT_EQ(values(uv_indexes(t.input())),
            (ToolValues{"https://env.test/simple", "https://user.test/simple"}));
}

TEST(UvCommandLine, NoIndexCacheDirAndConfigFiles) {
  Tree t;
  t.env.push_back("UV_DEFAULT_INDEX=https://env.test/simple");
  t.env.push_back("UV_CACHE_DIR=/home/u/envcache");
  t.files["/home/u/.config/uv/uv.toml"] = "extra-index-url = [\"https://user.test/s\"]\n";
  t.files["/srv/uv.toml"] = "extra-index-url = [\"https://chosen.test/s\"]\n";
  t.argv = {"uv", "pip", "install", "--no-index", "--cache-dir", "c", "x"};
  EXPECT_EQ(values(uv_indexes(t.input())), ToolValues{});
  EXPECT_EQ(values(uv_cache(t.input())), ToolValues{"/work/proj/c"});
  t.argv = {"uv", "--no-config", "pip", "install", "x"};
  EXPECT_EQ(values(uv_indexes(t.input())), ToolValues{"https://env.test/simple"});
  EXPECT_EQ(values(uv_config_files(t.input())), ToolValues{});
  t.argv = {"uv", "--config-file", "/srv/uv.toml", "sync"};
  EXPECT_EQ(values(uv_indexes(t.input())),
            (ToolValues{"https://env.test/simple", "https://chosen.test/s"}));
}

// --- npm, pnpm, yarn ----------------------------------------------------------------------------

TEST(NpmCommandLine, RegistryOverTheEnvironmentAndFiles) {
  Tree t;
  t.files["/home/u/.npmrc"] = "registry=https://user.test/\n@co:registry=https://co.test/\n";
  t.env.push_back("npm_config_registry=https://env.test/");
  for (const Args& argv : {Args{"npm", "install", "--registry", "http://10.77.5.1:4873/", "x"},
                           Args{"npm", "--registry=http://10.77.5.1:4873/", "ci"},
                           Args{"npm", "install", "-reg", "http://10.77.5.1:4873/"},
                           Args{"/usr/bin/npm", "i", "--reg=http://10.77.5.1:4873/"}}) {
    t.argv = argv;
    EXPECT_EQ(values(npm_registry(t.input())), ToolValues{"http://10.77.5.1:4873/"}) << argv[1];
    EXPECT_EQ(values(npm_registries(t.input())), (ToolValues{"10.77.5.1:4873", "co.test:443"}));
  }
  // A scope's registry only in the = form, as npm reads it.
  t.argv = {
      "npm", "install", "--@co:registry=http://10.77.5.2/", "--@new:registry", "http://10.77.5.3/",
      "x"};
  EXPECT_EQ(values(npm_registries(t.input())), (ToolValues{"env.test:443", "10.77.5.2:80"}));
  // Another program, or after a bare --: not npm's.
  for (const Args& argv : {Args{"npx", "--registry", "http://10.77.5.1/", "x"},
                           Args{"npm", "exec", "x", "--", "--registry=http://10.77.5.1/"}}) {
    t.argv = argv;
    EXPECT_EQ(values(npm_registry(t.input())), ToolValues{"https://env.test/"}) << argv[0];
  }
}

TEST(NpmCommandLine, PnpmAndYarn) {
  Tree t;
  t.env.push_back("npm_config_registry=https://env.test/");
  t.argv = {"pnpm", "add", "--registry=http://10.77.6.1/", "--@co:registry=http://10.77.6.2/"};
  EXPECT_EQ(values(pnpm_registry(t.input())), ToolValues{"http://10.77.6.1/"});
  EXPECT_EQ(values(pnpm_registries(t.input())), (ToolValues{"10.77.6.1:80", "10.77.6.2:80"}));
  // npm's options on pnpm's command are pnpm's, not npm's variables' (and the other way round).
  EXPECT_EQ(values(npm_registry(t.input())), ToolValues{"https://env.test/"});

  t.files["/work/proj/.yarnrc.yml"] = "npmRegistryServer: \"https://berry.test\"\n";
  t.argv = {"yarn", "add", "--registry", "http://10.77.6.3/", "x"};
  EXPECT_EQ(values(yarn_registry(t.input())), ToolValues{"http://10.77.6.3/"});
  EXPECT_EQ(values(yarn_registries(t.input())),
            (ToolValues{"berry.test:443", "10.77.6.3:80", "env.test:443"}));
  t.argv = {"yarn", "add", "x"};
  EXPECT_EQ(values(yarn_registry(t.input())), ToolValues{"https://berry.test"});
}

}  // namespace
}  // namespace moat::policy::tools
