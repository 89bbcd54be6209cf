"""The exceptions pinssl raises.

Every exception of the package derives from :class:`PinsslError`. Bad input
(malformed DER, a pin string that is not a pin) is also a :class:`ValueError`;
a refused connection is also an :class:`ssl.SSLCertVerificationError`, so
clients that already handle certificate failures handle pin failures too.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence


class PinsslError(Exception):
    """Base class of every exception pinssl raises."""


class MalformedDERError(PinsslError, ValueError):
    """DER input that pinssl refuses to parse.

    ``reason`` names what was wrong and ``offset`` is the byte position in the
    input where the parser stopped.
    """

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"malformed DER at offset {offset}: {reason}")
        self.reason = reason
        self.offset = offset

    def __reduce__(self) -> tuple[type[MalformedDERError], tuple[str, int]]:
        return (type(self), (self.reason, self.offset))


class InvalidPinError(PinsslError, ValueError):
    """A pin string, or a pin set, that pinssl cannot use."""


class PinVerificationError(PinsslError, ssl.SSLCertVerificationError):
    """The peer's verified chain holds no pinned public key.

    ``hostname`` is the name the connection was made for (None on the server
    side), ``expected`` the accepted pins and ``served`` the pins of the
    certificates that were checked, leaf first, all as ``sha256/<base64>``.
    """

    def __init__(
        self,
        message: str,
        *,
        hostname: str | None,
        expected: Sequence[str],
        served: Sequence[str],
    ) -> None:
        # errno 1 keeps asyncio on 3.10 from turning this into a reset.
        super().__init__(1, message)
        self.hostname = hostname
        self.expected = tuple(expected)
        self.served = tuple(served)
        self.reason = "PIN_VERIFICATION_FAILED"
        self.library = "pinssl"
        self.verify_code = 0
        self.verify_message = message

    def __str__(self) -> str:
        return self.verify_message

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments need a helper to survive pickling, which
        # multiprocessing and concurrent.futures use to return exceptions.
        return (
            _rebuild_pin_error,
            (self.verify_message, self.hostname, self.expected, self.served),
        )


def _rebuild_pin_error(
    message: str,
    hostname: str | None,
    expected: Sequence[str],
    served: Sequence[str],
) -> PinVerificationError:
    """Unpickle a :class:`PinVerificationError`."""
    return PinVerificationError(
        message, hostname=hostname, expected=expected, served=served
    )
