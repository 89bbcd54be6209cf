"""The fast paths give the answers of the slow ones: the flat certificate walk,
the DER-bytes shortcut of spki_pin and spki_sha256, and the per-context memo of
the handshake check (bounded, thread-safe, keyed by the whole certificate).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pinssl
from pinssl import MalformedDERError, PinVerificationError, _context, _der
from pinssl._context import CheckMemo
from pinssl._policy import normalize_host

from certs import CA, KEY_TYPES, Cert, KeyType, cached_key, der_to_pem
from servers import TLSServer, TwoCAWorld, tls_connect

CORPUS = Path(__file__).resolve().parent.parent / "csrc" / "fuzz" / "corpus"
KINDS = (_der.KIND_ANY, _der.KIND_CERTIFICATE)
# Octets that change a header's meaning: short and long forms, tags, edges.
EDGE_OCTETS = (0x00, 0x01, 0x02, 0x03, 0x1F, 0x30, 0x7F, 0x80, 0x81, 0x82, 0x83, 0xFF)


def exact(der: bytes, kind: int) -> int:
    """The exact walk alone."""
    return _der._strict_span(der, len(der), kind)


@pytest.fixture(scope="module")
def shapes(two_cas: TwoCAWorld) -> dict[str, bytes]:
    """Certificates of every shape the tests mint, plus the corpus ones, by name."""
    issuer = two_cas.good_intermediate
    found: dict[str, bytes] = {
        key_type: issuer.issue(key=cached_key(key_type, "fast paths")).der
        for key_type in KEY_TYPES
    }
    found["v1"] = issuer.issue(version=0).der
    found["long serial"] = issuer.issue(serial=int.from_bytes(b"\x7f" * 20, "big")).der
    found["unique ids"] = issuer.issue(
        issuer_unique_id=b"\x01\x02", subject_unique_id=b"\x03"
    ).der
    found["root"] = two_cas.good_root.cert.der
    for path in sorted(CORPUS.glob("cert_*.der")):
        found[path.stem] = path.read_bytes()
    return found


@pytest.fixture(scope="module")
def certificates(shapes: dict[str, bytes]) -> list[bytes]:
    """The same certificates, as a list."""
    return list(shapes.values())


class TestFlatWalk:
    def test_common_certificates_take_the_flat_walk(self, two_cas: TwoCAWorld) -> None:
        """Each key type's certificate but DSA's is read by the flat walk itself.

        DSA keys carry domain parameters longer than 127 octets in their
        AlgorithmIdentifier, a form the flat walk leaves to the exact one.
        """
        issuer = two_cas.good_intermediate
        for key_type in (key_type for key_type in KEY_TYPES if key_type != "dsa"):
            der = issuer.issue(key=cached_key(key_type, "fast paths")).der
            span = _der._certificate_fast(der, len(der))
            assert span >= 0, key_type
            assert span == exact(der, _der.KIND_CERTIFICATE), key_type

    def test_same_answer_on_every_certificate(self, certificates: list[bytes]) -> None:
        """Unmodified certificates of every shape: the same span as the exact walk."""
        for der in certificates:
            for kind in KINDS:
                assert _der.spki_span(der, len(der), kind) == exact(der, kind)

    def test_same_answer_on_every_one_octet_edit(
        self, shapes: dict[str, bytes]
    ) -> None:
        """Each octet of each certificate set to each edge value: same results."""
        accepted = 0
        names = ("rsa2048", "ec-p256", "ed25519", "v1", "long serial", "unique ids")
        for der in (shapes[name] for name in names):
            for position in range(len(der)):
                for octet in EDGE_OCTETS:
                    if der[position] == octet:
                        continue
                    edited = der[:position] + bytes([octet]) + der[position + 1 :]
                    for kind in KINDS:
                        found = _der.spki_span(edited, len(edited), kind)
                        assert found == exact(edited, kind), (position, octet, kind)
                        accepted += found >= 0
        assert accepted > 0, "no edit kept a certificate valid: the test proves less"

    def test_same_answer_on_truncations_and_extensions(
        self, certificates: list[bytes]
    ) -> None:
        """Cut at every length, or with octets appended: same results."""
        for der in certificates[:3]:
            for end in range(len(der)):
                for kind in KINDS:
                    assert _der.spki_span(der[:end], end, kind) == exact(
                        der[:end], kind
                    )
            for tail in (b"\x00", b"\x30\x00", b"\x05\x00" * 3):
                longer = der + tail
                assert _der.spki_span(longer, len(longer), 1) == exact(longer, 1)

    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def test_same_answer_on_random_edits(
        self, certificates: list[bytes], data: st.DataObject
    ) -> None:
        """Several random octets replaced, inserted or deleted: same results."""
        der = bytearray(data.draw(st.sampled_from(certificates)))
        for _ in range(data.draw(st.integers(1, 4))):
            position = data.draw(st.integers(0, len(der) - 1))
            octet = data.draw(st.integers(0, 255))
            action = data.draw(st.sampled_from(("replace", "insert", "delete")))
            if action == "replace":
                der[position] = octet
            elif action == "insert":
                der.insert(position, octet)
            elif len(der) > 1:
                del der[position]
        edited = bytes(der)
        for kind in (*KINDS, _der.KIND_CSR, _der.KIND_PUBLIC_KEY):
            assert _der.spki_span(edited, len(edited), kind) == exact(edited, kind)


class TestDerShortcut:
    @pytest.mark.parametrize("key_type", KEY_TYPES)
    def test_every_form_gives_the_same_pin(
        self, backend: str, key_type: KeyType
    ) -> None:
        """DER bytes (the shortcut), bytearray, memoryview and PEM agree."""
        der = CA.root(key_type="ec-p256").issue(key=cached_key(key_type, "short")).der
        pem = der_to_pem(der)
        digest = hashlib.sha256(pinssl.spki_der(pem.decode())).digest()
        forms: list[bytes | bytearray | memoryview | str] = [
            der,
            bytearray(der),
            memoryview(der),
            pem,
            pem.decode(),
        ]
        for form in forms:
            assert pinssl.spki_sha256(form) == digest
            assert pinssl.spki_pin(form) == pinssl.format_pin(digest)

    def test_malformed_der_raises_the_same_error(self, backend: str) -> None:
        """The shortcut falls back, so malformed DER raises what it raised."""
        der = CA.root().cert.der[:-1]
        with pytest.raises(MalformedDERError) as from_pin:
            pinssl.spki_pin(der)
        with pytest.raises(MalformedDERError) as from_der:
            pinssl.spki_der(der)
        assert str(from_pin.value) == str(from_der.value)


@pytest.fixture
def twin_leaves(two_cas: TwoCAWorld) -> tuple[Cert, Cert]:
    """Two leaves with the same subject and issuer and different keys."""
    issuer = two_cas.good_intermediate
    first = issuer.issue(*two_cas.hostnames, key=cached_key("ec-p256", "twin 1"))
    second = issuer.issue(*two_cas.hostnames, key=cached_key("ec-p256", "twin 2"))
    assert first.x509.subject == second.x509.subject
    assert first.x509.issuer == second.x509.issuer
    return first, second


@pytest.fixture
def started() -> Iterator[Callable[[Cert], TLSServer]]:
    """``start(cert)`` -> a running TLS server, stopped at teardown."""
    servers: list[TLSServer] = []

    def start(cert: Cert) -> TLSServer:
        server = TLSServer(cert).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class TestCheckMemo:
    def test_same_subject_is_not_served_from_the_memo(
        self,
        two_cas: TwoCAWorld,
        twin_leaves: tuple[Cert, Cert],
        started: Callable[[Cert], TLSServer],
    ) -> None:
        """A twin of a remembered leaf (same subject and issuer) is checked anew."""
        first, second = twin_leaves
        ctx = pinssl.create_default_context([first.pin], cafile=str(two_cas.cafile))
        memo: CheckMemo = ctx.sslsocket_class._pinssl_memo  # type: ignore[attr-defined]

        with tls_connect(started(first).address, ctx):
            pass
        assert memo.digests[first.der][0] == first.spki_sha256

        with pytest.raises(PinVerificationError):
            tls_connect(started(second).address, ctx)
        assert memo.digests[second.der][0] == second.spki_sha256
        assert memo.digests[first.der][0] == first.spki_sha256

    def test_repeat_connections_reuse_the_entry(
        self,
        two_cas: TwoCAWorld,
        genuine_server: TLSServer,
    ) -> None:
        """Connecting again to one server remembers its leaf and intermediate once."""
        ctx = pinssl.create_default_context(
            [two_cas.good_intermediate.cert.pin], cafile=str(two_cas.cafile)
        )
        memo: CheckMemo = ctx.sslsocket_class._pinssl_memo  # type: ignore[attr-defined]
        for _ in range(3):
            with tls_connect(genuine_server.address, ctx):
                pass
        assert set(memo.digests) == {
            two_cas.genuine.der,
            two_cas.good_intermediate.cert.der,
        }
        assert memo.hosts == {"localhost": "localhost"}

    def test_approved_leaf_skips_the_chain_for_that_host_only(
        self,
        two_cas: TwoCAWorld,
        genuine_server: TLSServer,
        rogue_server: TLSServer,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A leaf accepted through the chain is accepted again as itself alone."""
        ctx = pinssl.create_default_context(
            {
                "localhost": [two_cas.good_intermediate.cert.pin],
                "127.0.0.1": [two_cas.good_intermediate.cert.pin],
            },
            cafile=str(two_cas.cafile),
        )
        approved = ctx.sslsocket_class._pinssl_approved  # type: ignore[attr-defined]
        caplog.set_level(logging.DEBUG, logger="pinssl")

        with tls_connect(genuine_server.address, ctx):
            pass
        assert len(approved) == 1
        assert "chain position 1" in caplog.text

        caplog.clear()
        with tls_connect(genuine_server.address, ctx):
            pass
        assert "this leaf passed a full check" in caplog.text
        assert "chain position" not in caplog.text

        caplog.clear()
        with tls_connect(genuine_server.address, ctx, hostname="127.0.0.1"):
            pass
        assert "chain position 1" in caplog.text
        with pytest.raises(PinVerificationError):
            tls_connect(rogue_server.address, ctx)
        assert len(approved) == 2

    def test_digests_are_those_of_the_certificate(
        self, twin_leaves: tuple[Cert, Cert]
    ) -> None:
        """An entry holds the SPKI digest and the digest of the whole DER."""
        memo = CheckMemo()
        leaf = twin_leaves[0]
        assert memo.learn_digests(leaf.der) == (
            leaf.spki_sha256,
            hashlib.sha256(leaf.der).digest(),
        )
        assert memo.digests.get(leaf.der) == memo.learn_digests(leaf.der)

    def test_malformed_certificate_is_not_remembered(self) -> None:
        """Malformed DER raises and leaves the memo empty."""
        memo = CheckMemo()
        with pytest.raises(MalformedDERError):
            memo.learn_digests(b"\x30\x03\x02\x01\x01")
        assert memo.digests == {}

    def test_bounded_oldest_first(self, certificates: list[bytes]) -> None:
        """Past the limit the oldest entry goes, in each table."""
        memo = CheckMemo(limit=3)
        for der in certificates[:5]:
            memo.learn_digests(der)
        assert list(memo.digests) == certificates[2:5]
        for number in range(5):
            memo.host_key(f"host{number}.example")
        assert list(memo.hosts) == [f"host{n}.example" for n in (2, 3, 4)]
        memo.clear()
        assert memo.digests == {} and memo.hosts == {}

    def test_huge_certificates_are_not_remembered(
        self, twin_leaves: tuple[Cert, Cert], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A certificate longer than MEMO_LARGEST is checked, not kept."""
        leaf = twin_leaves[0]
        monkeypatch.setattr(_context, "MEMO_LARGEST", len(leaf.der) - 1)
        memo = CheckMemo()
        assert memo.learn_digests(leaf.der)[0] == leaf.spki_sha256
        assert memo.digests == {}

    def test_limit_must_be_positive(self) -> None:
        """A memo that can hold nothing is refused."""
        with pytest.raises(ValueError, match="at least 1"):
            CheckMemo(limit=0)

    @pytest.mark.parametrize(
        "host",
        ["localhost", "Example.COM.", "bücher.example", "127.0.0.1", "[::1]", "a..b"],
    )
    def test_host_key_is_normalize_host(self, host: str) -> None:
        """The remembered host form is exactly normalize_host's, None for None."""
        memo = CheckMemo()
        assert memo.host_key(host) == normalize_host(host)
        assert memo.host_key(host) == normalize_host(host)
        assert memo.host_key(None) is None

    def test_threads_share_one_memo(self, certificates: list[bytes]) -> None:
        """Eight threads learning and reading at once: right values, bounded size."""
        memo = CheckMemo(limit=4)
        expected = {der: pinssl.spki_sha256(der) for der in certificates}
        failures: list[BaseException] = []

        def work(offset: int) -> None:
            try:
                for step in range(300):
                    der = certificates[(offset + step) % len(certificates)]
                    found = memo.digests.get(der) or memo.learn_digests(der)
                    assert found[0] == expected[der]
                    assert memo.host_key(f"h{step % 7}.example") is not None
                    assert len(memo.digests) <= 4 and len(memo.hosts) <= 4
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not failures
        assert not any(thread.is_alive() for thread in threads)
        assert len(memo.digests) <= 4
