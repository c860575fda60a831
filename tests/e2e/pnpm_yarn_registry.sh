#!/usr/bin/env bash
# e2e: pnpm and yarn (classic) install the dependency tree of npm_malicious_registry.sh (good-a,
# good-b, the malicious evil-pkg) from the local registry on a test host, under `moat run` and
# `moat install` (two-phase) with -p pnpm and -p yarn, as root and as moat-test: the honest
# packages work (good-a's postinstall ran), the malicious effects are absent (checked from
# outside), the summary names evil-pkg. Every home has a ~/.npmrc holding a fake token: `moat run
# -p yarn` shows yarn a copy without it (the registry never sees it, nor does the output), and the
# copy keeps the registry settings. The clients come from scripts/install-deps.sh (a test prefix,
# MOAT_E2E_TOOLS, default /opt/moat-e2e-tools), allowed with --allow-exec. Usage:
# pnpm_yarn_registry.sh MOAT
set -euo pipefail
moat=$(realpath "$1")
. "$(dirname "$(realpath "$0")")/npm_registry_lib.sh"
command -v npm >/dev/null || skip "npm is not installed"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces for the test hosts, user switch)"
tools=${MOAT_E2E_TOOLS:-/opt/moat-e2e-tools}
[ -x "$tools/bin/pnpm" ] && [ -x "$tools/bin/yarn" ] ||
  skip "pnpm and yarn are not installed in $tools (scripts/install-deps.sh)"
npm_e2e_workspace pnpmyarn
registry_ip=10.77.22.6 collector_ip=10.77.22.7 port=4873
registry_hosts_up y 5 8

passed=0
scenario() {  # scenario TOOL SUB AS
  local tool=$1 sub=$2 as=$3 dir="$work/$1-$2-$3"
  local home="$dir/home" project="$dir/project" what="$1 ($2) as $3"
  mkdir -p "$home/.ssh" "$project"
  echo "MOAT-SSH-CANARY-$$" > "$home/.ssh/id_ed25519"
  echo "//registry.test:$port/:_authToken=MOAT-NPM-TOKEN-CANARY-$$" > "$home/.npmrc"
  echo "# the user's bashrc" > "$home/.bashrc"
  (cd "$project" && git init -q .)
  if [ "$tool" = yarn ]; then
    # Only in the home, which yarn inside does not see: the profile hands it over (yarn.registry).
    echo "registry \"$url\"" > "$home/.yarnrc"
  else
    echo "registry=$url" > "$project/.npmrc"
  fi
  echo '{"name":"victim","version":"1.0.0","private":true,"dependencies":{"good-a":"1.0.0","evil-pkg":"1.0.0"}}' \
    > "$project/package.json"
  # The project's own code, which evil-pkg's script appends to (checked in check_evil_pkg_contained).
  echo "module.exports = 42;" > "$project/index.js"
  local bashrc_before; bashrc_before=$(sha256sum < "$home/.bashrc")
  [ "$as" = root ] || chown -R moat-test:moat-test "$dir"
  : > "$collog"
  local args=(install)
  [ "$tool" = yarn ] && args=(install --non-interactive --no-progress)
  local cmd=(env HOME="$home" PATH="$tools/bin:$PATH" "$moat" "$sub" -p "$tool" --allow-exec "$tools"
             --add-host "registry.test=$registry_ip" --audit "$dir/audit.jsonl"
             -- "$tools/bin/$tool" "${args[@]}")
  local rc=0
  : > "$reglog"
  run_in_project "$as" "$project" "$dir" "${cmd[@]}" || rc=$?
  sleep 0.5
  local before=$failures
  (cd "$project" && node -e "process.exit(require('good-a')() ? 0 : 1)") ||
    fail "$what: good-a does not work after the install (moat exit $rc)"
  check_evil_pkg_contained "$what" "$home" "$project" "$dir" "$bashrc_before"
  # Only the fetch phase of the two-phase form may hand the token to the registry.
  if [ "$sub" = run ] && grep -q CANARY "$reglog"; then
    fail "$what: the registry received the token: $(grep -m1 CANARY "$reglog")"
  fi
  if [ "$sub" = install ]; then
    check_scripts_only_in_phase_2 "$what" "$dir"
  fi
  if [ "$failures" -gt "$before" ]; then
    echo "--- $what: exit $rc, stderr:"; tail -n 40 "$dir/err"
  else
    passed=$((passed + 1)); echo "ok: $what"
  fi
  pkill -9 -f "$daemon_mark" 2>/dev/null || true
}
# npmrc_copy AS: under `moat run -p yarn`, ~/.npmrc reads as a copy that keeps the registry
# settings (yarn sees a scoped registry only the file names) and holds no token, whatever reads
# it; the real file is unchanged. Checked from outside, on the sandbox's output.
npmrc_copy() {
  local as=$1 dir="$work/npmrc-$1" what="yarn's ~/.npmrc copy as $1"
  local home="$dir/home" project="$dir/project"
  mkdir -p "$home" "$project"
  printf 'registry=%s\n@corp:registry=http://corp.test:%s/\n//registry.test:%s/:_authToken=MOAT-NPM-TOKEN-CANARY-%s\n_auth=MOAT-NPM-AUTH-CANARY-%s\n' \
    "$url" "$port" "$port" "$$" "$$" > "$home/.npmrc"
  local npmrc_before; npmrc_before=$(sha256sum < "$home/.npmrc")
  echo '{"name":"victim","version":"1.0.0","private":true}' > "$project/package.json"
  [ "$as" = root ] || chown -R moat-test:moat-test "$dir"
  local rc=0
  run_in_project "$as" "$project" "$dir" env HOME="$home" PATH="$tools/bin:$PATH" "$moat" run -p yarn \
    --allow-exec "$tools" -- sh -c \
    'yarn config get @corp:registry --non-interactive; echo "--- ~/.npmrc:"; cat "$HOME/.npmrc"' || rc=$?
  local before=$failures
  [ "$rc" -eq 0 ] || fail "$what: exit $rc"
  grep -qx "http://corp.test:$port/" "$dir/out" || fail "$what: yarn does not see @corp:registry"
  grep -qx "registry=$url" "$dir/out" || fail "$what: the copy lacks the registry"
  grep -q "CANARY" "$dir/out" "$dir/err" && fail "$what: a token is readable inside"
  [ "$(sha256sum < "$home/.npmrc")" = "$npmrc_before" ] || fail "$what: the real file changed"
  if [ "$failures" -gt "$before" ]; then
    echo "--- $what: out:"; cat "$dir/out"; echo "--- err:"; tail -n 20 "$dir/err"
  else
    passed=$((passed + 1)); echo "ok: $what"
  fi
}

for as in root moat-test; do
  scenario pnpm run "$as"
  scenario pnpm install "$as"
  scenario yarn run "$as"
  scenario yarn install "$as"
  npmrc_copy "$as"
done
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
