"""The public SPKI functions: from certificate bytes to a pin."""

from __future__ import annotations

import binascii
import hashlib

from pinssl import _backend
from pinssl._der import KIND_ANY, SPAN_BITS, SPAN_MASK
from pinssl._pem import looks_like_pem, pem_blocks

Certificate = bytes | bytearray | memoryview | str

_sha256 = hashlib.sha256
_b2a_base64 = binascii.b2a_base64


def _spki_bytes(cert: Certificate) -> bytes:
    """Slice the SPKI out of DER bytes, or out of the first usable PEM block.

    DER is tried first, so the common case costs one parser call; text that
    fails as DER is read as PEM when it looks like PEM.
    """
    if type(cert) is bytes:
        der = cert
    elif isinstance(cert, (bytearray, memoryview)):
        der = bytes(cert)
    elif isinstance(cert, str):
        der = pem_blocks(cert)[0][1]
    else:
        raise TypeError(f"expected DER bytes or PEM text, not {type(cert).__name__}")

    try:
        _, offset, length = _backend.find_spki(der)
    except ValueError:
        if not isinstance(cert, str) and looks_like_pem(der):
            return _spki_bytes(pem_blocks(der)[0][1])
        raise
    return der[offset : offset + length]


def spki_der(cert: Certificate) -> bytes:
    """The DER SubjectPublicKeyInfo of a certificate.

    ``cert`` is DER bytes or PEM text (``str`` or ``bytes``; the first
    certificate, public key or certificate request block is used). A bare
    SubjectPublicKeyInfo or a PKCS#10 request is accepted as well.

    Raises :class:`pinssl.MalformedDERError` (a ``ValueError``) naming what
    was malformed and where, or :class:`pinssl.PEMError` for unusable PEM.
    """
    return _spki_bytes(cert)


def spki_sha256(cert: Certificate) -> bytes:
    """The raw 32-byte SHA-256 digest of ``cert``'s SubjectPublicKeyInfo."""
    # DER bytes, the common case: one parser call and one slice, no tuple.
    if type(cert) is bytes:
        result = _backend._spki_span(cert, len(cert), KIND_ANY)
        if result >= 0:
            offset = result >> SPAN_BITS & SPAN_MASK
            return _sha256(cert[offset : offset + (result & SPAN_MASK)]).digest()
    return _sha256(_spki_bytes(cert)).digest()


def spki_pin(cert: Certificate) -> str:
    """The pin of ``cert`` as ``"sha256/<base64>"`` (OkHttp's form).

    Accepts what :func:`spki_der` accepts and raises what it raises.
    """
    # As in spki_sha256, inlined: a call would cost a tenth of the floor.
    if type(cert) is bytes:
        result = _backend._spki_span(cert, len(cert), KIND_ANY)
        if result >= 0:
            offset = result >> SPAN_BITS & SPAN_MASK
            digest = _sha256(cert[offset : offset + (result & SPAN_MASK)]).digest()
            return "sha256/" + _b2a_base64(digest, newline=False).decode()

    digest = _sha256(_spki_bytes(cert)).digest()
    return "sha256/" + _b2a_base64(digest, newline=False).decode()
