"""The C parser and its pure-Python twin agree on every input, and both agree
with ``cryptography`` on where the public key is.

Inputs are random bytes, mutations of real DER (the committed fuzz corpus and
certificates minted here) and generated, nearly valid DER trees. The two parsers
must return the identical integer for every kind: the same span, or the same
error code at the same offset. Where a certificate, CSR or public key is accepted
and ``cryptography`` loads it too, the span must be the SPKI that ``cryptography``
writes for that key.

Quick by default (a few hundred examples per test). ``PINSSL_FUZZ_LONG=1`` runs
more than 100,000 cases in all; ``--hypothesis-show-statistics`` counts them.
"""

from __future__ import annotations

import datetime
import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import (
    dsa,
    ec,
    ed448,
    ed25519,
    rsa,
    x448,
    x25519,
)
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from pinssl import _der

try:
    from pinssl._spki_c import lib as c_lib
except ImportError:
    c_lib = None

requires_c = pytest.mark.skipif(
    c_lib is None,
    reason="the C extension pinssl._spki_c is not built (a pure-Python install), "
    "so there is no C parser to compare with",
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "csrc" / "fuzz" / "corpus"
HEADER = ROOT / "csrc" / "pinssl_spki.h"

LONG = os.environ.get("PINSSL_FUZZ_LONG") == "1"
KINDS = (
    _der.KIND_ANY,
    _der.KIND_CERTIFICATE,
    _der.KIND_PUBLIC_KEY,
    _der.KIND_CSR,
)
ERROR_NAMES = {
    value: name
    for name, value in vars(_der).items()
    if name.startswith("ERR_") and isinstance(value, int)
}
SPKI_FORMAT = (
    serialization.Encoding.DER,
    serialization.PublicFormat.SubjectPublicKeyInfo,
)


def budget(quick: int, long: int) -> settings:
    """Hypothesis settings: ``quick`` examples by default, ``long`` in long mode."""
    return settings(
        max_examples=long if LONG else quick,
        deadline=datetime.timedelta(milliseconds=500),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def describe(result: int) -> str:
    """A packed ``spki_span`` result in words, for failure messages."""
    if result >= 0:
        kind = result >> _der.KIND_SHIFT
        offset = (result >> _der.SPAN_BITS) & _der.SPAN_MASK
        return f"kind {kind}, SPKI at {offset} of length {result & _der.SPAN_MASK}"

    code = -result & ((1 << _der.ERROR_SHIFT) - 1)
    offset = -result >> _der.ERROR_SHIFT
    return f"{ERROR_NAMES.get(code, code)} at {offset}"


def assert_same(der: bytes, length: int | None = None) -> None:
    """Both parsers give the identical integer for ``der[:length]``, every kind."""
    assert c_lib is not None
    length = len(der) if length is None else length
    for kind in KINDS:
        pure = _der.spki_span(der, length, kind)
        native = c_lib.pinssl_spki_span(der, length, kind)
        assert pure == native, (
            f"kind {kind}: Python says {describe(pure)}, C says {describe(native)}"
        )


# A lenient DER tree, rewritten with every enclosing length recomputed.


@dataclass
class Node:
    """One element: a tag octet and a content, or raw bytes that did not parse.

    ``form`` says how the length is written: "minimal", "long" (a redundant
    octet), "indefinite", "four" (four octets), "huge" (0x83 ff ff ff),
    "many" (0xff) or "delta" (the true length plus ``delta``).
    """

    tag: int = 0x30
    content: bytes = b""
    children: list[Node] | None = None
    raw: bytes | None = None
    form: str = "minimal"
    delta: int = 0


LENGTH_FORMS = ("long", "indefinite", "four", "huge", "many", "delta")


def encode_length(size: int, form: str = "minimal", delta: int = 0) -> bytes:
    """The length octets for ``size`` content octets, written in ``form``."""
    if form == "indefinite":
        return b"\x80"
    if form == "huge":
        return b"\x83\xff\xff\xff"
    if form == "many":
        return b"\xff"
    if form == "delta":
        size = max(0, size + delta)

    octets = size.to_bytes(max(1, (size.bit_length() + 7) // 8), "big")
    if form == "four":
        return b"\x84" + size.to_bytes(4, "big")
    if form == "long":
        padded = octets if size < 0x80 else b"\x00" + octets
        return bytes([0x80 | len(padded)]) + padded
    if size < 0x80:
        return bytes([size])
    return bytes([0x80 | len(octets)]) + octets


def encode(node: Node) -> bytes:
    """The DER (or nearly DER) bytes of ``node``."""
    if node.raw is not None:
        return node.raw

    if node.children is None:
        body = node.content
    else:
        body = b"".join(encode(child) for child in node.children)
    header = bytes([node.tag]) + encode_length(len(body), node.form, node.delta)
    trailer = b"\x00\x00" if node.form == "indefinite" else b""
    return header + body + trailer


def seq(*children: Node, tag: int = 0x30) -> Node:
    """A constructed element, a SEQUENCE unless ``tag`` says otherwise."""
    return Node(tag=tag, children=list(children))


def prim(tag: int, content: bytes) -> Node:
    """A primitive element."""
    return Node(tag=tag, content=content)


def parse(data: bytes, depth: int = 0) -> list[Node]:
    """Split ``data`` into elements; what does not parse stays a raw node."""
    nodes: list[Node] = []
    pos = 0
    while pos < len(data):
        tag = data[pos]
        if tag & 0x1F == 0x1F or len(data) - pos < 2 or data[pos + 1] == 0x80:
            nodes.append(Node(raw=data[pos:]))
            break

        header = 2
        size = data[pos + 1]
        if size >= 0x80:
            count = size & 0x7F
            if count > 4 or len(data) - pos - 2 < count:
                nodes.append(Node(raw=data[pos:]))
                break
            size = int.from_bytes(data[pos + 2 : pos + 2 + count], "big")
            header += count
        if size > len(data) - pos - header:
            nodes.append(Node(raw=data[pos:]))
            break

        content = data[pos + header : pos + header + size]
        if tag & 0x20 and depth < 24:
            nodes.append(Node(tag=tag, children=parse(content, depth + 1)))
        else:
            nodes.append(Node(tag=tag, content=content))
        pos += header + size
    return nodes


def walk(nodes: list[Node]) -> list[tuple[list[Node], int]]:
    """Every node as (the list holding it, its index), depth first."""
    found: list[tuple[list[Node], int]] = []
    for index, node in enumerate(nodes):
        found.append((nodes, index))
        if node.children is not None:
            found.extend(walk(node.children))
    return found


TAGS = bytes.fromhex("00 02 03 04 05 06 30 31 80 81 82 a0 a1 a3 1f ff")
TREE_EDITS = (
    "form delta delete duplicate swap tag insert content empty unwrap wrap".split()
)
SMALL_ELEMENTS = (
    b"\x05\x00",
    b"\x03\x00",
    b"\x03\x01\x08",
    b"\x02\x00",
    b"\x02\x01\x00",
    b"\xa0\x00",
    b"\x81\x01\x00",
    b"\x82\x00",
    b"\xa3\x00",
    b"\x06\x00",
    b"\x30\x00",
    b"\x00\x00",
)


def edit_tree(draw: st.DrawFn, nodes: list[Node]) -> None:
    """Apply one structural edit to a random element of ``nodes``, in place."""
    places = walk(nodes)
    if not places:
        nodes.append(Node(raw=draw(st.sampled_from(SMALL_ELEMENTS))))
        return

    siblings, index = draw(st.sampled_from(places))
    node = siblings[index]
    action = draw(st.sampled_from(TREE_EDITS))
    if action == "form":
        siblings[index] = replace(node, form=draw(st.sampled_from(LENGTH_FORMS)))
    elif action == "delta":
        delta = draw(st.sampled_from((-2, -1, 1, 2, 0x80, 0x100)))
        siblings[index] = replace(node, form="delta", delta=delta)
    elif action == "delete":
        del siblings[index]
    elif action == "duplicate":
        siblings.insert(index, node)
    elif action == "swap" and index + 1 < len(siblings):
        siblings[index], siblings[index + 1] = siblings[index + 1], node
    elif action == "tag" and node.raw is None:
        siblings[index] = replace(node, tag=draw(st.sampled_from(TAGS)))
    elif action == "insert":
        siblings.insert(index, Node(raw=draw(st.sampled_from(SMALL_ELEMENTS))))
    elif action == "content":
        siblings[index] = Node(tag=node.tag, content=draw(st.binary(max_size=40)))
    elif action == "empty":
        siblings[index] = Node(tag=node.tag) if node.raw is None else Node(raw=b"")
    elif action == "unwrap" and node.children is not None:
        siblings[index : index + 1] = node.children
    elif action == "wrap":
        siblings[index] = seq(node, tag=draw(st.sampled_from((0x30, 0xA0, 0xA3))))


# Mutations of real DER.


@functools.cache
def corpus() -> tuple[bytes, ...]:
    """The committed fuzz seeds (certificates, CSRs, public keys, broken ones)."""
    return tuple(path.read_bytes() for path in sorted(CORPUS.glob("*.der")))


@functools.cache
def keys() -> tuple[Any, ...]:
    """Private keys of every type ``cryptography`` can put in a certificate."""
    return (
        rsa.generate_private_key(65537, 2048),
        rsa.generate_private_key(3, 1024),
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        ec.generate_private_key(ec.SECP521R1()),
        ec.generate_private_key(ec.SECP256K1()),
        ed25519.Ed25519PrivateKey.generate(),
        ed448.Ed448PrivateKey.generate(),
        dsa.generate_private_key(1024),
        x25519.X25519PrivateKey.generate(),
        x448.X448PrivateKey.generate(),
    )


SIGNERS = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    dsa.DSAPrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)


def sign_with(key: Any) -> Any:
    """The hash ``sign`` wants with ``key``: None for EdDSA."""
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    return hashes.SHA256()


@dataclass
class CertShape:
    """The choices that make one minted certificate differ from another."""

    subject: str = "pinssl"
    serial: int = 1
    extensions: int = 0
    san_length: int = 8
    not_after_year: int = 2040
    extra: list[str] = field(default_factory=list)


def mint(key: Any, issuer_key: Any, shape: CertShape) -> tuple[bytes, bytes]:
    """A certificate for ``key`` and a CSR, as DER, both shaped by ``shape``.

    The CSR is for ``key`` when it can sign, else for ``issuer_key``.
    """
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, shape.subject)]
        + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in shape.extra]
    )
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(shape.serial)
        .not_valid_before(start)
        .not_valid_after(start.replace(year=shape.not_after_year))
    )
    if shape.extensions:
        names = [
            x509.DNSName(f"{'a' * shape.san_length}{n}.example")
            for n in range(shape.extensions)
        ]
        builder = builder.add_extension(
            x509.SubjectAlternativeName(names), critical=False
        )
    certificate = builder.sign(issuer_key, sign_with(issuer_key))
    signer = key if isinstance(key, SIGNERS) else issuer_key
    request = x509.CertificateSigningRequestBuilder().subject_name(name)
    csr = request.sign(signer, sign_with(signer))
    return (
        certificate.public_bytes(serialization.Encoding.DER),
        csr.public_bytes(serialization.Encoding.DER),
    )


@functools.cache
def minted() -> tuple[bytes, ...]:
    """Certificates, CSRs and public keys minted now by ``cryptography``."""
    issuer = keys()[2]
    made: list[bytes] = []
    for number, key in enumerate(keys()):
        shape = CertShape(serial=7**number, extensions=number % 3)
        made.extend(mint(key, issuer, shape))
        made.append(key.public_key().public_bytes(*SPKI_FORMAT))
    return tuple(made)


def seeds() -> tuple[bytes, ...]:
    """Everything mutations start from: the corpus and the minted objects."""
    return corpus() + minted()


# Tree edits weigh three in ten: they keep the outer lengths consistent.
MUTATIONS = tuple(
    "flip set truncate insert delete length tree tree tree splice".split()
)


@st.composite
def mutated_der(
    draw: st.DrawFn, most: int = 4, actions: tuple[str, ...] = MUTATIONS
) -> bytes:
    """A seed after one to ``most`` flips, cuts, insertions or length edits.

    ``actions`` narrows the kinds of mutation.
    """
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, most))):
        action = draw(st.sampled_from(actions))
        if action == "tree":
            nodes = parse(bytes(data))
            edit_tree(draw, nodes)
            data = bytearray(b"".join(encode(node) for node in nodes))
            continue
        if action == "splice":
            other = draw(st.sampled_from(seeds()))
            cut = draw(st.integers(0, len(data)))
            data[cut:] = other[draw(st.integers(0, len(other))) :]
            continue
        if not data:
            data = bytearray(draw(st.binary(min_size=1, max_size=8)))
            continue

        position = draw(st.integers(0, len(data) - 1))
        if action == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            data[position] = draw(st.sampled_from(TAGS + b"\x7f\x83\x84"))
        elif action == "truncate":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 4))]
        else:
            # The length octets of an element that starts here, if one does.
            headers = [
                start
                for start in range(len(data) - 1)
                if data[start] in (0x02, 0x03, 0x06, 0x30, 0x31, 0xA0, 0xA3)
            ]
            if headers:
                start = draw(st.sampled_from(headers))
                data[start + 1] = draw(
                    st.sampled_from((0x00, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0xFF))
                )
    return bytes(data)


# Nearly valid DER trees, built field by field.


def mostly(draw: st.DrawFn, good: Node, *bad: Node) -> Node:
    """``good`` seven times in eight, else one of ``bad``."""
    if draw(st.integers(0, 7)) or not bad:
        return good
    return draw(st.sampled_from(bad))


def integer(draw: st.DrawFn) -> Node:
    value = draw(st.integers(-(2**160), 2**160))
    size = (value + (value < 0)).bit_length() // 8 + 1
    good = prim(0x02, value.to_bytes(size, "big", signed=True))
    return mostly(
        draw,
        good,
        prim(0x02, b""),
        prim(0x02, b"\x00\x01"),
        prim(0x02, b"\xff\x80"),
        prim(0x02, b"\x00" + good.content),
    )


def bit_string(draw: st.DrawFn, tag: int = 0x03) -> Node:
    good = prim(tag, b"\x00" + draw(st.binary(max_size=70)))
    unused = draw(st.integers(1, 9))
    return mostly(
        draw,
        good,
        prim(tag, b""),
        prim(tag, bytes([unused])),
        prim(tag, bytes([unused]) + draw(st.binary(min_size=1, max_size=4))),
    )


def algorithm(draw: st.DrawFn) -> Node:
    oid = prim(0x06, draw(st.binary(min_size=1, max_size=10)))
    parameters = draw(
        st.sampled_from(
            (
                [],
                [prim(0x05, b"")],
                [prim(0x06, b"\x2b\x65\x70")],
                [seq(prim(0x02, b"\x01"))],
                [Node(raw=b"\x1f\x81\x01\x00")],
                [prim(0x05, b""), prim(0x05, b"")],
            )
        )
    )
    return mostly(
        draw,
        seq(oid, *parameters),
        seq(prim(0x06, b""), *parameters),
        seq(*parameters),
        seq(prim(0x05, b""), oid),
    )


def name(draw: st.DrawFn) -> Node:
    value = draw(st.binary(max_size=300))
    attribute = seq(prim(0x06, b"\x55\x04\x03"), prim(0x0C, value))
    return mostly(draw, seq(seq(attribute, tag=0x31)), seq(), prim(0x31, b""))


def spki(draw: st.DrawFn) -> Node:
    good = seq(algorithm(draw), bit_string(draw))
    return mostly(
        draw,
        good,
        seq(algorithm(draw), bit_string(draw), prim(0x05, b"")),
        seq(bit_string(draw)),
        seq(algorithm(draw), prim(0x04, b"\x00")),
    )


def signed(draw: st.DrawFn, body: Node) -> Node:
    outer = seq(body, algorithm(draw), bit_string(draw))
    if not draw(st.integers(0, 15)):
        outer.children = (outer.children or []) + [prim(0x05, b"")]
    return outer


def certificate(draw: st.DrawFn) -> Node:
    fields: list[Node] = []
    version = draw(st.sampled_from(("v3", "v3", "v1", "empty", "extra")))
    if version == "v3":
        fields.append(seq(prim(0x02, b"\x02"), tag=0xA0))
    elif version == "empty":
        fields.append(seq(tag=0xA0))
    elif version == "extra":
        fields.append(seq(prim(0x02, b"\x02"), prim(0x05, b""), tag=0xA0))
    fields += [integer(draw), algorithm(draw), name(draw)]
    fields += [seq(prim(0x17, b"240101000000Z")), name(draw), spki(draw)]

    tail = draw(st.lists(st.sampled_from((0x81, 0x82, 0xA3)), max_size=3))
    if draw(st.booleans()):
        tail = sorted(set(tail))
    for tag in tail:
        if tag == 0xA3:
            fields.append(seq(seq(prim(0x06, b"\x55\x1d\x13")), tag=0xA3))
        else:
            fields.append(bit_string(draw, tag))
    return signed(draw, seq(*fields))


def csr(draw: st.DrawFn) -> Node:
    fields = [integer(draw), name(draw), spki(draw)]
    attributes = draw(st.sampled_from(("empty", "full", "missing", "twice")))
    if attributes != "missing":
        fields.append(seq(seq(prim(0x06, b"\x2a")), tag=0xA0))
    if attributes == "empty":
        fields[-1] = seq(tag=0xA0)
    if attributes == "twice":
        fields.append(seq(tag=0xA0))
    return signed(draw, seq(*fields))


@st.composite
def der_trees(draw: st.DrawFn) -> bytes:
    """A nearly valid certificate, CSR or public key, edited up to twice."""
    build = draw(st.sampled_from((certificate, csr, spki)))
    nodes = [build(draw)]
    for _ in range(draw(st.integers(0, 2))):
        edit_tree(draw, nodes)
    return b"".join(encode(node) for node in nodes)


# The oracle.


def note(text: str) -> None:
    """Count ``text`` in Hypothesis statistics, when inside a Hypothesis test."""
    if currently_in_test_context():
        event(text)


def oracle_check(der: bytes) -> None:
    """Where ``cryptography`` loads ``der``, the span is the SPKI it writes."""
    loaders: tuple[tuple[int, Callable[[bytes], Any]], ...] = (
        (_der.KIND_CERTIFICATE, lambda der: x509.load_der_x509_certificate(der)),
        (_der.KIND_CSR, lambda der: x509.load_der_x509_csr(der)),
        (_der.KIND_PUBLIC_KEY, lambda der: serialization.load_der_public_key(der)),
    )
    loaded = False
    for kind, load in loaders:
        try:
            public_key = load(der)
            if kind != _der.KIND_PUBLIC_KEY:
                public_key = public_key.public_key()
        except (ValueError, UnsupportedAlgorithm, x509.InvalidVersion):
            # Not this kind, malformed, or a key type cryptography lacks.
            continue
        loaded = True
        compare(der, kind, _der.spki_span(der, len(der), kind), public_key)
    if not loaded:
        note("oracle: cryptography loads no key from it")


def compare(der: bytes, kind: int, result: int, public_key: Any) -> None:
    """The span in ``result`` holds ``public_key`` exactly as written."""
    if result < 0:
        # pinssl may refuse what cryptography takes: only a span is checked.
        note(f"oracle: kind {kind} loaded by cryptography, refused by pinssl")
        return

    offset = (result >> _der.SPAN_BITS) & _der.SPAN_MASK
    span = der[offset : offset + (result & _der.SPAN_MASK)]
    expected = public_key.public_bytes(*SPKI_FORMAT)
    if span == expected:
        note(f"oracle: kind {kind} span equals cryptography's SPKI")
        return

    # cryptography rewrites some algorithm identifiers (RSA-PSS keys come out as
    # rsaEncryption): then only the identifier may differ, the key bits not.
    ours = parse(span)[0].children or []
    theirs = parse(expected)[0].children or []
    assert len(ours) == len(theirs) == 2, f"kind {kind}: span at {offset}"
    assert encode(ours[0]) != encode(theirs[0])
    assert encode(ours[1]) == encode(theirs[1]), f"kind {kind}: key bits differ"
    rewritten = serialization.load_der_public_key(span).public_bytes(*SPKI_FORMAT)
    assert rewritten == expected, f"kind {kind}: span at {offset} is another key"
    note(f"oracle: kind {kind} span is the key, under another algorithm id")


# The tests.


@pytest.fixture(autouse=True, scope="module")
def _warm_caches() -> None:
    """Mint keys and seeds before the deadline clock of any example starts."""
    seeds()
    keys()


class TestConstants:
    def test_python_constants_match_the_header(self) -> None:
        """Every PINSSL_* number in pinssl_spki.h has the same value in _der."""
        defines = re.findall(
            r"^#define PINSSL_(\w+) (\d+)", HEADER.read_text(), re.MULTILINE
        )
        assert len(defines) > 15
        for name, value in defines:
            assert getattr(_der, name) == int(value), name

    @requires_c
    def test_python_constants_match_the_c_module(self) -> None:
        """The compiled module exports the same PINSSL_* values as _der."""
        exported = [name for name in dir(c_lib) if name.startswith("PINSSL_")]
        assert len(exported) > 15
        for name in exported:
            assert getattr(_der, name.removeprefix("PINSSL_")) == getattr(
                c_lib, name
            ), name


@requires_c
class TestCAgainstPython:
    def test_seeds(self) -> None:
        """Every corpus file and minted object parses identically, every prefix."""
        for der in seeds():
            assert_same(der)
            for length in range(len(der)):
                assert_same(der, length)

    def test_kinds_out_of_range(self) -> None:
        """A kind outside 0..3 is refused alike, whatever the input."""
        for kind in (-(2**31), -1, 4, 5, 2**31 - 1):
            assert _der.spki_span(b"\x30\x00", 2, kind) == -_der.ERR_BAD_KIND
            assert c_lib.pinssl_spki_span(b"\x30\x00", 2, kind) == -_der.ERR_BAD_KIND

    def test_size_limit(self) -> None:
        """An input of MAX_INPUT octets is parsed; one octet more is refused."""
        results = []
        for size in (_der.MAX_INPUT, _der.MAX_INPUT + 1):
            key = size - 17
            der = (
                b"\x30\x83"
                + (size - 5).to_bytes(3, "big")
                + b"\x30\x05\x06\x03\x2b\x65\x70\x03\x83"
                + key.to_bytes(3, "big")
                + bytes(key)
            )
            assert_same(der)
            results.append(_der.spki_span(der, size, _der.KIND_ANY))
        accepted = _der.KIND_PUBLIC_KEY << _der.KIND_SHIFT | _der.MAX_INPUT
        assert results == [accepted, -_der.ERR_TOO_LARGE]

    @given(data=st.binary(max_size=400), cut=st.integers(0, 400))
    @budget(quick=300, long=30_000)
    def test_random_bytes(self, data: bytes, cut: int) -> None:
        """Random bytes, whole and cut short through the length argument."""
        assert_same(data)
        assert_same(data, min(cut, len(data)))

    @given(data=st.binary(max_size=300))
    @budget(quick=200, long=5_000)
    def test_random_bytes_in_a_sequence(self, data: bytes) -> None:
        """Random bytes behind a valid SEQUENCE header reach past the first step."""
        assert_same(bytes([0x30]) + encode_length(len(data)) + data)

    @given(der=mutated_der())
    @budget(quick=300, long=35_000)
    def test_mutated_real_der(self, der: bytes) -> None:
        """Flipped, cut, grown and re-lengthened certificates, CSRs and keys."""
        assert_same(der)

    @given(der=der_trees())
    @budget(quick=300, long=30_000)
    def test_nearly_valid_trees(self, der: bytes) -> None:
        """Generated certificates, CSRs and keys with a field or a length off."""
        assert_same(der)


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
class TestAgainstCryptography:
    """These use the pure parser, so they run without the C extension too."""

    def test_seeds_give_the_key_cryptography_writes(self) -> None:
        """Each valid seed's span is byte for byte the SPKI of its key."""
        for der in seeds():
            oracle_check(der)

        known = {key.public_key().public_bytes(*SPKI_FORMAT) for key in keys()}
        for der in minted():
            result = _der.spki_span(der, len(der), _der.KIND_ANY)
            assert result >= 0, describe(result)
            offset = (result >> _der.SPAN_BITS) & _der.SPAN_MASK
            assert der[offset : offset + (result & _der.SPAN_MASK)] in known

    @given(der=mutated_der(most=1))
    @budget(quick=100, long=5_000)
    def test_mutated_real_der(self, der: bytes) -> None:
        """Mutated seeds that cryptography still loads give its SPKI."""
        oracle_check(der)

    @given(der=mutated_der(most=2, actions=("flip", "set", "tree")))
    @budget(quick=100, long=5_000)
    def test_lightly_mutated_real_der(self, der: bytes) -> None:
        """Seeds with a flipped octet or an edited element, which often still load."""
        oracle_check(der)

    @given(
        key=st.integers(0, 10),
        subject=st.text(
            st.characters(codec="utf-8", exclude_categories=("Cs",)),
            min_size=1,
            max_size=64,
        ).filter(lambda text: len(text.encode()) <= 64),
        extra=st.lists(st.text("abc", min_size=1, max_size=200), max_size=3),
        serial=st.integers(1, 2**159 - 1),
        extensions=st.integers(0, 40),
        san_length=st.integers(1, 60),
        year=st.sampled_from((2030, 2049, 2050, 9999)),
    )
    @budget(quick=60, long=3_000)
    def test_minted_certificates(
        self,
        key: int,
        subject: str,
        extra: list[str],
        serial: int,
        extensions: int,
        san_length: int,
        year: int,
    ) -> None:
        """Certificates and CSRs of every size and key type give their SPKI."""
        shape = CertShape(subject, serial, extensions, san_length, year, extra)
        issuer = keys()[6]
        certificate, request = mint(keys()[key], issuer, shape)
        signer = keys()[key] if isinstance(keys()[key], SIGNERS) else issuer
        cases = (
            (certificate, _der.KIND_CERTIFICATE, keys()[key]),
            (request, _der.KIND_CSR, signer),
        )
        for der, kind, owner in cases:
            result = _der.spki_span(der, len(der), kind)
            assert result >= 0, describe(result)
            offset = (result >> _der.SPAN_BITS) & _der.SPAN_MASK
            expected = owner.public_key().public_bytes(*SPKI_FORMAT)
            assert der[offset : offset + (result & _der.SPAN_MASK)] == expected
            if c_lib is not None:
                assert_same(der)
