#!/usr/bin/env bash
# Compile the C parser alone with every warning on, then replay the corpus
# and its mutations under AddressSanitizer and UBSan.
#
#   csrc/fuzz/sanitize.sh [extra files to replay]
#
# Uses $CC (default gcc, else clang) for the strict warning pass and the
# sanitizer build; clang -Weverything runs too when clang is installed. Builds into build/sanitize/ (or
# $PINSSL_SANITIZE_BUILD). Exits non-zero on any warning, memory error,
# undefined behaviour or broken invariant.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${PINSSL_SANITIZE_BUILD:-$root/build/sanitize}"
if [[ -n "${CC:-}" ]]; then
    cc="$CC"
elif command -v gcc >/dev/null; then
    cc=gcc
else
    cc=clang
fi
parser="$root/csrc/pinssl_spki.c"
mkdir -p "$build"

# 1. The parser on its own, strict C99, warnings as errors.
strict=(-std=c99 -pedantic -Wall -Wextra -Werror -Wconversion -Wshadow
    -Wcast-qual -Wstrict-prototypes -Wmissing-prototypes -Wundef
    -Wpointer-arith -Wwrite-strings -Wformat=2)
"$cc" "${strict[@]}" -O2 -c "$parser" -o "$build/pinssl_spki.o"
echo "sanitize.sh: $cc strict warnings: none"
if command -v clang >/dev/null; then
    # Everything clang knows, less the layout notes that are not defects.
    clang -std=c99 -Weverything -Werror -Wno-padded \
        -Wno-unknown-warning-option -Wno-unsafe-buffer-usage \
        -Wno-declaration-after-statement -O2 -c "$parser" \
        -o "$build/pinssl_spki.clang.o"
    echo "sanitize.sh: clang -Weverything warnings: none"
fi

# 2. The replay driver and the parser under the sanitizers.
"$cc" "${strict[@]}" -g -O1 -fno-omit-frame-pointer \
    -fsanitize=address,undefined -fno-sanitize-recover=all \
    "$here/replay.c" "$here/der_tree.c" "$parser" -o "$build/replay"

ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    "$build/replay" "$here"/corpus/*.der "$@"
