#!/usr/bin/env bash
# Lints the main module and the charts module: gofmt, go vet and staticcheck (pinned in hack/tools/lint/go.mod), once per
# build tag set the project uses (none, integration, e2e, conformance), so tagged test files
# are checked too. staticcheck runs its default checks; false positives are silenced where they
# occur with a //lint:ignore comment that says why.
# Usage: hack/lint.sh [CACHE_DIR]   (default $HOME/.cache/nghttpx-gateway)
# Idempotent: staticcheck is built once into CACHE_DIR/bin and rebuilt only when the pin changes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${1:-${CACHE_DIR:-$HOME/.cache/nghttpx-gateway}}
GO=${GO:-go}
bindir=$cache/bin
mkdir -p "$bindir"

# The stamp ties the binary to the pinned version and the Go toolchain that built it
# (staticcheck must understand the language version it checks).
stamp_want=$( (grep -E 'honnef.co/go/tools v' "$here/tools/lint/go.mod"; "$GO" env GOVERSION) | sha256sum | cut -c1-16)
sc=$bindir/staticcheck
if [[ ! -x $sc || ! -f $sc.stamp || $(cat "$sc.stamp") != "$stamp_want" ]]; then
	echo "[lint] building staticcheck into $bindir" >&2
	(cd "$here/tools/lint" && "$GO" build -o "$sc" honnef.co/go/tools/cmd/staticcheck)
	echo "$stamp_want" >"$sc.stamp"
fi

cd "$repo"
status=0
echo "[lint] gofmt -l" >&2
unformatted=$(git ls-files -z '*.go' | xargs -0 "$("$GO" env GOROOT)/bin/gofmt" -l)
if [[ -n $unformatted ]]; then
	echo "[lint] not gofmt-formatted (run gofmt -w on them):" >&2
	echo "$unformatted" >&2
	status=1
fi
for tags in "" integration e2e conformance; do
	echo "[lint] go vet -tags '$tags'" >&2
	"$GO" vet -tags "$tags" ./... || status=1
	echo "[lint] staticcheck -tags '$tags'" >&2
	"$sc" -tags "$tags" ./... || status=1
done
# charts/ is a module of its own (the Helm chart's tests and cmd/release).
echo "[lint] go vet, staticcheck: charts module" >&2
(cd charts && "$GO" vet ./... && "$sc" ./...) || status=1
exit $status
