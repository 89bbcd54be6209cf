"""The one place that chooses between the C parser and its pure-Python twin.

The choice is made once, at import. ``PINSSL_BACKEND=c`` or ``=python`` forces
one; by default the C extension is used when it was built. Both backends
expose the same function, ``spki_span(der, length, kind) -> int``, and
everything above this module calls it through :func:`find_spki` or
:func:`spki_sha256`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

from pinssl import _der
from pinssl._errors import MalformedDERError, PinsslError

KIND_ANY = _der.KIND_ANY
KIND_CERTIFICATE = _der.KIND_CERTIFICATE
KIND_PUBLIC_KEY = _der.KIND_PUBLIC_KEY
KIND_CSR = _der.KIND_CSR

KIND_NAMES = {
    KIND_CERTIFICATE: "certificate",
    KIND_PUBLIC_KEY: "public key",
    KIND_CSR: "certificate request",
}

_REASONS = {
    _der.ERR_TOO_LARGE: f"input is larger than the limit of {_der.MAX_INPUT} bytes",
    _der.ERR_TRUNCATED: "input ends inside an element",
    _der.ERR_UNEXPECTED_TAG: "unexpected tag",
    _der.ERR_INDEFINITE_LENGTH: "indefinite length (BER, not DER)",
    _der.ERR_NON_MINIMAL_LENGTH: "length is not minimally encoded",
    _der.ERR_LENGTH_TOO_LONG: (
        f"length uses more than {_der.MAX_LENGTH_OCTETS} octets"
    ),
    _der.ERR_LENGTH_OVERRUN: "length runs past the end of the enclosing element",
    _der.ERR_TRAILING_DATA: "unexpected data after the last element",
    _der.ERR_BAD_INTEGER: "INTEGER is empty or not minimally encoded",
    _der.ERR_BAD_BIT_STRING: "BIT STRING has a bad unused-bits octet",
    _der.ERR_BAD_KIND: "unknown kind of input requested",
}


class BackendUnavailableError(PinsslError, ImportError):
    """PINSSL_BACKEND asked for a backend this installation does not have."""


SpanFunction = Callable[[bytes, int, int], int]


def _choose() -> tuple[str, SpanFunction]:
    forced = os.environ.get("PINSSL_BACKEND", "").strip().lower()
    if forced not in ("", "c", "python"):
        raise BackendUnavailableError(
            f"PINSSL_BACKEND must be 'c' or 'python', not {forced!r}"
        )
    if forced == "python":
        return "python", _der.spki_span

    try:
        from pinssl._spki_c import lib
    except ImportError as error:
        if forced == "c":
            raise BackendUnavailableError(
                "PINSSL_BACKEND=c, but the C extension pinssl._spki_c is not "
                f"available ({error}); reinstall pinssl with a C compiler"
            ) from None
        return "python", _der.spki_span
    return "c", lib.pinssl_spki_span


BACKEND, _spki_span = _choose()
_sha256 = hashlib.sha256
_SPAN_MASK = _der.SPAN_MASK
_SPAN_BITS = _der.SPAN_BITS


def malformed(result: int) -> MalformedDERError:
    """The exception for a negative ``spki_span`` result."""
    code = -result & ((1 << _der.ERROR_SHIFT) - 1)
    offset = -result >> _der.ERROR_SHIFT
    return MalformedDERError(_REASONS.get(code, f"error {code}"), offset)


def find_spki(der: bytes, kind: int = KIND_ANY) -> tuple[int, int, int]:
    """Locate the SPKI: ``(kind found, offset, length)``.

    Raises :class:`MalformedDERError` when ``der`` is not a strict DER encoding
    of the requested kind.
    """
    result = _spki_span(der, len(der), kind)
    if result < 0:
        raise malformed(result)
    return (
        result >> _der.KIND_SHIFT,
        (result >> _SPAN_BITS) & _SPAN_MASK,
        result & _SPAN_MASK,
    )


def spki_sha256(certificate: bytes) -> bytes:
    """The SHA-256 digest of a DER certificate's SPKI: the hot path."""
    result = _spki_span(certificate, len(certificate), KIND_CERTIFICATE)
    if result < 0:
        raise malformed(result)

    offset = (result >> _SPAN_BITS) & _SPAN_MASK
    return _sha256(certificate[offset : offset + (result & _SPAN_MASK)]).digest()
