#!/usr/bin/env bash
# Create or update the peers' virtualenv used by benchmarks/run.py.
#
#   bash benchmarks/peers/setup.sh            # venv at /tmp/peers (or $PEERS_VENV)
#   bash benchmarks/peers/setup.sh /path/venv
#
# Each peer is installed on its own, so one that cannot be installed does not stop the others;
# the outcome of every install is written to <venv>/peers-install.json, which the runner reads
# and copies into the results ("not installable: <reason>").
set -u
VENV="${1:-${PEERS_VENV:-/tmp/peers}}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV" || { echo "cannot create venv $VENV" >&2; exit 1; }
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
# Always needed by the peer scripts: reading the cached Parquet panels.
"$VENV/bin/python" -m pip install --quiet --upgrade numpy pandas pyarrow || { echo "cannot install numpy/pandas/pyarrow" >&2; exit 1; }
PEERS="pyfixest csdid differences diff-diff moderndid statsmodels wildboottest"
STATUS="$VENV/peers-install.json"
echo "{" > "$STATUS.tmp"
first=1
for pkg in $PEERS; do
  log="$VENV/install-$pkg.log"
  if "$VENV/bin/python" -m pip install --upgrade "$pkg" >"$log" 2>&1; then
    version=$("$VENV/bin/python" -m pip show "$pkg" 2>/dev/null | awk '/^Version:/{print $2}')
    entry="{\"ok\": true, \"version\": \"$version\"}"
    echo "installed $pkg $version"
  else
    reason=$(grep -E "^ERROR" "$log" | head -1 | tr -d '"\\' | cut -c1-300)
    entry="{\"ok\": false, \"error\": \"${reason:-pip failed, see $log}\"}"
    echo "FAILED    $pkg: ${reason:-see $log}" >&2
  fi
  [ $first -eq 1 ] || echo "," >> "$STATUS.tmp"
  first=0
  printf '  "%s": %s' "$pkg" "$entry" >> "$STATUS.tmp"
done
printf '\n}\n' >> "$STATUS.tmp"
mv "$STATUS.tmp" "$STATUS"
echo "peers venv: $VENV (status in $STATUS)"
