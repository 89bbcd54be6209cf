"""Certificate factory for pinssl tests, built on ``cryptography``.

Everything here is test-only.  The main entry points:

* ``Key``, ``new_key(key_type)`` and ``cached_key(key_type, slot)``: private keys of
  every type in ``KEY_TYPES`` with their exact SubjectPublicKeyInfo DER.
* ``CA``: a self-signed root (``CA.root``), intermediates (``ca.intermediate``)
  and leaves (``ca.issue``), each a ``Cert`` holding its DER, key and chain.
* Odd shapes for parser tests: ``ca.issue(..., version=0)`` (v1, no version
  field), ``issuer_unique_id``/``subject_unique_id`` (the ``[1]``/``[2]`` fields),
  20-byte serials, ``many_extensions_cert``, CSRs (``make_csr``), bare public keys
  (``Key.public_pem``).
* Oracles: ``spki_sha256_oracle``, ``csr_spki_sha256_oracle``,
  ``key_spki_sha256_oracle``, ``openssl_spki_sha256`` and ``pin_of``.

Fallbacks to the ``openssl`` command-line tool, because ``cryptography`` cannot:

* RSA-PSS keys (SPKI algorithm id-RSASSA-PSS) are generated with
  ``openssl genpkey -algorithm RSA-PSS``; ``cryptography`` loads such keys as plain
  RSA and would re-encode them as rsaEncryption.  Certificates for them are built
  by splicing the PSS SPKI into the tbsCertificate and re-signing with the CA key;
  their CSRs come from ``openssl req -new``.
* v1 certificates, unique identifiers and raw SPKI replacement are done by editing
  the tbsCertificate DER (tiny encoder/decoder below) and re-signing it.
* The oracle uses ``openssl x509 -pubkey`` when ``cryptography`` refuses a
  certificate or re-encodes its SPKI differently from the bytes in the DER.

Keys are fresh by default (RSA-4096 costs about 0.5 s, DSA reuses one cached
parameter set); ``cached_key(key_type, slot)`` returns the same key per process.
"""

from __future__ import annotations

import atexit
import base64
import datetime
import functools
import hashlib
import ipaddress
import itertools
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import (
    dsa,
    ec,
    ed448,
    ed25519,
    padding,
    rsa,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal[
    "rsa2048",
    "rsa4096",
    "rsa-pss",
    "ec-p256",
    "ec-p384",
    "ec-p521",
    "ed25519",
    "ed448",
    "dsa",
]
KEY_TYPES: tuple[KeyType, ...] = (
    "rsa2048",
    "rsa4096",
    "rsa-pss",
    "ec-p256",
    "ec-p384",
    "ec-p521",
    "ed25519",
    "ed448",
    "dsa",
)
PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | dsa.DSAPrivateKey
)

DEFAULT_HOSTNAMES: tuple[str, ...] = (
    "localhost",
    "127.0.0.1",
    "example.test",
    "*.wild.test",
)
OPENSSL = shutil.which("openssl") or "openssl"
OPENSSL_TIMEOUT = 60.0

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ec-p256": ec.SECP256R1,
    "ec-p384": ec.SECP384R1,
    "ec-p521": ec.SECP521R1,
}
_RSA_ENCRYPTION_ALG = bytes.fromhex("300d06092a864886f70d0101010500")
_serials = itertools.count(0x1000)


# --- tiny DER encoder / decoder ------------------------------------------------


def der_len(n: int) -> bytes:
    """Encode a DER length."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_tlv(tag: int, content: bytes) -> bytes:
    """Encode one TLV with a single-byte tag."""
    return bytes([tag]) + der_len(len(content)) + content


def der_seq(*items: bytes) -> bytes:
    """Encode a SEQUENCE of already-encoded items."""
    return der_tlv(0x30, b"".join(items))


def der_int(n: int) -> bytes:
    """Encode an INTEGER (two's complement, minimal)."""
    size = max(1, (n + (n < 0)).bit_length() // 8 + 1)
    return der_tlv(0x02, n.to_bytes(size, "big", signed=True))


def der_oid(dotted: str) -> bytes:
    """Encode an OBJECT IDENTIFIER from dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return der_tlv(0x06, bytes(out))


def der_null() -> bytes:
    """Encode NULL."""
    return b"\x05\x00"


def der_octets(data: bytes) -> bytes:
    """Encode an OCTET STRING."""
    return der_tlv(0x04, data)


def der_bitstring(data: bytes, unused_bits: int = 0) -> bytes:
    """Encode a BIT STRING."""
    return der_tlv(0x03, bytes([unused_bits]) + data)


def der_explicit(number: int, inner: bytes) -> bytes:
    """Encode a context-specific EXPLICIT tag ``[number]`` around ``inner``."""
    return der_tlv(0xA0 | number, inner)


def der_implicit(number: int, content: bytes, constructed: bool = False) -> bytes:
    """Encode a context-specific IMPLICIT tag ``[number]`` with raw content."""
    return der_tlv((0xA0 if constructed else 0x80) | number, content)


def der_header(buf: bytes, offset: int = 0) -> tuple[int, int, int]:
    """Return (tag, header_length, content_length) of the TLV at ``offset``."""
    tag = buf[offset]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not supported")
    first = buf[offset + 1]
    if first < 0x80:
        return tag, 2, first
    n = first & 0x7F
    if n == 0 or n > 4:
        raise ValueError("unsupported DER length")
    length = int.from_bytes(buf[offset + 2 : offset + 2 + n], "big")
    return tag, 2 + n, length


def der_split(buf: bytes) -> list[bytes]:
    """Split concatenated TLVs into a list of whole TLVs."""
    out, off = [], 0
    while off < len(buf):
        _, hl, cl = der_header(buf, off)
        out.append(buf[off : off + hl + cl])
        off += hl + cl
    if off != len(buf):
        raise ValueError("trailing bytes in DER")
    return out


def der_content(tlv: bytes) -> bytes:
    """Return the content octets of one TLV."""
    _, hl, cl = der_header(tlv)
    if hl + cl != len(tlv):
        raise ValueError("TLV length mismatch")
    return tlv[hl:]


def der_children(tlv: bytes) -> list[bytes]:
    """Return the child TLVs of a constructed TLV (e.g. a SEQUENCE)."""
    return der_split(der_content(tlv))


def der_to_pem(der: bytes, label: str = "CERTIFICATE") -> bytes:
    """Wrap DER in PEM armour."""
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    body = "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])
    return (body + "\n").encode()


def pem_to_der(pem: bytes | str) -> bytes:
    """Decode the first PEM block."""
    text = pem.decode() if isinstance(pem, bytes) else pem
    lines = text.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("-----BEGIN"))
    end = next(i for i, line in enumerate(lines) if line.startswith("-----END"))
    return base64.b64decode("".join(lines[start + 1 : end]))


# --- keys -----------------------------------------------------------------------


def run_openssl(*args: str, data: bytes | None = None) -> bytes:
    """Run the openssl CLI and return stdout, raising with stderr on failure."""
    proc = subprocess.run(
        [OPENSSL, *args],
        input=data,
        capture_output=True,
        timeout=OPENSSL_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace")
        raise RuntimeError(f"openssl {' '.join(args)} failed: {msg}")
    return proc.stdout


@dataclass(frozen=True)
class Key:
    """A private key with its exact SubjectPublicKeyInfo DER."""

    key_type: str
    private_pem: bytes
    spki_der: bytes
    private: PrivateKey | None = field(repr=False, compare=False, default=None)

    @property
    def public_pem(self) -> bytes:
        """The bare public key as PEM ``PUBLIC KEY``."""
        return der_to_pem(self.spki_der, "PUBLIC KEY")

    @property
    def spki_sha256(self) -> bytes:
        """sha256 of the SPKI DER."""
        return hashlib.sha256(self.spki_der).digest()

    @property
    def pin(self) -> str:
        """``sha256/<base64>`` pin of this key."""
        return pin_from_digest(self.spki_sha256)

    def signer(self) -> PrivateKey:
        """The cryptography private key object (for signing)."""
        if self.private is None:
            raise ValueError(f"{self.key_type} key has no cryptography object")
        return self.private

    def write(self, directory: Path | str | None = None, name: str = "key") -> Path:
        """Write the private key PEM and return its path."""
        path = Path(directory or scratch_dir()) / f"{name}.key.pem"
        path.write_bytes(self.private_pem)
        return path


@functools.lru_cache(maxsize=1)
def _dsa_parameters() -> dsa.DSAParameters:
    """One DSA-2048 parameter set per process (parameter generation is slow)."""
    return dsa.generate_parameters(key_size=2048)


def _generate_private(key_type: str) -> PrivateKey:
    """Generate a cryptography private key of a type it supports."""
    if key_type == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "rsa4096":
        return rsa.generate_private_key(public_exponent=65537, key_size=4096)
    if key_type in _CURVES:
        return ec.generate_private_key(_CURVES[key_type]())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type == "ed448":
        return ed448.Ed448PrivateKey.generate()
    if key_type == "dsa":
        return _dsa_parameters().generate_private_key()
    raise ValueError(f"unknown key type {key_type!r}")


def key_from_private(private: PrivateKey, key_type: str = "custom") -> Key:
    """Wrap an existing cryptography private key."""
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Key(key_type, pem, spki, private)


def _new_rsa_pss_key(bits: int = 2048) -> Key:
    """Generate an RSA-PSS key (SPKI id-RSASSA-PSS with sha256 params) via openssl."""
    pem = run_openssl(
        "genpkey",
        "-algorithm",
        "RSA-PSS",
        "-pkeyopt",
        f"rsa_keygen_bits:{bits}",
        "-pkeyopt",
        "rsa_pss_keygen_md:sha256",
        "-pkeyopt",
        "rsa_pss_keygen_mgf1_md:sha256",
        "-pkeyopt",
        "rsa_pss_keygen_saltlen:32",
    )
    spki = run_openssl("pkey", "-pubout", "-outform", "DER", data=pem)
    private: Any
    try:
        private = serialization.load_pem_private_key(pem, None)
    except (ValueError, TypeError, NotImplementedError):
        private = None
    return Key("rsa-pss", pem, spki, private)


def new_key(key_type: KeyType | str = "ec-p256") -> Key:
    """Generate a fresh key of ``key_type`` (one of ``KEY_TYPES``)."""
    if key_type == "rsa-pss":
        return _new_rsa_pss_key()
    return key_from_private(_generate_private(key_type), key_type)


@functools.cache
def cached_key(key_type: KeyType | str = "ec-p256", slot: int | str = 0) -> Key:
    """The same key per (key_type, slot) for the whole process."""
    return new_key(key_type)


# --- certificates ---------------------------------------------------------------


def _hash_for(key: Key) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    """The hash used when ``key`` signs (None for EdDSA)."""
    if key.key_type in ("ed25519", "ed448"):
        return None
    if key.key_type == "ec-p384":
        return hashes.SHA384()
    if key.key_type == "ec-p521":
        return hashes.SHA512()
    return hashes.SHA256()


def sign_bytes(key: Key, data: bytes) -> bytes:
    """Sign ``data`` the way the X.509 builder does for this key type."""
    signer = key.signer()
    algorithm = _hash_for(key)
    if isinstance(signer, rsa.RSAPrivateKey):
        assert algorithm is not None
        return signer.sign(data, padding.PKCS1v15(), algorithm)
    if isinstance(signer, ec.EllipticCurvePrivateKey):
        assert algorithm is not None
        return signer.sign(data, ec.ECDSA(algorithm))
    if isinstance(signer, dsa.DSAPrivateKey):
        assert algorithm is not None
        return signer.sign(data, algorithm)
    return signer.sign(data)


def resign_certificate(
    der: bytes,
    issuer_key: Key,
    edit: Callable[[list[bytes]], list[bytes]],
) -> bytes:
    """Edit the tbsCertificate children of ``der`` and re-sign it with ``issuer_key``.

    ``edit`` receives the list of tbsCertificate child TLVs and returns the new list.
    The signature algorithm is kept, so ``issuer_key`` must be the original signer.
    """
    tbs, sig_alg, _ = der_children(der)
    new_tbs = der_seq(*edit(der_children(tbs)))
    return der_seq(new_tbs, sig_alg, der_bitstring(sign_bytes(issuer_key, new_tbs)))


def _tbs_fields(tbs_children: list[bytes]) -> dict[str, int]:
    """Map field names to indexes in a tbsCertificate child list."""
    names = ["serial", "signature", "issuer", "validity", "subject", "spki"]
    start = 1 if tbs_children[0][0] == 0xA0 else 0
    out = {name: start + i for i, name in enumerate(names)}
    if start:
        out["version"] = 0
    for i, child in enumerate(tbs_children):
        tag = {0x81: "issuer_uid", 0x82: "subject_uid", 0xA3: "extensions"}.get(
            child[0]
        )
        if tag:
            out[tag] = i
    return out


def raw_spki(der: bytes) -> bytes:
    """The SubjectPublicKeyInfo TLV exactly as it appears in a certificate DER."""
    children = der_children(der_children(der)[0])
    return children[_tbs_fields(children)["spki"]]


def raw_csr_spki(der: bytes) -> bytes:
    """The SubjectPublicKeyInfo TLV exactly as it appears in a PKCS#10 CSR DER."""
    return der_children(der_children(der)[0])[2]


def _general_name(name: str) -> x509.GeneralName:
    """SAN entry for a hostname or IP literal."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _name(common_name: str, org: str = "pinssl tests") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _public_for_builder(key: Key) -> Any:
    """A cryptography public key for the builder (its SPKI may be spliced later)."""
    if key.private is not None:
        return key.private.public_key()
    return cached_key("rsa2048", "placeholder").signer().public_key()


def _ski(key: Key) -> x509.SubjectKeyIdentifier:
    """RFC 5280 method 1 key identifier computed from the raw SPKI."""
    bits = der_content(der_children(key.spki_der)[1])[1:]
    return x509.SubjectKeyIdentifier(hashlib.sha1(bits).digest())


@dataclass(frozen=True)
class CertFiles:
    """Paths written by ``Cert.write``."""

    chain: Path
    key: Path
    cert: Path


@dataclass
class Cert:
    """A certificate, its private key and the intermediates that issued it."""

    der: bytes
    key: Key | None
    chain: list[Cert] = field(default_factory=list)
    name: str = "cert"

    @property
    def pem(self) -> bytes:
        """PEM of this certificate alone."""
        return der_to_pem(self.der)

    @property
    def key_pem(self) -> bytes:
        """PEM of the private key."""
        if self.key is None:
            raise ValueError(f"{self.name} has no private key")
        return self.key.private_pem

    @property
    def x509(self) -> x509.Certificate:
        """The certificate parsed by cryptography."""
        return x509.load_der_x509_certificate(self.der)

    @property
    def spki_der(self) -> bytes:
        """The raw SPKI DER from the certificate."""
        return raw_spki(self.der)

    @property
    def spki_sha256(self) -> bytes:
        """sha256 of the raw SPKI."""
        return hashlib.sha256(self.spki_der).digest()

    @property
    def pin(self) -> str:
        """``sha256/<base64>`` pin of this certificate's key."""
        return pin_from_digest(self.spki_sha256)

    def chain_pem(self, extra: Iterable[Cert | bytes] = ()) -> bytes:
        """PEM of leaf + intermediates + ``extra`` certificates (Cert or DER)."""
        blocks = [self.pem, *(c.pem for c in self.chain)]
        for item in extra:
            blocks.append(item.pem if isinstance(item, Cert) else der_to_pem(item))
        return b"".join(blocks)

    def write(
        self,
        directory: Path | str | None = None,
        name: str | None = None,
        extra: Iterable[Cert | bytes] = (),
    ) -> CertFiles:
        """Write chain (leaf + intermediates + extra), key and cert PEM files."""
        base = Path(directory or scratch_dir())
        base.mkdir(parents=True, exist_ok=True)
        stem = name or f"{self.name}-{next(_serials)}"
        chain, key, cert = (base / f"{stem}.{s}.pem" for s in ("chain", "key", "cert"))
        chain.write_bytes(self.chain_pem(extra))
        cert.write_bytes(self.pem)
        if self.key is not None:
            key.write_bytes(self.key.private_pem)
        return CertFiles(chain=chain, key=key, cert=cert)


class CA:
    """A certificate authority: a self-signed root or an intermediate."""

    def __init__(self, cert: Cert, key: Key, parent: CA | None = None) -> None:
        self.cert = cert
        self.key = key
        self.parent = parent
        self.name = cert.name

    @classmethod
    def root(
        cls,
        name: str = "pinssl test root",
        key_type: KeyType | str = "ec-p256",
        *,
        key: Key | None = None,
    ) -> CA:
        """Mint a self-signed root CA."""
        key = key or new_key(key_type)
        cert = _mint(
            subject=name,
            subject_key=key,
            issuer=None,
            is_ca=True,
            hostnames=(),
        )
        return cls(cert, key)

    @property
    def root_ca(self) -> CA:
        """The self-signed root above this CA."""
        return self if self.parent is None else self.parent.root_ca

    @property
    def chain(self) -> list[Cert]:
        """Intermediates from this CA up to (excluding) the root."""
        if self.parent is None:
            return []
        return [self.cert, *self.parent.chain]

    @property
    def pem(self) -> bytes:
        """PEM of this CA's certificate."""
        return self.cert.pem

    @property
    def der(self) -> bytes:
        """DER of this CA's certificate."""
        return self.cert.der

    def intermediate(
        self,
        name: str = "pinssl test intermediate",
        key_type: KeyType | str = "ec-p256",
        *,
        key: Key | None = None,
        path_length: int | None = None,
    ) -> CA:
        """Mint an intermediate CA under this one."""
        key = key or new_key(key_type)
        cert = _mint(
            subject=name,
            subject_key=key,
            issuer=self,
            is_ca=True,
            hostnames=(),
            path_length=path_length,
        )
        cert.chain = self.chain
        return CA(cert, key, parent=self)

    def issue(
        self,
        *hostnames: str,
        key_type: KeyType | str = "ec-p256",
        key: Key | None = None,
        common_name: str | None = None,
        serial: int | None = None,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
        extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
        version: int | None = None,
        issuer_unique_id: bytes | None = None,
        subject_unique_id: bytes | None = None,
        spki_der: bytes | None = None,
        tbs_edit: Callable[[list[bytes]], list[bytes]] | None = None,
    ) -> Cert:
        """Mint a leaf certificate for ``hostnames`` (DEFAULT_HOSTNAMES if none).

        ``version=0`` gives a v1 certificate with no version field and no
        extensions; ``version=1`` a v2 one.  ``issuer_unique_id`` and
        ``subject_unique_id`` add the ``[1]``/``[2]`` fields (bit-string bytes).
        ``spki_der`` replaces the SPKI; ``tbs_edit`` edits the tbsCertificate
        child TLV list last.  Any of these re-signs the DER with this CA's key.
        """
        key = key or new_key(key_type)
        names = hostnames or DEFAULT_HOSTNAMES
        cn = common_name or names[0]
        cert = _mint(
            subject=cn,
            subject_key=key,
            issuer=self,
            is_ca=False,
            hostnames=names,
            serial=serial,
            not_before=not_before,
            not_after=not_after,
            extensions=extensions,
            version=version,
            issuer_unique_id=issuer_unique_id,
            subject_unique_id=subject_unique_id,
            spki_der=spki_der,
            tbs_edit=tbs_edit,
        )
        cert.chain = self.chain
        return cert


def _mint(
    *,
    subject: str,
    subject_key: Key,
    issuer: CA | None,
    is_ca: bool,
    hostnames: Sequence[str],
    path_length: int | None = None,
    serial: int | None = None,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    version: int | None = None,
    issuer_unique_id: bytes | None = None,
    subject_unique_id: bytes | None = None,
    spki_der: bytes | None = None,
    tbs_edit: Callable[[list[bytes]], list[bytes]] | None = None,
) -> Cert:
    """Build and sign one certificate; splice the tbsCertificate when needed."""
    now = datetime.datetime.now(datetime.timezone.utc)
    signer_key = issuer.key if issuer else subject_key
    if signer_key.key_type == "rsa-pss":
        raise ValueError("RSA-PSS keys are leaf-only here (CAs sign with PKCS#1 v1.5)")
    issuer_name = issuer.cert.x509.subject if issuer else _name(subject)

    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(_public_for_builder(subject_key))
        .serial_number(serial if serial is not None else next(_serials))
        .not_valid_before(not_before or now - datetime.timedelta(days=1))
        .not_valid_after(not_after or now + datetime.timedelta(days=365))
        .add_extension(
            x509.BasicConstraints(ca=is_ca, path_length=path_length), critical=True
        )
        .add_extension(_ski(subject_key), critical=False)
    )
    if issuer is not None:
        aki = x509.AuthorityKeyIdentifier(_ski(issuer.key).digest, None, None)
        builder = builder.add_extension(aki, critical=False)
    if is_ca:
        usage = _key_usage(cert_sign=True)
        builder = builder.add_extension(usage, critical=True)
    else:
        usage = _key_usage(cert_sign=False)
        eku = x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        )
        builder = builder.add_extension(usage, critical=True)
        builder = builder.add_extension(eku, critical=False)
    if hostnames:
        san = x509.SubjectAlternativeName([_general_name(h) for h in hostnames])
        builder = builder.add_extension(san, critical=False)
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    der = builder.sign(signer_key.signer(), _hash_for(signer_key)).public_bytes(
        serialization.Encoding.DER
    )

    edits: list[Callable[[list[bytes]], list[bytes]]] = []
    wanted_spki = spki_der or subject_key.spki_der
    if raw_spki(der) != wanted_spki:
        edits.append(_replace_field("spki", wanted_spki))
    if version is not None:
        edits.append(_set_version(version))
    if issuer_unique_id is not None or subject_unique_id is not None:
        edits.append(_add_unique_ids(issuer_unique_id, subject_unique_id))
    if tbs_edit is not None:
        edits.append(tbs_edit)
    if edits:
        der = resign_certificate(der, signer_key, _compose(edits))
    slug = re.sub(r"[^A-Za-z0-9.-]+", "-", subject.replace("*", "star")).strip("-")
    return Cert(der=der, key=subject_key, name=slug)


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _compose(
    edits: list[Callable[[list[bytes]], list[bytes]]],
) -> Callable[[list[bytes]], list[bytes]]:
    def run(children: list[bytes]) -> list[bytes]:
        for edit in edits:
            children = edit(children)
        return children

    return run


def _replace_field(name: str, tlv: bytes) -> Callable[[list[bytes]], list[bytes]]:
    def edit(children: list[bytes]) -> list[bytes]:
        out = list(children)
        out[_tbs_fields(out)[name]] = tlv
        return out

    return edit


def _set_version(version: int) -> Callable[[list[bytes]], list[bytes]]:
    """v1 (0): drop the version field and extensions; else set ``[0] INTEGER``."""

    def edit(children: list[bytes]) -> list[bytes]:
        fields = _tbs_fields(children)
        out = [c for i, c in enumerate(children) if i != fields.get("version")]
        if version == 0:
            return [c for c in out if c[0] != 0xA3]
        return [der_explicit(0, der_int(version)), *out]

    return edit


def _add_unique_ids(
    issuer_uid: bytes | None, subject_uid: bytes | None
) -> Callable[[list[bytes]], list[bytes]]:
    """Insert ``[1] IMPLICIT`` / ``[2] IMPLICIT`` BIT STRINGs after the SPKI."""

    def edit(children: list[bytes]) -> list[bytes]:
        at = _tbs_fields(children)["spki"] + 1
        ids = []
        if issuer_uid is not None:
            ids.append(der_implicit(1, b"\x00" + issuer_uid))
        if subject_uid is not None:
            ids.append(der_implicit(2, b"\x00" + subject_uid))
        return [*children[:at], *ids, *children[at:]]

    return edit


LONG_SERIAL = int.from_bytes(b"\x7f" + bytes(range(1, 20)), "big")
"""A positive serial whose DER INTEGER content is exactly 20 bytes."""


def many_extensions_cert(
    ca: CA,
    san_count: int = 50,
    custom_count: int = 10,
    key_type: KeyType | str = "ec-p256",
) -> Cert:
    """A leaf with ``san_count`` SAN entries and ``custom_count`` private extensions."""
    names = ["localhost", "127.0.0.1"]
    names += [f"host{i}.many.test" for i in range(san_count - len(names))]
    custom = [
        (
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier(f"1.3.6.1.4.1.55555.1.{i}"),
                der_octets(bytes([i]) * (i + 1)),
            ),
            False,
        )
        for i in range(custom_count)
    ]
    return ca.issue(*names, key_type=key_type, extensions=custom)


# --- CSRs -----------------------------------------------------------------------


def make_csr(key: Key, *hostnames: str, common_name: str = "csr.test") -> bytes:
    """A PKCS#10 CSR (DER) for ``key``; RSA-PSS CSRs come from ``openssl req``."""
    names = hostnames or DEFAULT_HOSTNAMES
    if key.key_type == "rsa-pss":
        san = ",".join(
            ("IP:" if isinstance(_general_name(n), x509.IPAddress) else "DNS:") + n
            for n in names
        )
        with tempfile.TemporaryDirectory(prefix="pinssl-csr-") as tmp:
            key_path = Path(tmp) / "k.pem"
            key_path.write_bytes(key.private_pem)
            return run_openssl(
                "req",
                "-new",
                "-key",
                str(key_path),
                "-subj",
                f"/O=pinssl tests/CN={common_name}",
                "-addext",
                f"subjectAltName={san}",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-outform",
                "DER",
            )
    san_ext = x509.SubjectAlternativeName([_general_name(n) for n in names])
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(common_name))
        .add_extension(san_ext, critical=False)
    )
    csr = builder.sign(key.signer(), _hash_for(key))
    return csr.public_bytes(serialization.Encoding.DER)


# --- oracles --------------------------------------------------------------------


def pin_from_digest(digest: bytes) -> str:
    """``sha256/`` + base64 of a 32-byte digest."""
    return "sha256/" + base64.b64encode(digest).decode()


def _spki_of(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _openssl_pubkey_der(der: bytes, kind: str) -> bytes:
    """SPKI DER as the openssl CLI re-encodes it: cert, csr or key."""
    if kind == "cert":
        pem = run_openssl("x509", "-inform", "DER", "-pubkey", "-noout", data=der)
    elif kind == "csr":
        pem = run_openssl("req", "-inform", "DER", "-pubkey", "-noout", data=der)
    elif kind == "key":
        pem = der_to_pem(der, "PUBLIC KEY")
    else:
        raise ValueError(kind)
    return run_openssl("pkey", "-pubin", "-outform", "DER", data=pem)


def openssl_spki_sha256(der: bytes, kind: str = "cert") -> bytes:
    """sha256 of the SPKI via ``openssl x509 -pubkey | openssl pkey -pubin``."""
    return hashlib.sha256(_openssl_pubkey_der(der, kind)).digest()


def _oracle(der: bytes, kind: str, loader: Callable[[bytes], Any], raw: bytes) -> bytes:
    """SPKI DER via cryptography, else openssl; must equal the raw SPKI bytes."""
    try:
        via_cryptography = _spki_of(loader(der))
    except (ValueError, TypeError, NotImplementedError):
        via_cryptography = b""
    if via_cryptography == raw:
        return via_cryptography
    via_openssl = _openssl_pubkey_der(der, kind)
    if via_openssl != raw:
        raise AssertionError(
            f"SPKI oracles disagree for this {kind}: "
            f"raw={raw.hex()} openssl={via_openssl.hex()}"
        )
    return via_openssl


def spki_der_oracle(der: bytes) -> bytes:
    """A certificate's SPKI DER per cryptography, or openssl when it cannot."""
    return _oracle(
        der,
        "cert",
        lambda d: x509.load_der_x509_certificate(d).public_key(),
        raw_spki(der),
    )


def spki_sha256_oracle(der: bytes) -> bytes:
    """sha256 of a certificate's DER SubjectPublicKeyInfo (independent of pinssl)."""
    return hashlib.sha256(spki_der_oracle(der)).digest()


def csr_spki_sha256_oracle(der: bytes) -> bytes:
    """sha256 of a PKCS#10 CSR's SubjectPublicKeyInfo."""
    spki = _oracle(
        der,
        "csr",
        lambda d: x509.load_der_x509_csr(d).public_key(),
        raw_csr_spki(der),
    )
    return hashlib.sha256(spki).digest()


def key_spki_sha256_oracle(data: bytes) -> bytes:
    """sha256 of a bare public key given as PEM ``PUBLIC KEY`` or SPKI DER."""
    der = pem_to_der(data) if data.lstrip().startswith(b"-----") else data
    spki = _oracle(der, "key", serialization.load_der_public_key, der)
    return hashlib.sha256(spki).digest()


def pin_of(der: bytes) -> str:
    """``sha256/<base64>`` pin of a certificate DER, from the oracle."""
    return pin_from_digest(spki_sha256_oracle(der))


# --- scratch space ----------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def scratch_dir() -> Path:
    """A per-process temp dir for written files, removed at exit."""
    path = Path(tempfile.mkdtemp(prefix="pinssl-certs-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def write_cafile(cas: Iterable[CA | Cert], path: Path | str | None = None) -> Path:
    """Write a CA bundle PEM (for ``cafile=``) and return its path."""
    blobs = [c.cert.pem if isinstance(c, CA) else c.pem for c in cas]
    target = Path(path or scratch_dir() / f"cafile-{next(_serials)}.pem")
    target.write_bytes(b"".join(blobs))
    return target


__all__ = [
    "CA",
    "DEFAULT_HOSTNAMES",
    "KEY_TYPES",
    "LONG_SERIAL",
    "Cert",
    "CertFiles",
    "Key",
    "KeyType",
    "cached_key",
    "csr_spki_sha256_oracle",
    "der_bitstring",
    "der_children",
    "der_content",
    "der_explicit",
    "der_header",
    "der_implicit",
    "der_int",
    "der_len",
    "der_null",
    "der_octets",
    "der_oid",
    "der_seq",
    "der_split",
    "der_tlv",
    "der_to_pem",
    "key_from_private",
    "key_spki_sha256_oracle",
    "make_csr",
    "many_extensions_cert",
    "new_key",
    "openssl_spki_sha256",
    "pem_to_der",
    "pin_from_digest",
    "pin_of",
    "raw_csr_spki",
    "raw_spki",
    "resign_certificate",
    "run_openssl",
    "scratch_dir",
    "sign_bytes",
    "spki_der_oracle",
    "spki_sha256_oracle",
    "write_cafile",
]
