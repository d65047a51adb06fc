#!/usr/bin/env bash
# `make bench-peers`: the data plane next to its peers on one machine. Each proxy runs
# with one worker pinned to CPU 0; the load generator (h2load) and one nginx backend
# (`return 200`) share CPU 1. For each proxy and frontend protocol: req/s and the
# proxy's CPU per request (utime+stime of its processes over the run / requests).
# Proxies: plain nghttpx (one backend= line), nginx (proxy_pass, upstream keep-alive),
# HAProxy (maxconn 5000), `nghttpx-gateway run` with 1 HTTPRoute and with 5000
# HTTPRoutes of one hostname each (requests for the 1st, 2500th and 5000th host).
# Only loopback addresses. Median of REPS runs of DUR seconds each.
# Usage: hack/bench-peers.sh [OUT]   (default bench/peers.md)
# Env: REPS (3), DUR (5 s), ROUTES (5000), PROTOS ("h1 h2c h2tls"), CASES ("plain nginx
# haproxy gw1 gwN"; a case may repeat, its runs add up), NGHTTPX (binary; default: the
# hack/build-nghttpx.sh one), HOSTS (route indexes requested in gwN, "1 ROUTES/2 ROUTES";
# 1, ROUTES/2 and ROUTES resolve), BENCH_SECTION (append a section to OUT), CACHE_DIR, GO.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/peers.md}
cache=${CACHE_DIR:-$HOME/.cache/nghttpx-gateway}
go=${GO:-go}
reps=${REPS:-3}
dur=${DUR:-5}
nroutes=${ROUTES:-5000}
protos=${PROTOS:-h1 h2c h2tls}

if ! command -v nginx >/dev/null || ! command -v haproxy >/dev/null; then
  echo "bench-peers: installing nginx-light and haproxy (Debian)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y nginx-light haproxy >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y nginx-light haproxy >/dev/null; }
fi
if [[ $(nproc) -lt 2 ]]; then echo "bench-peers: needs 2 CPUs" >&2; exit 1; fi
nghttpx=${NGHTTPX:-$(bash hack/build-nghttpx.sh "$cache" | tail -n 1)}
h2load=$(dirname "$nghttpx")/h2load
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-peers.XXXXXX")
pids=()
current="" # the proxy under test
cleanup() {
  [[ -n $current ]] && stop "$current"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "bench-peers: building nghttpx-gateway" >&2
GOFLAGS=-p=1 $go build -o "$work/nghttpx-gateway" ./cmd/nghttpx-gateway

BACKEND=19180
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=bench.test \
  -addext 'subjectAltName=DNS:*.bench.test,DNS:bench.test' \
  -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
cat "$work/tls.crt" "$work/tls.key" >"$work/tls.pem"

# The backend: nginx answering 200 with a short body, keep-alive without a limit.
mkdir -p "$work/be"
cat >"$work/be/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/be/nginx.pid;
error_log $work/be/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path $work/be; proxy_temp_path $work/be; fastcgi_temp_path $work/be;
  uwsgi_temp_path $work/be; scgi_temp_path $work/be;
  server { listen 127.0.0.1:$BACKEND; location / { return 200 "ok\n"; } }
}
EOF
taskset -c 1 nginx -c "$work/be/nginx.conf" -e "$work/be/error.log" &
pids+=($!)

# descendants PID: PID and all its descendants.
descendants() {
  local p=$1 c
  echo "$p"
  for c in $(pgrep -P "$p" || true); do descendants "$c"; done
}
# cpu_ticks PID...: utime+stime summed, in clock ticks.
cpu_ticks() {
  local t=0 p s
  for p in "$@"; do
    s=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
    t=$((t + ${s% *} + ${s#* }))
  done
  echo "$t"
}
# The route hosts (rI.bench.test) resolve to 127.0.0.1 through a hosts file that only
# the load generator sees (a private mount namespace), so that HTTP/2's :authority,
# TLS SNI and HTTP/1.1's Host all carry the name.
printf '127.0.0.1 localhost\n' >"$work/hosts"
for i in 1 $((nroutes / 2)) "$nroutes"; do printf '127.0.0.1 r%d.bench.test\n' "$i" >>"$work/hosts"; done
in_ns() { unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$work/hosts" "$@"; }
# load ARGS...: h2load on CPU 1, bounded in time.
load() { in_ns timeout $((dur + 20)) taskset -c 1 "$h2load" "$@"; }
wait_ok() { # URL [CURL OPTION]
  local i
  for i in $(seq 1 300); do
    if [[ $(in_ns curl -sk ${2:-} -o /dev/null -w '%{http_code}' "$1" 2>/dev/null) == 200 ]]; then return 0; fi
    sleep 0.1
  done
  echo "bench-peers: $1 never answered 200" >&2
  return 1
}

hz=$(getconf CLK_TCK)
results=$work/results.txt
: >"$results"
# measure NAME PROTO PORT HOST PIDPATTERN...: REPS runs; writes "NAME PROTO req/s us/req" lines.
measure() {
  local name=$1 proto=$2 port=$3 host=$4 root=$5
  local url args procs
  local a=127.0.0.1
  [[ -n $host ]] && a=$host
  case $proto in
    h1) url=http://$a:$port/; args=(--h1 -c 64) ;;
    h2c) url=http://$a:$port/; args=(-c 64) ;;
    h2tls) url=https://$a:$((port + 1))/; args=(-c 16 -m 10) ;;
  esac
  local copt=""
  [[ $proto == h2c ]] && copt=--http2-prior-knowledge
  wait_ok "$url" $copt
  # The proxy's processes (for run: nghttpx's, not the controller's).
  mapfile -t procs < <(descendants "$root" | while read -r p; do
    c=$(cat "/proc/$p/comm" 2>/dev/null) || continue
    [[ $c == nghttpx-gateway ]] || echo "$p"
  done)
  load "${args[@]}" -D 1 "$url" >/dev/null 2>&1 || true
  local i
  for i in $(seq 1 "$reps"); do
    local t0 t1 o reqs ok rps
    t0=$(cpu_ticks "${procs[@]}")
    o=$(load "${args[@]}" -D "$dur" "$url" 2>&1) || true
    t1=$(cpu_ticks "${procs[@]}")
    reqs=$(awk '/^requests:/ {print $8; exit}' <<<"$o")
    ok=$(awk '/^status codes:/ {print $3; exit}' <<<"$o")
    rps=$(awk '/^finished in/ {print $4; exit}' <<<"$o")
    if [[ -z $reqs || $reqs == 0 || $ok != "$reqs" ]]; then
      echo "bench-peers: $name $proto: $reqs requests, $ok 2xx" >&2
      sed -n '/^finished/,/^status/p' <<<"$o" >&2
      echo -e "$name\t$proto\tfailed\tfailed" >>"$results"
      continue
    fi
    awk -v n="$name" -v p="$proto" -v r="$rps" -v q="$reqs" -v d=$((t1 - t0)) -v hz="$hz" \
      'BEGIN { u = 0; if (q > 0) u = d / hz * 1e6 / q; printf "%s\t%s\t%.0f\t%.1f\n", n, p, r, u }' | tee -a "$results" >&2
  done
}
stop() { # PID: the process and its descendants
  local ps
  mapfile -t ps < <(descendants "$1")
  kill "${ps[@]}" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "${ps[@]}" 2>/dev/null || true
  current=""
}
proto_list() { for p in $protos; do echo "$p"; done; }

# Plain nghttpx: HTTP on 18010, TLS on 18011, one backend= line.
cat >"$work/nghttpx.conf" <<EOF
frontend=127.0.0.1,18010;no-tls
frontend=127.0.0.1,18011
private-key-file=$work/tls.key
certificate-file=$work/tls.crt
backend=127.0.0.1,$BACKEND;;proto=http/1.1
workers=1
no-via=yes
add-x-forwarded-for=yes
accesslog-file=/dev/null
errorlog-file=$work/nghttpx.err
EOF
run_plain() {
  taskset -c 0 "$nghttpx" --conf "$work/nghttpx.conf" &
  local p=$!
  current=$p
  for proto in $(proto_list); do measure "plain nghttpx" "$proto" 18010 "" $p; done
  stop $p
}

# nginx as the proxy: HTTP/1.1 on 18020, h2c on 18022, TLS (h2) on 18021.
mkdir -p "$work/px"
cat >"$work/px/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/px/nginx.pid;
error_log $work/px/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $work/px; proxy_temp_path $work/px; fastcgi_temp_path $work/px;
  uwsgi_temp_path $work/px; scgi_temp_path $work/px;
  upstream be { server 127.0.0.1:$BACKEND; keepalive 128; keepalive_requests 100000000; }
  server {
    listen 127.0.0.1:18020;
    listen 127.0.0.1:18021 ssl http2;
    ssl_certificate $work/tls.crt; ssl_certificate_key $work/tls.key;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server {
    listen 127.0.0.1:18022 http2;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
EOF
run_nginx() {
  taskset -c 0 nginx -c "$work/px/nginx.conf" -e "$work/px/error.log" &
  local p=$! proto port
  current=$p
  for proto in $(proto_list); do
    port=18020; [[ $proto == h2c ]] && port=18022
    measure "nginx" "$proto" $port "" $p
  done
  stop $p
}

# HAProxy: HTTP/1.1 on 18030, h2c on 18032, TLS (h2) on 18031.
cat >"$work/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 5000
  log /dev/null local0
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend h1
  bind 127.0.0.1:18030
  bind 127.0.0.1:18031 ssl crt $work/tls.pem alpn h2,http/1.1
  default_backend be
frontend h2c
  bind 127.0.0.1:18032 proto h2
  default_backend be
backend be
  server s1 127.0.0.1:$BACKEND maxconn 5000
EOF
run_haproxy() {
  taskset -c 0 haproxy -db -f "$work/haproxy.cfg" &
  local p=$! proto port
  current=$p
  for proto in $(proto_list); do
    port=18030; [[ $proto == h2c ]] && port=18032
    measure "HAProxy" "$proto" $port "" $p
  done
  stop $p
}

# nghttpx-gateway run: a Gateway on 18040 (HTTP) and 18041 (HTTPS), N HTTPRoutes with
# hostname rI.bench.test each, all to one Service whose endpoint is the backend.
gw_config() { # DIR N
  local d=$1 n=$2
  mkdir -p "$d"
  cat >"$d/base.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: be, namespace: default}
spec: {ports: [{name: http, port: 80, targetPort: $BACKEND}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: be-1, namespace: default, labels: {kubernetes.io/service-name: be}}
addressType: IPv4
ports: [{name: http, port: $BACKEND}]
endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}}]
---
apiVersion: v1
kind: Secret
metadata: {name: tls, namespace: default}
type: kubernetes.io/tls
data:
  tls.crt: $(base64 -w0 "$work/tls.crt")
  tls.key: $(base64 -w0 "$work/tls.key")
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nghttpx}
spec: {controllerName: zlab.co.jp/nghttpx}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bench, namespace: default}
spec:
  gatewayClassName: nghttpx
  addresses: [{type: IPAddress, value: 127.0.0.1}]
  listeners:
  - {name: http, protocol: HTTP, port: 18040, allowedRoutes: {namespaces: {from: All}}}
  - name: https
    protocol: HTTPS
    port: 18041
    tls: {mode: Terminate, certificateRefs: [{name: tls}]}
EOF
  awk -v n="$n" 'BEGIN {
    for (i = 1; i <= n; i++) {
      printf "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
      printf "metadata: {name: r%d, namespace: default}\n", i
      printf "spec:\n  parentRefs: [{name: bench}]\n  hostnames: [r%d.bench.test]\n", i
      printf "  rules: [{backendRefs: [{name: be, port: 80}]}]\n"
    }
  }' >"$d/routes.yaml"
}
run_gw() { # N HOSTINDEX...
  local n=$1; shift
  local d=$work/gw$n
  gw_config "$d/config" "$n"
  taskset -c 0 "$work/nghttpx-gateway" run --http3=false --workers=1 --config "$d/config" --state-dir "$d/state" \
    --nghttpx "$nghttpx" >"$d/run.log" 2>&1 &
  local p=$! i proto label
  current=$p
  for i in "$@"; do
    label="run, 1 route"
    [[ $n -gt 1 ]] && label="run, $n routes, host $i"
    for proto in $(proto_list); do measure "$label" "$proto" 18040 "r$i.bench.test" $p; done
  done
  stop $p
}

echo "bench-peers: $reps x ${dur}s per case, protocols: $protos" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for c in ${CASES:-plain nginx haproxy gw1 gwN}; do
  case $c in
    plain) run_plain ;;
    nginx) run_nginx ;;
    haproxy) run_haproxy ;;
    gw1) run_gw 1 1 ;;
    gwN) run_gw "$nroutes" ${HOSTS:-1 $((nroutes / 2)) "$nroutes"} ;;
  esac
done

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain 2>/dev/null) ]]; then commit="$commit (with uncommitted changes)"; fi
cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
# table: one row per proxy, per protocol the median req/s and CPU per request, plus
# the ratios to plain nghttpx (CPU) and nginx (req/s).
table() {
  awk -F'\t' -v protos="$protos" '
    function med(s,   a, n, i, j, x) {
      n = split(s, a, " ")
      for (i = 2; i <= n; i++) { x = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
      return a[int((n + 1) / 2)]
    }
    { if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 }
      r[$1 SUBSEP $2] = r[$1 SUBSEP $2] " " $3; c[$1 SUBSEP $2] = c[$1 SUBSEP $2] " " $4 }
    END {
      np = split(protos, P, " ")
      name["h1"] = "HTTP/1.1"; name["h2c"] = "h2c"; name["h2tls"] = "h2 over TLS"
      for (j = 1; j <= np; j++) {
        p = P[j]
        opt["h1"] = "--h1 -c 64"; opt["h2c"] = "-c 64"; opt["h2tls"] = "-c 16 -m 10"
        printf "\n### %s (h2load %s)\n\n", name[p], opt[p]
        print "| proxy, 1 worker | req/s | CPU per request | CPU vs plain nghttpx | req/s vs nginx |"
        print "|---|---:|---:|---:|---:|"
        pc = med(c["plain nghttpx" SUBSEP p]); nr = med(r["nginx" SUBSEP p])
        for (i = 1; i <= k; i++) {
          x = order[i]
          if (!((x SUBSEP p) in r)) continue
          if (r[x SUBSEP p] ~ /failed/) { printf "| %s | failed | | | |\n", x; continue }
          rr = med(r[x SUBSEP p]); cc = med(c[x SUBSEP p])
          cr = 0; if (pc > 0) cr = cc / pc
          rn = 0; if (nr > 0) rn = rr / nr
          printf "| %s | %.1fk | %.1f µs | %.2fx | %.2fx |\n", x, rr / 1000, cc, cr, rn
        }
      }
    }' "$results"
}
{
  echo "# Data plane next to its peers"
  echo
  echo "Written by \`make bench-peers\` (hack/bench-peers.sh). One machine; the proxy (one worker)"
  echo "pinned to CPU 0, h2load and the backend (nginx, \`return 200\`, keep-alive) on CPU 1."
  echo "CPU per request: utime+stime of the proxy's processes (for \`run\`: nghttpx's master and"
  echo "worker, not the controller) over the run, divided by the requests done. Median of $reps"
  echo "runs of ${dur}s. Each \`run\` route has one hostname (rI.bench.test) and one rule; the 5000"
  echo "routes case requests the 1st, middle and last host. The machine is shared, so compare"
  echo "rows of one run only."
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Commit: $commit"
  echo "- Machine: $(nproc) CPUs, $cpu; load average before the run: $load_before"
  echo "- nghttpx: $("$nghttpx" --version | head -n 1); $(nginx -v 2>&1); $(haproxy -v | head -n 1 | cut -d' ' -f1-3)"
  table
} >"$work/table.md"
if [[ -n ${BENCH_SECTION:-} && -f $out ]]; then
  # Append as a named section (before/after comparisons in one file).
  { echo; echo "## $BENCH_SECTION"; sed -n '/^- Date/,$p' "$work/table.md"; } >>"$out"
else
  cp "$work/table.md" "$out"
fi
cp "$results" "${out%.md}.raw.tsv" 2>/dev/null || true
echo "bench-peers: wrote $out" >&2
