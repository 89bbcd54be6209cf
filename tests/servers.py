"""Real TLS servers on 127.0.0.1 for pinssl tests.

Every server binds an ephemeral port, runs in daemon threads, is a context
manager (``with TLSServer(cert) as srv: ...``) and bounds every wait: sockets
carry timeouts, accept loops poll a stop flag, and ``stop()`` joins with a timeout
after shutting down any connection still open.

* ``TLSServer``: thread per connection, records every application byte it
  receives per connection, counts completed handshakes, can append extra
  certificates to the chain it sends, limit TLS versions and resume sessions.
* ``HTTPSServer``: ``http.server`` behind TLS answering ``GET /``.
* ``RenegotiatingServer``: pyOpenSSL TLS 1.2 server that swaps its certificate
  and renegotiates (findings on OpenSSL 3.0 in its docstring).
* ``TwoCAWorld`` / ``make_two_ca_world``: a "good" and a "rogue" CA both trusted
  by the client, a genuine leaf and a mis-issued leaf for the same hostnames.
"""

from __future__ import annotations

import functools
import http.server
import select
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certs import (
    CA,
    DEFAULT_HOSTNAMES,
    Cert,
    CertFiles,
    KeyType,
    run_openssl,
    scratch_dir,
    write_cafile,
)

HOST = "127.0.0.1"
_ENCODING_DER: int = ssl._ssl.ENCODING_DER  # type: ignore[attr-defined]
DEFAULT_TIMEOUT = 5.0
DEFAULT_BODY = b"hello from pinssl test server\n"
DSA_CIPHERS = "DHE-DSS-AES128-GCM-SHA256:DHE-DSS-AES256-GCM-SHA384"


# --- shared context helpers -------------------------------------------------------


@functools.lru_cache(maxsize=1)
def dh_params_file() -> Path:
    """RFC 7919 ffdhe2048 parameters (PEM), needed by DHE-DSS cipher suites."""
    path = scratch_dir() / "ffdhe2048.pem"
    path.write_bytes(
        run_openssl(
            "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048"
        )
    )
    return path


@dataclass(frozen=True)
class TLSSettings:
    """TLS limits a key type needs on both ends (``{}`` kwargs for the rest)."""

    maximum_version: ssl.TLSVersion | None = None
    ciphers: str | None = None
    dh_params: bool = False


def tls_settings_for(key_type: KeyType | str) -> TLSSettings:
    """DSA only works in TLS 1.2 with DHE-DSS suites; every other type needs nothing."""
    if key_type == "dsa":
        return TLSSettings(ssl.TLSVersion.TLSv1_2, DSA_CIPHERS, dh_params=True)
    return TLSSettings()


def server_context(
    cert: Cert | None = None,
    *,
    certfile: str | Path | None = None,
    keyfile: str | Path | None = None,
    extra_certs: Sequence[Cert | bytes] = (),
    minimum_version: ssl.TLSVersion | None = None,
    maximum_version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    dh_params: bool = False,
    alpn_protocols: Sequence[str] | None = None,
    num_tickets: int | None = None,
) -> ssl.SSLContext:
    """A server ``SSLContext`` serving ``cert``'s chain plus ``extra_certs``."""
    if cert is not None:
        files = cert.write(extra=extra_certs)
        certfile, keyfile = files.chain, files.key
    elif extra_certs:
        raise ValueError("extra_certs needs a Cert (write the chain file yourself)")
    if certfile is None:
        raise ValueError("need a Cert or a certfile")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
    if minimum_version is not None:
        ctx.minimum_version = minimum_version
    if maximum_version is not None:
        ctx.maximum_version = maximum_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    if dh_params:
        ctx.load_dh_params(str(dh_params_file()))
    if alpn_protocols:
        ctx.set_alpn_protocols(list(alpn_protocols))
    if num_tickets is not None:
        ctx.num_tickets = num_tickets
    return ctx


def client_context(
    *,
    cafile: str | Path | None = None,
    cadata: str | bytes | None = None,
    key_type: KeyType | str | None = None,
    minimum_version: ssl.TLSVersion | None = None,
    maximum_version: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    """A plain-``ssl`` verifying client context trusting ``cafile``/``cadata``."""
    ctx = ssl.create_default_context(
        cafile=str(cafile) if cafile else None,
        cadata=cadata.decode() if isinstance(cadata, bytes) else cadata,
    )
    settings = tls_settings_for(key_type) if key_type else TLSSettings()
    if settings.ciphers:
        ctx.set_ciphers(settings.ciphers)
    if minimum_version is not None:
        ctx.minimum_version = minimum_version
    maximum_version = maximum_version or settings.maximum_version
    if maximum_version is not None:
        ctx.maximum_version = maximum_version
    return ctx


def tls_connect(
    address: tuple[str, int],
    context: ssl.SSLContext,
    hostname: str | None = "localhost",
    *,
    timeout: float = DEFAULT_TIMEOUT,
    session: ssl.SSLSession | None = None,
) -> ssl.SSLSocket:
    """Open a client TLS connection (handshake done); the caller closes it."""
    raw = socket.create_connection(address, timeout=timeout)
    try:
        return context.wrap_socket(raw, server_hostname=hostname, session=session)
    except BaseException:
        raw.close()
        raise


def recv_exactly(sock: ssl.SSLSocket, size: int) -> bytes:
    """Read exactly ``size`` bytes (fewer only at EOF)."""
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def peer_chain_der(sock: ssl.SSLSocket, verified: bool = False) -> list[bytes]:
    """DER certificates the peer sent (or the verified chain), on Python 3.10+."""
    sslobj: Any = sock._sslobj  # type: ignore[attr-defined]
    chain = sslobj.get_verified_chain() if verified else sslobj.get_unverified_chain()
    out = []
    for item in chain or []:
        if isinstance(item, bytes):
            out.append(item)
        else:
            out.append(item.public_bytes(_ENCODING_DER))
    return out


# --- TLSServer --------------------------------------------------------------------


@dataclass
class ConnectionRecord:
    """What the server saw on one accepted connection."""

    index: int
    peer: tuple[str, int]
    received_buf: bytearray = field(default_factory=bytearray)
    sent_buf: bytearray = field(default_factory=bytearray)
    handshake_ok: bool = False
    version: str | None = None
    cipher: str | None = None
    session_reused: bool = False
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def received(self) -> bytes:
        """Application bytes received so far."""
        return bytes(self.received_buf)

    @property
    def sent(self) -> bytes:
        """Application bytes sent so far."""
        return bytes(self.sent_buf)


_EOF_ERRORS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError)


class ServerConn:
    """A handler's view of one connection; ``recv``/``sendall`` record bytes."""

    def __init__(self, sock: ssl.SSLSocket, record: ConnectionRecord) -> None:
        self.sock = sock
        self.record = record

    def recv(self, bufsize: int = 65536) -> bytes:
        """Receive and record; b"" at EOF (including a TLS EOF without notify)."""
        try:
            data = self.sock.recv(bufsize)
        except _EOF_ERRORS:
            return b""
        self.record.received_buf += data
        return data

    def recv_until(self, marker: bytes, limit: int = 1 << 20) -> bytes:
        """Receive until ``marker`` is seen, EOF, or ``limit`` bytes."""
        buf = bytearray()
        while marker not in buf and len(buf) < limit:
            chunk = self.recv()
            if not chunk:
                break
            buf += chunk
        return bytes(buf)

    def sendall(self, data: bytes) -> None:
        """Send and record."""
        self.sock.sendall(data)
        self.record.sent_buf += data

    def drain(self) -> None:
        """Record everything until the peer closes (or the socket times out)."""
        while self.recv():
            pass


Handler = Callable[[ServerConn], None]


def echo_handler(conn: ServerConn) -> None:
    """Echo every chunk back until EOF."""
    while True:
        data = conn.recv()
        if not data:
            return
        conn.sendall(data)


def respond_handler(response: bytes, *, wait_for_request: bool = True) -> Handler:
    """Send ``response`` (after the first chunk if ``wait_for_request``), then drain."""

    def handler(conn: ServerConn) -> None:
        if wait_for_request and not conn.recv():
            return
        conn.sendall(response)
        conn.drain()

    return handler


def drain_handler(conn: ServerConn) -> None:
    """Only record what the client sends."""
    conn.drain()


class _ThreadedServerBase:
    """Listener, stop flag, bookkeeping of live sockets and threads."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._live: set[socket.socket] = set()
        self._listener: socket.socket | None = None

    @property
    def host(self) -> str:
        """Listening IP (always 127.0.0.1)."""
        return HOST

    @property
    def port(self) -> int:
        """Listening port."""
        assert self._listener is not None, "server not started"
        return int(self._listener.getsockname()[1])

    @property
    def address(self) -> tuple[str, int]:
        """(host, port)."""
        return (HOST, self.port)

    def _listen(self) -> None:
        self._listener = socket.create_server((HOST, 0), backlog=128)
        self._listener.settimeout(0.05)

    def _accept_loop(self, serve: Callable[[socket.socket, Any], None]) -> None:
        """Accept until stopped; one daemon thread per connection."""
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                raw, peer = self._listener.accept()
            except (TimeoutError, BlockingIOError):
                continue
            except OSError:
                return
            raw.settimeout(self.timeout)
            self._track(raw)
            thread = threading.Thread(
                target=self._run_conn, args=(serve, raw, peer), daemon=True
            )
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _track(self, sock: socket.socket) -> None:
        """Remember an open socket so ``stop()`` can cut it."""
        with self._lock:
            self._live.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._live.discard(sock)

    def _run_conn(
        self, serve: Callable[[socket.socket, Any], None], raw: socket.socket, peer: Any
    ) -> None:
        try:
            serve(raw, peer)
        finally:
            self._untrack(raw)
            raw.close()

    def _start_threads(self, serve: Callable[[socket.socket, Any], None]) -> None:
        self._listen()
        thread = threading.Thread(target=self._accept_loop, args=(serve,), daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        """Stop accepting, cut open connections and join threads (bounded)."""
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            live = list(self._live)
            threads = list(self._threads)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + self.timeout + 2
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class TLSServer(_ThreadedServerBase):
    """A TLS server on 127.0.0.1 recording every application byte per connection.

    ``handler`` gets a ``ServerConn`` after the handshake (default: echo).  Session
    tickets are on, so TLS 1.2 and 1.3 clients can resume with ``session=``
    (a TLS 1.3 client must read some data before its ``session`` holds a ticket).
    """

    def __init__(
        self,
        cert: Cert | None = None,
        *,
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
        extra_certs: Sequence[Cert | bytes] = (),
        minimum_version: ssl.TLSVersion | None = None,
        maximum_version: ssl.TLSVersion | None = None,
        ciphers: str | None = None,
        dh_params: bool = False,
        alpn_protocols: Sequence[str] | None = None,
        num_tickets: int | None = None,
        handler: Handler | None = None,
        response: bytes | None = None,
        context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(timeout)
        self.context = context or server_context(
            cert,
            certfile=certfile,
            keyfile=keyfile,
            extra_certs=extra_certs,
            minimum_version=minimum_version,
            maximum_version=maximum_version,
            ciphers=ciphers,
            dh_params=dh_params,
            alpn_protocols=alpn_protocols,
            num_tickets=num_tickets,
        )
        if handler is None:
            handler = echo_handler if response is None else respond_handler(response)
        self.handler = handler
        self.connections: list[ConnectionRecord] = []

    def __enter__(self) -> TLSServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> TLSServer:
        """Bind and start accepting."""
        self._start_threads(self._serve)
        return self

    @property
    def received(self) -> list[bytes]:
        """Application bytes received, one entry per connection in accept order."""
        with self._lock:
            return [r.received for r in self.connections]

    @property
    def handshakes(self) -> int:
        """Number of completed handshakes."""
        with self._lock:
            return sum(r.handshake_ok for r in self.connections)

    @property
    def failed_handshakes(self) -> int:
        """Number of connections whose handshake failed."""
        with self._lock:
            return sum(
                (not r.handshake_ok) and r.done.is_set() for r in self.connections
            )

    def wait_for(
        self, count: int, timeout: float | None = None
    ) -> list[ConnectionRecord]:
        """Wait until ``count`` connections were accepted and finished; return all."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while time.monotonic() < deadline:
            with self._lock:
                records = list(self.connections)
            if len(records) >= count and all(r.done.is_set() for r in records):
                return records
            time.sleep(0.01)
        raise TimeoutError(f"{len(self.connections)} connection(s), wanted {count}")

    def _serve(self, raw: socket.socket, peer: Any) -> None:
        with self._lock:
            record = ConnectionRecord(index=len(self.connections), peer=peer)
            self.connections.append(record)
        sock: ssl.SSLSocket | None = None
        try:
            sock = self.context.wrap_socket(
                raw, server_side=True, do_handshake_on_connect=False
            )
            self._track(sock)
            sock.do_handshake()
            record.version = sock.version()
            record.cipher = (sock.cipher() or ("",))[0]
            record.session_reused = bool(sock.session_reused)
            record.handshake_ok = True
            self.handler(ServerConn(sock, record))
        except Exception as exc:  # noqa: BLE001 - recorded for the test to inspect
            record.error = f"{type(exc).__name__}: {exc}"
        finally:
            if sock is not None:
                self._untrack(sock)
                sock.close()
            record.done.set()


# --- HTTPS ------------------------------------------------------------------------


@dataclass
class RequestRecord:
    """One HTTP request seen by ``HTTPSServer``."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TLSHTTPServer

    def _reply(self, body: bytes, send_body: bool = True) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _record(self, body: bytes = b"") -> None:
        record = RequestRecord(self.command, self.path, dict(self.headers), body)
        with self.server.lock:
            self.server.requests.append(record)

    def do_GET(self) -> None:
        self._record()
        self._reply(self.server.body)

    def do_HEAD(self) -> None:
        self._record()
        self._reply(self.server.body, send_body=False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1 << 20))
        self._record(body)
        self._reply(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


class _TLSHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext, body: bytes, timeout: float) -> None:
        self.context = context
        self.body = body
        self.conn_timeout = timeout
        self.lock = threading.Lock()
        self.requests: list[RequestRecord] = []
        self.handshakes = 0
        self.failed_handshakes = 0
        self.live: set[socket.socket] = set()
        super().__init__((HOST, 0), _RequestHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        raw, peer = self.socket.accept()
        raw.settimeout(self.conn_timeout)
        wrapped = self.context.wrap_socket(
            raw, server_side=True, do_handshake_on_connect=False
        )
        with self.lock:
            self.live.add(wrapped)
        return wrapped, peer

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (OSError, ValueError):
            with self.lock:
                self.failed_handshakes += 1
            return
        with self.lock:
            self.handshakes += 1
        super().finish_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self.live.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection errors are expected in these tests; stay quiet."""


class HTTPSServer:
    """``http.server`` over TLS on 127.0.0.1: ``GET /`` answers ``body``.

    HTTP/1.1 with keep-alive, so pooled clients (urllib3, requests, httpx) reuse
    connections.  ``POST`` echoes the request body.  ``requests`` lists what was
    asked; ``handshakes``/``failed_handshakes`` count TLS outcomes.
    """

    def __init__(
        self,
        cert: Cert | None = None,
        *,
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
        extra_certs: Sequence[Cert | bytes] = (),
        minimum_version: ssl.TLSVersion | None = None,
        maximum_version: ssl.TLSVersion | None = None,
        body: bytes = DEFAULT_BODY,
        context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.context = context or server_context(
            cert,
            certfile=certfile,
            keyfile=keyfile,
            extra_certs=extra_certs,
            minimum_version=minimum_version,
            maximum_version=maximum_version,
        )
        self.body = body
        self.timeout = timeout
        self._httpd: _TLSHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def __enter__(self) -> HTTPSServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> HTTPSServer:
        """Bind and serve in a thread."""
        self._httpd = _TLSHTTPServer(self.context, self.body, self.timeout)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut keep-alive connections, close (bounded)."""
        if self._httpd is None or self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        with self._httpd.lock:
            live = list(self._httpd.live)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(self.timeout)

    @property
    def _server(self) -> _TLSHTTPServer:
        assert self._httpd is not None, "server not started"
        return self._httpd

    @property
    def host(self) -> str:
        """Listening IP (always 127.0.0.1)."""
        return HOST

    @property
    def port(self) -> int:
        """Listening port."""
        return int(self._server.server_address[1])

    @property
    def address(self) -> tuple[str, int]:
        """(host, port)."""
        return (HOST, self.port)

    def url(self, hostname: str = "localhost", path: str = "/") -> str:
        """``https://hostname:port/path`` (hostname must be in the certificate)."""
        return f"https://{hostname}:{self.port}{path}"

    @property
    def requests(self) -> list[RequestRecord]:
        """Requests served so far."""
        with self._server.lock:
            return list(self._server.requests)

    @property
    def handshakes(self) -> int:
        """Completed TLS handshakes."""
        with self._server.lock:
            return self._server.handshakes

    @property
    def failed_handshakes(self) -> int:
        """Failed TLS handshakes."""
        with self._server.lock:
            return self._server.failed_handshakes


# --- renegotiation ----------------------------------------------------------------


@dataclass
class RenegotiationRecord:
    """Outcome of one connection to ``RenegotiatingServer``."""

    received: bytearray = field(default_factory=bytearray)
    first_handshake: bool = False
    renegotiation_requested: bool = False
    renegotiated: bool = False
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)


class RenegotiatingServer(_ThreadedServerBase):
    """TLS 1.2 pyOpenSSL server that swaps to ``second`` and renegotiates.

    Protocol per connection:

    1. handshake presenting ``first``;
    2. read one chunk from the client, send ``before``;
    3. ``set_context`` to a context serving ``second`` (a different certificate
       and key), ``renegotiate()`` + ``do_handshake()`` (sends HelloRequest);
    4. keep reading (recording any bytes) until the renegotiation completes,
       then send ``after`` and record until EOF.

    So a client sends a line, reads ``before``, then reads again: that read runs
    the renegotiation.  Observed with OpenSSL 3.0 and Python ``ssl``:

    * Without ``ssl.OP_NO_RENEGOTIATION`` (Python's default contexts do not set
      it) the client accepts the new handshake whenever ``second`` verifies
      against its trust store and hostname, and ``getpeercert()`` then returns
      ``second``: a certificate it never saw during the first handshake.
    * With ``ssl.OP_NO_RENEGOTIATION`` the client answers the HelloRequest with
      a *warning* alert ``no_renegotiation`` (100) and keeps the connection.
      The server's ``SSL_read`` turns that into the error "no renegotiation"
      (``SSL_R_NO_RENEGOTIATION``, pyOpenSSL ``SSL.Error``) and sends a fatal
      ``handshake_failure`` alert, so the client's read raises
      ``ssl.SSLError`` "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE]".  The client never
      receives ``after``; afterwards its ``getpeercert()`` raises ValueError
      "handshake not done yet", so ``second`` is never exposed.
    * The client offers its session in the renegotiation ClientHello; if the
      server can resume it, the renegotiation is an abbreviated handshake and no
      new certificate is sent.  So this server keeps no sessions (no tickets,
      session cache off), forcing a full handshake with ``second``.
    * Calling ``do_handshake()`` again on the server does not drive the
      renegotiation; only the server's reads do, hence the non-blocking read
      loop here (a blocking read would deadlock with a client waiting for data).
    """

    def __init__(
        self,
        first: Cert,
        second: Cert,
        *,
        before: bytes = b"before\n",
        after: bytes = b"after\n",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(timeout)
        self._first_ctx = self._pyopenssl_context(first)
        self._second_ctx = self._pyopenssl_context(second)
        self.before = before
        self.after = after
        self.records: list[RenegotiationRecord] = []

    @staticmethod
    def _pyopenssl_context(cert: Cert) -> Any:
        from OpenSSL import SSL

        files = cert.write()
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
        ctx.set_options(SSL.OP_NO_TICKET)
        ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)
        ctx.use_certificate_chain_file(str(files.chain))
        ctx.use_privatekey_file(str(files.key))
        return ctx

    def __enter__(self) -> RenegotiatingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> RenegotiatingServer:
        """Bind and start accepting."""
        self._start_threads(self._serve)
        return self

    def wait_for(
        self, count: int, timeout: float | None = None
    ) -> list[RenegotiationRecord]:
        """Wait until ``count`` connections finished; return all records."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while time.monotonic() < deadline:
            with self._lock:
                records = list(self.records)
            if len(records) >= count and all(r.done.is_set() for r in records):
                return records
            time.sleep(0.01)
        raise TimeoutError(f"{len(self.records)} connection(s), wanted {count}")

    def _serve(self, raw: socket.socket, peer: Any) -> None:
        from OpenSSL import SSL

        record = RenegotiationRecord()
        with self._lock:
            self.records.append(record)
        raw.setblocking(False)
        conn = SSL.Connection(self._first_ctx, raw)
        conn.set_accept_state()
        deadline = time.monotonic() + self.timeout

        def drive(step: Callable[[], Any]) -> Any:
            """Retry ``step`` on WantRead/WantWrite until the deadline."""
            while True:
                try:
                    return step()
                except SSL.WantReadError:
                    readers, writers = [raw], []
                except SSL.WantWriteError:
                    readers, writers = [], [raw]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("renegotiating server timed out")
                select.select(readers, writers, [], min(left, 0.05))

        def read() -> bytes:
            try:
                data: bytes = drive(lambda: conn.recv(65536))
            except (SSL.ZeroReturnError, SSL.SysCallError):
                return b""  # close_notify, or a plain TCP close
            record.received += data
            return data

        def send(data: bytes) -> None:
            sent = 0
            while sent < len(data):
                chunk = data[sent:]
                sent += int(drive(functools.partial(conn.send, chunk)))

        try:
            drive(conn.do_handshake)
            record.first_handshake = True
            read()
            send(self.before)

            conn.set_context(self._second_ctx)
            record.renegotiation_requested = bool(conn.renegotiate())
            drive(conn.do_handshake)
            while conn.renegotiate_pending():
                try:
                    record.received += conn.recv(65536)
                    continue
                except SSL.WantReadError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("renegotiation did not complete")
                select.select([raw], [], [], 0.05)
            record.renegotiated = conn.total_renegotiations() > 0

            send(self.after)
            while read():
                pass
        except (SSL.Error, OSError) as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        finally:
            record.done.set()


# --- two trusted CAs --------------------------------------------------------------


@dataclass
class TwoCAWorld:
    """Good CA (root + intermediate) and rogue CA, both trusted by clients.

    ``genuine`` is issued by the good intermediate; ``rogue`` is a mis-issued
    leaf for the same hostnames straight from the rogue root.
    """

    good_root: CA
    good_intermediate: CA
    rogue_root: CA
    genuine: Cert
    rogue: Cert
    hostnames: tuple[str, ...]
    directory: Path
    cafile: Path
    cadata: str
    genuine_files: CertFiles
    rogue_files: CertFiles

    def client_context(self, **kwargs: Any) -> ssl.SSLContext:
        """A plain ``ssl`` client context trusting both roots."""
        return client_context(cafile=self.cafile, **kwargs)

    def genuine_server(self, **kwargs: Any) -> TLSServer:
        """An unstarted ``TLSServer`` serving the genuine chain."""
        return TLSServer(self.genuine, **kwargs)

    def rogue_server(self, **kwargs: Any) -> TLSServer:
        """An unstarted ``TLSServer`` serving the mis-issued leaf."""
        return TLSServer(self.rogue, **kwargs)

    def attack_server(self, **kwargs: Any) -> TLSServer:
        """Rogue leaf plus appended good intermediate and root (CVE-2016-2402)."""
        extra = [self.good_intermediate.cert, self.good_root.cert]
        return TLSServer(self.rogue, extra_certs=extra, **kwargs)


def make_two_ca_world(
    directory: Path | str | None = None,
    key_type: KeyType | str = "ec-p256",
    hostnames: Sequence[str] = DEFAULT_HOSTNAMES,
) -> TwoCAWorld:
    """Mint the good and rogue CAs and their leaves, and write their files."""
    base = Path(directory or tempfile.mkdtemp(prefix="world-", dir=scratch_dir()))
    base.mkdir(parents=True, exist_ok=True)
    good_root = CA.root("pinssl good root")
    good_intermediate = good_root.intermediate("pinssl good intermediate")
    rogue_root = CA.root("pinssl rogue root")
    genuine = good_intermediate.issue(*hostnames, key_type=key_type)
    rogue = rogue_root.issue(*hostnames, key_type=key_type)
    cafile = write_cafile([good_root, rogue_root], base / "cafile.pem")
    return TwoCAWorld(
        good_root=good_root,
        good_intermediate=good_intermediate,
        rogue_root=rogue_root,
        genuine=genuine,
        rogue=rogue,
        hostnames=tuple(hostnames),
        directory=base,
        cafile=cafile,
        cadata=cafile.read_text(),
        genuine_files=genuine.write(base, "genuine"),
        rogue_files=rogue.write(base, "rogue"),
    )


__all__ = [
    "DEFAULT_BODY",
    "HOST",
    "ConnectionRecord",
    "HTTPSServer",
    "RenegotiatingServer",
    "RenegotiationRecord",
    "RequestRecord",
    "ServerConn",
    "TLSServer",
    "TLSSettings",
    "TwoCAWorld",
    "client_context",
    "dh_params_file",
    "drain_handler",
    "echo_handler",
    "make_two_ca_world",
    "peer_chain_der",
    "recv_exactly",
    "respond_handler",
    "server_context",
    "tls_connect",
    "tls_settings_for",
]
