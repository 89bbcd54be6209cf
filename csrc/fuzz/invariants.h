/*
 * invariants.h: what must hold for pinssl_spki_span on any input.
 *
 * Shared by the libFuzzer harness (fuzz_spki.c) and the sanitizer replay
 * driver (replay.c), so both check exactly the same properties.
 */
#ifndef PINSSL_FUZZ_INVARIANTS_H
#define PINSSL_FUZZ_INVARIANTS_H

#include <stddef.h>

#include "../pinssl_spki.h"

#define SPAN_KINDS 4

/* The kinds KIND_ANY tries, in the order it tries them. */
static const int any_order[] = {PINSSL_KIND_CERTIFICATE, PINSSL_KIND_CSR,
                                PINSSL_KIND_PUBLIC_KEY};

static long long span(const unsigned char *data, size_t size, int kind)
{
    return pinssl_spki_span((const char *)data, size, kind);
}

/* Check one successful result; NULL when it holds, else what broke. */
static const char *check_success(const unsigned char *data, size_t size,
                                 int kind, long long result)
{
    long long found = result >> PINSSL_KIND_SHIFT;
    size_t offset = (size_t)((result >> PINSSL_SPAN_BITS) & PINSSL_SPAN_MASK);
    size_t length = (size_t)(result & PINSSL_SPAN_MASK);
    long long reparsed;

    if (found < PINSSL_KIND_CERTIFICATE || found > PINSSL_KIND_CSR)
        return "success carries an invalid kind";
    if (kind != PINSSL_KIND_ANY && found != kind)
        return "success carries another kind than the one requested";
    if (length < 2)
        return "SPKI span shorter than a tag and a length";
    if (offset > size || length > size - offset)
        return "SPKI span runs past the end of the input";
    if (data[offset] != 0x30)
        return "SPKI span does not start with a SEQUENCE tag";
    if (found == PINSSL_KIND_PUBLIC_KEY && (offset != 0 || length != size))
        return "a bare public key is not the whole input";
    if (found != PINSSL_KIND_PUBLIC_KEY && (offset == 0 || data[0] != 0x30))
        return "a signed object does not wrap its SPKI in a SEQUENCE";

    /* The span must itself parse as a bare public key, whole. */
    reparsed = span(data + offset, length, PINSSL_KIND_PUBLIC_KEY);
    if (reparsed != ((long long)PINSSL_KIND_PUBLIC_KEY << PINSSL_KIND_SHIFT |
                     (long long)length))
        return "the SPKI span does not parse as a bare public key";
    return NULL;
}

/* Check one refusal; NULL when it holds, else what broke. */
static const char *check_failure(size_t size, long long result)
{
    long long packed = -result;
    long long code = packed & ((1LL << PINSSL_ERROR_SHIFT) - 1);
    long long offset = packed >> PINSSL_ERROR_SHIFT;

    if (code < PINSSL_ERR_TRUNCATED || code > PINSSL_ERR_BAD_BIT_STRING)
        return "refusal carries an error code that cannot occur here";
    if (offset < 0 || (unsigned long long)offset > size)
        return "refusal points past the end of the input";
    return NULL;
}

/* The result KIND_ANY must give, from the results of the three kinds. */
static long long expected_any(const long long results[SPAN_KINDS])
{
    long long best = 0;
    int i;

    for (i = 0; i < 3; i++) {
        long long result = results[any_order[i]];
        if (result >= 0)
            return result;
        /* The refusal that reached furthest; the earliest kind on a tie. */
        if (i == 0 || (-result >> PINSSL_ERROR_SHIFT) >
                          (-best >> PINSSL_ERROR_SHIFT))
            best = result;
    }
    return best;
}

/*
 * Run pinssl_spki_span on data[0:size] for every kind and check every
 * invariant. Returns NULL when all hold, else a sentence naming the first
 * that broke. Inputs longer than PINSSL_MAX_INPUT must be refused whole.
 */
static const char *check_input(const unsigned char *data, size_t size)
{
    long long results[SPAN_KINDS];
    const char *broken;
    int kind;

    if (span(data, size, -1) != -PINSSL_ERR_BAD_KIND ||
        span(data, size, SPAN_KINDS) != -PINSSL_ERR_BAD_KIND)
        return "a kind out of range is not refused with PINSSL_ERR_BAD_KIND";

    for (kind = 0; kind < SPAN_KINDS; kind++) {
        results[kind] = span(data, size, kind);
        if (size > PINSSL_MAX_INPUT) {
            if (results[kind] != -PINSSL_ERR_TOO_LARGE)
                return "an input over the limit is not refused as too large";
            continue;
        }
        if (results[kind] >= 0)
            broken = check_success(data, size, kind, results[kind]);
        else
            broken = check_failure(size, results[kind]);
        if (broken != NULL)
            return broken;
        if (span(data, size, kind) != results[kind])
            return "the same input gives two different results";
    }

    if (size <= PINSSL_MAX_INPUT &&
        results[PINSSL_KIND_ANY] != expected_any(results))
        return "KIND_ANY disagrees with the kind-specific results";
    return NULL;
}

#endif /* PINSSL_FUZZ_INVARIANTS_H */
