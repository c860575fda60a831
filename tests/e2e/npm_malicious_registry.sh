#!/usr/bin/env bash
# e2e: the real npm installs a small dependency tree from a local registry on a test host
# (10.77.22.2, named registry.test through --add-host, configured by the project's .npmrc). One
# package is malicious: its postinstall reads ~/.npmrc and ~/.ssh, sends them to a collector on
# another test host (10.77.22.3), appends to ~/.bashrc, drops .git/hooks/pre-commit and leaves a
# daemon. Under `moat run -p npm` and under the two-phase `moat install`, as root and as the
# user moat-test: the honest packages install and work, every malicious effect is absent
# (checked from outside), and the summary names the package. Usage: npm_malicious_registry.sh MOAT
set -euo pipefail
moat=$(realpath "$1")
. "$(dirname "$(realpath "$0")")/npm_registry_lib.sh"
command -v npm >/dev/null || skip "npm is not installed"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces for the test hosts, user switch)"
npm_e2e_workspace npmreg
registry_ip=10.77.22.2 collector_ip=10.77.22.3 port=4873
registry_hosts_up n 1 4

# --- control: without moat, every malicious effect happens (so their absence means something) ---
control() {
  local dir="$work/control" home="$work/control/home"
  mkdir -p "$home/.ssh" "$dir/project"
  echo "MOAT-SSH-CANARY-$$" > "$home/.ssh/id_ed25519"
  echo "# the user's bashrc" > "$home/.bashrc"
  (cd "$dir/project" && git init -q . && echo "registry=$url" > .npmrc &&
    echo '{"name":"victim","version":"1.0.0","private":true,"dependencies":{"evil-pkg":"1.0.0"}}' > package.json)
  # Unconfined, registry.test is not a name this host knows: the address goes in the URL.
  (cd "$dir/project" && HOME="$home" npm install --no-audit --no-fund \
    --registry "http://$registry_ip:$port/" >/dev/null 2>&1) || true
  sleep 0.5
  grep -q "STOLEN.*MOAT-SSH-CANARY" "$collog" || skip "control: the collector got nothing unconfined"
  grep -q "$collector_ip" "$home/.bashrc" || skip "control: ~/.bashrc unchanged unconfined"
  [ -s "$dir/project/.git/hooks/pre-commit" ] || skip "control: no git hook unconfined"
  pgrep -f "$daemon_mark" >/dev/null || skip "control: no daemon unconfined"
  pkill -9 -f "$daemon_mark" 2>/dev/null || true
  : > "$collog"; : > "$reglog"
}
for p in good-b good-a evil-pkg; do  # the control needs tarball URLs it can reach by address
  sed -i "s#$url#http://$registry_ip:$port/#g" "$work/registry/$p.json"
done
control
for p in good-b good-a evil-pkg; do
  sed -i "s#http://$registry_ip:$port/#$url#g" "$work/registry/$p.json"
done
echo "ok: control (unconfined, every effect happens)"

# --- one install: MODE (run | install), AS (root | moat-test) ----------------------------------
passed=0
scenario() {
  local mode=$1 as=$2 dir="$work/$1-$2"
  local home="$dir/home" project="$dir/project"
  mkdir -p "$home/.ssh" "$project"
  echo "MOAT-SSH-CANARY-$$" > "$home/.ssh/id_ed25519"
  echo "//registry.test:$port/:_authToken=MOAT-NPM-TOKEN-CANARY-$$" > "$home/.npmrc"
  echo "# the user's bashrc" > "$home/.bashrc"
  (cd "$project" && git init -q . )
  # A literal token in the project's file too (another host's, so npm never sends it here): the
  # install scripts must not read it either.
  printf 'registry=%s\n//other.test/:_authToken=MOAT-PROJECT-TOKEN-CANARY-%s\n' "$url" "$$" > "$project/.npmrc"
  echo '{"name":"victim","version":"1.0.0","private":true,"dependencies":{"good-a":"1.0.0","evil-pkg":"1.0.0"}}' \
    > "$project/package.json"
  # The project's own code, which evil-pkg's script appends to (checked in check_evil_pkg_contained).
  echo "module.exports = 42;" > "$project/index.js"
  local bashrc_before; bashrc_before=$(sha256sum < "$home/.bashrc")
  [ "$as" = root ] || chown -R moat-test:moat-test "$dir"
  : > "$reglog"; : > "$collog"
  local sub=run; [ "$mode" = install ] && sub=install
  local cmd=(env HOME="$home" "$moat" "$sub" -p npm
             --add-host "registry.test=$registry_ip" --audit "$dir/audit.jsonl"
             -- npm install --no-audit --no-fund --foreground-scripts)
  local rc=0
  run_in_project "$as" "$project" "$dir" "${cmd[@]}" || rc=$?
  sleep 0.5
  local before=$failures
  local what="$mode as $as"
  # The honest packages are installed, built by their own script, and work.
  node -e "process.exit(require('$project/node_modules/good-a')() ? 0 : 1)" ||
    fail "$what: good-a does not work after the install (moat exit $rc)"
  # Every malicious effect, checked from outside; the package is named in the summary.
  check_evil_pkg_contained "$what" "$home" "$project" "$dir" "$bashrc_before"
  if [ "$mode" = install ]; then
    # Phase 1 fetched with the user's token; phase 2 says evil-pkg wanted the network.
    grep -q "auth=Bearer MOAT-NPM-TOKEN-CANARY" "$reglog" ||
      fail "$what: phase 1 did not send the token from ~/.npmrc"
    grep -A5 "phase 2 runs install scripts with the network OFF" "$dir/err" | grep -q "evil-pkg" ||
      fail "$what: the summary does not say evil-pkg tried the network in phase 2"
  else
    grep -q "auth=Bearer" "$reglog" && fail "$what: npm sent a token although ~/.npmrc is masked"
  fi
  if [ "$failures" -gt "$before" ]; then
    echo "--- $what: exit $rc, stderr:"; tail -n 60 "$dir/err"
  else
    passed=$((passed + 1)); echo "ok: $what"
  fi
  pkill -9 -f "$daemon_mark" 2>/dev/null || true
}
# moat install refuses what it cannot split, before anything runs.
rc=0; "$moat" install -- sh -c 'touch /tmp/moat-should-not-run' 2>"$work/refuse.err" || rc=$?
[ "$rc" -eq 125 ] && grep -q "not a client moat knows" "$work/refuse.err" ||
  fail "moat install of an unknown client: exit $rc, $(cat "$work/refuse.err")"
rc=0; "$moat" install -p ./npm.yaml -- npm install 2>"$work/refuse.err" || rc=$?
[ "$rc" -eq 125 ] && grep -q "takes a profile name" "$work/refuse.err" ||
  fail "moat install -p PATH: exit $rc, $(cat "$work/refuse.err")"

for mode in run install; do
  for as in root moat-test; do scenario "$mode" "$as"; done
done
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
