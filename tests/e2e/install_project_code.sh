#!/usr/bin/env bash
# e2e: `moat install` keeps the project's own code out of phase 1, where the user's registry
# token is readable, and keeps phase 2's scripts from planting code for the next run. Real
# clients, no network (the registry is never reached: nothing here needs a download), root.
#  1. a project .npmrc `git=./tools/git.sh` with a git dependency: npm runs the project's script
#     as git. moat install refuses (125, naming the file and key); the npm-fetch profile alone
#     (moat run -p npm-fetch, no refusal) runs the real git instead.
#  2. pnpm's .pnpmfile.cjs: never loaded in phase 1 (the install still succeeds; phase 2's
#     `pnpm rebuild` may load it, without the token).
#  3. yarn's project release (.yarnrc.yml yarnPath, .yarnrc yarn-path): refused unless trusted.
#     The packageManager value moat prints comes out escaped.
#  4. `moat install -- npm test` and friends: refused before anything runs.
#  5. a package's postinstall (phase 2) plants .pnpmfile.cjs, .yarnrc.yml, .yarn/plugins/,
#     .envrc, .husky/ ...: none of them appears, and the project's .npmrc is unchanged.
# Each "theft" copies ~/.npmrc into the project and leaves a mark there, checked from outside; a
# control run without moat shows the attack works. Usage: install_project_code.sh MOAT
set -euo pipefail
moat=$(realpath "$1")
. "$(dirname "$(realpath "$0")")/../watch_e2e/e2e_lib.sh"
command -v npm >/dev/null || skip "npm is not installed"
command -v git >/dev/null || skip "git is not installed"
tools=${MOAT_E2E_TOOLS:-/opt/moat-e2e-tools}
work=$(mktemp -d /tmp/moat-e2e-projcode-XXXXXX)
chmod 755 "$work"
trap '[ -n "${MOAT_E2E_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT
token="MOAT-PROJCODE-TOKEN-CANARY-$$"
url="http://registry.test:4873/"
passed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }

# new_project NAME: $work/NAME/{home,project}, a token in ~/.npmrc, a git repository.
new_project() {
  dir="$work/$1" home="$work/$1/home" project="$work/$1/project"
  mkdir -p "$home" "$project"
  echo "//registry.test:4873/:_authToken=$token" > "$home/.npmrc"
  (cd "$project" && git init -q .)
}
# The project's "git": what a malicious repository ships. It steals the token into the project
# (a file the developer may commit and push) and leaves a mark.
thief() {  # thief PATH MARK
  mkdir -p "$(dirname "$1")"
  printf '#!/bin/sh\ncat "$HOME/.npmrc" > "%s/loot.txt" 2>/dev/null\necho ran > "%s"\nexit 1\n' \
    "$project" "$2" > "$1"
  chmod 755 "$1"
}
moat_in() {  # moat_in SUBCOMMAND ARGS... -- CMD: in $project, output in $dir/err
  (cd "$project" && env HOME="$home" PATH="$tools/bin:$PATH" "$moat" "$@") >"$dir/out" 2>"$dir/err"
}
stolen() { grep -qs "$token" "$project/loot.txt" || [ -e "$1" ]; }

# --- 1. npm: the project's git ----------------------------------------------------------------
git_project() {
  new_project "$1"
  printf 'registry=%s\ngit=./tools/git.sh\n' "$url" > "$project/.npmrc"
  echo '{"name":"victim","version":"1.0.0","dependencies":{"dep":"git+http://git.test/dep.git"}}' \
    > "$project/package.json"
  thief "$project/tools/git.sh" "$project/mark"
}
git_project control
(cd "$project" && HOME="$home" npm install --ignore-scripts --no-audit --no-fund >/dev/null 2>&1) || true
stolen "$project/mark" || skip "control: npm did not run the project's git.sh unconfined"
echo "ok: control (unconfined npm runs the project's git and the token is stolen)"

git_project npm-install
rc=0; moat_in install -p npm --add-host registry.test=127.0.0.1 -- npm install --no-audit --no-fund || rc=$?
if stolen "$project/mark"; then fail "npm git=: the project's git.sh ran in phase 1 (exit $rc)"
elif [ "$rc" -ne 125 ] || ! grep -q "refusing: $project/.npmrc: git = ./tools/git.sh" "$dir/err"; then
  fail "npm git=: exit $rc, not a refusal naming the file and key: $(tail -5 "$dir/err")"
else ok "moat install refuses a project .npmrc that sets git"; fi

git_project npm-fetch-profile
rc=0; moat_in run -p npm-fetch --add-host registry.test=127.0.0.1 -- npm install --ignore-scripts \
  --no-audit --no-fund || rc=$?
if stolen "$project/mark"; then fail "npm-fetch: npm ran the project's git.sh (exit $rc)"
elif ! grep -q "git.test" "$dir/err"; then
  fail "npm-fetch: npm did not run the real git for the git dependency: $(tail -5 "$dir/err")"
else ok "npm-fetch runs the real git whatever the project's .npmrc says"; fi

# --- 2. pnpm: the project's hooks -------------------------------------------------------------
if [ -x "$tools/bin/pnpm" ]; then
  pnpmfile_project() {
    new_project "$1"
    printf 'registry=%s\n' "$url" > "$project/.npmrc"
    echo '{"name":"victim","version":"1.0.0"}' > "$project/package.json"
    cat > "$project/.pnpmfile.cjs" <<JS
const fs = require('fs'), os = require('os');
try { fs.writeFileSync('$project/loot.txt', fs.readFileSync(os.homedir() + '/.npmrc')); } catch (e) {}
// Which pnpm command loaded it: phase 2's pnpm rebuild may (no tokens there), phase 1 may not.
fs.appendFileSync('$project/mark', process.argv.slice(2).join(' ') + '\n');
module.exports = { hooks: {} };
JS
  }
  pnpmfile_project pnpm-control
  (cd "$project" && HOME="$home" "$tools/bin/pnpm" install --ignore-scripts >/dev/null 2>&1) || true
  grep -qs "$token" "$project/loot.txt" && grep -qs install "$project/mark" ||
    skip "control: pnpm did not load .pnpmfile.cjs unconfined"
  pnpmfile_project pnpm-install
  rc=0; moat_in install -p pnpm --allow-exec "$tools" --add-host registry.test=127.0.0.1 \
    -- "$tools/bin/pnpm" install || rc=$?
  if grep -qs "$token" "$project/loot.txt" || grep -qs install "$project/mark"; then
    fail "pnpm: .pnpmfile.cjs ran in phase 1 (exit $rc): $(cat "$project/mark")"
  elif [ "$rc" -ne 0 ]; then fail "pnpm: the install failed (exit $rc): $(tail -5 "$dir/err")"
  else ok "pnpm phase 1 does not load .pnpmfile.cjs"; fi
else
  echo "note: no pnpm in $tools: its part is not run"
fi

# --- 3. yarn: the project's own release -------------------------------------------------------
for form in yarnrc.yml yarnrc; do
  new_project "yarn-$form"
  echo '{"name":"victim","version":"1.0.0"}' > "$project/package.json"
  echo "registry \"$url\"" > "$home/.yarnrc"
  if [ "$form" = yarnrc.yml ]; then
    echo "yarnPath: .yarn/releases/yarn-evil.cjs" > "$project/.yarnrc.yml"
  else
    echo 'yarn-path "./.yarn/releases/yarn-evil.cjs"' > "$project/.yarnrc"
  fi
  mkdir -p "$project/.yarn/releases"
  printf '%s\n' "require('fs').writeFileSync('$project/mark', 'ran');" > "$project/.yarn/releases/yarn-evil.cjs"
  rc=0; moat_in install -p yarn --allow-exec "$tools" --add-host registry.test=127.0.0.1 \
    -- "$tools/bin/yarn" install || rc=$?
  if [ -e "$project/mark" ]; then fail "yarn $form: the project's yarn release ran (exit $rc)"
  elif [ "$rc" -ne 125 ] || ! grep -q "refusing: $project/.$form" "$dir/err" ||
       ! grep -q -- "--trust-project-yarn" "$dir/err"; then
    fail "yarn $form: exit $rc, not a refusal naming the file: $(tail -5 "$dir/err")"
  else ok "moat install refuses the project's yarn release (.$form)"; fi
done

# The detection line quotes package.json's packageManager: the project's bytes, escaped.
new_project yarn-package-manager
printf '{"name":"victim","version":"1.0.0","packageManager":"yarn@4.1.0\033]0;pwned\007\033[2J"}\n' \
  > "$project/package.json"
rc=0; moat_in install -p yarn --add-host registry.test=127.0.0.1 -- yarn install || rc=$?
if ! grep -q "yarn berry (.*packageManager" "$dir/err"; then
  fail "yarn packageManager: no detection line (exit $rc): $(tail -3 "$dir/err")"
elif grep -q $'\033' "$dir/err"; then
  fail "yarn packageManager: an escape sequence from package.json reached the terminal"
else ok "the packageManager value is shown escaped"; fi

# --- 4. subcommands that run project scripts --------------------------------------------------
new_project subcommands
printf 'registry=%s\n' "$url" > "$project/.npmrc"
cat > "$project/package.json" <<JSON
{"name":"victim","version":"1.0.0","scripts":{
  "test":"cat \$HOME/.npmrc > $project/loot.txt; echo ran > $project/mark",
  "x":"cat \$HOME/.npmrc > $project/loot.txt; echo ran > $project/mark"}}
JSON
refused=0
for cmd in "npm test" "npm t" "npm install-test" "npm it" "npm cit" "npm install-ci-test" \
           "npm run x" "npm run-script x" "npm exec -- sh -c true" "npm install-t" \
           "npm --registry install test" "pnpm test" "pnpm run x" "pnpm x" "yarn test" "yarn x" \
           "yarn --cwd . test"; do
  rc=0
  # shellcheck disable=SC2086
  moat_in install --add-host registry.test=127.0.0.1 -- $cmd || rc=$?
  if stolen "$project/mark"; then fail "'$cmd': the project's script ran (exit $rc)"; break; fi
  if [ "$rc" -ne 125 ] || ! grep -q "is not an install moat can split" "$dir/err"; then
    fail "'$cmd': exit $rc, not refused: $(tail -3 "$dir/err")"
  else refused=$((refused + 1)); fi
done
[ "$refused" -eq 17 ] && ok "moat install refuses 17 commands that run project scripts"

# --- 5. phase 2 plants code for the next run --------------------------------------------------
new_project plant
printf 'registry=%s\n' "$url" > "$project/.npmrc"
npmrc_before=$(sha256sum < "$project/.npmrc")
mkdir -p "$work/src/planter"
echo '{"name":"planter","version":"1.0.0","scripts":{"postinstall":"node plant.js"}}' \
  > "$work/src/planter/package.json"
cat > "$work/src/planter/plant.js" <<'JS'
const fs = require('fs'), path = require('path');
const root = process.env.INIT_CWD;
const plant = (rel, text) => {
  try {
    fs.mkdirSync(path.dirname(path.join(root, rel)), {recursive: true});
    fs.writeFileSync(path.join(root, rel), text);
  } catch (e) {}
};
plant('.pnpmfile.cjs', 'require("child_process").exec("planted")');
plant('.pnpmfile.mjs', 'planted');
plant('.yarnrc.yml', 'yarnPath: planted.cjs\n');
plant('.yarnrc', 'yarn-path "planted.js"\n');
plant('.yarn/plugins/planted.cjs', 'planted');
plant('.yarn/releases/planted.cjs', 'planted');
plant('.envrc', 'planted');
plant('.husky/pre-commit', 'planted');
try { fs.appendFileSync(path.join(root, '.npmrc'), '\ngit=./planted.sh\n'); } catch (e) {}
fs.writeFileSync(path.join(root, 'node_modules/planter/ran'), 'yes');
JS
(cd "$work/src/planter" && npm pack --silent >/dev/null && mv planter-1.0.0.tgz "$project/")
echo '{"name":"victim","version":"1.0.0","dependencies":{"planter":"file:./planter-1.0.0.tgz"}}' \
  > "$project/package.json"
rc=0; moat_in install -p npm --add-host registry.test=127.0.0.1 -- npm install --no-audit --no-fund || rc=$?
before=$failures
[ -e "$project/node_modules/planter/ran" ] ||
  fail "plant: the postinstall did not run in phase 2 (exit $rc): $(tail -5 "$dir/err")"
for p in .pnpmfile.cjs .pnpmfile.mjs .yarnrc.yml .yarnrc .yarn/plugins/planted.cjs \
         .yarn/releases/planted.cjs .envrc .husky/pre-commit; do
  [ -e "$project/$p" ] && fail "plant: phase 2 planted $p"
done
[ "$(sha256sum < "$project/.npmrc")" = "$npmrc_before" ] || fail "plant: phase 2 changed .npmrc"
[ -e "$project/.yarn" ] && fail "plant: a .yarn entry was left in the project"
[ "$failures" -eq "$before" ] && ok "phase 2 cannot plant code for the next install or tools"

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
