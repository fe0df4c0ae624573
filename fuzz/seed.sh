#!/usr/bin/env bash
# Seed the fuzz corpora from the test fixtures and the built-in rule files
# (the corpora are generated, not checked in). Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
for t in decode pipeline frame; do
  mkdir -p "fuzz/corpus/$t"
  find tests/fixtures -type f \( -name '*.json' -o -name '*.jsonl' -o -name '*.gz' \) | while read -r f; do
    # One seed per file, and one per line of NDJSON files (small inputs fuzz faster).
    cp "$f" "fuzz/corpus/$t/$(echo "$f" | tr '/' '_')"
    case "$f" in
      *.jsonl) split -l 1 -a 4 "$f" "fuzz/corpus/$t/$(basename "$f")-line-" ;;
    esac
  done
done
mkdir -p fuzz/corpus/rules
cp core/rules/*.yaml fuzz/corpus/rules/
echo "seeded: $(ls fuzz/corpus/decode | wc -l) decode, $(ls fuzz/corpus/rules | wc -l) rules inputs"
mkdir -p fuzz/corpus/policy fuzz/corpus/iac
find posture/tests/fixtures/policies -type f \( -name '*.yaml' -o -name '*.json' \) -exec cp {} fuzz/corpus/policy/ \;
find posture/tests/fixtures/iac -type f \( -name '*.json' -o -name '*.yaml' -o -name '*.yml' -o -name '*.tf' \) | while read -r f; do
  cp "$f" "fuzz/corpus/iac/$(echo "$f" | tr '/' '_')"
done
echo "seeded: $(ls fuzz/corpus/policy | wc -l) policy, $(ls fuzz/corpus/iac | wc -l) iac inputs"
