// The ${pip.*} resolvers on sample configuration trees: every level pip reads, pip's precedence
// ([install] over [global], the environment over files), PIP_CONFIG_FILE, the default index read
// from pip's own source, and the errors. Host names are .test names only.
#include <gtest/gtest.h>

#include <map>

#include "config_tree.h"
#include "policy/tool_config.h"
#include "policy/tools/common.h"
#include "policy/tools/pip.h"
#include "policy/tools/pipx.h"

namespace moat::policy::tools {
namespace {

// pip runs from a subdirectory of the project here.
struct Tree : ConfigTree {
  Tree() { cwd = "/work/proj/sub"; }
};

// Shaped like pip's pip/_internal/models/index.py, with test names.
const char* kPipIndexSource = R"(import urllib.parse

class PackageIndex:
    def __init__(self, url: str, file_storage_domain: str) -> None:
        self.url = url

PyPI = PackageIndex("https://default-index.test/", file_storage_domain="files.default-index.test")
TestPyPI = PackageIndex(
    "https://other.test/", file_storage_domain="other-files.test"
)
)";

TEST(PipConfig, EnvironmentIndexesAndExtraIndexes) {
  Tree t;
  t.env.push_back("PIP_INDEX_URL=https://user:secret@mirror.test/simple/");
  t.env.push_back("PIP_EXTRA_INDEX_URL=http://extra.test:8080/simple  https://b.test/s");
  ToolConfigInput in = t.input();
  EXPECT_EQ(values(pip_indexes(in)),
            (ToolValues{"https://user:secret@mirror.test/simple/", "http://extra.test:8080/simple",
                        "https://b.test/s"}));
  EXPECT_EQ(values(pip_index_hosts(in)),
            (ToolValues{"mirror.test:443", "extra.test:8080", "b.test:443"}));
  // A configured index serves its own files unless told otherwise.
  EXPECT_EQ(values(pip_file_hosts(in)), ToolValues{});
}

TEST(PipConfig, EveryLevelInPipsOrder) {
  Tree t;
  t.env.push_back("XDG_CONFIG_DIRS=/etc/xdg-a:/etc/xdg-b");
  t.env.push_back("VIRTUAL_ENV=/work/proj/.venv");
  t.files["/etc/xdg-a/pip/pip.conf"] = "[global]\nindex-url = https://xdg-a.test/simple\n";
  t.files["/etc/xdg-b/pip/pip.conf"] = "[global]\nindex-url = https://xdg-b.test/simple\n";
  ToolConfigInput in = t.input();
  // The later global file wins.
  ASSERT_TRUE(read_pip_settings(in).ok());
  EXPECT_EQ(read_pip_settings(in)->index_url, "https://xdg-b.test/simple");
  t.files["/etc/pip.conf"] = "[global]\nindex-url = https://etc.test/simple\n";
  EXPECT_EQ(read_pip_settings(t.input())->index_url, "https://etc.test/simple");
  t.files["/home/u/.pip/pip.conf"] = "[global]\nindex-url = https://legacy.test/simple\n";
  EXPECT_EQ(read_pip_settings(t.input())->index_url, "https://legacy.test/simple");
  t.files["/home/u/.config/pip/pip.conf"] = "[global]\nindex-url = https://user.test/simple\n";
  EXPECT_EQ(read_pip_settings(t.input())->index_url, "https://user.test/simple");
  t.files["/work/proj/.venv/pip.conf"] = "[global]\nindex-url = https://site.test/simple\n";
  Result<PipSettings> s = read_pip_settings(t.input());
  EXPECT_EQ(s->index_url, "https://site.test/simple");
  EXPECT_EQ(s->index_url_from, "/work/proj/.venv/pip.conf [global]");
  EXPECT_EQ(s->config_files, (std::vector<std::string>{
                                 "/etc/xdg-a/pip/pip.conf", "/etc/xdg-b/pip/pip.conf",
                                 "/etc/pip.conf", "/home/u/.pip/pip.conf",
                                 "/home/u/.config/pip/pip.conf", "/work/proj/.venv/pip.conf"}));
  EXPECT_EQ(values(pip_config_files(t.input())), s->config_files);
  // The environment beats every file.
  t.env.push_back("PIP_INDEX_URL=https://env.test/simple");
  s = read_pip_settings(t.input());
  EXPECT_EQ(s->index_url, "https://env.test/simple");
  EXPECT_EQ(s->index_url_from, "PIP_INDEX_URL");
}

TEST(PipConfig, InstallSectionBeatsGlobalInAnyFile) {
  Tree t;
  // pip pools [global] values of all files, then [install] values of all files.
  t.files["/etc/pip.conf"] = "[install]\nindex-url = https://etc-install.test/simple\n";
  t.files["/home/u/.config/pip/pip.conf"] =
      "[global]\nindex-url = https://user-global.test/simple\n"
      "[freeze]\nindex-url = https://freeze.test/simple\n";
  Result<PipSettings> s = read_pip_settings(t.input());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->index_url, "https://etc-install.test/simple");
  EXPECT_EQ(s->index_url_from, "/etc/pip.conf [install]");
}

TEST(PipConfig, MultiLineValuesCommentsAndKeySpellings) {
  Tree t;
  t.files["/home/u/.config/pip/pip.conf"] =
      "# comment\n"
      "; another\n"
      "[global]\n"
      "Index_URL: https://a.test/simple\n"
      "extra-index-url =\n"
      "    https://b.test/simple\n"
      "\n"
      "    https://c.test:8443/simple\n"
      "find-links = ./wheels ~/wh file:///srv/wheels https://links.test/w/\n"
      "cache-dir = ~/pipcache\n"
      "trusted-host = b.test\n";
  ToolConfigInput in = t.input();
  Result<PipSettings> s = read_pip_settings(in);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->index_url, "https://a.test/simple");
  EXPECT_EQ(s->extra_index_urls,
            (std::vector<std::string>{"https://b.test/simple", "https://c.test:8443/simple"}));
  EXPECT_EQ(s->trusted_hosts, std::vector<std::string>{"b.test"});
  EXPECT_EQ(values(pip_index_hosts(in)),
            (ToolValues{"a.test:443", "b.test:443", "c.test:8443", "links.test:443"}));
  // Local find-links are read: relative to the working directory, ~ is the home.
  EXPECT_EQ(values(pip_find_links(in)),
            (ToolValues{"/work/proj/sub/wheels", "/home/u/wh", "/srv/wheels"}));
  EXPECT_EQ(values(pip_cache(in)), ToolValues{"/home/u/pipcache"});
}

TEST(PipConfig, EnvironmentExtraIndexReplacesTheFilesList) {
  Tree t;
  t.files["/etc/pip.conf"] =
      "[global]\nindex-url = https://a.test/simple\nextra-index-url = https://b.test/simple\n";
  t.env.push_back("PIP_EXTRA_INDEX_URL=https://c.test/simple");
  EXPECT_EQ(values(pip_indexes(t.input())),
            (ToolValues{"https://a.test/simple", "https://c.test/simple"}));
}

TEST(PipConfig, ConfigFileVariable) {
  Tree t;
  t.files["/home/u/.config/pip/pip.conf"] = "[global]\nindex-url = https://user.test/simple\n";
  t.files["/etc/pip.conf"] = "[global]\nextra-index-url = https://etc.test/simple\n";
  t.files["/cfg/my.conf"] = "[global]\nfind-links = /w\n";
  // An existing PIP_CONFIG_FILE replaces the user's files (pip does not load them), not /etc's.
  t.env.push_back("PIP_CONFIG_FILE=/cfg/my.conf");
  Result<PipSettings> s = read_pip_settings(t.input());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->index_url, "");
  EXPECT_EQ(s->extra_index_urls, std::vector<std::string>{"https://etc.test/simple"});
  EXPECT_EQ(s->find_links, std::vector<std::string>{"/w"});
  // A missing one does not.
  t.env.back() = "PIP_CONFIG_FILE=/nonexistent.conf";
  EXPECT_EQ(read_pip_settings(t.input())->index_url, "https://user.test/simple");
  // /dev/null: no file at all.
  t.env.back() = "PIP_CONFIG_FILE=/dev/null";
  s = read_pip_settings(t.input());
  EXPECT_TRUE(s->config_files.empty());
  EXPECT_TRUE(s->extra_index_urls.empty());
}

TEST(PipConfig, NoIndexNeedsNoHost) {
  Tree t;
  t.env.push_back("PIP_NO_INDEX=yes");
  t.env.push_back("PIP_FIND_LINKS=/opt/wheels");
  ToolConfigInput in = t.input();
  EXPECT_EQ(values(pip_indexes(in)), ToolValues{});
  EXPECT_EQ(values(pip_index_hosts(in)), ToolValues{});
  EXPECT_EQ(values(pip_file_hosts(in)), ToolValues{});
  EXPECT_EQ(values(pip_find_links(in)), ToolValues{"/opt/wheels"});
  t.env[1] = "PIP_NO_INDEX=perhaps";
  Result<ToolValues> bad = pip_indexes(t.input());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("PIP_NO_INDEX"), std::string::npos);
}

TEST(PipConfig, DefaultIndexComesFromTheInstalledPip) {
  Tree t;
  t.files["/usr/lib/python3/dist-packages/pip/_internal/models/index.py"] = kPipIndexSource;
  ToolConfigInput in = t.input();
  EXPECT_EQ(values(pip_indexes(in)), ToolValues{"https://default-index.test/simple"});
  EXPECT_EQ(values(pip_index_hosts(in)), ToolValues{"default-index.test:443"});
  EXPECT_EQ(values(pip_file_hosts(in)), ToolValues{"files.default-index.test:443"});
  // Named explicitly (as the index or an extra one) it still serves files from there.
  t.env.push_back("PIP_INDEX_URL=https://mirror.test/simple");
  EXPECT_EQ(values(pip_file_hosts(t.input())), ToolValues{});
  t.env.push_back("PIP_EXTRA_INDEX_URL=https://default-index.test/simple/");
  EXPECT_EQ(values(pip_file_hosts(t.input())), ToolValues{"files.default-index.test:443"});
}

TEST(PipConfig, DefaultIndexOfTheVirtualenvsPip) {
  Tree t;
  t.files["/work/proj/.venv/pyvenv.cfg"] = "home = /opt/py/bin\nversion = 3.12.1\n";
  t.files["/work/proj/.venv/lib/python3.12/site-packages/pip/_internal/models/index.py"] =
      kPipIndexSource;
  ToolConfigInput in = t.input();
  PipDefaultIndex d = pip_default_index(in);
  EXPECT_EQ(d.simple_url, "https://default-index.test/simple");
  EXPECT_EQ(d.source,
            "/work/proj/.venv/lib/python3.12/site-packages/pip/_internal/models/index.py");
  // The project's .venv is the target, and its interpreter's prefix must be executable ...
  EXPECT_EQ(values(pip_target(in)), ToolValues{"/work/proj/.venv"});
  EXPECT_EQ(values(pip_interpreter(in)), ToolValues{});  // ... once it holds a standard library
  t.files["/opt/py/lib/python3.12/os.py"] = "# the standard library\n";
  EXPECT_EQ(values(pip_interpreter(t.input())), ToolValues{"/opt/py"});
  // A pyvenv.cfg (the project's to write) cannot name any directory: the home is not a Python.
  t.files["/work/proj/.venv/pyvenv.cfg"] = "home = /home/u/bin\nversion = 3.12.1\n";
  EXPECT_EQ(values(pip_interpreter(t.input())), ToolValues{});
}

TEST(PipConfig, DefaultIndexOfAPyenvPython) {
  Tree t;
  t.env = {"PATH=/home/u/.pyenv/shims:/usr/bin", "PYENV_VERSION=3.11.7"};
  t.files
      ["/home/u/.pyenv/versions/3.11.7/lib/python3.11/site-packages/pip/_internal/models/"
       "index.py"] = kPipIndexSource;
  EXPECT_EQ(pip_default_index(t.input()).file_host, "files.default-index.test");
}

TEST(PipConfig, NoIndexAnywhereIsAClearError) {
  Tree t;
  Result<ToolValues> r = pip_index_hosts(t.input());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("pip has no index configured"), std::string::npos);
  EXPECT_NE(r.error().hint.find("PIP_INDEX_URL"), std::string::npos);
}

TEST(PipConfig, ExplicitFileHosts) {
  Tree t;
  t.env.push_back("PIP_INDEX_URL=https://mirror.test/simple");
  t.files["/home/u/.config/pip/pip.conf"] =
      "[moat]\nfile-hosts = https://cdn.test/ Files.Test:8443\n";
  EXPECT_EQ(values(pip_file_hosts(t.input())), (ToolValues{"cdn.test:443", "files.test:8443"}));
  t.env.push_back("MOAT_PIP_FILE_HOSTS=blobs.test");
  EXPECT_EQ(values(pip_file_hosts(t.input())), ToolValues{"blobs.test"});
}

TEST(PipConfig, TargetsAndCache) {
  Tree t;
  t.env.push_back("VIRTUAL_ENV=/home/u/envs/a");
  t.env.push_back("PIP_TARGET=out");
  t.env.push_back("XDG_CACHE_HOME=/var/cache/u");
  ToolConfigInput in = t.input();
  EXPECT_EQ(values(pip_target(in)), (ToolValues{"/home/u/envs/a", "/work/proj/sub/out"}));
  EXPECT_EQ(values(pip_cache(in)), ToolValues{"/var/cache/u/pip"});
  EXPECT_EQ(values(pip_interpreter(in)), ToolValues{});  // no pyvenv.cfg to read
  // Without a virtualenv, no .venv and no target: nothing to write but the cache.
  Tree bare;
  EXPECT_EQ(values(pip_target(bare.input())), ToolValues{});
  EXPECT_EQ(values(pip_cache(bare.input())), ToolValues{"/home/u/.cache/pip"});
  bare.files["/work/proj/venv/pyvenv.cfg"] = "home = /usr/bin\n";
  EXPECT_EQ(values(pip_target(bare.input())), ToolValues{"/work/proj/venv"});
}

TEST(PipConfig, AProjectsPipConfCannotWidenGrantsBeyondTheProject) {
  // A virtualenv inside the project: its pip.conf is the project's to write.
  Tree t;
  t.env.push_back("VIRTUAL_ENV=/work/proj/.venv");
  t.env.push_back("PIP_INDEX_URL=https://a.test/simple");
  t.files["/work/proj/.venv/pip.conf"] =
      "[global]\ncache-dir = /home/u\ntarget = /home/u/.local/bin\n"
      "find-links = /home/u/Documents /work/proj/wheels https://links.test/\n";
  ToolConfigInput in = t.input();
  EXPECT_EQ(values(pip_cache(in)), ToolValues{"/home/u/.cache/pip"});  // the default instead
  EXPECT_EQ(values(pip_target(in)), ToolValues{"/work/proj/.venv"});
  EXPECT_EQ(values(pip_find_links(in)), ToolValues{"/work/proj/wheels"});
  // Indexes it names are honoured: pip would use them.
  EXPECT_EQ(values(pip_index_hosts(in)), (ToolValues{"a.test:443", "links.test:443"}));
  // Paths inside the project are fine, and the user's own files may name any path.
  t.files["/work/proj/.venv/pip.conf"] = "[global]\ncache-dir = /work/proj/.pipcache\n";
  EXPECT_EQ(values(pip_cache(t.input())), ToolValues{"/work/proj/.pipcache"});
  t.files.erase("/work/proj/.venv/pip.conf");
  t.files["/home/u/.config/pip/pip.conf"] = "[global]\ncache-dir = /srv/pipcache\n";
  EXPECT_EQ(values(pip_cache(t.input())), ToolValues{"/srv/pipcache"});
}

TEST(PipConfig, ParseErrorsNameFileAndLine) {
  Tree t;
  t.files["/etc/pip.conf"] = "[global]\nindex-url = https://a.test/simple\nthis is not ini\n";
  Result<PipSettings> s = read_pip_settings(t.input());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().message.find("/etc/pip.conf:3"), std::string::npos) << s.error().message;
  t.files["/etc/pip.conf"] = "index-url = https://a.test/simple\n";
  s = read_pip_settings(t.input());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("/etc/pip.conf:1: a setting before any [section]"),
            std::string::npos);
}

TEST(PipConfig, UrlHostRules) {
  EXPECT_EQ(url_host_rule("https://a.test"), "a.test:443");
  EXPECT_EQ(url_host_rule("HTTP://A.test/x"), "a.test:80");
  EXPECT_EQ(url_host_rule("http://u:p@a.test:81/x?y"), "a.test:81");
  EXPECT_EQ(url_host_rule("https://[2001:db8::1]:8443/s"), "[2001:db8::1]:8443");
  EXPECT_EQ(url_host_rule("https://[2001:db8::1]/s"), "[2001:db8::1]:443");
  EXPECT_EQ(url_host_rule("file:///x"), "");
  EXPECT_EQ(url_host_rule("https:///x"), "");
}

TEST(PipConfig, EveryFileReadIsAsked) {
  // The plan cache learns dependencies from the reader: absent files are asked too.
  Tree t;
  t.env.push_back("PIP_INDEX_URL=https://a.test/simple");
  ASSERT_TRUE(pip_index_hosts(t.input()).ok());
  for (const char* f : {"/etc/xdg/pip/pip.conf", "/etc/pip.conf", "/home/u/.pip/pip.conf",
                        "/home/u/.config/pip/pip.conf", "/work/proj/.venv/pyvenv.cfg"}) {
    EXPECT_NE(std::find(t.reads.begin(), t.reads.end(), f), t.reads.end()) << f;
  }
}

TEST(PipConfig, ResolversAreInTheTable) {
  for (const char* name : {"pip.indexes", "pip.index-hosts", "pip.file-hosts", "pip.find-links",
                           "pip.cache", "pip.target", "pip.config-files", "pip.interpreter"}) {
    EXPECT_NE(find_tool_resolver(name), nullptr) << name;
  }
}

TEST(PipxConfig, DefaultsAndVariables) {
  Tree t;
  // pipx < 1.3 uses ~/.local/pipx, later ones the XDG data directory: both are granted.
  EXPECT_EQ(values(pipx_home(t.input())),
            (ToolValues{"/home/u/.local/pipx", "/home/u/.local/share/pipx"}));
  EXPECT_EQ(values(pipx_bin_dir(t.input())), ToolValues{"/home/u/.local/bin"});
  EXPECT_EQ(values(pipx_man_dir(t.input())), ToolValues{"/home/u/.local/share/man"});
  EXPECT_EQ(values(pipx_cache(t.input())), ToolValues{"/home/u/.cache/pipx"});
  t.env = {"PIPX_HOME=~/px", "PIPX_BIN_DIR=/opt/bin/", "XDG_DATA_HOME=/data", "PIPX_MAN_DIR=rel"};
  EXPECT_EQ(values(pipx_home(t.input())), ToolValues{"/home/u/px"});
  EXPECT_EQ(values(pipx_bin_dir(t.input())), ToolValues{"/opt/bin"});
  EXPECT_EQ(values(pipx_man_dir(t.input())), ToolValues{"/data/man"});  // relative: ignored
}

}  // namespace
}  // namespace moat::policy::tools
