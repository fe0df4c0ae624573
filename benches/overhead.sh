#!/usr/bin/env bash
# Detection overhead by wall clock, A/B alternated: `kaudit normalize` against
# `kaudit scan --threads 1 --format json` (the whole built-in pack) on one
# generated vanilla corpus, run in turns so that a machine whose speed drifts
# (a shared VM) slows both alike.
#
#   benches/overhead.sh              # the detect bench's corpus (~20 MB, 15,693 events) x5, 15 rounds
#   ROUNDS=21 EVENTS=200000 benches/overhead.sh
#   KAUDIT=/path/to/other/kaudit benches/overhead.sh   # another build (A/B between builds)
#
# Each round runs, in this order: normalize, scan, and both on an empty file
# (start-up: the scan compiles the pack, ~15 ms). It prints min and median
# wall milliseconds of each, and detection = (scan - scan start-up) -
# (normalize - normalize start-up) as a share of normalize, from the minima
# (the least disturbed runs) and from the medians. The criterion bench
# (`cargo bench -p kaudit-benches --bench detect -- detect/`) measures the
# same two passes in-process, one after the other; see BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-15}
EVENTS=${EVENTS:-78465}
SEED=${SEED:-42}

if [ -z "${KAUDIT:-}" ]; then
  echo "building (release)…" >&2
  cargo build --release -q -p kaudit --bin kaudit
  TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  KAUDIT="$TARGET/release/kaudit"
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CORPUS="$TMP/corpus.jsonl"
EMPTY="$TMP/empty.jsonl"
: > "$EMPTY"
"$KAUDIT" gen --events "$EVENTS" --source k8s --seed "$SEED" --out "$CORPUS"
echo "corpus: $(wc -c < "$CORPUS") bytes, $EVENTS events; $ROUNDS rounds; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

ms() { # run "$@" with output discarded, print wall milliseconds
  local s e
  s=$(date +%s%N)
  "$@" > /dev/null
  e=$(date +%s%N)
  echo $(((e - s) / 1000000))
}

declare -a N S NE SE
for ((i = 0; i < ROUNDS; i++)); do
  N+=("$(ms "$KAUDIT" normalize "$CORPUS")")
  S+=("$(ms "$KAUDIT" scan --threads 1 --format json "$CORPUS")")
  NE+=("$(ms "$KAUDIT" normalize "$EMPTY")")
  SE+=("$(ms "$KAUDIT" scan --threads 1 --format json "$EMPTY")")
done

stat() { # min median of the arguments
  printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[1], a[int((NR + 1) / 2)]}'
}
read -r nmin nmed <<< "$(stat "${N[@]}")"
read -r smin smed <<< "$(stat "${S[@]}")"
read -r nemin nemed <<< "$(stat "${NE[@]}")"
read -r semin semed <<< "$(stat "${SE[@]}")"

printf '%-34s %8s %8s\n' "command" "min_ms" "med_ms"
printf '%-34s %8d %8d\n' "normalize" "$nmin" "$nmed"
printf '%-34s %8d %8d\n' "scan --threads 1 --format json" "$smin" "$smed"
printf '%-34s %8d %8d\n' "normalize (empty input)" "$nemin" "$nemed"
printf '%-34s %8d %8d\n' "scan (empty input: start-up)" "$semin" "$semed"
awk -v n="$nmin" -v s="$smin" -v ne="$nemin" -v se="$semin" -v nm="$nmed" -v sm="$smed" -v nem="$nemed" -v sem="$semed" 'BEGIN {
  printf "detection overhead: %+.1f %% of normalize (minima), %+.1f %% (medians)\n",
    100 * ((s - se) - (n - ne)) / (n - ne), 100 * ((sm - sem) - (nm - nem)) / (nm - nem)
}'
