"""The test helpers themselves, exercised with plain ``ssl`` (no pinssl)."""

from __future__ import annotations

import hashlib
import http.client
import ssl
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509

import certs
from certs import KEY_TYPES, Cert, KeyType
from servers import (
    HTTPSServer,
    RenegotiatingServer,
    TLSServer,
    TwoCAWorld,
    client_context,
    peer_chain_der,
    recv_exactly,
    tls_connect,
    tls_settings_for,
)

PSS_OID = certs.der_oid("1.2.840.113549.1.1.10")


def _echo_roundtrip(server: TLSServer, ctx: ssl.SSLContext, payload: bytes) -> bytes:
    """Connect, send ``payload``, read the echo, return the peer certificate DER."""
    with tls_connect(server.address, ctx) as sock:
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload
        der = sock.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_client_trusting_both_cas_reaches_genuine_and_rogue(
    two_cas: TwoCAWorld, genuine_server: TLSServer, rogue_server: TLSServer
) -> None:
    """A plain client trusting both roots accepts both the genuine and rogue leaf."""
    ctx = two_cas.client_context()

    assert _echo_roundtrip(genuine_server, ctx, b"hi genuine") == two_cas.genuine.der
    assert _echo_roundtrip(rogue_server, ctx, b"hi rogue") == two_cas.rogue.der

    assert two_cas.genuine.pin != two_cas.rogue.pin
    assert genuine_server.wait_for(1)[0].handshake_ok
    assert rogue_server.wait_for(1)[0].handshake_ok


def test_recorded_bytes_match_what_each_connection_sent(
    two_cas: TwoCAWorld, genuine_server: TLSServer
) -> None:
    """The server records exactly the application bytes of each connection."""
    ctx = two_cas.client_context()
    payloads = [b"one", b"two" * 1000, bytes(range(256)) * 300]

    for payload in payloads:
        _echo_roundtrip(genuine_server, ctx, payload)

    records = genuine_server.wait_for(len(payloads))
    assert genuine_server.received == payloads
    assert [r.sent for r in records] == payloads
    assert genuine_server.handshakes == len(payloads)


def test_concurrent_connections_each_get_their_own_record(
    two_cas: TwoCAWorld, genuine_server: TLSServer
) -> None:
    """Twenty simultaneous clients are served by separate threads and recorded."""
    ctx = two_cas.client_context()
    payloads = [f"client {i}".encode() * (i + 1) for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda p: _echo_roundtrip(genuine_server, ctx, p), payloads))

    genuine_server.wait_for(len(payloads))
    assert sorted(genuine_server.received) == sorted(payloads)
    assert genuine_server.handshakes == len(payloads)


def test_refused_client_sent_zero_application_bytes(
    two_cas: TwoCAWorld, rogue_server: TLSServer
) -> None:
    """A client that rejects the certificate is recorded with zero bytes received."""
    only_good = client_context(cadata=two_cas.good_root.pem.decode())

    with pytest.raises(ssl.SSLCertVerificationError):
        tls_connect(rogue_server.address, only_good)

    [record] = rogue_server.wait_for(1)
    assert record.received == b""
    assert not record.handshake_ok and record.error
    assert rogue_server.handshakes == 0 and rogue_server.failed_handshakes == 1


def test_attack_server_sends_appended_ca_it_does_not_chain_to(
    two_cas: TwoCAWorld, attack_server: TLSServer
) -> None:
    """The CVE-2016-2402 server sends the pinned CA certs beyond its verified chain."""
    ctx = two_cas.client_context()

    with tls_connect(attack_server.address, ctx) as sock:
        sent = peer_chain_der(sock)
        verified = peer_chain_der(sock, verified=True)

    assert sent == [
        two_cas.rogue.der,
        two_cas.good_intermediate.der,
        two_cas.good_root.der,
    ]
    assert verified == [two_cas.rogue.der, two_cas.rogue_root.der]
    assert len(sent) > len(verified)


@pytest.fixture(scope="module")
def odd_shapes(
    two_cas: TwoCAWorld, leaf_for_key_type: Callable[[KeyType], Cert]
) -> dict[str, bytes]:
    """DERs of every certificate shape the factory makes."""
    ca = two_cas.good_intermediate
    shapes = {f"leaf-{kt}": leaf_for_key_type(kt).der for kt in KEY_TYPES}
    shapes["v1"] = ca.issue(version=0).der
    shapes["unique-ids"] = ca.issue(
        issuer_unique_id=b"\x01\x02\x03", subject_unique_id=b"\xaa" * 8
    ).der
    shapes["long-serial"] = ca.issue(serial=certs.LONG_SERIAL).der
    shapes["many-extensions"] = certs.many_extensions_cert(ca).der
    shapes["root"] = ca.root_ca.der
    return shapes


def test_oracle_agrees_with_openssl_cli_for_every_shape(
    odd_shapes: dict[str, bytes],
) -> None:
    """Oracle == ``openssl x509 -pubkey | openssl pkey -pubin -outform DER`` sha256."""
    for name, der in odd_shapes.items():
        digest = certs.spki_sha256_oracle(der)

        assert digest == certs.openssl_spki_sha256(der), name
        assert digest == hashlib.sha256(certs.raw_spki(der)).digest(), name
        assert certs.pin_of(der) == certs.pin_from_digest(digest), name


def test_odd_shapes_have_the_promised_der_structure(
    odd_shapes: dict[str, bytes],
) -> None:
    """v1 lacks [0], unique ids are [1]/[2], serial is 20 bytes, PSS SPKI is PSS."""
    shapes = odd_shapes

    def tbs(name: str) -> list[bytes]:
        return certs.der_children(certs.der_children(shapes[name])[0])

    assert tbs("v1")[0][0] == 0x02 and not any(c[0] == 0xA3 for c in tbs("v1"))
    assert [c[0] for c in tbs("unique-ids")][7:10] == [0x81, 0x82, 0xA3]
    assert len(certs.der_content(tbs("long-serial")[1])) == 20
    many = x509_of(shapes["many-extensions"])
    assert (
        len(many.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        == 50
    )
    pss_spki = certs.raw_spki(shapes["leaf-rsa-pss"])
    assert certs.der_children(certs.der_children(pss_spki)[0])[0] == PSS_OID


def x509_of(der: bytes) -> x509.Certificate:
    """Parse with cryptography."""
    return x509.load_der_x509_certificate(der)


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_csr_and_bare_key_oracles_match_certificate(
    leaf_for_key_type: Callable[[KeyType], Cert], key_type: KeyType
) -> None:
    """CSR, bare PUBLIC KEY and certificate of one key give one SPKI digest."""
    cert = leaf_for_key_type(key_type)
    assert cert.key is not None
    key = cert.key
    csr = certs.make_csr(key)

    digest = certs.spki_sha256_oracle(cert.der)
    assert certs.csr_spki_sha256_oracle(csr) == digest
    assert certs.openssl_spki_sha256(csr, "csr") == digest
    assert certs.key_spki_sha256_oracle(key.public_pem) == digest
    assert key.pin == cert.pin == certs.pin_of(cert.der)


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_every_key_type_completes_a_tls_handshake(
    two_cas: TwoCAWorld,
    key_type_server: Callable[[KeyType], TLSServer],
    leaf_for_key_type: Callable[[KeyType], Cert],
    key_type: KeyType,
) -> None:
    """Each key type's leaf serves a verified handshake (DSA: TLS 1.2 DHE-DSS)."""
    if key_type == "dsa":
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers(
                tls_settings_for("dsa").ciphers or ""
            )
        except ssl.SSLError:
            pytest.skip("this OpenSSL has no DHE-DSS cipher suites")
    server = key_type_server(key_type)
    ctx = two_cas.client_context(key_type=key_type)

    with tls_connect(server.address, ctx) as sock:
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
        assert sock.getpeercert(binary_form=True) == leaf_for_key_type(key_type).der
        version = sock.version()

    assert version == ("TLSv1.2" if key_type == "dsa" else "TLSv1.3")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_sessions_resume(
    two_cas: TwoCAWorld,
    tls_server_factory: Callable[..., TLSServer],
    version: ssl.TLSVersion,
) -> None:
    """A client resumes with the ticket from its first connection (1.2 and 1.3)."""
    server = tls_server_factory(
        two_cas.genuine, minimum_version=version, maximum_version=version
    )
    ctx = two_cas.client_context()

    with tls_connect(server.address, ctx) as sock:
        sock.sendall(b"first")
        assert recv_exactly(sock, 5) == b"first"
        session = sock.session
        assert not sock.session_reused
    with tls_connect(server.address, ctx, session=session) as sock:
        sock.sendall(b"second")
        assert recv_exactly(sock, 6) == b"second"
        assert sock.session_reused

    records = server.wait_for(2)
    assert [r.session_reused for r in records] == [False, True]
    assert {r.version for r in records} == {version.name.replace("_", ".")}


def test_https_server_answers_http_client_and_urllib(
    two_cas: TwoCAWorld, https_server: HTTPSServer
) -> None:
    """GET / works with http.client (keep-alive) and urllib."""
    ctx = two_cas.client_context()

    conn = http.client.HTTPSConnection("localhost", https_server.port, context=ctx)
    try:
        for _ in range(2):
            conn.request("GET", "/")
            assert conn.getresponse().read() == https_server.body
    finally:
        conn.close()
    with urllib.request.urlopen(https_server.url(), context=ctx, timeout=5) as resp:
        assert resp.read() == https_server.body

    assert [r.path for r in https_server.requests] == ["/", "/", "/"]
    assert https_server.handshakes == 2


@pytest.mark.parametrize("library", ["urllib3", "requests", "httpx"])
def test_https_server_answers_pooled_http_libraries(
    two_cas: TwoCAWorld, https_server: HTTPSServer, library: str
) -> None:
    """Two GETs through urllib3, requests or httpx reuse one TLS connection."""
    pytest.importorskip(library)
    ctx = two_cas.client_context()
    url = https_server.url()

    if library == "urllib3":
        import urllib3

        with urllib3.PoolManager(ssl_context=ctx, timeout=5.0, retries=False) as pool:
            bodies = [pool.request("GET", url).data for _ in range(2)]
    elif library == "requests":
        import requests

        with requests.Session() as session:
            # per request: REQUESTS_CA_BUNDLE in the environment beats session.verify
            cafile = str(two_cas.cafile)
            bodies = [
                session.get(url, verify=cafile, timeout=5).content for _ in range(2)
            ]
    else:
        import httpx

        with httpx.Client(verify=ctx, timeout=5.0) as client:
            bodies = [client.get(url).content for _ in range(2)]

    assert bodies == [https_server.body] * 2
    assert https_server.handshakes == 1


def _renegotiation_client(
    server: RenegotiatingServer, ctx: ssl.SSLContext
) -> tuple[bytes | None, bytes | None, bytes | ssl.SSLError]:
    """Client side: first cert, cert after the second read (None if unavailable)."""
    with tls_connect(server.address, ctx) as sock:
        first = sock.getpeercert(binary_form=True)
        sock.sendall(b"hello\n")
        assert recv_exactly(sock, len(server.before)) == server.before
        try:
            outcome: bytes | ssl.SSLError = sock.recv(100)
        except ssl.SSLError as exc:
            outcome = exc
        try:
            later = sock.getpeercert(binary_form=True)
        except ValueError:
            later = None
        return first, later, outcome


def test_renegotiating_server_swaps_certificate(two_cas: TwoCAWorld) -> None:
    """A default client accepts the swapped cert; OP_NO_RENEGOTIATION refuses it."""
    ctx = two_cas.client_context()
    strict = two_cas.client_context()
    strict.options |= ssl.OP_NO_RENEGOTIATION

    with RenegotiatingServer(two_cas.genuine, two_cas.rogue) as server:
        first, later, data = _renegotiation_client(server, ctx)
        assert (first, later, data) == (
            two_cas.genuine.der,
            two_cas.rogue.der,
            b"after\n",
        )

        first, later, data = _renegotiation_client(server, strict)
        assert isinstance(data, ssl.SSLError)
        assert "HANDSHAKE_FAILURE" in str(data)
        assert (first, later) == (two_cas.genuine.der, None)

        accepted, refused = server.wait_for(2)
    assert accepted.renegotiated and accepted.error is None
    assert not refused.renegotiated and "no renegotiation" in (refused.error or "")
    assert bytes(refused.received) == b"hello\n"


def test_tls_version_limit_is_enforced(
    two_cas: TwoCAWorld, tls_server_factory: Callable[..., TLSServer]
) -> None:
    """A server capped at TLS 1.2 negotiates 1.2 and refuses a 1.3-only client."""
    server = tls_server_factory(two_cas.genuine, maximum_version=ssl.TLSVersion.TLSv1_2)

    with tls_connect(server.address, two_cas.client_context()) as sock:
        assert sock.version() == "TLSv1.2"
    only13 = two_cas.client_context(minimum_version=ssl.TLSVersion.TLSv1_3)
    with pytest.raises(ssl.SSLError):
        tls_connect(server.address, only13)

    assert [r.handshake_ok for r in server.wait_for(2)] == [True, False]
