#!/usr/bin/env bash
# kaudit side by side with the usual tools, on one generated corpus.
#
#   benches/compare.sh            # 200,000 vanilla events (~260 MB), 3 runs each
#   EVENTS=50000 RUNS=5 SOURCE=k8s benches/compare.sh
#
# Needs only cargo, Debian's `jq` and the system `python3`. Builds `kaudit`
# and the naive baseline (benches/examples/naive.rs) in release mode,
# writes the corpus with `kaudit gen` to a temporary directory (deleted at
# the end), and times, with bash's `time`, RUNS runs of each:
#
#   kaudit-1t   kaudit scan --threads 1 --format json   (decode + 84 rules + annotated output)
#   kaudit-Nt   kaudit scan --threads $(nproc) --format json
#   naive       serde_json::Value per line + a loop over 84 rules by JSON pointer
#   python3     json.loads per line, 5 fields extracted and written as a JSON array
#   jq          the same 5 fields: jq -c '[.verb, .user.username, .objectRef.resource, ...]'
#
# It prints min / median / max seconds, events/s and MB/s of the median,
# and each tool's median time relative to kaudit-1t.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-200000}
RUNS=${RUNS:-3}
SOURCE=${SOURCE:-k8s}
SEED=${SEED:-42}
THREADS=$(nproc)

command -v jq >/dev/null || { echo "compare.sh: jq is not installed (apt-get install jq)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "compare.sh: python3 is not installed" >&2; exit 2; }

echo "building (release)…" >&2
cargo build --release -q -p kaudit --bin kaudit
cargo build --release -q -p kaudit-benches --example naive
TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
KAUDIT="$TARGET/release/kaudit"
NAIVE="$TARGET/release/examples/naive"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CORPUS="$TMP/corpus.jsonl"
"$KAUDIT" gen --events "$EVENTS" --source "$SOURCE" --seed "$SEED" --out "$CORPUS"
BYTES=$(wc -c < "$CORPUS")

cat > "$TMP/extract.py" <<'PY'
import json, sys
out = sys.stdout
with open(sys.argv[1], "rb") as f:
    for line in f:
        e = json.loads(line)
        u, o = e.get("user") or {}, e.get("objectRef") or {}
        out.write(json.dumps([e.get("verb"), u.get("username"), o.get("resource"), o.get("namespace"),
                              (e.get("responseStatus") or {}).get("code")]))
        out.write("\n")
PY
JQ='[.verb, .user.username, .objectRef.resource, .objectRef.namespace, .responseStatus.code]'

declare -A CMD=(
  [kaudit-1t]="\"$KAUDIT\" scan --threads 1 --format json \"$CORPUS\""
  [kaudit-${THREADS}t]="\"$KAUDIT\" scan --threads $THREADS --format json \"$CORPUS\""
  [naive]="\"$NAIVE\" \"$CORPUS\""
  [python3]="python3 \"$TMP/extract.py\" \"$CORPUS\""
  [jq]="jq -c '$JQ' \"$CORPUS\""
)
ORDER=(kaudit-1t "kaudit-${THREADS}t" naive python3 jq)

echo "corpus: $SOURCE, $EVENTS events, $BYTES bytes (kaudit gen --seed $SEED); $RUNS runs each; $THREADS cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %8s %8s %8s %12s %8s %8s\n' tool min_s med_s max_s events/s MB/s vs_1t
declare -A MED
for name in "${ORDER[@]}"; do
  times=()
  for _ in $(seq "$RUNS"); do
    TIMEFORMAT=%R
    t=$( { time bash -c "${CMD[$name]} > /dev/null 2>&1" ; } 2>&1 )
    times+=("$t")
  done
  read -r min med max < <(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[1], a[int((NR+1)/2)], a[NR]}')
  MED[$name]=$med
  awk -v n="$name" -v mi="$min" -v me="$med" -v ma="$max" -v ev="$EVENTS" -v by="$BYTES" -v base="${MED[kaudit-1t]}" \
    'BEGIN { printf "%-10s %8.2f %8.2f %8.2f %12.0f %8.1f %7.2fx\n", n, mi, me, ma, ev/me, by/me/1e6, me/base }'
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
