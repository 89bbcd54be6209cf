/*
 * pinssl_spki.h: locate the SubjectPublicKeyInfo inside DER, without copying.
 *
 * The parser accepts three kinds of input: an X.509 Certificate, a bare
 * SubjectPublicKeyInfo (the body of a PEM "PUBLIC KEY"), and a PKCS#10
 * certification request. It checks strict DER along the path it walks:
 * definite lengths, minimal length octets, every element inside its parent,
 * the expected tag at each step and nothing after the outer element.
 *
 * It never reads outside [der, der + len), whatever the bytes are.
 */
#ifndef PINSSL_SPKI_H
#define PINSSL_SPKI_H

#include <stddef.h>

/* Limits on untrusted input. */
#define PINSSL_MAX_INPUT 1048576     /* bytes of DER accepted at most */
#define PINSSL_MAX_LENGTH_OCTETS 3   /* long-form length octets at most */

/* What the input is expected to be. */
#define PINSSL_KIND_ANY 0
#define PINSSL_KIND_CERTIFICATE 1
#define PINSSL_KIND_PUBLIC_KEY 2
#define PINSSL_KIND_CSR 3

/* Why the input was refused. */
#define PINSSL_ERR_TOO_LARGE 1         /* input longer than PINSSL_MAX_INPUT */
#define PINSSL_ERR_TRUNCATED 2         /* input ends inside a tag or length */
#define PINSSL_ERR_UNEXPECTED_TAG 3    /* another tag than the one expected */
#define PINSSL_ERR_INDEFINITE_LENGTH 4 /* BER indefinite length (0x80) */
#define PINSSL_ERR_NON_MINIMAL_LENGTH 5
#define PINSSL_ERR_LENGTH_TOO_LONG 6   /* more than PINSSL_MAX_LENGTH_OCTETS */
#define PINSSL_ERR_LENGTH_OVERRUN 7    /* element runs past its parent */
#define PINSSL_ERR_TRAILING_DATA 8     /* bytes after the last element */
#define PINSSL_ERR_BAD_INTEGER 9       /* empty or non-minimal INTEGER */
#define PINSSL_ERR_BAD_BIT_STRING 10   /* empty BIT STRING or bad unused bits */
#define PINSSL_ERR_BAD_KIND 11         /* kind argument out of range */

/* Bits of a successful result. */
#define PINSSL_SPAN_BITS 24
#define PINSSL_SPAN_MASK 16777215      /* (1 << PINSSL_SPAN_BITS) - 1 */
#define PINSSL_KIND_SHIFT 48
#define PINSSL_ERROR_SHIFT 8

/*
 * Find the SubjectPublicKeyInfo in der[0:len].
 *
 * On success the result is non-negative and packs three numbers:
 *     kind << PINSSL_KIND_SHIFT | offset << PINSSL_SPAN_BITS | length
 * where der[offset:offset + length] is the complete SPKI element (tag and
 * length included) and kind says what the input was (useful with
 * PINSSL_KIND_ANY).
 *
 * On failure the result is negative:
 *     -(error_offset << PINSSL_ERROR_SHIFT | error_code)
 *
 * With PINSSL_KIND_ANY the three kinds are tried in the order certificate,
 * CSR, public key; the first that parses wins. When none does, the error
 * that reached furthest into the input is returned (the earliest kind on a
 * tie).
 */
long long pinssl_spki_span(const char *der, size_t len, int kind);

#endif /* PINSSL_SPKI_H */
