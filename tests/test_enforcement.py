"""Pin enforcement against real TLS servers on 127.0.0.1 (blocking code paths).

Every server here is trusted by the client's CA store: the genuine one through
the good CA, the rogue one through a second, mis-issuing CA. Only pinning tells
them apart.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pinssl
from pinssl import PinsslError, PinVerificationError

from certs import Cert
from servers import (
    HOST,
    RenegotiatingServer,
    TLSServer,
    TwoCAWorld,
    client_context,
    recv_exactly,
    tls_connect,
)

TIMEOUT = 5.0
SECRET = b"application secret"


def pinned(world: TwoCAWorld, *pins: str, **kwargs: Any) -> ssl.SSLContext:
    """A pinned client context trusting both the good and the rogue CA."""
    return pinssl.create_default_context(list(pins), cafile=str(world.cafile), **kwargs)


def intermediate_pin(world: TwoCAWorld) -> str:
    return world.good_intermediate.cert.pin


def raw_connection(server: Any, timeout: float | None = TIMEOUT) -> socket.socket:
    """A connected TCP socket to ``server``."""
    sock = socket.create_connection(server.address, timeout=TIMEOUT)
    sock.settimeout(timeout)
    return sock


def received_bytes(server: TLSServer, count: int = 1) -> list[bytes]:
    """Application bytes of each finished connection, once ``count`` finished."""
    return [record.received for record in server.wait_for(count)]


class TestWhatMatches:
    @pytest.mark.parametrize("which", ["leaf", "intermediate", "root"])
    def test_any_certificate_of_the_verified_chain_matches(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer, which: str
    ) -> None:
        """A pin on the leaf, the intermediate or the root accepts the genuine chain."""
        pin = {
            "leaf": two_cas.genuine.pin,
            "intermediate": intermediate_pin(two_cas),
            "root": two_cas.good_root.cert.pin,
        }[which]
        ctx = pinned(two_cas, pin)

        with tls_connect(genuine_server.address, ctx) as sock:
            sock.sendall(b"ping")
            assert recv_exactly(sock, 4) == b"ping"
            assert sock.getpeercert(True) == two_cas.genuine.der

    @pytest.mark.parametrize("which", ["leaf", "intermediate", "root"])
    def test_mis_issued_leaf_is_refused(
        self, two_cas: TwoCAWorld, rogue_server: TLSServer, which: str
    ) -> None:
        """A leaf from the rogue CA passes the CA check but not the pins."""
        pin = {
            "leaf": two_cas.genuine.pin,
            "intermediate": intermediate_pin(two_cas),
            "root": two_cas.good_root.cert.pin,
        }[which]
        plain = two_cas.client_context()
        with tls_connect(rogue_server.address, plain):
            pass

        with pytest.raises(PinVerificationError) as caught:
            tls_connect(rogue_server.address, pinned(two_cas, pin))
        assert caught.value.served[0].startswith(two_cas.rogue.pin)
        assert received_bytes(rogue_server, 2) == [b"", b""]

    @pytest.mark.parametrize("which", ["intermediate", "root"])
    def test_appended_pinned_certificate_does_not_count(
        self, two_cas: TwoCAWorld, attack_server: TLSServer, which: str
    ) -> None:
        """Pinned certs the server merely appends are ignored (CVE-2016-2402)."""
        pin = (
            intermediate_pin(two_cas)
            if which == "intermediate"
            else two_cas.good_root.cert.pin
        )

        with pytest.raises(PinVerificationError) as caught:
            tls_connect(attack_server.address, pinned(two_cas, pin))
        served = " ".join(caught.value.served)
        assert two_cas.rogue.pin in served
        assert two_cas.rogue_root.cert.pin in served
        assert intermediate_pin(two_cas) not in served
        assert two_cas.good_root.cert.pin not in served
        assert received_bytes(attack_server) == [b""]


class TestVerificationOff:
    def cert_none(self, world: TwoCAWorld, pin: str) -> ssl.SSLContext:
        ctx = pinned(world, pin)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def test_leaf_pin_accepts(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer
    ) -> None:
        """With CERT_NONE a pinned leaf key still accepts the connection."""
        ctx = self.cert_none(two_cas, two_cas.genuine.pin)

        with tls_connect(genuine_server.address, ctx) as sock:
            sock.sendall(b"ping")
            assert recv_exactly(sock, 4) == b"ping"

    @pytest.mark.parametrize("which", ["intermediate", "root"])
    def test_only_the_leaf_may_match(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer, which: str
    ) -> None:
        """With CERT_NONE an intermediate or root pin is refused: none was verified."""
        pin = (
            intermediate_pin(two_cas)
            if which == "intermediate"
            else two_cas.good_root.cert.pin
        )

        with pytest.raises(PinVerificationError, match="CERT_NONE"):
            tls_connect(genuine_server.address, self.cert_none(two_cas, pin))
        assert received_bytes(genuine_server) == [b""]

    def test_rogue_leaf_is_refused(
        self, two_cas: TwoCAWorld, attack_server: TLSServer
    ) -> None:
        """With CERT_NONE the rogue leaf fails a leaf pin, appended certs or not."""
        ctx = self.cert_none(two_cas, two_cas.genuine.pin)

        with pytest.raises(PinVerificationError) as caught:
            tls_connect(attack_server.address, ctx)
        assert caught.value.served == (two_cas.rogue.pin,)


def handshake_nonblocking(sock: ssl.SSLSocket) -> None:
    """Drive a non-blocking handshake with select, bounded by TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    wanted: tuple[list[ssl.SSLSocket], list[ssl.SSLSocket]]
    while True:
        try:
            sock.do_handshake()
            return
        except ssl.SSLWantReadError:
            wanted = ([sock], [])
        except ssl.SSLWantWriteError:
            wanted = ([], [sock])
        assert time.monotonic() < deadline, "handshake did not finish"
        select.select(*wanted, [], 0.1)


def blocking_socket(server: TLSServer) -> socket.socket:
    """A socket in blocking mode whose kernel timeouts still bound every wait."""
    sock = raw_connection(server, timeout=None)
    bound = struct.pack("ll", int(TIMEOUT), 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, bound)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, bound)
    return sock


class TestSocketModes:
    @pytest.mark.parametrize("mode", ["blocking", "timeout"])
    @pytest.mark.parametrize("on_connect", [True, False])
    def test_blocking_and_timeout_sockets(
        self,
        two_cas: TwoCAWorld,
        genuine_server: TLSServer,
        rogue_server: TLSServer,
        mode: str,
        on_connect: bool,
    ) -> None:
        """Blocking and timeout sockets, handshake on connect or not, decide right."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))
        make = blocking_socket if mode == "blocking" else raw_connection

        with ctx.wrap_socket(
            make(genuine_server),
            server_hostname="localhost",
            do_handshake_on_connect=on_connect,
        ) as sock:
            sock.sendall(b"ping")
            assert recv_exactly(sock, 4) == b"ping"

        with pytest.raises(PinVerificationError):
            sock = ctx.wrap_socket(
                make(rogue_server),
                server_hostname="localhost",
                do_handshake_on_connect=on_connect,
            )
            sock.sendall(SECRET)
        assert received_bytes(rogue_server) == [b""]

    def test_nonblocking_socket(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer, rogue_server: TLSServer
    ) -> None:
        """A non-blocking handshake driven by select is checked when it completes."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))

        genuine = ctx.wrap_socket(
            raw_connection(genuine_server, timeout=0.0),
            server_hostname="localhost",
            do_handshake_on_connect=False,
        )
        with genuine:
            handshake_nonblocking(genuine)
            assert genuine.getpeercert(True) == two_cas.genuine.der

        rogue = ctx.wrap_socket(
            raw_connection(rogue_server, timeout=0.0),
            server_hostname="localhost",
            do_handshake_on_connect=False,
        )
        with pytest.raises(PinVerificationError):
            handshake_nonblocking(rogue)
        assert rogue.fileno() == -1
        assert received_bytes(rogue_server) == [b""]

    def test_want_read_from_the_implicit_handshake_propagates(
        self, two_cas: TwoCAWorld
    ) -> None:
        """A first non-blocking recv before the handshake raises SSLWantReadError."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))
        with socket.create_server((HOST, 0)) as silent:
            raw = socket.create_connection(silent.getsockname(), timeout=TIMEOUT)
            raw.setblocking(False)
            with ctx.wrap_socket(
                raw, server_hostname="localhost", do_handshake_on_connect=False
            ) as sock:
                with pytest.raises(ssl.SSLWantReadError):
                    sock.recv(10)
                with pytest.raises(ssl.SSLWantReadError):
                    sock.send(b"x")

    def test_nonblocking_first_send_retried_until_refused(
        self, two_cas: TwoCAWorld, rogue_server: TLSServer
    ) -> None:
        """Retrying a non-blocking first send ends in a refusal, never in a send."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))
        sock = ctx.wrap_socket(
            raw_connection(rogue_server, timeout=0.0),
            server_hostname="localhost",
            do_handshake_on_connect=False,
        )
        deadline = time.monotonic() + TIMEOUT

        with pytest.raises(PinVerificationError):
            while time.monotonic() < deadline:
                try:
                    sock.send(SECRET)
                except ssl.SSLWantReadError:
                    select.select([sock], [], [], 0.1)
        assert received_bytes(rogue_server) == [b""]

    def test_wrap_then_connect(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer, rogue_server: TLSServer
    ) -> None:
        """Wrapping an unconnected socket and then calling connect() is checked."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))

        with ctx.wrap_socket(socket.socket(), server_hostname="localhost") as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(genuine_server.address)
            sock.sendall(b"ping")
            assert recv_exactly(sock, 4) == b"ping"

        sock = ctx.wrap_socket(socket.socket(), server_hostname="localhost")
        sock.settimeout(TIMEOUT)
        with pytest.raises(PinVerificationError):
            sock.connect(rogue_server.address)
        assert sock.fileno() == -1

    def test_do_handshake_passes_extra_arguments_through(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer, rogue_server: TLSServer
    ) -> None:
        """do_handshake(block=True) is passed through: a non-blocking socket blocks."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))

        for server, refused in ((genuine_server, False), (rogue_server, True)):
            sock = ctx.wrap_socket(
                raw_connection(server, timeout=0.0),
                server_hostname="localhost",
                do_handshake_on_connect=False,
            )
            with sock:
                if refused:
                    with pytest.raises(PinVerificationError):
                        sock.do_handshake(block=True)
                else:
                    sock.do_handshake(block=True)
                    assert sock.getpeercert(True) == two_cas.genuine.der
                    assert sock.gettimeout() == 0.0


def first_call(name: str, sock: ssl.SSLSocket, tmp_path: Path) -> object:
    """Perform ``name`` as the first operation on a not-yet-handshaken socket."""
    if name == "sendall":
        sock.sendall(SECRET)
        return None
    if name == "send":
        return sock.send(SECRET)
    if name == "write":
        return sock.write(SECRET)
    if name == "recv":
        return sock.recv(10)
    if name == "read":
        return sock.read(10)
    if name == "recv_into":
        return sock.recv_into(bytearray(10))
    if name == "makefile-write":
        with sock.makefile("wb") as stream:
            stream.write(SECRET)
            stream.flush()
        return None
    if name == "makefile-read":
        with sock.makefile("rb") as stream:
            return stream.read(1)
    if name == "sendfile":
        path = tmp_path / "payload"
        path.write_bytes(SECRET)
        with path.open("rb") as stream:
            return sock.sendfile(stream)
    raise AssertionError(name)


FIRST_CALLS = [
    "sendall",
    "send",
    "write",
    "recv",
    "read",
    "recv_into",
    "makefile-write",
    "makefile-read",
    "sendfile",
]


class TestLazyHandshake:
    @pytest.mark.parametrize("name", FIRST_CALLS)
    def test_first_io_call_refuses_before_any_byte(
        self, two_cas: TwoCAWorld, rogue_server: TLSServer, name: str, tmp_path: Path
    ) -> None:
        """With do_handshake_on_connect=False the first I/O call runs the check."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))
        sock = ctx.wrap_socket(
            raw_connection(rogue_server),
            server_hostname="localhost",
            do_handshake_on_connect=False,
        )

        with pytest.raises(PinVerificationError):
            first_call(name, sock, tmp_path)
        assert sock.fileno() == -1
        [record] = rogue_server.wait_for(1)
        assert record.handshake_ok
        assert record.received == b""

    @pytest.mark.parametrize("name", ["sendall", "send", "write", "sendfile"])
    def test_first_write_call_works_on_the_genuine_server(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer, name: str, tmp_path: Path
    ) -> None:
        """The same first calls go through once the pins match."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))

        with ctx.wrap_socket(
            raw_connection(genuine_server),
            server_hostname="localhost",
            do_handshake_on_connect=False,
        ) as sock:
            first_call(name, sock, tmp_path)
            assert recv_exactly(sock, len(SECRET)) == SECRET


class TestAfterRefusal:
    def test_socket_is_closed_and_keeps_raising(
        self, two_cas: TwoCAWorld, rogue_server: TLSServer
    ) -> None:
        """A refused SSLSocket is closed, and every later call raises the refusal."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))
        sock = ctx.wrap_socket(
            raw_connection(rogue_server),
            server_hostname="localhost",
            do_handshake_on_connect=False,
        )

        with pytest.raises(PinVerificationError) as caught:
            sock.do_handshake()
        assert sock.fileno() == -1
        for call in (
            lambda: sock.sendall(SECRET),
            lambda: sock.recv(1),
            sock.do_handshake,
        ):
            with pytest.raises(PinVerificationError) as again:
                call()
            assert again.value is caught.value
        assert received_bytes(rogue_server) == [b""]

    def test_ssl_object_keeps_raising(
        self, two_cas: TwoCAWorld, rogue_server: TLSServer
    ) -> None:
        """A refused SSLObject raises the same refusal from read and write."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))

        with raw_connection(rogue_server) as raw:
            pump = BioPump(ctx, raw)
            with pytest.raises(PinVerificationError) as caught:
                pump.run(pump.obj.do_handshake)
            for call in (
                lambda: pump.obj.write(SECRET),
                lambda: pump.obj.read(10),
                pump.obj.do_handshake,
            ):
                with pytest.raises(PinVerificationError) as again:
                    call()
                assert again.value is caught.value
            pump.flush()
        assert received_bytes(rogue_server) == [b""]


class BioPump:
    """An ``SSLObject`` over memory BIOs, fed from a blocking socket by hand."""

    def __init__(self, ctx: ssl.SSLContext, sock: socket.socket) -> None:
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(
            self.incoming, self.outgoing, server_hostname="localhost"
        )

    def flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def run(self, operation: Callable[[], Any]) -> Any:
        """Retry ``operation`` until it no longer wants to read."""
        for _ in range(1000):
            try:
                result = operation()
            except ssl.SSLWantReadError:
                self.flush()
                data = self.sock.recv(65536)
                if data:
                    self.incoming.write(data)
                else:
                    self.incoming.write_eof()
                continue
            self.flush()
            return result
        raise AssertionError("the TLS exchange did not finish")


class TestWrapBio:
    def test_genuine_round_trip(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer
    ) -> None:
        """wrap_bio driven by hand handshakes, writes and reads when the pins match."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))

        with raw_connection(genuine_server) as raw:
            pump = BioPump(ctx, raw)
            pump.run(pump.obj.do_handshake)
            pump.run(lambda: pump.obj.write(b"ping"))
            assert pump.run(lambda: pump.obj.read(4)) == b"ping"
            assert pump.obj.getpeercert(True) == two_cas.genuine.der

    def test_first_write_runs_the_check(
        self, two_cas: TwoCAWorld, rogue_server: TLSServer
    ) -> None:
        """An SSLObject whose first call is write() is checked before any data."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))

        with raw_connection(rogue_server) as raw:
            pump = BioPump(ctx, raw)
            with pytest.raises(PinVerificationError):
                pump.run(lambda: pump.obj.write(SECRET))
            pump.flush()
        assert received_bytes(rogue_server) == [b""]


class TestRenegotiation:
    def test_certificate_swap_by_renegotiation_is_not_accepted(
        self, two_cas: TwoCAWorld
    ) -> None:
        """A TLS 1.2 server renegotiating to a rogue certificate is not followed."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))

        with RenegotiatingServer(two_cas.genuine, two_cas.rogue) as server:
            with ctx.wrap_socket(
                raw_connection(server), server_hostname="localhost"
            ) as sock:
                assert sock.version() == "TLSv1.2"
                sock.sendall(b"line\n")
                assert recv_exactly(sock, len(server.before)) == server.before
                with pytest.raises(ssl.SSLError):
                    sock.recv(100)
            [record] = server.wait_for(1)
        assert record.renegotiation_requested
        assert not record.renegotiated

    def test_clearing_no_renegotiation_refuses_every_handshake(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer
    ) -> None:
        """A pinned context whose OP_NO_RENEGOTIATION was cleared refuses to connect."""
        ctx = pinned(two_cas, two_cas.genuine.pin)
        ctx.options &= ~ssl.OP_NO_RENEGOTIATION

        with pytest.raises(PinVerificationError, match="OP_NO_RENEGOTIATION"):
            tls_connect(genuine_server.address, ctx)


def session_after_read(
    server: TLSServer, ctx: ssl.SSLContext, hostname: str
) -> ssl.SSLSession:
    """Connect, exchange data (so TLS 1.3 tickets arrive) and return the session."""
    with tls_connect(server.address, ctx, hostname) as sock:
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
        session = sock.session
    assert session is not None
    return session


TLS_VERSIONS = [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]


class TestResumption:
    @pytest.mark.parametrize("version", TLS_VERSIONS, ids=["tls1.2", "tls1.3"])
    def test_genuine_resumption_is_accepted(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer, version: ssl.TLSVersion
    ) -> None:
        """Resuming a session whose chain passed the intermediate pin works."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))
        ctx.maximum_version = version
        session = session_after_read(genuine_server, ctx, "localhost")

        with tls_connect(
            genuine_server.address, ctx, "localhost", session=session
        ) as sock:
            assert sock.session_reused
            sock.sendall(b"again")
            assert recv_exactly(sock, 5) == b"again"
        assert [r.session_reused for r in genuine_server.wait_for(2)] == [False, True]

    @pytest.mark.parametrize("version", TLS_VERSIONS, ids=["tls1.2", "tls1.3"])
    def test_session_from_an_unpinned_host_is_refused_for_a_pinned_one(
        self, two_cas: TwoCAWorld, rogue_server: TLSServer, version: ssl.TLSVersion
    ) -> None:
        """A rogue session made for an unpinned name cannot be resumed for a pinned one.

        The realistic route: the context pins only example.test, so a connection
        to localhost (unpinned) accepts the rogue leaf, which also names
        example.test. OpenSSL resumes that session for example.test without any
        chain or host name check; only the approved-leaf set catches it.
        """
        ctx = pinssl.create_default_context(
            {"example.test": [intermediate_pin(two_cas)]}, cafile=str(two_cas.cafile)
        )
        ctx.maximum_version = version
        session = session_after_read(rogue_server, ctx, "localhost")

        sock = ctx.wrap_socket(
            raw_connection(rogue_server),
            server_hostname="example.test",
            session=session,
            do_handshake_on_connect=False,
        )
        with pytest.raises(PinVerificationError, match="resumed session"):
            sock.sendall(SECRET)
        records = rogue_server.wait_for(2)
        assert records[1].session_reused
        assert records[1].received == b""

    def test_forgotten_approval_refuses_resumption(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer
    ) -> None:
        """Resumption rests on the approved-leaf set: emptied, it refuses a session."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))
        session = session_after_read(genuine_server, ctx, "localhost")
        ctx.sslsocket_class._pinssl_approved.clear()  # type: ignore[attr-defined]

        with pytest.raises(PinVerificationError, match="never passed a pin check"):
            tls_connect(genuine_server.address, ctx, "localhost", session=session)

    def test_pinned_leaf_resumes_without_an_approval(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer
    ) -> None:
        """A resumed session whose leaf key itself is pinned needs no approval."""
        ctx = pinned(two_cas, two_cas.genuine.pin)
        session = session_after_read(genuine_server, ctx, "localhost")
        ctx.sslsocket_class._pinssl_approved.clear()  # type: ignore[attr-defined]

        with tls_connect(
            genuine_server.address, ctx, "localhost", session=session
        ) as sock:
            assert sock.session_reused


class TestFailClosed:
    def test_fault_in_the_digest_refuses_with_the_cause(
        self,
        two_cas: TwoCAWorld,
        genuine_server: TLSServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """An exception inside the check refuses the connection, chained as cause."""
        ctx = pinned(two_cas, two_cas.genuine.pin)

        def broken(der: bytes) -> bytes:
            raise RuntimeError("injected fault")

        monkeypatch.setattr(pinssl._backend, "spki_sha256", broken)
        with pytest.raises(PinVerificationError, match="injected fault") as caught:
            tls_connect(genuine_server.address, ctx)
        assert isinstance(caught.value.__cause__, RuntimeError)
        assert received_bytes(genuine_server) == [b""]


def run_in_threads(
    work: Callable[[int], tuple[str, str]], count: int, threads: int
) -> list[tuple[str, str]]:
    """Run ``work(i)`` for ``count`` items on ``threads`` threads, bounded."""
    results: list[tuple[str, str]] = []
    lock = threading.Lock()
    items = iter(range(count))

    def worker() -> None:
        while True:
            with lock:
                index = next(items, None)
            if index is None:
                return
            outcome = work(index)
            with lock:
                results.append(outcome)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(TIMEOUT * 4)
    assert not any(thread.is_alive() for thread in pool)
    return results


class TestSharedContext:
    def test_one_context_in_eight_threads(
        self,
        two_cas: TwoCAWorld,
        genuine_server: TLSServer,
        rogue_server: TLSServer,
        attack_server: TLSServer,
    ) -> None:
        """Eight threads sharing one context each get the right decision."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))
        servers = [
            ("genuine", genuine_server),
            ("rogue", rogue_server),
            ("attack", attack_server),
        ]

        def work(index: int) -> tuple[str, str]:
            kind, server = servers[index % len(servers)]
            try:
                with tls_connect(server.address, ctx) as sock:
                    sock.sendall(b"%d" % index)
                    recv_exactly(sock, len(b"%d" % index))
            except PinVerificationError:
                return kind, "refused"
            return kind, "accepted"

        results = run_in_threads(work, 48, 8)
        assert len(results) == 48
        for kind, outcome in results:
            assert outcome == ("accepted" if kind == "genuine" else "refused"), kind
        assert not any(rogue_server.received) and not any(attack_server.received)


class TestLogging:
    def test_warning_on_refusal(
        self,
        two_cas: TwoCAWorld,
        rogue_server: TLSServer,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A refusal logs one WARNING with the host and served pins, no key material."""
        caplog.set_level(logging.DEBUG, logger="pinssl")

        with pytest.raises(PinVerificationError):
            tls_connect(rogue_server.address, pinned(two_cas, two_cas.genuine.pin))
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        text = warnings[0].getMessage()
        assert warnings[0].name.startswith("pinssl")
        assert "localhost" in text
        assert two_cas.rogue.pin in text
        assert "PRIVATE" not in caplog.text
        key_body = b"".join(two_cas.rogue.key_pem.splitlines()[1:-1]).decode()
        assert key_body[:40] not in caplog.text

    def test_debug_on_success(
        self,
        two_cas: TwoCAWorld,
        genuine_server: TLSServer,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """An accepted connection logs at DEBUG, and nothing at WARNING."""
        caplog.set_level(logging.DEBUG, logger="pinssl")

        with tls_connect(
            genuine_server.address, pinned(two_cas, intermediate_pin(two_cas))
        ):
            pass
        assert [r.levelno for r in caplog.records] == [logging.DEBUG]
        assert "localhost" in caplog.records[0].getMessage()


class TestApi:
    def test_default_context_settings(self, two_cas: TwoCAWorld) -> None:
        """create_default_context: an ssl.SSLContext, TLS 1.2+, no renegotiation."""
        ctx = pinned(two_cas, two_cas.genuine.pin)

        assert isinstance(ctx, ssl.SSLContext)
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
        assert ctx.options & ssl.OP_NO_RENEGOTIATION
        assert ctx.verify_mode == ssl.CERT_REQUIRED
        assert ctx.check_hostname
        policy = pinssl.context_policy(ctx)
        assert policy is not None
        assert policy.patterns() == {"*": (two_cas.genuine.pin,)}

    def test_pin_context_keeps_the_callers_context(self, two_cas: TwoCAWorld) -> None:
        """pin_context returns the same object, its settings kept, renegotiation off."""
        ctx = client_context(cafile=two_cas.cafile)
        ctx.set_alpn_protocols(["h2"])

        assert pinssl.context_policy(ctx) is None
        assert pinssl.pin_context(ctx, [two_cas.genuine.pin]) is ctx
        assert ctx.options & ssl.OP_NO_RENEGOTIATION
        assert pinssl.context_policy(ctx) is not None

    def test_pinning_twice_raises(self, two_cas: TwoCAWorld) -> None:
        """Pinning a pinned context again raises instead of replacing its pins."""
        ctx = pinned(two_cas, two_cas.genuine.pin)

        with pytest.raises(PinsslError, match="already pinned"):
            pinssl.pin_context(ctx, [two_cas.rogue.pin])
        assert pinssl.context_policy(ctx) == pinssl.PinPolicy.from_spec(
            [two_cas.genuine.pin]
        )

    def test_refusal_attributes(
        self, two_cas: TwoCAWorld, rogue_server: TLSServer
    ) -> None:
        """The refusal is an SSLCertVerificationError naming host, expected, served."""
        ctx = pinned(two_cas, intermediate_pin(two_cas))

        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            tls_connect(rogue_server.address, ctx)
        error = caught.value
        assert isinstance(error, PinVerificationError)
        assert error.hostname == "localhost"
        assert error.expected == (intermediate_pin(two_cas),)
        assert error.served == (
            f"{two_cas.rogue.pin} (CN=localhost, O=pinssl tests)",
            f"{two_cas.rogue_root.cert.pin} (CN=pinssl rogue root, O=pinssl tests)",
        )
        assert error.verify_message == str(error)
        assert str(error).startswith("pinssl: certificate pin mismatch for localhost")
        assert "Expected one of: " + intermediate_pin(two_cas) in str(error)

    def test_wrap_socket_pins_a_given_context(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer, rogue_server: TLSServer
    ) -> None:
        """pinssl.wrap_socket pins an unpinned context and enforces the pins."""
        ctx = client_context(cafile=two_cas.cafile)
        pins = [intermediate_pin(two_cas)]

        with pinssl.wrap_socket(
            raw_connection(genuine_server),
            pins,
            server_hostname="localhost",
            context=ctx,
        ) as sock:
            assert sock.getpeercert(True) == two_cas.genuine.der
        assert pinssl.context_policy(ctx) is not None
        with pytest.raises(PinVerificationError):
            pinssl.wrap_socket(
                raw_connection(rogue_server),
                pins,
                server_hostname="localhost",
                context=ctx,
            )
        with pytest.raises(PinsslError, match="other pins"):
            pinssl.wrap_socket(
                raw_connection(genuine_server),
                [two_cas.rogue.pin],
                server_hostname="localhost",
                context=ctx,
            )

    def test_wrap_socket_default_context_uses_the_system_trust(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer
    ) -> None:
        """Without a context, wrap_socket verifies with the default CAs, as ssl does."""
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            pinssl.wrap_socket(
                raw_connection(genuine_server),
                [two_cas.genuine.pin],
                server_hostname="localhost",
            )
        assert not isinstance(caught.value, PinVerificationError)

    def test_post_handshake_auth_is_refused(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer
    ) -> None:
        """verify_client_post_handshake raises: its certificate would skip the check."""
        with tls_connect(
            genuine_server.address, pinned(two_cas, two_cas.genuine.pin)
        ) as sock:
            with pytest.raises(PinsslError, match="post-handshake"):
                sock.verify_client_post_handshake()


class OneShotServer:
    """A server thread that accepts one TLS connection with a given context.

    It echoes one chunk back and records the data or the exception it got.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.listener = socket.create_server((HOST, 0))
        self.listener.settimeout(TIMEOUT)
        self.address = self.listener.getsockname()
        self.received = b""
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        try:
            raw, _ = self.listener.accept()
            raw.settimeout(TIMEOUT)
            with self.context.wrap_socket(raw, server_side=True) as sock:
                self.received = sock.recv(100)
                sock.sendall(self.received)
        except Exception as error:  # noqa: BLE001 - recorded for the test
            self.error = error
        finally:
            self.listener.close()

    def __enter__(self) -> OneShotServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(TIMEOUT * 2)
        assert not self.thread.is_alive()


@pytest.fixture
def client_certs(two_cas: TwoCAWorld) -> Iterator[tuple[Cert, Cert]]:
    """A genuine client certificate (good CA) and a mis-issued one (rogue CA)."""
    yield (
        two_cas.good_intermediate.issue("client.test"),
        two_cas.rogue_root.issue("client.test"),
    )


def read_or_closed(sock: ssl.SSLSocket) -> bytes:
    """What the peer sends next; b"" when it closes or resets the connection."""
    try:
        return sock.recv(100)
    except OSError:
        return b""


class TestServerSide:
    def server_ctx(self, world: TwoCAWorld, pin: str) -> ssl.SSLContext:
        ctx = pinssl.create_default_context(
            [pin], ssl.Purpose.CLIENT_AUTH, cafile=str(world.cafile)
        )
        files = world.genuine_files
        ctx.load_cert_chain(str(files.chain), str(files.key))
        return ctx

    def client_with(self, world: TwoCAWorld, cert: Cert) -> ssl.SSLContext:
        ctx = world.client_context()
        files = cert.write()
        ctx.load_cert_chain(str(files.chain), str(files.key))
        return ctx

    def test_server_context_requires_a_client_certificate(
        self, two_cas: TwoCAWorld
    ) -> None:
        """A pinned CLIENT_AUTH context requires the client's certificate."""
        ctx = self.server_ctx(two_cas, intermediate_pin(two_cas))

        assert ctx.verify_mode == ssl.CERT_REQUIRED
        assert ctx.options & ssl.OP_NO_RENEGOTIATION

    def test_genuine_client_is_accepted(
        self, two_cas: TwoCAWorld, client_certs: tuple[Cert, Cert]
    ) -> None:
        """A client certificate under the pinned intermediate gets through."""
        genuine, _ = client_certs
        server_ctx = self.server_ctx(two_cas, intermediate_pin(two_cas))

        with OneShotServer(server_ctx) as server:
            client = self.client_with(two_cas, genuine)
            with tls_connect(server.address, client) as sock:
                sock.sendall(b"hello")
                assert recv_exactly(sock, 5) == b"hello"
        assert server.error is None
        assert server.received == b"hello"

    def test_mis_issued_client_certificate_is_refused(
        self, two_cas: TwoCAWorld, client_certs: tuple[Cert, Cert]
    ) -> None:
        """A client certificate from the rogue CA is refused and its data never read."""
        _, rogue = client_certs
        server_ctx = self.server_ctx(two_cas, intermediate_pin(two_cas))

        with OneShotServer(server_ctx) as server:
            client = self.client_with(two_cas, rogue)
            with tls_connect(server.address, client) as sock:
                sock.sendall(SECRET)
                assert read_or_closed(sock) == b""
        assert isinstance(server.error, PinVerificationError)
        assert server.error.hostname is None
        assert "client certificate" in str(server.error)
        assert server.received == b""

    def test_mapping_is_refused_on_the_server_side(self) -> None:
        """Host patterns make no sense for client certificates, so they raise."""
        with pytest.raises(pinssl.InvalidPinError, match="server side"):
            pinssl.create_default_context(
                {"a.test": ["sha256/" + "A" * 43 + "="]}, ssl.Purpose.CLIENT_AUTH
            )
        with pytest.raises(pinssl.InvalidPinError, match="server side"):
            pinssl.pin_context(
                ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER),
                {"a.test": ["sha256/" + "A" * 43 + "="]},
            )
