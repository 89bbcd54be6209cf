"""The pure-Python twin of ``csrc/pinssl_spki.c``.

``spki_span`` takes the same arguments and returns the same packed integer as
the C function, for every input: the same SPKI span, or the same error code at
the same offset. The constants mirror ``csrc/pinssl_spki.h``; a test holds the
two sets equal.
"""

from __future__ import annotations

import struct

MAX_INPUT = 1048576
MAX_LENGTH_OCTETS = 3

KIND_ANY = 0
KIND_CERTIFICATE = 1
KIND_PUBLIC_KEY = 2
KIND_CSR = 3

ERR_TOO_LARGE = 1
ERR_TRUNCATED = 2
ERR_UNEXPECTED_TAG = 3
ERR_INDEFINITE_LENGTH = 4
ERR_NON_MINIMAL_LENGTH = 5
ERR_LENGTH_TOO_LONG = 6
ERR_LENGTH_OVERRUN = 7
ERR_TRAILING_DATA = 8
ERR_BAD_INTEGER = 9
ERR_BAD_BIT_STRING = 10
ERR_BAD_KIND = 11

SPAN_BITS = 24
SPAN_MASK = (1 << SPAN_BITS) - 1
KIND_SHIFT = 48
ERROR_SHIFT = 8

_INTEGER = 0x02
_BIT_STRING = 0x03
_OID = 0x06
_SEQUENCE = 0x30
_CONTEXT_0 = 0xA0
_ISSUER_UID = 0x81
_SUBJECT_UID = 0x82
_EXTENSIONS = 0xA3
_ANY = -1
_FOUR = (0, 0, 0, 0)
# Certificate and tbsCertificate tags and lengths: 30 82 hhll 30 8x hhll.
_HEADS = struct.Struct(">BBHBBH")
_CERTIFICATE_KIND = KIND_CERTIFICATE << KIND_SHIFT


class _Refused(Exception):
    """Internal: the walk stopped; ``code`` at ``offset``."""

    def __init__(self, code: int, offset: int) -> None:
        self.code = code
        self.offset = offset


def _element(der: bytes, pos: int, limit: int, tag: int) -> tuple[int, int]:
    """Read the element at ``pos`` inside ``limit``: (content start, end)."""
    if pos >= limit:
        raise _Refused(ERR_TRUNCATED, pos)

    found = der[pos]
    if found != tag and (tag != _ANY or found & 0x1F == 0x1F):
        raise _Refused(ERR_UNEXPECTED_TAG, pos)
    if limit - pos < 2:
        raise _Refused(ERR_TRUNCATED, pos + 1)

    first = der[pos + 1]
    if first < 0x80:
        content = pos + 2
        value = first
    elif first == 0x80:
        raise _Refused(ERR_INDEFINITE_LENGTH, pos + 1)
    else:
        count = first & 0x7F
        if count > MAX_LENGTH_OCTETS:
            raise _Refused(ERR_LENGTH_TOO_LONG, pos + 1)
        if limit - (pos + 2) < count:
            raise _Refused(ERR_TRUNCATED, limit)
        if der[pos + 2] == 0:
            raise _Refused(ERR_NON_MINIMAL_LENGTH, pos + 1)
        content = pos + 2 + count
        value = int.from_bytes(der[pos + 2 : content], "big")
        if value < 0x80:
            raise _Refused(ERR_NON_MINIMAL_LENGTH, pos + 1)

    if value > limit - content:
        raise _Refused(ERR_LENGTH_OVERRUN, pos + 1)
    return content, content + value


def _integer(der: bytes, pos: int, limit: int) -> int:
    """Read a minimal, non-empty INTEGER; return its end."""
    content, end = _element(der, pos, limit, _INTEGER)
    size = end - content
    if size == 0:
        raise _Refused(ERR_BAD_INTEGER, pos)

    if size > 1:
        first = der[content]
        following = der[content + 1]
        if (first == 0x00 and following < 0x80) or (
            first == 0xFF and following >= 0x80
        ):
            raise _Refused(ERR_BAD_INTEGER, pos)
    return end


def _bit_string(der: bytes, pos: int, limit: int, tag: int) -> int:
    """Read a BIT STRING with a valid unused-bits octet; return its end."""
    content, end = _element(der, pos, limit, tag)
    size = end - content
    if size == 0 or der[content] > 7 or (size == 1 and der[content] != 0):
        raise _Refused(ERR_BAD_BIT_STRING, content)
    return end


def _expect_end(pos: int, end: int) -> None:
    if pos != end:
        raise _Refused(ERR_TRAILING_DATA, pos)


def _spki(der: bytes, pos: int, limit: int) -> int:
    """Check the SubjectPublicKeyInfo at ``pos``; return its end."""
    content, end = _element(der, pos, limit, _SEQUENCE)
    algorithm_content, algorithm_end = _element(der, content, end, _SEQUENCE)
    oid_content, oid_end = _element(der, algorithm_content, algorithm_end, _OID)
    if oid_end == oid_content:
        raise _Refused(ERR_TRUNCATED, oid_content)

    if oid_end < algorithm_end:
        _, params_end = _element(der, oid_end, algorithm_end, _ANY)
        _expect_end(params_end, algorithm_end)

    key_end = _bit_string(der, algorithm_end, end, _BIT_STRING)
    _expect_end(key_end, end)
    return end


def _signature(der: bytes, pos: int, outer_end: int) -> None:
    """Check the signature algorithm and value that close a signed object."""
    _, algorithm_end = _element(der, pos, outer_end, _SEQUENCE)
    signature_end = _bit_string(der, algorithm_end, outer_end, _BIT_STRING)
    _expect_end(signature_end, outer_end)


def _outer(der: bytes) -> tuple[int, int]:
    content, end = _element(der, 0, len(der), _SEQUENCE)
    _expect_end(end, len(der))
    return content, end


def _certificate(der: bytes) -> tuple[int, int]:
    outer_content, outer_end = _outer(der)
    pos, tbs_end = _element(der, outer_content, outer_end, _SEQUENCE)

    if pos < tbs_end and der[pos] == _CONTEXT_0:
        version_content, version_end = _element(der, pos, tbs_end, _CONTEXT_0)
        number_end = _integer(der, version_content, version_end)
        _expect_end(number_end, version_end)
        pos = version_end
    pos = _integer(der, pos, tbs_end)

    # signature, issuer, validity and subject: four SEQUENCEs.
    for _ in range(4):
        pos = _element(der, pos, tbs_end, _SEQUENCE)[1]
    spki_start = pos
    pos = _spki(der, pos, tbs_end)
    spki_end = pos

    for tag in (_ISSUER_UID, _SUBJECT_UID, _EXTENSIONS):
        if pos >= tbs_end or der[pos] != tag:
            continue
        if tag == _EXTENSIONS:
            pos = _element(der, pos, tbs_end, tag)[1]
        else:
            pos = _bit_string(der, pos, tbs_end, tag)

    _expect_end(pos, tbs_end)
    _signature(der, tbs_end, outer_end)
    return spki_start, spki_end


def _csr(der: bytes) -> tuple[int, int]:
    outer_content, outer_end = _outer(der)
    info_content, info_end = _element(der, outer_content, outer_end, _SEQUENCE)
    pos = _integer(der, info_content, info_end)
    pos = _element(der, pos, info_end, _SEQUENCE)[1]
    spki_start = pos
    spki_end = _spki(der, pos, info_end)
    attributes_end = _element(der, spki_end, info_end, _CONTEXT_0)[1]
    _expect_end(attributes_end, info_end)
    _signature(der, info_end, outer_end)
    return spki_start, spki_end


def _public_key(der: bytes) -> tuple[int, int]:
    end = _spki(der, 0, len(der))
    _expect_end(end, len(der))
    return 0, end


_WALKS = {
    KIND_CERTIFICATE: _certificate,
    KIND_CSR: _csr,
    KIND_PUBLIC_KEY: _public_key,
}
_ANY_ORDER = (KIND_CERTIFICATE, KIND_CSR, KIND_PUBLIC_KEY)


def spki_span(der: bytes, length: int, kind: int) -> int:
    """Find the SPKI in ``der[:length]``; packed exactly as the C function.

    Success: ``kind << KIND_SHIFT | offset << SPAN_BITS | size``.
    Failure: ``-(offset << ERROR_SHIFT | code)``.

    A certificate in the common shape is read by a flat walk that makes every
    check the exact walk makes, and returns only when all of them passed. Any
    other input, and anything unusual (long serials, lengths of three octets,
    unique identifiers, DSA parameters, malformed DER), goes to the exact walk,
    so results and errors are those of the exact walk.
    """
    if (kind == KIND_CERTIFICATE or kind == KIND_ANY) and length == len(der):
        try:
            span = _certificate_fast(der, length)
        except (IndexError, struct.error):
            span = -1
        if span >= 0:
            return span
    return _strict_span(der, length, kind)


def _certificate_fast(der: bytes, length: int) -> int:
    """The flat walk of a certificate: its packed span, or -1 to walk exactly.

    Each element must end inside its parent, and the elements of a SEQUENCE
    follow each other, so every byte read belongs to the element being read.
    A read past the input raises IndexError (struct.error within the first
    eight octets), which the caller turns into -1.
    Length octets take the forms the exact walk accepts: short, or long with
    one octet of at least 0x80 or two octets the first of which is not zero.
    """
    if length > MAX_INPUT:
        return -1

    # Certificate and tbsCertificate headers in one read: 30 82 hh ll 30 8x ...
    tag, size, outer_size, tbs_tag, tbs_size, tbs_value = _HEADS.unpack_from(der)
    if tag != _SEQUENCE or tbs_tag != _SEQUENCE or 4 + outer_size != length:
        return -1
    if size != 0x82 or outer_size < 0x100:
        return -1
    if tbs_size == 0x82 and tbs_value >= 0x100:
        pos = 8
        tbs_end = 8 + tbs_value
    elif tbs_size == 0x81 and tbs_value >= 0x8000:
        pos = 7
        tbs_end = 7 + (tbs_value >> 8)
    else:
        return -1

    # [0] version: a one-octet INTEGER is always minimal.
    byte = der[pos]
    if byte == _CONTEXT_0:
        if der[pos + 1] != 3 or der[pos + 2] != _INTEGER or der[pos + 3] != 1:
            return -1
        pos += 5
        byte = der[pos]

    # serialNumber: a short, minimal INTEGER.
    size = der[pos + 1]
    if byte != _INTEGER or size == 0 or size >= 0x80:
        return -1
    if size > 1:
        byte = der[pos + 2]
        if byte == 0:
            if der[pos + 3] < 0x80:
                return -1
        elif byte == 0xFF and der[pos + 3] >= 0x80:
            return -1
    pos += 2 + size

    # signature, issuer, validity and subject: four SEQUENCEs.
    for _ in _FOUR:
        if der[pos] != _SEQUENCE:
            return -1
        size = der[pos + 1]
        if size < 0x80:
            pos += 2 + size
            continue
        byte = der[pos + 2]
        if size == 0x81 and byte >= 0x80:
            pos += 3 + byte
        elif size == 0x82 and byte:
            pos += 4 + (byte << 8 | der[pos + 3])
        else:
            return -1

    # subjectPublicKeyInfo, with a short AlgorithmIdentifier.
    spki_start = pos
    if der[pos] != _SEQUENCE:
        return -1
    size = der[pos + 1]
    if size < 0x80:
        pos += 2
    else:
        byte = der[pos + 2]
        if size == 0x81 and byte >= 0x80:
            size = byte
            pos += 3
        elif size == 0x82 and byte:
            size = byte << 8 | der[pos + 3]
            pos += 4
        else:
            return -1
    spki_end = pos + size
    if spki_end > tbs_end or der[pos] != _SEQUENCE or der[pos + 2] != _OID:
        return -1

    size = der[pos + 1]
    byte = der[pos + 3]
    if size >= 0x80 or byte == 0 or byte >= 0x80:
        return -1
    algorithm_end = pos + 2 + size
    pos += 4 + byte
    if pos != algorithm_end:
        # parameters: one element with a low tag number, ending the sequence.
        size = der[pos + 1]
        if der[pos] & 0x1F == 0x1F or size >= 0x80 or pos + 2 + size != algorithm_end:
            return -1
        pos = algorithm_end

    # subjectPublicKey: a BIT STRING ending the SPKI.
    if der[pos] != _BIT_STRING:
        return -1
    size = der[pos + 1]
    if size < 0x80:
        pos += 2
    else:
        byte = der[pos + 2]
        if size == 0x81 and byte >= 0x80:
            size = byte
            pos += 3
        elif size == 0x82 and byte:
            size = byte << 8 | der[pos + 3]
            pos += 4
        else:
            return -1
    byte = der[pos]
    if pos + size != spki_end or size == 0 or byte > 7 or (byte and size == 1):
        return -1

    # Nothing or [3] extensions up to the end of tbsCertificate.
    pos = spki_end
    if pos != tbs_end:
        if der[pos] != _EXTENSIONS:
            return -1
        size = der[pos + 1]
        if size < 0x80:
            pos += 2 + size
        else:
            byte = der[pos + 2]
            if size == 0x81 and byte >= 0x80:
                pos += 3 + byte
            elif size == 0x82 and byte:
                pos += 4 + (byte << 8 | der[pos + 3])
            else:
                return -1
        if pos != tbs_end:
            return -1

    # signatureAlgorithm (short), then the signature BIT STRING ending the input.
    size = der[pos + 1]
    if der[pos] != _SEQUENCE or size >= 0x80:
        return -1
    pos += 2 + size
    if der[pos] != _BIT_STRING:
        return -1
    size = der[pos + 1]
    if size < 0x80:
        pos += 2
    else:
        byte = der[pos + 2]
        if size == 0x81 and byte >= 0x80:
            size = byte
            pos += 3
        elif size == 0x82 and byte:
            size = byte << 8 | der[pos + 3]
            pos += 4
        else:
            return -1
    byte = der[pos]
    if pos + size != length or size == 0 or byte > 7 or (byte and size == 1):
        return -1
    return _CERTIFICATE_KIND | spki_start << SPAN_BITS | (spki_end - spki_start)


def _strict_span(der: bytes, length: int, kind: int) -> int:
    """The exact walk: every kind, and the error that reached furthest."""
    if kind < KIND_ANY or kind > KIND_CSR:
        return -ERR_BAD_KIND
    if length > MAX_INPUT:
        return -ERR_TOO_LARGE

    if length != len(der):
        der = der[:length]
    furthest: _Refused | None = None
    for attempt in _ANY_ORDER if kind == KIND_ANY else (kind,):
        try:
            start, end = _WALKS[attempt](der)
        except _Refused as refused:
            if furthest is None or refused.offset > furthest.offset:
                furthest = refused
            continue
        return attempt << KIND_SHIFT | start << SPAN_BITS | (end - start)

    assert furthest is not None
    return -(furthest.offset << ERROR_SHIFT | furthest.code)
