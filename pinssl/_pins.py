"""Pin strings: parsing the forms people write, rendering the forms tools read.

A pin is the 32-byte SHA-256 digest of a DER SubjectPublicKeyInfo. These
spellings are accepted for one pin, with surrounding white space ignored:

- ``sha256/<base64>`` (OkHttp ``CertificatePinner``)
- ``pin-sha256="<base64>"`` (HPKP, RFC 7469)
- ``sha256//<base64>`` (curl ``--pinnedpubkey``)
- ``<base64>`` alone (standard alphabet, padded)
- 64 hex digits, optionally as 32 colon-separated pairs, in either case

A string may hold several pins joined by ``;`` as curl writes them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

from pinssl._errors import InvalidPinError

DIGEST_SIZE = 32
MAX_PIN_LENGTH = 256
STYLES = ("okhttp", "hpkp", "curl", "base64", "hex", "hex-colon")

_ALGORITHM_PREFIX = re.compile(
    r"(?:pin-)?(?P<name>[a-z][a-z0-9-]*)(?:=|//?)", re.IGNORECASE
)
_HEX = re.compile(r"[0-9a-fA-F]{64}")
_HEX_COLON = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){31}")


def _decode_base64(text: str, original: str) -> bytes:
    try:
        digest = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidPinError(
            f"pin {original!r} is not valid base64 (standard alphabet, padded)"
        ) from None

    if base64.b64encode(digest).decode("ascii") != text:
        raise InvalidPinError(f"pin {original!r} is not canonical base64")
    if len(digest) != DIGEST_SIZE:
        raise InvalidPinError(
            f"pin {original!r} decodes to {len(digest)} bytes; "
            f"a SHA-256 pin has {DIGEST_SIZE}"
        )
    return digest


def _strip_prefix(text: str, original: str) -> str | None:
    """The base64 after an OkHttp, curl or HPKP sha256 prefix; None if none.

    ``sha256//X`` is curl's form, but it is also OkHttp's form of a digest
    whose base64 starts with ``/``; only one reading has a valid length.
    """
    if text.startswith("sha256//") and len(text) != len("sha256/") + 44:
        return text[len("sha256//") :]
    if text.startswith("sha256/"):
        return text[len("sha256/") :]
    if text.startswith("pin-sha256="):
        value = text[len("pin-sha256=") :]
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        raise InvalidPinError(f"pin {original!r}: the HPKP value must be quoted")
    return None


def parse_pin(text: str) -> bytes:
    """Parse one pin in any accepted form; return the 32-byte digest.

    Raises :class:`InvalidPinError` (a ``ValueError``) that says what was
    wrong: an unknown form, bad base64 or hex, another algorithm than
    SHA-256, or a digest of the wrong length.
    """
    if not isinstance(text, str):
        raise TypeError(f"a pin is a str, not {type(text).__name__}")
    if len(text) > MAX_PIN_LENGTH:
        raise InvalidPinError(
            f"pin of {len(text)} characters exceeds the limit of {MAX_PIN_LENGTH}"
        )

    stripped = text.strip()
    if not stripped:
        raise InvalidPinError("empty pin")
    if _HEX.fullmatch(stripped) or _HEX_COLON.fullmatch(stripped):
        return bytes.fromhex(stripped.replace(":", ""))

    body = _strip_prefix(stripped, text)
    if body is not None:
        return _decode_base64(body, text)

    try:
        return _decode_base64(stripped, text)
    except InvalidPinError:
        other = _ALGORITHM_PREFIX.match(stripped)
        if other is None:
            raise
    raise InvalidPinError(
        f"pin {text!r} uses the algorithm {other.group('name')!r}; "
        "only sha256 pins are supported"
    )


def parse_pins(spec: str | Iterable[str]) -> frozenset[bytes]:
    """Parse a pin set: one string (``;`` may join several) or an iterable.

    Raises :class:`InvalidPinError` for any bad pin and for an empty set: an
    empty set would pin nothing, and pinning nothing must not look like
    success.
    """
    items = [spec] if isinstance(spec, str) else list(spec)
    digests = set()
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"a pin is a str, not {type(item).__name__}")
        for part in item.split(";"):
            if part.strip():
                digests.add(parse_pin(part))

    if not digests:
        raise InvalidPinError("the pin set is empty; give at least one pin")
    return frozenset(digests)


def format_pin(digest: bytes, style: str = "okhttp") -> str:
    """Render a 32-byte digest as a pin string.

    ``style`` is one of ``okhttp`` (``sha256/…``), ``hpkp``
    (``pin-sha256="…"``), ``curl`` (``sha256//…``), ``base64``, ``hex``
    (lower case) or ``hex-colon`` (upper case pairs joined by colons).
    """
    if len(digest) != DIGEST_SIZE:
        raise InvalidPinError(
            f"a SHA-256 digest has {DIGEST_SIZE} bytes, not {len(digest)}"
        )

    encoded = base64.b64encode(digest).decode("ascii")
    if style == "okhttp":
        return "sha256/" + encoded
    if style == "hpkp":
        return f'pin-sha256="{encoded}"'
    if style == "curl":
        return "sha256//" + encoded
    if style == "base64":
        return encoded
    if style == "hex":
        return digest.hex()
    if style == "hex-colon":
        return digest.hex(":").upper()
    raise ValueError(f"unknown pin style {style!r}; choose one of {', '.join(STYLES)}")


def format_pins(digests: Iterable[bytes], style: str = "okhttp") -> str:
    """Render several pins; curl's form joins them with ``;``, others with
    newlines."""
    rendered = [format_pin(digest, style) for digest in digests]
    return (";" if style == "curl" else "\n").join(rendered)
