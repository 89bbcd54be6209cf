"""Types of the cffi extension built from csrc/ (see csrc/ffibuild.py)."""

from typing import Any

class _Lib:
    PINSSL_MAX_INPUT: int
    PINSSL_MAX_LENGTH_OCTETS: int
    PINSSL_KIND_ANY: int
    PINSSL_KIND_CERTIFICATE: int
    PINSSL_KIND_PUBLIC_KEY: int
    PINSSL_KIND_CSR: int
    PINSSL_ERR_TOO_LARGE: int
    PINSSL_ERR_TRUNCATED: int
    PINSSL_ERR_UNEXPECTED_TAG: int
    PINSSL_ERR_INDEFINITE_LENGTH: int
    PINSSL_ERR_NON_MINIMAL_LENGTH: int
    PINSSL_ERR_LENGTH_TOO_LONG: int
    PINSSL_ERR_LENGTH_OVERRUN: int
    PINSSL_ERR_TRAILING_DATA: int
    PINSSL_ERR_BAD_INTEGER: int
    PINSSL_ERR_BAD_BIT_STRING: int
    PINSSL_ERR_BAD_KIND: int
    PINSSL_SPAN_BITS: int
    PINSSL_SPAN_MASK: int
    PINSSL_KIND_SHIFT: int
    PINSSL_ERROR_SHIFT: int

    def pinssl_spki_span(self, der: bytes, length: int, kind: int, /) -> int: ...

lib: _Lib
ffi: Any
