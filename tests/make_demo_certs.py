"""Write the throwaway certificates that ``pinssl demo`` ships.

Run from the repository root: ``python tests/make_demo_certs.py``. It writes
into ``pinssl/_demo/``:

- ``trusted-ca.pem``: the CA the demo's genuine server was issued by.
- ``genuine.pem``: that server's certificate for ``localhost`` and
  ``127.0.0.1``, followed by its private key.
- ``rogue-ca.pem``: a second CA, also trusted by the demo client, standing in
  for a compromised or careless public CA.
- ``rogue.pem``: a certificate for the same names that the rogue CA
  mis-issued, followed by the attacker's private key.

These keys protect nothing: they exist only so the demo can run offline, so
shipping them in the package is intended. The CA keys are not written at all.
Every certificate is valid for 100 years from 2025-01-01, so the demo does
not expire.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OUTPUT = Path(__file__).resolve().parent.parent / "pinssl" / "_demo"
NOT_BEFORE = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = NOT_BEFORE.replace(year=2125)
ORGANIZATION = "pinssl demo (throwaway keys)"

Key = ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, key: Key
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    )


def make_ca(common_name: str) -> tuple[x509.Certificate, Key]:
    """A self-signed CA certificate and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    certificate = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def make_leaf(ca: x509.Certificate, ca_key: Key) -> tuple[x509.Certificate, Key]:
    """A server certificate for localhost and 127.0.0.1 issued by ``ca``."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    certificate = (
        _builder(_name("localhost"), ca.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(names, critical=False)
        .add_extension(authority, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return certificate, key


def _pem(certificate: x509.Certificate, key: Key | None = None) -> bytes:
    text = certificate.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        text += key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    return text


def main() -> None:
    """Write the four demo files."""
    trusted_ca, trusted_key = make_ca("pinssl demo trusted CA")
    genuine, genuine_key = make_leaf(trusted_ca, trusted_key)
    rogue_ca, rogue_ca_key = make_ca("pinssl demo rogue CA")
    rogue, rogue_key = make_leaf(rogue_ca, rogue_ca_key)

    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "trusted-ca.pem").write_bytes(_pem(trusted_ca))
    (OUTPUT / "genuine.pem").write_bytes(_pem(genuine, genuine_key))
    (OUTPUT / "rogue-ca.pem").write_bytes(_pem(rogue_ca))
    (OUTPUT / "rogue.pem").write_bytes(_pem(rogue, rogue_key))
    print(f"wrote the demo certificates to {OUTPUT}")


if __name__ == "__main__":
    main()
