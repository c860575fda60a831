#!/usr/bin/env bash
# e2e: the real npm client installs a package from the registry npm is configured with, through
# the network gate; everything else stays unreachable. The registry's host comes from
# `npm config get registry`, never from this file. Usage: npm_through_gate.sh MOAT
set -euo pipefail
moat=$1
skip() {
  if [ "${MOAT_MUST_WORK:-0}" = 1 ]; then echo "FAIL (MOAT_MUST_WORK=1): $*"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
command -v npm >/dev/null || skip "npm is not installed"
registry=$(npm config get registry)
host=$(printf '%s' "$registry" | sed -E 's#^[a-z]+://([^/:]+).*#\1#')
[ -n "$host" ] || skip "no registry configured"
getent hosts "$host" >/dev/null || skip "the registry $host does not resolve on this machine"

project=$(mktemp -d /tmp/moat-e2e-npm-XXXXXX)
trap 'rm -rf "$project"' EXIT
cd "$project"
printf '{"name":"moat-e2e","version":"1.0.0","private":true}\n' > package.json
audit="$project/audit.jsonl"

"$moat" run --allow-host "$host:443" --audit "$audit" -- \
  npm install --no-audit --no-fund --no-update-notifier is-number@7.0.0 2>"$project/err" ||
  { cat "$project/err"; echo "FAIL: npm install through the gate"; exit 1; }
# Checked from outside: the package is there and works.
node -e "process.exit(require('$project/node_modules/is-number')(5) ? 0 : 1)" ||
  { echo "FAIL: installed package does not work"; exit 1; }
grep -q '"kind":"connect".*"verdict":"allowed"' "$audit" ||
  { echo "FAIL: no allowed connect event in the audit"; exit 1; }

# Anything but the registry is refused, and the forbidden name is never resolved.
if "$moat" run --allow-host "$host:443" --audit "$audit" -- \
    node -e "fetch('https://example.org/').then(()=>process.exit(0),()=>process.exit(3))" \
    2>/dev/null; then
  echo "FAIL: reached a host that is not allowed"; exit 1
fi
grep -q '"kind":"dns".*"name":"example.org".*"verdict":"refused"\|"name":"example.org".*"verdict":"refused"' "$audit" ||
  { echo "FAIL: no refused DNS event for example.org"; exit 1; }
echo "1 passed, 0 failed"
