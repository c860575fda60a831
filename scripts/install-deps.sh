#!/usr/bin/env bash
# Installs everything moat needs to build and test on Debian 12, as root. Idempotent.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (it uses apt-get)" >&2
  exit 1
fi
packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libseccomp-dev libcap-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev
  bubblewrap uidmap util-linux iproute2 procps passwd
  libbpf-dev bpftool libelf-dev zlib1g-dev
  git python3 python3-pip python3-venv pipx nodejs curl
  chromium  # renders `moat report --html` in the tests (headless)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#packages[@]} packages present"

# pnpm and yarn (classic) for the e2e tests, from the npm registry npm is configured with, into a
# test prefix (tests/e2e/pnpm_yarn_registry.sh allows it with --allow-exec; nothing on PATH).
tools=/opt/moat-e2e-tools
if ! command -v npm >/dev/null; then
  echo "install-deps: no npm: pnpm and yarn not installed (their e2e test skips)" >&2
else
  if [ ! -x "$tools/bin/pnpm" ] || [ ! -x "$tools/bin/yarn" ]; then
    npm install -g --prefix "$tools" --no-audit --no-fund pnpm@9 yarn@1 >/dev/null
  fi
  echo "install-deps: pnpm $("$tools/bin/pnpm" --version), yarn $("$tools/bin/yarn" --version) in $tools"
  # yarn berry (4.x, the single-file bundle npm publishes as @yarnpkg/cli-dist) in a prefix of its
  # own, so the classic `yarn` above stays what it is: the tests run $tools/berry/bin/yarn.
  # Pinned: the e2e test asserts the version moat detects.
  berry_version=4.18.1
  if ! grep -qs "\"version\": \"$berry_version\"" \
      "$tools/berry/lib/node_modules/@yarnpkg/cli-dist/package.json"; then
    npm install -g --prefix "$tools/berry" --no-audit --no-fund "@yarnpkg/cli-dist@$berry_version" >/dev/null
  fi
  echo "install-deps: yarn berry $(cd / && "$tools/berry/bin/yarn" --version) in $tools/berry"
fi

# The coding agents for the e2e tests of their profiles (tests/e2e/agents.sh), from the npm
# registry the machine is configured with, into a test prefix of their own. Pinned: the tests
# drive them with a mock model server that speaks the wire format of these versions.
agents=/opt/moat-test-agents
agent_packages=(@anthropic-ai/claude-code@2.1.197 @openai/codex@0.169.0)
if ! [ -x "$agents/node_modules/.bin/claude" ] || ! [ -x "$agents/node_modules/.bin/codex" ] ||
   ! grep -q '"version": "2.1.197"' "$agents/node_modules/@anthropic-ai/claude-code/package.json" 2>/dev/null ||
   ! grep -q '"version": "0.169.0"' "$agents/node_modules/@openai/codex/package.json" 2>/dev/null; then
  mkdir -p "$agents"
  npm install --prefix "$agents" --no-audit --no-fund --no-save "${agent_packages[@]}"
  chmod -R a+rX "$agents"
fi
echo "install-deps: agents in $agents"
