"""A small, strict DER reader for showing certificates to people.

It reads what the command line prints next to a pin: the subject and issuer
of a certificate as RFC 4514-style text (most specific first, ``CN=…, O=…``),
its validity and serial number, and the subject of a certificate request.
Nothing here decides trust; the pins come from the SPKI parser.

The input is untrusted. Every size is bounded by a named limit, and any
malformation raises :class:`pinssl.MalformedDERError` with the offset where
reading stopped. Strings are decoded strictly and printed with control and
other unprintable characters escaped, so a hostile name cannot drive a
terminal.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from pinssl._errors import MalformedDERError

MAX_INPUT = 1048576
MAX_LENGTH_OCTETS = 3
MAX_NAME_ATTRIBUTES = 64
MAX_OID_OCTETS = 64
MAX_SERIAL_OCTETS = 64
MAX_VALUE_OCTETS = 4096

_INTEGER = 0x02
_BIT_STRING = 0x03
_OID = 0x06
_SEQUENCE = 0x30
_SET = 0x31
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18
_CONTEXT_0 = 0xA0

SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.4": "SN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "STREET",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.12": "title",
    "2.5.4.15": "businessCategory",
    "2.5.4.17": "postalCode",
    "2.5.4.42": "GN",
    "2.5.4.97": "organizationIdentifier",
    "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "emailAddress",
    "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL",
    "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
    "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
}

_ASCII_STRINGS = {
    0x12: "NumericString",
    0x13: "PrintableString",
    0x16: "IA5String",
    0x1A: "VisibleString",
}
_UTF8_STRING = 0x0C
_TELETEX_STRING = 0x14
_UNIVERSAL_STRING = 0x1C
_BMP_STRING = 0x1E
_RFC4514_SPECIAL = frozenset('\\"+,;<>')


@dataclass(frozen=True)
class CertificateInfo:
    """What a certificate says about itself, for display."""

    subject: str
    issuer: str
    serial: int
    not_before: datetime.datetime
    not_after: datetime.datetime


def _element(der: bytes, pos: int, limit: int, tag: int | None) -> tuple[int, int]:
    """Read the element at ``pos`` inside ``limit``: (content start, end).

    ``tag`` None accepts any single-octet tag.
    """
    if pos >= limit:
        raise MalformedDERError("input ends before an expected element", pos)

    found = der[pos]
    if tag is None and found & 0x1F == 0x1F:
        raise MalformedDERError("multi-octet tags are not supported", pos)
    if tag is not None and found != tag:
        raise MalformedDERError(f"expected tag 0x{tag:02x}, found 0x{found:02x}", pos)
    if limit - pos < 2:
        raise MalformedDERError("input ends inside an element", pos + 1)

    first = der[pos + 1]
    if first < 0x80:
        return pos + 2, pos + 2 + _check_fits(first, pos + 2, limit, pos)
    if first == 0x80:
        raise MalformedDERError("indefinite length (BER, not DER)", pos + 1)

    count = first & 0x7F
    if count > MAX_LENGTH_OCTETS:
        raise MalformedDERError(
            f"length uses {count} octets; the limit is {MAX_LENGTH_OCTETS}", pos + 1
        )
    content = pos + 2 + count
    if content > limit:
        raise MalformedDERError("input ends inside a length", limit)

    value = int.from_bytes(der[pos + 2 : content], "big")
    if value < 0x80 or der[pos + 2] == 0:
        raise MalformedDERError("length is not minimally encoded", pos + 1)
    return content, content + _check_fits(value, content, limit, pos)


def _check_fits(length: int, content: int, limit: int, pos: int) -> int:
    if length > limit - content:
        raise MalformedDERError(
            "length runs past the end of the enclosing element", pos + 1
        )
    return length


def _expect_end(pos: int, end: int) -> None:
    if pos != end:
        raise MalformedDERError("unexpected data after the last element", pos)


def _check_input(der: bytes) -> None:
    if not isinstance(der, bytes):
        raise TypeError(f"expected DER bytes, not {type(der).__name__}")
    if len(der) > MAX_INPUT:
        raise MalformedDERError(
            f"input of {len(der)} bytes exceeds the limit of {MAX_INPUT}", 0
        )


def _integer(der: bytes, pos: int, limit: int) -> tuple[int, int]:
    """Read a minimal INTEGER: (value, end)."""
    content, end = _element(der, pos, limit, _INTEGER)
    size = end - content
    if size == 0:
        raise MalformedDERError("INTEGER is empty", pos)
    if size > MAX_SERIAL_OCTETS:
        raise MalformedDERError(
            f"INTEGER of {size} octets exceeds the limit of {MAX_SERIAL_OCTETS}", pos
        )

    if size > 1:
        first, following = der[content], der[content + 1]
        if (first == 0x00 and following < 0x80) or (
            first == 0xFF and following >= 0x80
        ):
            raise MalformedDERError("INTEGER is not minimally encoded", pos)
    return int.from_bytes(der[content:end], "big", signed=True), end


def _oid(der: bytes, pos: int, limit: int) -> tuple[str, int]:
    """Read an OBJECT IDENTIFIER: (dotted text, end)."""
    content, end = _element(der, pos, limit, _OID)
    if end == content:
        raise MalformedDERError("OBJECT IDENTIFIER is empty", pos)
    if end - content > MAX_OID_OCTETS:
        raise MalformedDERError(
            f"OBJECT IDENTIFIER exceeds the limit of {MAX_OID_OCTETS} octets", pos
        )
    if der[end - 1] & 0x80:
        raise MalformedDERError("OBJECT IDENTIFIER ends inside an arc", end - 1)

    arcs: list[int] = []
    value = 0
    starting = True
    for index in range(content, end):
        octet = der[index]
        if starting and octet == 0x80:
            raise MalformedDERError("OBJECT IDENTIFIER arc has a leading zero", index)
        value = value << 7 | (octet & 0x7F)
        starting = not octet & 0x80
        if starting:
            arcs.append(value)
            value = 0

    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]]), end


def _escape(text: str) -> str:
    """RFC 4514 escaping, plus hex escapes for anything unprintable."""
    out = []
    for char in text:
        if char in _RFC4514_SPECIAL:
            out.append("\\" + char)
        elif not char.isprintable():
            out.append("".join(f"\\{octet:02x}" for octet in char.encode("utf-8")))
        else:
            out.append(char)

    if out and out[0] in ("#", " "):
        out[0] = "\\" + out[0]
    if len(out) > 1 and out[-1] == " ":
        out[-1] = "\\ "
    return "".join(out)


def _decode(raw: bytes, tag: int, pos: int) -> str | None:
    """The text of a string value, or None when ``tag`` is no string type."""
    try:
        if tag == _UTF8_STRING:
            return raw.decode("utf-8")
        if tag in _ASCII_STRINGS:
            return raw.decode("ascii")
        if tag == _TELETEX_STRING:
            return raw.decode("latin-1")
        if tag == _BMP_STRING:
            return raw.decode("utf-16-be")
        if tag == _UNIVERSAL_STRING:
            return raw.decode("utf-32-be")
    except UnicodeDecodeError as error:
        raise MalformedDERError(
            f"string of tag 0x{tag:02x} cannot be decoded ({error.reason})",
            pos + error.start,
        ) from None
    return None


def _attribute(der: bytes, pos: int, limit: int) -> tuple[str, int]:
    """Read one AttributeTypeAndValue: (``type=value``, end)."""
    content, end = _element(der, pos, limit, _SEQUENCE)
    oid, value_pos = _oid(der, content, end)
    value_content, value_end = _element(der, value_pos, end, None)
    _expect_end(value_end, end)
    if value_end - value_content > MAX_VALUE_OCTETS:
        raise MalformedDERError(
            f"attribute value exceeds the limit of {MAX_VALUE_OCTETS} octets",
            value_pos,
        )

    tag = der[value_pos]
    text = _decode(der[value_content:value_end], tag, value_content)
    if text is None:
        shown = "#" + der[value_pos:value_end].hex()
    else:
        shown = _escape(text)
    return f"{SHORT_NAMES.get(oid, oid)}={shown}", end


def _name(der: bytes, pos: int, limit: int) -> tuple[str, int]:
    """Read a Name: (RFC 4514-style text, end), most specific part first."""
    content, end = _element(der, pos, limit, _SEQUENCE)
    parts: list[str] = []
    count = 0
    while content < end:
        set_content, set_end = _element(der, content, end, _SET)
        if set_content == set_end:
            raise MalformedDERError("relative distinguished name is empty", content)

        members = []
        while set_content < set_end:
            count += 1
            if count > MAX_NAME_ATTRIBUTES:
                raise MalformedDERError(
                    f"name has more than {MAX_NAME_ATTRIBUTES} attributes", set_content
                )
            member, set_content = _attribute(der, set_content, set_end)
            members.append(member)
        parts.append("+".join(members))
        content = set_end

    return ", ".join(reversed(parts)), end


def _digits(der: bytes, start: int, count: int) -> int:
    raw = der[start : start + count]
    if any(octet < 0x30 or octet > 0x39 for octet in raw):
        raise MalformedDERError("time holds a character that is not a digit", start)
    return int(raw)


def _time(der: bytes, pos: int, limit: int) -> tuple[datetime.datetime, int]:
    """Read a UTCTime or GeneralizedTime in RFC 5280's form: (UTC time, end)."""
    if pos >= limit:
        raise MalformedDERError("input ends before an expected time", pos)

    tag = der[pos]
    if tag not in (_UTC_TIME, _GENERALIZED_TIME):
        raise MalformedDERError(
            f"expected a UTCTime or GeneralizedTime, found tag 0x{tag:02x}", pos
        )
    content, end = _element(der, pos, limit, tag)
    year_digits = 2 if tag == _UTC_TIME else 4
    if end - content != year_digits + 11 or der[end - 1] != ord("Z"):
        raise MalformedDERError(
            f"time must be {year_digits + 10} digits and Z (RFC 5280)", content
        )

    year = _digits(der, content, year_digits)
    if tag == _UTC_TIME:
        year += 1900 if year >= 50 else 2000
    month, day, hour, minute, second = (
        _digits(der, content + year_digits + 2 * index, 2) for index in range(5)
    )
    try:
        moment = datetime.datetime(
            year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc
        )
    except ValueError:
        raise MalformedDERError("time is not a valid calendar time", content) from None
    return moment, end


def _signed_body(der: bytes) -> tuple[int, int]:
    """Check the signed-object frame; return the span of its body's content."""
    _check_input(der)
    outer_content, outer_end = _element(der, 0, len(der), _SEQUENCE)
    _expect_end(outer_end, len(der))

    body_content, body_end = _element(der, outer_content, outer_end, _SEQUENCE)
    algorithm_end = _element(der, body_end, outer_end, _SEQUENCE)[1]
    signature_end = _element(der, algorithm_end, outer_end, _BIT_STRING)[1]
    _expect_end(signature_end, outer_end)
    return body_content, body_end


def certificate_info(der: bytes) -> CertificateInfo:
    """Subject, issuer, serial number and validity of a DER certificate.

    Raises :class:`pinssl.MalformedDERError` (a ``ValueError``) when ``der``
    is not a strict DER X.509 certificate or exceeds a limit.
    """
    pos, tbs_end = _signed_body(der)
    if pos < tbs_end and der[pos] == _CONTEXT_0:
        pos = _element(der, pos, tbs_end, _CONTEXT_0)[1]
    serial, pos = _integer(der, pos, tbs_end)
    pos = _element(der, pos, tbs_end, _SEQUENCE)[1]
    issuer, pos = _name(der, pos, tbs_end)

    validity_content, validity_end = _element(der, pos, tbs_end, _SEQUENCE)
    not_before, time_end = _time(der, validity_content, validity_end)
    not_after, time_end = _time(der, time_end, validity_end)
    _expect_end(time_end, validity_end)

    subject, pos = _name(der, validity_end, tbs_end)
    pos = _element(der, pos, tbs_end, _SEQUENCE)[1]
    while pos < tbs_end:
        pos = _element(der, pos, tbs_end, None)[1]
    return CertificateInfo(subject, issuer, serial, not_before, not_after)


def request_subject(der: bytes) -> str:
    """The subject of a DER PKCS#10 certificate request, RFC 4514-style.

    Raises :class:`pinssl.MalformedDERError` as :func:`certificate_info` does.
    """
    pos, info_end = _signed_body(der)
    pos = _integer(der, pos, info_end)[1]
    subject, pos = _name(der, pos, info_end)
    pos = _element(der, pos, info_end, _SEQUENCE)[1]
    attributes_end = _element(der, pos, info_end, _CONTEXT_0)[1]
    _expect_end(attributes_end, info_end)
    return subject


def first_element_end(der: bytes) -> int:
    """The end of the DER element that starts ``der``.

    OpenSSL's ``TRUSTED CERTIFICATE`` blocks append trust settings after the
    certificate; this finds where the certificate stops. Raises
    :class:`pinssl.MalformedDERError` when no whole element starts ``der``.
    """
    _check_input(der)
    return _element(der, 0, len(der), _SEQUENCE)[1]
