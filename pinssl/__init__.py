"""pinssl: public-key pinning enforced inside the TLS handshake.

A pin is the SHA-256 digest of a certificate's DER SubjectPublicKeyInfo,
written ``sha256/<base64>``. ``pinssl.BACKEND`` says which SPKI parser runs:
``"c"`` (the compiled extension) or ``"python"`` (its pure twin).
"""

from __future__ import annotations

import logging

from pinssl._backend import BACKEND
from pinssl._context import (
    context_policy,
    create_default_context,
    pin_context,
    wrap_socket,
)
from pinssl._errors import (
    InvalidPinError,
    MalformedDERError,
    PinsslError,
    PinVerificationError,
)
from pinssl._pem import PEMError
from pinssl._pins import format_pin, format_pins, parse_pin, parse_pins
from pinssl._policy import PinPolicy
from pinssl._spki import spki_der, spki_pin, spki_sha256

__version__ = "0.1.0"

__all__ = [
    "BACKEND",
    "InvalidPinError",
    "MalformedDERError",
    "PEMError",
    "PinPolicy",
    "PinVerificationError",
    "PinsslError",
    "__version__",
    "context_policy",
    "create_default_context",
    "format_pin",
    "format_pins",
    "parse_pin",
    "parse_pins",
    "pin_context",
    "spki_der",
    "spki_pin",
    "spki_sha256",
    "wrap_socket",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
