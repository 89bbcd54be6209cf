"""spki_der and spki_pin on real certificates of every key type, against oracles.

The oracle is the ``cryptography`` package, or the ``openssl`` command where
``cryptography`` re-encodes the key (RSA-PSS); see ``certs.py``.
"""

from __future__ import annotations

import pytest

import pinssl
from pinssl import _backend

from certs import (
    CA,
    KEY_TYPES,
    LONG_SERIAL,
    cached_key,
    csr_spki_sha256_oracle,
    key_spki_sha256_oracle,
    make_csr,
    many_extensions_cert,
    openssl_spki_sha256,
    pin_from_digest,
    spki_sha256_oracle,
)


@pytest.fixture(scope="module")
def ca() -> CA:
    """An RSA root with an EC intermediate that issues the test leaves."""
    return CA.root("pinssl key-type root", "rsa2048").intermediate(
        "pinssl key-type intermediate", "ec-p384"
    )


@pytest.mark.parametrize("key_type", KEY_TYPES)
class TestEveryKeyType:
    def test_certificate(self, backend: str, ca: CA, key_type: str) -> None:
        """The leaf's SPKI and pin match the oracle and the openssl command."""
        cert = ca.issue("keys.example", key=cached_key(key_type))

        assert pinssl.spki_sha256(cert.der) == spki_sha256_oracle(cert.der)
        assert pinssl.spki_sha256(cert.der) == openssl_spki_sha256(cert.der)
        assert pinssl.spki_pin(cert.pem) == pin_from_digest(
            spki_sha256_oracle(cert.der)
        )

    def test_csr(self, backend: str, key_type: str) -> None:
        """A PKCS#10 request's SPKI matches the oracle."""
        csr = make_csr(cached_key(key_type), "keys.example")

        assert _backend.find_spki(csr)[0] == _backend.KIND_CSR
        assert pinssl.spki_sha256(csr) == csr_spki_sha256_oracle(csr)

    def test_bare_public_key(self, backend: str, key_type: str) -> None:
        """A PEM PUBLIC KEY is its own SPKI, and its pin is the leaf's pin."""
        key = cached_key(key_type)

        assert pinssl.spki_der(key.public_pem) == key.spki_der
        assert pinssl.spki_sha256(key.public_pem) == key_spki_sha256_oracle(
            key.public_pem
        )


class TestOddCertificates:
    def test_v1_without_version_field(self, backend: str, ca: CA) -> None:
        """A v1 certificate (no [0] version) gives the oracle's SPKI."""
        cert = ca.issue("v1.example", version=0)
        assert cert.der[4:5] != b"\xa0"
        assert pinssl.spki_sha256(cert.der) == spki_sha256_oracle(cert.der)

    def test_long_serial(self, backend: str, ca: CA) -> None:
        """A 20-byte serial number is skipped correctly."""
        cert = ca.issue("serial.example", serial=LONG_SERIAL)
        assert pinssl.spki_sha256(cert.der) == spki_sha256_oracle(cert.der)

    def test_unique_identifiers(self, backend: str, ca: CA) -> None:
        """issuerUniqueID and subjectUniqueID after the SPKI are accepted."""
        cert = ca.issue(
            "uid.example",
            version=2,
            issuer_unique_id=b"\x01\x02",
            subject_unique_id=b"\x03\x04\x05",
        )
        assert pinssl.spki_sha256(cert.der) == openssl_spki_sha256(cert.der)

    def test_many_extensions(self, backend: str, ca: CA) -> None:
        """Fifty SANs and ten private extensions do not disturb the walk."""
        cert = many_extensions_cert(ca, san_count=50, custom_count=10)
        assert len(cert.der) > 1500
        assert pinssl.spki_sha256(cert.der) == spki_sha256_oracle(cert.der)

    def test_ca_certificates(self, backend: str, ca: CA) -> None:
        """Root and intermediate certificates parse like leaves."""
        for cert in ca.chain:
            assert pinssl.spki_sha256(cert.der) == spki_sha256_oracle(cert.der)
