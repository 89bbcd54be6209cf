"""The SPKI parser: strict DER decisions, the same on the C and pure backends."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator

import pytest

import pinssl
from pinssl import MalformedDERError, _backend, _der

from conftest import C_LIB


def tlv(tag: int, content: bytes) -> bytes:
    """DER-encode one element (minimal length form)."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


OID_EC = tlv(0x06, bytes.fromhex("2a8648ce3d0201"))
OID_P256 = tlv(0x06, bytes.fromhex("2a8648ce3d030107"))
SPKI = seq(seq(OID_EC, OID_P256), tlv(0x03, b"\x00\x04" + b"\x11" * 64))
NAME = seq(tlv(0x31, seq(tlv(0x06, b"\x55\x04\x03"), tlv(0x0C, b"leaf"))))
VALIDITY = seq(tlv(0x17, b"250101000000Z"), tlv(0x17, b"350101000000Z"))
SIG_ALG = seq(tlv(0x06, bytes.fromhex("2a8648ce3d040302")))
SIGNATURE = tlv(0x03, b"\x00" + b"\x22" * 70)
VERSION3 = tlv(0xA0, tlv(0x02, b"\x02"))
EXTENSIONS = tlv(0xA3, seq(seq(tlv(0x06, b"\x55\x1d\x13"), tlv(0x04, seq()))))


def certificate(*tbs_parts: bytes, tail: bytes = b"") -> bytes:
    """A Certificate whose tbsCertificate is made of ``tbs_parts``."""
    return seq(seq(*tbs_parts), SIG_ALG, SIGNATURE) + tail


def standard_tbs(serial: bytes = b"\x01") -> list[bytes]:
    return [VERSION3, tlv(0x02, serial), SIG_ALG, NAME, VALIDITY, NAME, SPKI]


def expect_spki(der: bytes, kind: int = _backend.KIND_ANY) -> tuple[int, bytes]:
    found, offset, length = _backend.find_spki(der, kind)
    return found, der[offset : offset + length]


def expect_error(der: bytes, kind: int = _backend.KIND_ANY) -> MalformedDERError:
    with pytest.raises(MalformedDERError) as caught:
        _backend.find_spki(der, kind)
    return caught.value


class TestShapes:
    def test_v3_certificate(self, backend: str) -> None:
        """A v3 certificate with extensions yields exactly its SPKI."""
        der = certificate(*standard_tbs(), EXTENSIONS)
        assert expect_spki(der) == (_backend.KIND_CERTIFICATE, SPKI)

    def test_v1_certificate_without_version(self, backend: str) -> None:
        """A v1 certificate has no [0] version field and still parses."""
        der = certificate(*standard_tbs()[1:])
        assert expect_spki(der, _backend.KIND_CERTIFICATE)[1] == SPKI

    def test_unique_identifiers(self, backend: str) -> None:
        """issuerUniqueID [1] and subjectUniqueID [2] are skipped in order."""
        uids = tlv(0x81, b"\x00\xab"), tlv(0x82, b"\x04\xf0")
        der = certificate(*standard_tbs(), *uids, EXTENSIONS)
        assert expect_spki(der)[1] == SPKI

    def test_long_serial(self, backend: str) -> None:
        """A 20-byte serial (the RFC 5280 maximum) and a longer one parse."""
        for serial in (b"\x7f" + b"\x01" * 19, b"\x01" * 40):
            assert expect_spki(certificate(*standard_tbs(serial)))[1] == SPKI

    def test_bare_public_key(self, backend: str) -> None:
        """A bare SubjectPublicKeyInfo is its own SPKI."""
        assert expect_spki(SPKI) == (_backend.KIND_PUBLIC_KEY, SPKI)

    def test_csr(self, backend: str) -> None:
        """A PKCS#10 request yields its SPKI."""
        info = seq(tlv(0x02, b"\x00"), NAME, SPKI, tlv(0xA0, b""))
        der = seq(info, SIG_ALG, SIGNATURE)
        assert expect_spki(der) == (_backend.KIND_CSR, SPKI)

    def test_kind_is_enforced(self, backend: str) -> None:
        """Asking for a certificate refuses a bare key, and the reverse."""
        assert expect_error(SPKI, _backend.KIND_CERTIFICATE).reason == "unexpected tag"
        der = certificate(*standard_tbs())
        assert expect_error(der, _backend.KIND_PUBLIC_KEY).offset > 0

    def test_large_element_with_long_form_lengths(self, backend: str) -> None:
        """Lengths of two and three octets are read correctly."""
        big_key = tlv(0x03, b"\x00" + b"\x33" * 70000)
        spki = seq(seq(OID_EC, OID_P256), big_key)
        der = certificate(*standard_tbs()[:-1], spki)
        assert expect_spki(der)[1] == spki


class TestStrictDER:
    def test_empty_input(self, backend: str) -> None:
        """Empty input is truncated at offset 0."""
        error = expect_error(b"")
        assert (error.reason, error.offset) == ("input ends inside an element", 0)

    def test_trailing_byte(self, backend: str) -> None:
        """A byte after the outer element is refused at its offset."""
        der = certificate(*standard_tbs(), tail=b"\x00")
        error = expect_error(der, _backend.KIND_CERTIFICATE)
        assert error.offset == len(der) - 1
        assert "after the last element" in error.reason

    def test_indefinite_length(self, backend: str) -> None:
        """BER indefinite length is refused."""
        error = expect_error(b"\x30\x80" + SPKI[2:] + b"\x00\x00")
        assert (error.offset, error.reason) == (1, "indefinite length (BER, not DER)")

    def test_non_minimal_lengths(self, backend: str) -> None:
        """Long form for a short length, and a leading zero octet, are refused."""
        short_in_long = b"\x30\x81" + bytes([len(SPKI) - 2]) + SPKI[2:]
        assert "minimally" in expect_error(short_in_long).reason
        padded = b"\x30\x82\x00" + bytes([len(SPKI) - 2]) + SPKI[2:]
        assert "minimally" in expect_error(padded).reason

    def test_too_many_length_octets(self, backend: str) -> None:
        """More length octets than the named limit is refused."""
        error = expect_error(b"\x30\x84\x00\x00\x00\x10" + b"\x00" * 16)
        assert "more than 3 octets" in error.reason

    def test_length_past_parent(self, backend: str) -> None:
        """An inner length that runs past its parent is refused."""
        key_tag = 4 + len(OID_EC) + len(OID_P256)
        inner = bytearray(SPKI)
        inner[key_tag + 1] += 1  # the key BIT STRING claims one byte more
        error = expect_error(bytes(inner), _backend.KIND_PUBLIC_KEY)
        assert error.offset == key_tag + 1
        assert "past the end" in error.reason

    def test_every_truncation_is_refused(self, backend: str) -> None:
        """No prefix of a certificate is accepted, and none crashes."""
        der = certificate(*standard_tbs(), EXTENSIONS)
        for end in range(len(der)):
            with pytest.raises(MalformedDERError):
                _backend.find_spki(der[:end])

    @pytest.mark.parametrize(
        "serial", [b"", b"\x00\x01", b"\xff\x80"], ids=["empty", "zero-pad", "ff-pad"]
    )
    def test_bad_serial(self, backend: str, serial: bytes) -> None:
        """An empty or non-minimal INTEGER serial is refused."""
        error = expect_error(certificate(*standard_tbs(serial)))
        assert "INTEGER" in error.reason

    def test_bad_bit_string(self, backend: str) -> None:
        """A key BIT STRING with more than 7 unused bits is refused."""
        spki = seq(seq(OID_EC, OID_P256), tlv(0x03, b"\x08\x04"))
        assert "unused-bits" in expect_error(spki).reason

    def test_unknown_field_after_extensions(self, backend: str) -> None:
        """An extra element at the end of tbsCertificate is refused."""
        der = certificate(*standard_tbs(), EXTENSIONS, tlv(0x04, b""))
        assert "after the last element" in expect_error(der).reason

    def test_input_size_limit(self, backend: str) -> None:
        """Input above the named limit is refused before any parsing."""
        error = expect_error(b"\x30" * (_der.MAX_INPUT + 1))
        assert str(_der.MAX_INPUT) in error.reason

    def test_bad_kind_number(self, backend: str) -> None:
        """An out-of-range kind is an error, not undefined behaviour."""
        assert _backend._spki_span(SPKI, len(SPKI), 7) == -_der.ERR_BAD_KIND
        assert _backend._spki_span(SPKI, len(SPKI), -1) == -_der.ERR_BAD_KIND

    def test_error_is_a_value_error_with_offset(self, backend: str) -> None:
        """MalformedDERError is a ValueError and a PinsslError with a message."""
        error = expect_error(b"\x31\x00")
        assert isinstance(error, ValueError)
        assert isinstance(error, pinssl.PinsslError)
        assert str(error) == "malformed DER at offset 0: unexpected tag"


class TestPublicFunctions:
    def test_spki_der_and_pin_on_der_and_pem(self, backend: str) -> None:
        """spki_der and spki_pin accept DER, PEM str and PEM bytes alike."""
        der = certificate(*standard_tbs())
        body = base64.encodebytes(der).decode()
        pem = f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"
        expected_pin = (
            "sha256/" + base64.b64encode(hashlib.sha256(SPKI).digest()).decode()
        )

        for form in (der, bytearray(der), memoryview(der), pem, pem.encode()):
            assert pinssl.spki_der(form) == SPKI
            assert pinssl.spki_pin(form) == expected_pin

    def test_pem_skips_private_keys(self, backend: str) -> None:
        """A PEM bundle is read from its first certificate, never a key block."""
        key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        der = certificate(*standard_tbs())
        cert = pem_block("CERTIFICATE", der)
        assert pinssl.spki_der(key + cert) == SPKI

    @pytest.mark.parametrize(
        "text",
        [
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "no PEM here",
        ],
    )
    def test_bad_pem(self, backend: str, text: str) -> None:
        """Broken or key-only PEM raises PEMError, a ValueError."""
        with pytest.raises(pinssl.PEMError):
            pinssl.spki_der(text)

    def test_wrong_type(self, backend: str) -> None:
        """A non-bytes, non-str argument is a TypeError."""
        with pytest.raises(TypeError):
            pinssl.spki_der(12)  # type: ignore[arg-type]


def pem_block(label: str, der: bytes) -> str:
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n"


def test_backend_is_reported() -> None:
    """pinssl.BACKEND names the parser in use."""
    assert pinssl.BACKEND in ("c", "python")


@pytest.mark.skipif(C_LIB is None, reason="the C extension is not built")
def test_constants_match_the_header() -> None:
    """Every PINSSL_* constant of the C header equals the pure module's."""
    names = [name for name in dir(C_LIB) if name.startswith("PINSSL_")]
    assert len(names) == 21
    for name in names:
        assert getattr(C_LIB, name) == getattr(_der, name[len("PINSSL_") :]), name


def walk_mutations(der: bytes) -> Iterator[bytes]:
    """Every single-byte change to a few values at every position."""
    for position in range(len(der)):
        for value in (0x00, 0x7F, 0x80, 0x81, 0xFF, der[position] ^ 0x01):
            yield der[:position] + bytes([value]) + der[position + 1 :]


def test_backends_agree_on_every_single_byte_mutation() -> None:
    """C and pure return the same packed result for each one-byte mutation."""
    if C_LIB is None:
        pytest.skip("the C extension is not built; nothing to compare")
    der = certificate(*standard_tbs(), tlv(0x81, b"\x00\x01"), EXTENSIONS)
    compared = 0
    for mutated in walk_mutations(der):
        for kind in range(4):
            assert C_LIB.pinssl_spki_span(mutated, len(mutated), kind) == (
                _der.spki_span(mutated, len(mutated), kind)
            )
            compared += 1
    assert compared == len(der) * 6 * 4


def test_expected_backend_is_running() -> None:
    """CI names the backend it built; the one imported must be that one."""
    expected = os.environ.get("PINSSL_EXPECT_BACKEND")
    if expected is None:
        pytest.skip("PINSSL_EXPECT_BACKEND is not set (only CI sets it)")
    assert pinssl.BACKEND == expected
