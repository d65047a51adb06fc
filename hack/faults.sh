#!/usr/bin/env bash
# `make faults`: the data plane's fault suite (package dataplane/faults) with longer
# phases and 10,000 idle connections, written to bench/reliability.md with the
# machine it ran on. `make integration` runs the same tests in their short form.
# Usage: hack/faults.sh [OUT]   (default bench/reliability.md; CACHE_DIR as for make)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/reliability.md}
cache=${CACHE_DIR:-$HOME/.cache/nghttpx-gateway}
go=${GO:-go}

nghttpx=$(bash hack/build-nghttpx.sh "$cache" | tail -n 1)
echo_bin=$cache/bin/echo-basic
[[ -x $echo_bin ]] || $go build -o "$echo_bin" sigs.k8s.io/gateway-api/conformance/echo-basic
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

seconds=${FAULTS_SECONDS:-10}
idle=${FAULTS_IDLE:-10000}
echo "faults: ${seconds}s phases, $idle idle connections, against $nghttpx" >&2
status=0
FAULTS_REPORT="$tmp/table.md" FAULTS_SECONDS=$seconds FAULTS_IDLE=$idle NGHTTPX_BIN="$nghttpx" ECHO_BIN="$echo_bin" \
  $go test -tags integration -count=1 -timeout 30m -v ./dataplane/faults 2>&1 | tee "$tmp/log.txt" >&2 || status=$?
[[ -s $tmp/table.md ]] || { echo "faults: the suite wrote no table" >&2; exit 1; }

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain 2>/dev/null) ]]; then commit="$commit (with uncommitted changes)"; fi
{
  echo "# Reliability under faults"
  echo
  echo "Written by \`make faults\` (hack/faults.sh, package dataplane/faults): the \`run\` pipeline on"
  echo "127.0.0.1 under steady HTTP/1.1 and h2c traffic (4 loops each for kills, 2 each during attacks,"
  echo "2 ms pause between requests), ${seconds}s before and after each kill and ${seconds}s of each attack."
  echo "A kill may fail requests for 1 s; an attack may fail none. \`make integration\` runs the"
  echo "same tests with 2 s phases and 2,000 idle connections."
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Commit: $commit"
  echo "- Machine: $(nproc) CPUs, $(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- nghttpx: $("$nghttpx" --version | head -n 1)"
  echo "- Result: $(grep -E '^(ok|FAIL|---)' "$tmp/log.txt" | grep -E '^(ok|FAIL)' | tail -n 1)"
  echo
  cat "$tmp/table.md"
  if [[ -f bench/reliability-notes.md ]]; then echo; cat bench/reliability-notes.md; fi
} > "$out"
echo "faults: wrote $out" >&2
exit $status
