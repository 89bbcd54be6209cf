/*
 * pinssl_spki.c: a strict DER walk to the SubjectPublicKeyInfo.
 *
 * Every position is an index into the input, checked against the end of
 * the enclosing element before it is read. Indices never exceed the input
 * length, which is at most PINSSL_MAX_INPUT, so no arithmetic overflows.
 */
#include "pinssl_spki.h"

#include <stdint.h>

#define TAG_INTEGER 0x02
#define TAG_BIT_STRING 0x03
#define TAG_OID 0x06
#define TAG_SEQUENCE 0x30
#define TAG_CONTEXT_0 0xa0 /* [0] constructed: version, CSR attributes */
#define TAG_ISSUER_UID 0x81 /* [1] IMPLICIT BIT STRING */
#define TAG_SUBJECT_UID 0x82 /* [2] IMPLICIT BIT STRING */
#define TAG_EXTENSIONS 0xa3 /* [3] EXPLICIT Extensions */
#define TAG_ANY (-1)

/* One parsed element: der[start] is its tag, der[content:end] its value. */
struct element {
    size_t start;
    size_t content;
    size_t end;
};

/* The walk's state: the input and, on failure, where and why. */
struct walk {
    const unsigned char *der;
    size_t len;
    size_t error_offset;
    int error_code;
};

static int fail(struct walk *w, int code, size_t offset)
{
    w->error_code = code;
    w->error_offset = offset;
    return 0;
}

/*
 * Read the element starting at pos, which must lie inside [pos, limit).
 * The tag is checked first (TAG_ANY takes any low-number tag), then the
 * length. Returns 1 on success, 0 with the error recorded in w.
 */
static int read_element(struct walk *w, size_t pos, size_t limit, int tag,
                        struct element *out)
{
    const unsigned char *der = w->der;
    size_t count, value, i;

    if (pos >= limit)
        return fail(w, PINSSL_ERR_TRUNCATED, pos);
    if (tag == TAG_ANY) {
        if ((der[pos] & 0x1f) == 0x1f)
            return fail(w, PINSSL_ERR_UNEXPECTED_TAG, pos);
    } else if (der[pos] != tag) {
        return fail(w, PINSSL_ERR_UNEXPECTED_TAG, pos);
    }
    if (limit - pos < 2)
        return fail(w, PINSSL_ERR_TRUNCATED, pos + 1);

    if (der[pos + 1] < 0x80) {
        value = der[pos + 1];
        out->content = pos + 2;
    } else if (der[pos + 1] == 0x80) {
        return fail(w, PINSSL_ERR_INDEFINITE_LENGTH, pos + 1);
    } else {
        count = der[pos + 1] & 0x7f;
        if (count > PINSSL_MAX_LENGTH_OCTETS)
            return fail(w, PINSSL_ERR_LENGTH_TOO_LONG, pos + 1);
        if (limit - (pos + 2) < count)
            return fail(w, PINSSL_ERR_TRUNCATED, limit);
        if (der[pos + 2] == 0)
            return fail(w, PINSSL_ERR_NON_MINIMAL_LENGTH, pos + 1);
        value = 0;
        for (i = 0; i < count; i++)
            value = (value << 8) | der[pos + 2 + i];
        if (value < 0x80)
            return fail(w, PINSSL_ERR_NON_MINIMAL_LENGTH, pos + 1);
        out->content = pos + 2 + count;
    }

    if (value > limit - out->content)
        return fail(w, PINSSL_ERR_LENGTH_OVERRUN, pos + 1);
    out->start = pos;
    out->end = out->content + value;
    return 1;
}

/* An INTEGER must have content octets and no redundant leading octet. */
static int read_integer(struct walk *w, size_t pos, size_t limit,
                        struct element *out)
{
    const unsigned char *der = w->der;
    size_t size;

    if (!read_element(w, pos, limit, TAG_INTEGER, out))
        return 0;
    size = out->end - out->content;
    if (size == 0)
        return fail(w, PINSSL_ERR_BAD_INTEGER, pos);
    if (size > 1) {
        unsigned char first = der[out->content];
        unsigned char next = der[out->content + 1];
        if ((first == 0x00 && next < 0x80) || (first == 0xff && next >= 0x80))
            return fail(w, PINSSL_ERR_BAD_INTEGER, pos);
    }
    return 1;
}

/* A BIT STRING (or an implicit one) needs its unused-bits octet, 0 to 7. */
static int read_bit_string(struct walk *w, size_t pos, size_t limit, int tag,
                           struct element *out)
{
    const unsigned char *der = w->der;
    size_t size;

    if (!read_element(w, pos, limit, tag, out))
        return 0;
    size = out->end - out->content;
    if (size == 0 || der[out->content] > 7 ||
        (size == 1 && der[out->content] != 0))
        return fail(w, PINSSL_ERR_BAD_BIT_STRING, out->content);
    return 1;
}

static int expect_end(struct walk *w, size_t pos, size_t end)
{
    if (pos != end)
        return fail(w, PINSSL_ERR_TRAILING_DATA, pos);
    return 1;
}

/*
 * SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
 *                                     subjectPublicKey BIT STRING }
 * AlgorithmIdentifier ::= SEQUENCE { OBJECT IDENTIFIER, parameters ANY OPTIONAL }
 */
static int read_spki(struct walk *w, size_t pos, size_t limit,
                     struct element *spki)
{
    struct element algorithm, oid, params, key;

    if (!read_element(w, pos, limit, TAG_SEQUENCE, spki))
        return 0;
    if (!read_element(w, spki->content, spki->end, TAG_SEQUENCE, &algorithm))
        return 0;
    if (!read_element(w, algorithm.content, algorithm.end, TAG_OID, &oid))
        return 0;
    if (oid.end == oid.content)
        return fail(w, PINSSL_ERR_TRUNCATED, oid.content);
    if (oid.end < algorithm.end) {
        if (!read_element(w, oid.end, algorithm.end, TAG_ANY, &params))
            return 0;
        if (!expect_end(w, params.end, algorithm.end))
            return 0;
    }
    if (!read_bit_string(w, algorithm.end, spki->end, TAG_BIT_STRING, &key))
        return 0;
    return expect_end(w, key.end, spki->end);
}

/* The signed wrapper shared by certificates and CSRs: the algorithm and
 * signature that follow the signed body, then the end of the input. */
static int read_signature(struct walk *w, size_t pos,
                          const struct element *outer)
{
    struct element algorithm, signature;

    if (!read_element(w, pos, outer->end, TAG_SEQUENCE, &algorithm))
        return 0;
    if (!read_bit_string(w, algorithm.end, outer->end, TAG_BIT_STRING,
                         &signature))
        return 0;
    return expect_end(w, signature.end, outer->end);
}

static int read_outer(struct walk *w, struct element *outer)
{
    if (!read_element(w, 0, w->len, TAG_SEQUENCE, outer))
        return 0;
    return expect_end(w, outer->end, w->len);
}

/*
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
 * TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber,
 *     signature, issuer, validity, subject, subjectPublicKeyInfo,
 *     [1] issuerUniqueID OPTIONAL, [2] subjectUniqueID OPTIONAL,
 *     [3] extensions OPTIONAL }
 */
static int walk_certificate(struct walk *w, struct element *spki)
{
    static const int optional_tail[] = {TAG_ISSUER_UID, TAG_SUBJECT_UID,
                                        TAG_EXTENSIONS};
    struct element outer, tbs, version, number, field;
    size_t pos;
    int i;

    if (!read_outer(w, &outer))
        return 0;
    if (!read_element(w, outer.content, outer.end, TAG_SEQUENCE, &tbs))
        return 0;
    pos = tbs.content;

    if (pos < tbs.end && w->der[pos] == TAG_CONTEXT_0) {
        if (!read_element(w, pos, tbs.end, TAG_CONTEXT_0, &version))
            return 0;
        if (!read_integer(w, version.content, version.end, &number))
            return 0;
        if (!expect_end(w, number.end, version.end))
            return 0;
        pos = version.end;
    }
    if (!read_integer(w, pos, tbs.end, &number))
        return 0;
    pos = number.end;

    /* signature, issuer, validity and subject: four SEQUENCEs. */
    for (i = 0; i < 4; i++) {
        if (!read_element(w, pos, tbs.end, TAG_SEQUENCE, &field))
            return 0;
        pos = field.end;
    }
    if (!read_spki(w, pos, tbs.end, spki))
        return 0;
    pos = spki->end;

    for (i = 0; i < 3; i++) {
        int tag = optional_tail[i];
        if (pos >= tbs.end || w->der[pos] != tag)
            continue;
        if (tag == TAG_EXTENSIONS) {
            if (!read_element(w, pos, tbs.end, tag, &field))
                return 0;
        } else if (!read_bit_string(w, pos, tbs.end, tag, &field)) {
            return 0;
        }
        pos = field.end;
    }
    if (!expect_end(w, pos, tbs.end))
        return 0;
    return read_signature(w, tbs.end, &outer);
}

/*
 * CertificationRequest ::= SEQUENCE { certificationRequestInfo,
 *     signatureAlgorithm, signature }
 * CertificationRequestInfo ::= SEQUENCE { version INTEGER, subject Name,
 *     subjectPKInfo, attributes [0] }
 */
static int walk_csr(struct walk *w, struct element *spki)
{
    struct element outer, info, version, subject, attributes;

    if (!read_outer(w, &outer))
        return 0;
    if (!read_element(w, outer.content, outer.end, TAG_SEQUENCE, &info))
        return 0;
    if (!read_integer(w, info.content, info.end, &version))
        return 0;
    if (!read_element(w, version.end, info.end, TAG_SEQUENCE, &subject))
        return 0;
    if (!read_spki(w, subject.end, info.end, spki))
        return 0;
    if (!read_element(w, spki->end, info.end, TAG_CONTEXT_0, &attributes))
        return 0;
    if (!expect_end(w, attributes.end, info.end))
        return 0;
    return read_signature(w, info.end, &outer);
}

static int walk_public_key(struct walk *w, struct element *spki)
{
    if (!read_spki(w, 0, w->len, spki))
        return 0;
    return expect_end(w, spki->end, w->len);
}

static int walk_kind(struct walk *w, int kind, struct element *spki)
{
    switch (kind) {
    case PINSSL_KIND_CERTIFICATE:
        return walk_certificate(w, spki);
    case PINSSL_KIND_CSR:
        return walk_csr(w, spki);
    default:
        return walk_public_key(w, spki);
    }
}

static long long pack_error(const struct walk *w)
{
    return -(((long long)w->error_offset << PINSSL_ERROR_SHIFT) |
             w->error_code);
}

long long pinssl_spki_span(const char *der, size_t len, int kind)
{
    static const int any_order[] = {PINSSL_KIND_CERTIFICATE, PINSSL_KIND_CSR,
                                    PINSSL_KIND_PUBLIC_KEY};
    struct walk w, furthest;
    struct element spki;
    int i;

    if (kind < PINSSL_KIND_ANY || kind > PINSSL_KIND_CSR)
        return -PINSSL_ERR_BAD_KIND;
    if (len > PINSSL_MAX_INPUT)
        return -PINSSL_ERR_TOO_LARGE;

    w.der = (const unsigned char *)der;
    w.len = len;
    w.error_code = 0;
    w.error_offset = 0;
    furthest = w;

    for (i = 0; i < 3; i++) {
        int attempt = kind == PINSSL_KIND_ANY ? any_order[i] : kind;
        if (walk_kind(&w, attempt, &spki))
            return ((long long)attempt << PINSSL_KIND_SHIFT) |
                   ((long long)spki.start << PINSSL_SPAN_BITS) |
                   (long long)(spki.end - spki.start);
        if (furthest.error_code == 0 || w.error_offset > furthest.error_offset)
            furthest = w;
        if (kind != PINSSL_KIND_ANY)
            break;
    }
    return pack_error(&furthest);
}
