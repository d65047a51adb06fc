#!/usr/bin/env bash
# `make bench`: translation+rendering benchmarks (package pipeline) and data-plane
# apply latencies against a real nghttpx (package bench), written to bench/results.md
# with the machine they ran on.
# Usage: hack/bench.sh [OUT]   (default bench/results.md; CACHE_DIR as for make)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results.md}
cache=${CACHE_DIR:-$HOME/.cache/nghttpx-gateway}
go=${GO:-go}

nghttpx=$(bash hack/build-nghttpx.sh "$cache" | tail -n 1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "bench: pipeline benchmarks (go test ./pipeline -bench . -count 3)" >&2
$go test ./pipeline -run '^$' -bench . -benchmem -count 3 | tee "$tmp/pipeline.txt" >&2

echo "bench: apply latency against $nghttpx" >&2
BENCH_OUT="$tmp/apply.md" NGHTTPX_BIN="$nghttpx" \
  $go test -tags integration -count=1 -run '^TestApplyLatency$' -v ./bench >&2
[[ -s $tmp/apply.md ]] || { echo "bench: TestApplyLatency wrote no table" >&2; exit 1; }

echo "bench: access log cost against $nghttpx" >&2
BENCH_ACCESSLOG_OUT="$tmp/accesslog.md" NGHTTPX_BIN="$nghttpx" ECHO_BIN="${ECHO_BIN:-$cache/bin/echo-basic}" \
  $go test -tags integration -count=1 -run '^TestAccessLogCost$' -v ./bench >&2
[[ -s $tmp/accesslog.md ]] || { echo "bench: TestAccessLogCost wrote no table" >&2; exit 1; }

echo "bench: route change stall against $nghttpx" >&2
BENCH_STALL_OUT="$tmp/stall.md" NGHTTPX_BIN="$nghttpx" ECHO_BIN="${ECHO_BIN:-$cache/bin/echo-basic}" \
  $go test -tags integration -count=1 -run '^TestRouteChangeStall$' -v ./bench >&2
[[ -s $tmp/stall.md ]] || { echo "bench: TestRouteChangeStall wrote no table" >&2; exit 1; }

echo "bench: route lookup cost against $nghttpx" >&2
BENCH_LOOKUP_OUT="$tmp/lookup.md" NGHTTPX_BIN="$nghttpx" ECHO_BIN="${ECHO_BIN:-$cache/bin/echo-basic}" \
  $go test -tags integration -count=1 -run '^TestRouteLookupCost$' -v ./bench >&2
[[ -s $tmp/lookup.md ]] || { echo "bench: TestRouteLookupCost wrote no table" >&2; exit 1; }

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain 2>/dev/null) ]]; then commit="$commit (with uncommitted changes)"; fi
cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)

access_log_section() {
  echo "## Access log cost (package bench, TestAccessLogCost, median of 3)"
  echo
  echo "One Gateway, one route to echo-basic, 20,000 h2c requests (h2load, 10 clients x 10"
  echo "streams). nghttpx (main and worker processes) pinned to core 0, h2load and the backend to"
  echo "core 1. *nghttpx CPU*: its utime+stime per request; *agent CPU*: the agent's (reading the"
  echo "FIFO, metrics, formatting lines for a discarding writer). *off*: no access log and no"
  echo "request metrics. req/s is not comparable on a shared machine; CPU per request is."
  echo
  cat "$1"
}

# Median of the -count runs per benchmark: ns/op, B/op, allocs/op.
pipeline_table() {
  awk '
    function med(s,   a, n, i, j, x) {
      n = split(s, a, " ")
      for (i = 2; i <= n; i++) { x = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
      return a[int((n + 1) / 2)]
    }
    $1 ~ /^Benchmark/ && $4 == "ns/op" {
      name = $1; sub(/-[0-9]+$/, "", name)
      if (!(name in ns)) order[++k] = name
      ns[name] = ns[name] " " $3; bytes[name] = bytes[name] " " $5; allocs[name] = allocs[name] " " $7
    }
    END {
      print "| benchmark | routes | time/op | B/op | allocs/op |"
      print "|---|---:|---:|---:|---:|"
      for (i = 1; i <= k; i++) {
        n = order[i]; split(n, p, "/"); r = p[2]; sub(/^routes=/, "", r); sub(/^Benchmark/, "", p[1])
        printf "| %s | %s | %.2f ms | %.1f MiB | %d |\n", p[1], r, med(ns[n]) / 1e6, med(bytes[n]) / 1048576, med(allocs[n])
      }
    }' "$1"
}

{
  echo "# Benchmark results"
  echo
  echo "Written by \`make bench\` (hack/bench.sh); numbers from one run on a shared machine, so"
  echo "compare runs on the same machine only."
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Commit: $commit"
  echo "- Machine: $(nproc) CPUs, $cpu; load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Go: $($go version)"
  echo "- nghttpx: $("$nghttpx" --version | head -n 1)"
  echo
  echo "## Translation and rendering (package pipeline, median of 3)"
  echo
  echo "Build = translate.Translate + render.Render for one Gateway; Translate = the gateway stage"
  echo "alone. Input: pipeline.SyntheticInput(routes, routes/10+1 Services, 3 endpoints each)."
  echo
  pipeline_table "$tmp/pipeline.txt"
  echo
  echo "## Data-plane apply latency (package bench, TestApplyLatency, median of 5)"
  echo
  echo "One nghttpx (1 worker) behind the applier, same input. *start*: Start until the API"
  echo "answers; *first request*: the first request, which loads the route table in the worker;"
  echo "*RSS*: VmRSS after that request. *Endpoint change*: one endpoint address changes, applied"
  echo "through the backend API (no reload; in brackets the POST alone). *Route change*: a rule"
  echo "is added to one route, applied as a route table rewrite (no reload; in brackets the time"
  echo "from the Apply call until a request is answered by the new rule, which includes the"
  echo "worker re-reading the table). *Listener change*: a second listener on a new port,"
  echo "applied with SIGHUP (in brackets SIGHUP until the new configrevision)."
  echo
  cat "$tmp/apply.md"
  echo
  access_log_section "$tmp/accesslog.md"
  echo
  echo "## Route change stall (package bench, TestRouteChangeStall, median of 5)"
  echo
  echo "pipeline.SyntheticInput(routes) on echo-basic, one nghttpx with 2 workers; each round adds"
  echo "a redirect rule to one route. *Reload CPU per worker*: idle, a worker thread's CPU time"
  echo "(schedstat) for the first request for the changed route minus its second. *Under load*:"
  echo "8 keep-alive clients back to back; max and p99 latency from the Apply call until every"
  echo "client saw the new rule, and in the 250 ms before (the machine's noise floor)."
  echo
  cat "$tmp/stall.md"
  echo
  echo "## Route lookup cost (package bench, TestRouteLookupCost)"
  echo
  echo "nghttpx (1 worker) pinned to core 0, h2load and echo-basic to core 1; 20,000 h2c requests"
  echo "for one host of a table of 1 or 5,000 one-hostname routes, and for a route without one."
  echo
  cat "$tmp/lookup.md"
} >"$out"
echo "bench: wrote $out" >&2
