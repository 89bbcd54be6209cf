#!/usr/bin/env bash
# Regenerate the seed corpus in csrc/fuzz/corpus/ with the openssl command.
#
# Run once by hand; the .der files it writes are committed, so the fuzzer,
# the sanitizer replay and the tests never need openssl. Every run makes new
# keys, so the bytes change: commit the result only when the corpus should.
#
#   csrc/fuzz/make_corpus.sh [OUTPUT_DIR]   (default: csrc/fuzz/corpus)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/corpus}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
rm -f "$out"/*.der

days=3650
subject() { printf '/CN=pinssl corpus %s/O=pinssl' "$1"; }

# name and genpkey arguments, one key type a line.
keys=(
    "rsa2048:-algorithm RSA -pkeyopt rsa_keygen_bits:2048"
    "rsa4096:-algorithm RSA -pkeyopt rsa_keygen_bits:4096"
    "rsapss:-algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048"
    "p256:-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
    "p384:-algorithm EC -pkeyopt ec_paramgen_curve:P-384"
    "ed25519:-algorithm ED25519"
    "ed448:-algorithm ED448"
)

# DSA needs its domain parameters first.
openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 \
    -out "$work/dsa.params" 2>/dev/null
openssl genpkey -paramfile "$work/dsa.params" -out "$work/dsa.key"

for entry in "${keys[@]}"; do
    name="${entry%%:*}"
    # shellcheck disable=SC2086 # the arguments are meant to split
    openssl genpkey ${entry#*:} -out "$work/$name.key" 2>/dev/null
done

for name in rsa2048 rsa4096 rsapss p256 p384 ed25519 ed448 dsa; do
    key="$work/$name.key"
    openssl req -new -x509 -key "$key" -subj "$(subject "$name")" \
        -days "$days" -outform DER -out "$out/cert_$name.der"
    openssl req -new -key "$key" -subj "$(subject "$name")" \
        -outform DER -out "$out/csr_$name.der"
    openssl pkey -in "$key" -pubout -outform DER -out "$out/spki_$name.der"
done

# A version 1 certificate: no [0] version, no extensions.
openssl req -new -key "$work/p256.key" -subj "$(subject v1)" \
    -out "$work/v1.csr"
openssl x509 -req -in "$work/v1.csr" -key "$work/p256.key" -days "$days" \
    -outform DER -out "$out/cert_v1.der" 2>/dev/null

# A 20-octet serial number with the high bit set, so its INTEGER takes 21.
openssl req -new -x509 -key "$work/p256.key" -subj "$(subject serial)" \
    -days "$days" -set_serial 0xF1E2D3C4B5A697887766554433221100FFEEDDCC \
    -outform DER -out "$out/cert_long_serial.der"

# Version 3 leaves issued by the P-256 key, carrying keys that cannot sign.
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=keyAgreement\n' \
    >"$work/leaf.ext"
for name in x25519 x448; do
    openssl genpkey -algorithm "${name^^}" -out "$work/$name.key"
    openssl pkey -in "$work/$name.key" -pubout -out "$work/$name.pub"
    openssl pkey -in "$work/$name.key" -pubout -outform DER \
        -out "$out/spki_$name.der"
    openssl req -new -key "$work/p256.key" -subj "$(subject "$name")" \
        -out "$work/$name.csr"
    openssl x509 -req -in "$work/$name.csr" -force_pubkey "$work/$name.pub" \
        -CA "$out/cert_p256.der" -CAform DER -CAkey "$work/p256.key" \
        -set_serial 7 -extfile "$work/leaf.ext" -days "$days" -outform DER \
        -out "$out/cert_$name.der" 2>/dev/null
done

# A certificate signed with RSA-PSS by an rsaEncryption key.
openssl req -new -x509 -key "$work/rsa2048.key" -subj "$(subject pss-sig)" \
    -days "$days" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -outform DER -out "$out/cert_rsa2048_pss_signature.der"

# A few broken inputs, made from the valid ones.
cert="$out/cert_p256.der"
size="$(wc -c <"$cert")"
head -c "$((size - 1))" "$cert" >"$out/broken_truncated.der"
{ cat "$cert"; printf '\000'; } >"$out/broken_trailing_byte.der"
# The outer SEQUENCE with a BER indefinite length and end-of-contents.
{ printf '\060\200'; tail -c "+5" "$cert"; printf '\000\000'; } \
    >"$out/broken_indefinite.der"
# A 0x30 0x81 0x05 header: a long form for a length below 128.
printf '\060\201\005\002\001\000\005\000' >"$out/broken_non_minimal.der"
printf '' >"$out/empty.der"

ls -l "$out"
du -cb "$out"/*.der | tail -1
