"""The public SPKI functions: from certificate bytes to a pin."""

from __future__ import annotations

import base64
import hashlib

from pinssl import _backend
from pinssl._pem import looks_like_pem, pem_blocks

Certificate = bytes | bytearray | memoryview | str


def _to_der(cert: Certificate) -> bytes:
    """DER bytes from DER bytes or PEM text (the first usable block)."""
    if isinstance(cert, bytes) and not looks_like_pem(cert):
        return cert
    if isinstance(cert, (bytearray, memoryview)):
        cert = bytes(cert)
        if not looks_like_pem(cert):
            return cert
    if isinstance(cert, (str, bytes)):
        return pem_blocks(cert)[0][1]
    raise TypeError(f"expected DER bytes or PEM text, not {type(cert).__name__}")


def spki_der(cert: Certificate) -> bytes:
    """The DER SubjectPublicKeyInfo of a certificate.

    ``cert`` is DER bytes or PEM text (``str`` or ``bytes``; the first
    certificate, public key or certificate request block is used). A bare
    SubjectPublicKeyInfo or a PKCS#10 request is accepted as well.

    Raises :class:`pinssl.MalformedDERError` (a ``ValueError``) naming what
    was malformed and where, or :class:`pinssl.PEMError` for unusable PEM.
    """
    der = _to_der(cert)
    _, offset, length = _backend.find_spki(der)
    return der[offset : offset + length]


def spki_sha256(cert: Certificate) -> bytes:
    """The raw 32-byte SHA-256 digest of ``cert``'s SubjectPublicKeyInfo."""
    return hashlib.sha256(spki_der(cert)).digest()


def spki_pin(cert: Certificate) -> str:
    """The pin of ``cert`` as ``"sha256/<base64>"`` (OkHttp's form).

    Accepts what :func:`spki_der` accepts and raises what it raises.
    """
    return "sha256/" + base64.b64encode(spki_sha256(cert)).decode("ascii")
