#!/usr/bin/env bash
# Build the libFuzzer harness and fuzz pinssl_spki_span for SECONDS seconds.
#
#   csrc/fuzz/run_fuzz.sh SECONDS [extra libFuzzer arguments]
#
# Needs clang with its fuzzer runtime (Debian: clang libclang-rt-dev). Builds
# into build/fuzz/ (or $PINSSL_FUZZ_BUILD), fuzzes a temporary copy of the
# committed corpus, which is never written to, and keeps any crashing input
# in fuzz-out/ (or $PINSSL_FUZZ_OUT). Exits non-zero on a crash or a broken
# invariant and prints the number of executions.
set -euo pipefail

if [[ $# -lt 1 || ! "$1" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [extra libFuzzer arguments]" >&2
    exit 2
fi
seconds="$1"
shift

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${PINSSL_FUZZ_BUILD:-$root/build/fuzz}"
out="${PINSSL_FUZZ_OUT:-$root/fuzz-out}"
cc="${CC_FUZZ:-clang}"

if ! command -v "$cc" >/dev/null; then
    echo "run_fuzz.sh: $cc not found; install clang and libclang-rt-dev" >&2
    exit 2
fi

mkdir -p "$build" "$out"
"$cc" -std=c99 -g -O1 -Wall -Wextra -Werror -Wconversion -Wshadow \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    "$here/fuzz_spki.c" "$here/der_tree.c" "$root/csrc/pinssl_spki.c" \
    -o "$build/fuzz_spki"

corpus="$(mktemp -d)"
log="$(mktemp)"
trap 'rm -rf "$corpus" "$log"' EXIT
cp "$here"/corpus/*.der "$corpus/"

status=0
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    "$build/fuzz_spki" -max_total_time="$seconds" -max_len=4096 \
    -dict="$here/der.dict" -print_final_stats=1 -artifact_prefix="$out/" \
    "$@" "$corpus" >"$log" 2>&1 || status=$?

grep -E '^(Done|stat::)|ERROR|invariant broken|runtime error|Test unit' "$log" ||
    true
if [[ $status -ne 0 ]]; then
    tail -n 60 "$log" >&2
    echo "run_fuzz.sh: the fuzzer failed (exit $status); inputs in $out/" >&2
    exit 1
fi
executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
echo "run_fuzz.sh: $executions clean executions in ${seconds} s"
