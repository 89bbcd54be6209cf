"""PEM armour: the base64 text form of DER that files and tools use."""

from __future__ import annotations

import base64
import binascii
import re

from pinssl._errors import PinsslError

MAX_PEM_TEXT = 8 * 1048576
LABELS = frozenset(
    {
        "CERTIFICATE",
        "TRUSTED CERTIFICATE",
        "PUBLIC KEY",
        "CERTIFICATE REQUEST",
        "NEW CERTIFICATE REQUEST",
    }
)

_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----(?P<body>[^-]*)-----END (?P=label)-----"
)


class PEMError(PinsslError, ValueError):
    """PEM text with no usable block, or a block whose base64 is broken."""


def looks_like_pem(data: bytes | str) -> bool:
    """Whether ``data`` starts, after white space, with a PEM header."""
    head = data[:64].lstrip()
    if isinstance(head, str):
        return head.startswith("-----BEGIN ")
    return head.startswith(b"-----BEGIN ")


def pem_blocks(text: bytes | str) -> list[tuple[str, bytes]]:
    """Every certificate, public key or CSR block in ``text``, in order.

    Returns ``(label, der)`` pairs; blocks of other labels (private keys,
    parameters) are skipped so a combined file never leaks them anywhere.
    Raises :class:`PEMError` for text over the size limit, a block with
    broken base64, or text without any usable block.
    """
    if len(text) > MAX_PEM_TEXT:
        raise PEMError(
            f"PEM text of {len(text)} bytes exceeds the limit of {MAX_PEM_TEXT}"
        )
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")

    blocks = []
    for match in _BLOCK.finditer(text):
        label = match.group("label")
        if label not in LABELS:
            continue
        body = "".join(match.group("body").split())
        try:
            der = base64.b64decode(body, validate=True)
        except binascii.Error:
            raise PEMError(f"the PEM {label} block has invalid base64") from None
        blocks.append((label, der))

    if not blocks:
        raise PEMError(
            "no PEM block of a certificate, public key or certificate request found"
        )
    return blocks
