"""The display-only X.509 reader, checked against ``cryptography`` as an oracle."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinssl import MalformedDERError
from pinssl._x509 import (
    MAX_INPUT,
    MAX_LENGTH_OCTETS,
    MAX_NAME_ATTRIBUTES,
    MAX_OID_OCTETS,
    SHORT_NAMES,
    certificate_info,
    first_element_end,
    request_subject,
)

UTC = datetime.timezone.utc
KEY = ec.generate_private_key(ec.SECP256R1())
OVERRIDES = {ObjectIdentifier(dotted): short for dotted, short in SHORT_NAMES.items()}
DER = serialization.Encoding.DER


# --- helpers -----------------------------------------------------------------------


def attribute(
    oid: ObjectIdentifier, value: str, kind: _ASN1Type | None = None
) -> x509.NameAttribute:
    """A name attribute, with an explicit string type when ``kind`` is given."""
    if kind is None:
        return x509.NameAttribute(oid, value)
    return x509.NameAttribute(oid, value, _type=kind)


def make_name(*rdns: Sequence[x509.NameAttribute]) -> x509.Name:
    """A Name from RDNs given as attribute lists (several make a multi-valued RDN)."""
    return x509.Name([x509.RelativeDistinguishedName(list(rdn)) for rdn in rdns])


def mint(
    subject: x509.Name,
    issuer: x509.Name | None = None,
    not_before: datetime.datetime = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
    not_after: datetime.datetime = datetime.datetime(2034, 1, 2, 3, 4, 5, tzinfo=UTC),
    serial: int = 0x1234,
) -> x509.Certificate:
    """A certificate signed by the module's key, parsed back by cryptography."""
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(KEY.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(KEY, hashes.SHA256())
    )
    return x509.load_der_x509_certificate(certificate.public_bytes(DER))


def oracle_name(name: x509.Name) -> str:
    """cryptography's RFC 4514 text with our short names, joined by ', '."""
    return ", ".join(rdn.rfc4514_string(OVERRIDES) for rdn in reversed(name.rdns))


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element (short or long length form)."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def seq(*items: bytes) -> bytes:
    """A DER SEQUENCE of encoded items."""
    return tlv(0x30, b"".join(items))


CN_OID = bytes.fromhex("0603550403")
ALGORITHM = seq(bytes.fromhex("06082a8648ce3d040302"))
SPKI = KEY.public_key().public_bytes(
    DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
UTC_VALIDITY = seq(tlv(0x17, b"240506070809Z"), tlv(0x17, b"340102030405Z"))


def crafted_name(value: bytes, tag: int = 0x0C, oid: bytes = CN_OID) -> bytes:
    """A Name with one attribute whose value is ``value`` under ``tag``."""
    return seq(tlv(0x31, seq(oid, tlv(tag, value))))


def crafted(
    subject: bytes | None = None,
    validity: bytes = UTC_VALIDITY,
    serial: bytes = bytes.fromhex("020101"),
) -> bytes:
    """A hand-encoded certificate (never verified, so unsigned is fine)."""
    name = crafted_name(b"crafted") if subject is None else subject
    tbs = seq(
        tlv(0xA0, bytes.fromhex("020102")),
        serial,
        ALGORITHM,
        name,
        validity,
        name,
        SPKI,
    )
    return seq(tbs, ALGORITHM, tlv(0x03, b"\x00\x01"))


SIMPLE = mint(
    make_name(
        [attribute(NameOID.COUNTRY_NAME, "DE")],
        [attribute(NameOID.ORGANIZATION_NAME, "Example GmbH")],
        [attribute(NameOID.COMMON_NAME, "www.example.test")],
    ),
    issuer=make_name(
        [attribute(NameOID.ORGANIZATION_NAME, "Example CA")],
        [attribute(NameOID.COMMON_NAME, "Example Issuing CA 1")],
    ),
)
SIMPLE_DER = SIMPLE.public_bytes(DER)


# --- agreement with cryptography ----------------------------------------------------

NAMES = {
    "simple": make_name([attribute(NameOID.COMMON_NAME, "host.example")]),
    "empty": x509.Name([]),
    "specials": make_name(
        [attribute(NameOID.ORGANIZATION_NAME, 'A, B + C; "D" <E> \\F')],
        [attribute(NameOID.COMMON_NAME, "#leading and trailing ")],
    ),
    "multi-valued rdn": make_name(
        [
            attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Ops"),
            attribute(NameOID.USER_ID, "u123"),
        ],
        [attribute(NameOID.COMMON_NAME, "multi")],
    ),
    "string types": make_name(
        [attribute(NameOID.COUNTRY_NAME, "JP", _ASN1Type.PrintableString)],
        [attribute(NameOID.LOCALITY_NAME, "Tōkyō", _ASN1Type.BMPString)],
        [
            attribute(
                NameOID.STATE_OR_PROVINCE_NAME, "Ünïcode 😀", _ASN1Type.UniversalString
            )
        ],
        [attribute(NameOID.ORGANIZATION_NAME, "Teletex Org", _ASN1Type.T61String)],
        [attribute(NameOID.EMAIL_ADDRESS, "ca@example.test", _ASN1Type.IA5String)],
        [attribute(NameOID.SERIAL_NUMBER, "0042", _ASN1Type.NumericString)],
        [attribute(NameOID.COMMON_NAME, "visible", _ASN1Type.VisibleString)],
    ),
    "every short name": make_name(
        *[
            [attribute(ObjectIdentifier(dotted), "x1" if short != "C" else "XY")]
            for dotted, short in SHORT_NAMES.items()
            if short not in ("jurisdictionC",)
        ]
    ),
    "unknown oid": make_name([attribute(ObjectIdentifier("1.3.6.1.4.1.55555.1"), "v")]),
    "domain components": make_name(
        [attribute(NameOID.DOMAIN_COMPONENT, "test")],
        [attribute(NameOID.DOMAIN_COMPONENT, "example")],
        [attribute(NameOID.COMMON_NAME, "dc")],
    ),
}


class TestAgainstCryptography:
    """Fields agree with what cryptography reads from the same DER."""

    @pytest.mark.parametrize("label", sorted(NAMES))
    def test_names(self, label: str) -> None:
        """Subject and issuer match cryptography's RFC 4514 rendering."""
        issuer = NAMES["simple"] if label != "simple" else NAMES["specials"]
        certificate = mint(NAMES[label], issuer)

        info = certificate_info(certificate.public_bytes(DER))

        assert info.subject == oracle_name(certificate.subject)
        assert info.issuer == oracle_name(certificate.issuer)

    def test_simple_certificate_text(self) -> None:
        """The most specific part comes first, joined by a comma and a space."""
        info = certificate_info(SIMPLE_DER)

        assert info.subject == "CN=www.example.test, O=Example GmbH, C=DE"
        assert info.issuer == "CN=Example Issuing CA 1, O=Example CA"

    @pytest.mark.parametrize(
        ("not_before", "not_after"),
        [
            ((2024, 5, 6, 7, 8, 9), (2034, 1, 2, 3, 4, 5)),
            ((1950, 1, 1, 0, 0, 0), (2049, 12, 31, 23, 59, 59)),
            ((1950, 1, 1, 0, 0, 1), (2050, 1, 1, 0, 0, 0)),
            ((2000, 2, 29, 12, 0, 0), (9999, 12, 31, 23, 59, 59)),
        ],
    )
    def test_validity(
        self, not_before: tuple[int, ...], not_after: tuple[int, ...]
    ) -> None:
        """UTCTime and GeneralizedTime give the same aware UTC times as cryptography."""
        certificate = mint(
            NAMES["simple"],
            not_before=datetime.datetime(*not_before, tzinfo=UTC),
            not_after=datetime.datetime(*not_after, tzinfo=UTC),
        )

        info = certificate_info(certificate.public_bytes(DER))

        assert info.not_before == certificate.not_valid_before_utc
        assert info.not_after == certificate.not_valid_after_utc
        assert info.not_after.tzinfo is not None

    @pytest.mark.parametrize("serial", [1, 0x7F, 0x80, 0xFF00, (1 << 159) - 1])
    def test_serial(self, serial: int) -> None:
        """Serial numbers of every size up to 20 octets match."""
        certificate = mint(NAMES["simple"], serial=serial)

        assert certificate_info(certificate.public_bytes(DER)).serial == serial

    def test_csr_subject(self) -> None:
        """A certificate request's subject matches cryptography's."""
        subject = NAMES["string types"]
        request = x509.CertificateSigningRequestBuilder().subject_name(subject)
        signed = request.sign(KEY, hashes.SHA256())

        assert request_subject(signed.public_bytes(DER)) == oracle_name(signed.subject)

    def test_trusted_certificate_end(self) -> None:
        """first_element_end finds where a certificate stops before trailing data."""
        assert first_element_end(SIMPLE_DER + b"\x30\x00") == len(SIMPLE_DER)


class TestDecoding:
    """String decoding and escaping of hand-made names."""

    def test_control_characters_are_escaped(self) -> None:
        """Control and format characters become hex escapes, never raw output."""
        der = crafted(crafted_name("a\x1b[31mb\u202ec\x00".encode()))

        subject = certificate_info(der).subject

        assert subject == "CN=a\\1b[31mb\\e2\\80\\aec\\00"
        assert subject.isprintable()

    def test_teletex_is_latin_1(self) -> None:
        """TeletexString bytes above 0x7f decode as Latin-1."""
        der = crafted(crafted_name(b"caf\xe9", tag=0x14))

        assert certificate_info(der).subject == "CN=café"

    def test_non_string_value_is_hex(self) -> None:
        """A value that is no string type is shown as # and its DER in hex."""
        der = crafted(crafted_name(b"\x01\x02", tag=0x04))

        assert certificate_info(der).subject == "CN=#04020102"

    def test_generalized_time_any_year(self) -> None:
        """A GeneralizedTime is read whatever year it holds, 1949 included."""
        validity = seq(tlv(0x18, b"19491231235959Z"), tlv(0x18, b"21250101000000Z"))

        info = certificate_info(crafted(validity=validity))

        assert info.not_before == datetime.datetime(
            1949, 12, 31, 23, 59, 59, tzinfo=UTC
        )
        assert info.not_after == datetime.datetime(2125, 1, 1, tzinfo=UTC)

    def test_negative_serial(self) -> None:
        """A negative serial (seen in the wild) is read, not refused."""
        info = certificate_info(crafted(serial=bytes.fromhex("0201ff")))

        assert info.serial == -1


# --- malformed input ----------------------------------------------------------------

MALFORMED = {
    "empty": b"",
    "not a sequence": b"\x04\x00",
    "trailing data": SIMPLE_DER + b"\x00",
    "indefinite length": b"\x30\x80" + SIMPLE_DER[4:] + b"\x00\x00",
    "length too long": b"\x30\x84\x00\x00\x01\x00" + b"\x00" * 256,
    "non-minimal length": b"\x30\x81\x05" + b"\x00" * 5,
    "high tag number": crafted(crafted_name(b"x", tag=0x1F)),
    "bad utf-8": crafted(crafted_name(b"\xff\xfe")),
    "odd bmp string": crafted(crafted_name(b"\x00a\x00", tag=0x1E)),
    "lone surrogate in bmp string": crafted(crafted_name(b"\xd8\x00", tag=0x1E)),
    "universal string out of range": crafted(
        crafted_name(b"\x00\x11\x00\x00", tag=0x1C)
    ),
    "non-ascii printable string": crafted(crafted_name(b"caf\xe9", tag=0x13)),
    "empty rdn": crafted(seq(tlv(0x31, b""))),
    "empty oid": crafted(seq(tlv(0x31, seq(tlv(0x06, b""), tlv(0x0C, b"x"))))),
    "oid arc with leading zero": crafted(
        crafted_name(b"x", oid=tlv(0x06, b"\x55\x80\x03"))
    ),
    "oid ends inside an arc": crafted(crafted_name(b"x", oid=tlv(0x06, b"\x55\x84"))),
    "oid over the limit": crafted(
        crafted_name(b"x", oid=tlv(0x06, b"\x2a" * (MAX_OID_OCTETS + 1)))
    ),
    "too many attributes": crafted(
        seq(
            *[
                tlv(0x31, seq(CN_OID, tlv(0x0C, b"x")))
                for _ in range(MAX_NAME_ATTRIBUTES + 1)
            ]
        )
    ),
    "utc time without seconds": crafted(
        validity=seq(tlv(0x17, b"2405060708Z"), tlv(0x17, b"340102030405Z"))
    ),
    "utc time with offset": crafted(
        validity=seq(tlv(0x17, b"240506070809+0100"), tlv(0x17, b"340102030405Z"))
    ),
    "time with letters": crafted(
        validity=seq(tlv(0x17, b"24O506070809Z"), tlv(0x17, b"340102030405Z"))
    ),
    "time with a non-ascii octet": crafted(
        validity=seq(tlv(0x17, b"24050607080\xb9Z"), tlv(0x17, b"340102030405Z"))
    ),
    "february 30": crafted(
        validity=seq(tlv(0x17, b"240230070809Z"), tlv(0x17, b"340102030405Z"))
    ),
    "fractional seconds": crafted(
        validity=seq(tlv(0x18, b"20240506070809.5Z"), tlv(0x17, b"340102030405Z"))
    ),
    "validity of three times": crafted(
        validity=seq(*[tlv(0x17, b"240506070809Z")] * 3)
    ),
    "time of wrong type": crafted(
        validity=seq(tlv(0x13, b"240506070809Z"), tlv(0x17, b"340102030405Z"))
    ),
    "empty serial": crafted(serial=b"\x02\x00"),
    "non-minimal serial": crafted(serial=bytes.fromhex("02020001")),
    "serial over the limit": crafted(serial=tlv(0x02, b"\x01" * 65)),
    "missing signature": SIMPLE_DER[: 4 + len(SIMPLE.tbs_certificate_bytes)],
}


class TestMalformed:
    """Malformed input raises MalformedDERError with an offset, nothing else."""

    @pytest.mark.parametrize("label", sorted(MALFORMED))
    def test_certificate(self, label: str) -> None:
        """Each malformation is refused with an offset inside the input."""
        der = MALFORMED[label]

        with pytest.raises(MalformedDERError) as caught:
            certificate_info(der)

        assert isinstance(caught.value, ValueError)
        assert 0 <= caught.value.offset <= len(der)
        assert str(caught.value).startswith(
            f"malformed DER at offset {caught.value.offset}"
        )

    def test_every_truncation(self) -> None:
        """Every proper prefix of a certificate is refused."""
        for size in range(len(SIMPLE_DER)):
            with pytest.raises(MalformedDERError):
                certificate_info(SIMPLE_DER[:size])

    def test_every_csr_truncation(self) -> None:
        """Every proper prefix of a certificate request is refused."""
        request = x509.CertificateSigningRequestBuilder().subject_name(NAMES["simple"])
        der = request.sign(KEY, hashes.SHA256()).public_bytes(DER)

        for size in range(len(der)):
            with pytest.raises(MalformedDERError):
                request_subject(der[:size])

    def test_certificate_is_not_a_request(self) -> None:
        """A certificate given as a request is refused, not misread."""
        with pytest.raises(MalformedDERError):
            request_subject(SIMPLE_DER)

    def test_input_over_the_limit(self) -> None:
        """Input over MAX_INPUT is refused before parsing, naming the limit."""
        with pytest.raises(MalformedDERError, match=str(MAX_INPUT)):
            certificate_info(b"\x30" + b"\x00" * MAX_INPUT)

    def test_length_octets_limit_is_named(self) -> None:
        """A length of too many octets names the limit."""
        with pytest.raises(MalformedDERError, match=f"limit is {MAX_LENGTH_OCTETS}"):
            certificate_info(MALFORMED["length too long"])

    def test_trusted_certificate_end_needs_a_sequence(self) -> None:
        """first_element_end refuses input that does not start with a SEQUENCE."""
        with pytest.raises(MalformedDERError):
            first_element_end(b"\x02\x01\x00")


# --- properties ---------------------------------------------------------------------


def _read_all(der: bytes) -> None:
    """Run every reader; only MalformedDERError may escape, output is printable."""
    for reader in (certificate_info, request_subject, first_element_end):
        try:
            result = reader(der)
        except MalformedDERError as error:
            assert 0 <= error.offset <= len(der)
            continue
        if reader is certificate_info:
            assert result.subject.isprintable()
            assert result.issuer.isprintable()
        if reader is request_subject:
            assert result.isprintable()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real or hand-made certificate with a few random edits."""
    data = bytearray(
        draw(st.sampled_from([SIMPLE_DER, MALFORMED["too many attributes"], crafted()]))
    )
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            data[where] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[where:]
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=4))
        elif data:
            del data[where]
    return bytes(data)


class TestProperties:
    """Random and mutated input never crashes the reader."""

    @settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
    @given(st.binary(max_size=512))
    def test_random_bytes(self, data: bytes) -> None:
        """Random bytes give a result or MalformedDERError."""
        _read_all(data)

    @settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
    @given(st.binary(max_size=300))
    def test_random_sequences(self, body: bytes) -> None:
        """Random content inside a well-formed outer SEQUENCE goes deeper, safely."""
        _read_all(seq(body))

    @settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
    @given(mutated())
    def test_mutated_certificates(self, data: bytes) -> None:
        """Mutated certificates give a result or MalformedDERError."""
        _read_all(data)

    @settings(max_examples=200)
    @given(st.text(max_size=40))
    def test_any_utf8_value_is_printable(self, value: str) -> None:
        """Any UTF8String value reads back as printable text."""
        der = crafted(crafted_name(value.encode("utf-8", "surrogatepass")))

        try:
            subject = certificate_info(der).subject
        except MalformedDERError:
            assert any(0xD800 <= ord(char) <= 0xDFFF for char in value)
            return
        assert subject.isprintable()
