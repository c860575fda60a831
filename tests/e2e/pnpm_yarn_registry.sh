#!/usr/bin/env bash
# e2e: pnpm and yarn (classic) install the dependency tree of npm_malicious_registry.sh (good-a,
# good-b, the malicious evil-pkg) from the local registry on a test host, under `moat run -p
# pnpm` and `moat install -p pnpm` as root and as moat-test, `moat run -p yarn` as moat-test: the honest
# packages work, the malicious effects are absent (checked from outside), the summary names
# evil-pkg. The clients come from scripts/install-deps.sh (a test prefix, MOAT_E2E_TOOLS, default
# /opt/moat-e2e-tools), allowed with --allow-exec. Usage: pnpm_yarn_registry.sh MOAT
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
  local bashrc_before; bashrc_before=$(sha256sum < "$home/.bashrc")
  [ "$as" = root ] || chown -R moat-test:moat-test "$dir"
  : > "$collog"
  local args=(install)
  [ "$tool" = yarn ] && args=(install --non-interactive --no-progress)
  local cmd=(env HOME="$home" PATH="$tools/bin:$PATH" "$moat" "$sub" -p "$tool" --allow-exec "$tools"
             --add-host "registry.test=$registry_ip" --audit "$dir/audit.jsonl"
             -- "$tools/bin/$tool" "${args[@]}")
  local rc=0
  run_in_project "$as" "$project" "$dir" "${cmd[@]}" || rc=$?
  sleep 0.5
  local before=$failures
  (cd "$project" && node -e "process.exit(require('good-a')() ? 0 : 1)") ||
    fail "$what: good-a does not work after the install (moat exit $rc)"
  check_evil_pkg_contained "$what" "$home" "$project" "$dir" "$bashrc_before"
  if [ "$failures" -gt "$before" ]; then
    echo "--- $what: exit $rc, stderr:"; tail -n 40 "$dir/err"
  else
    passed=$((passed + 1)); echo "ok: $what"
  fi
  pkill -9 -f "$daemon_mark" 2>/dev/null || true
}
for as in root moat-test; do
  scenario pnpm run "$as"
  scenario pnpm install "$as"
done
# yarn classic run by root reads $HOME/.npmrc whatever npm_config_userconfig says (it takes
# /usr/local/share as root's yarn home and adds the real home's .npmrc), and gives up on the
# mask's EACCES: documented in docs/profiles/yarn.md; a user's install is the supported case.
scenario yarn run moat-test
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
