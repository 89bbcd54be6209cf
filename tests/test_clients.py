"""Pinned contexts through common clients, against local TLS servers on 127.0.0.1.

Each client is shown both ways. The genuine server (good CA, pinned
intermediate) answers a real request; a certificate mis-issued by a second CA
that the client also trusts is refused with the error that client usually
raises for a bad certificate, and a ``PinVerificationError`` naming the host
and the served keys can be reached from that error. Servers that present the
mis-issued certificate receive no application bytes.
"""

from __future__ import annotations

import asyncio
import http.client
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
import requests
import urllib3
from requests.adapters import HTTPAdapter
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.http11 import Request

import pinssl
from pinssl import PinVerificationError
from pinssl.requests_adapter import PinnedAdapter

from servers import (
    DEFAULT_BODY,
    HOST,
    HTTPSServer,
    ServerConn,
    TLSServer,
    TwoCAWorld,
    recv_exactly,
    server_context,
)

TIMEOUT = 5.0
HOSTNAME = "localhost"
SECRET = b"application secret"
HTTP_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
    b"Connection: close\r\n\r\n%s" % (len(DEFAULT_BODY), DEFAULT_BODY)
)
SMTP_LINE_LIMIT = 4096
MAX_LINKS = 64
ENVIRONMENT_TO_CLEAR = (
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)


@pytest.fixture(autouse=True)
def hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy and no extra CA bundle from the environment reaches a client."""
    for name in ENVIRONMENT_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ctx(two_cas: TwoCAWorld) -> ssl.SSLContext:
    """A fresh pinned client context: good intermediate pinned, both CAs trusted."""
    return pinssl.create_default_context(
        [two_cas.good_intermediate.cert.pin], cafile=str(two_cas.cafile)
    )


@pytest.fixture
def rogue_http(two_cas: TwoCAWorld) -> Iterator[TLSServer]:
    """Mis-issued leaf; answers the first bytes with a 200 and records all bytes."""
    with two_cas.rogue_server(response=HTTP_RESPONSE) as server:
        yield server


@pytest.fixture
def genuine_smtp(two_cas: TwoCAWorld) -> Iterator[TLSServer]:
    """Implicit-TLS SMTP responder presenting the genuine chain."""
    with two_cas.genuine_server(handler=smtp_responder) as server:
        yield server


@pytest.fixture
def rogue_smtp(two_cas: TwoCAWorld) -> Iterator[TLSServer]:
    """Implicit-TLS SMTP responder presenting the mis-issued leaf."""
    with two_cas.rogue_server(handler=smtp_responder) as server:
        yield server


def smtp_responder(conn: ServerConn) -> None:
    """Greet with 220, answer EHLO/HELO with 250, say 221 and close on QUIT."""
    conn.sendall(b"220 localhost ESMTP pinssl test\r\n")
    pending = b""
    while len(pending) < SMTP_LINE_LIMIT:
        chunk = conn.recv()
        if not chunk:
            return

        pending += chunk
        while b"\r\n" in pending:
            line, pending = pending.split(b"\r\n", 1)
            verb = line.split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250-localhost\r\n250 8BITMIME\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 command not implemented\r\n")


class ContextAdapter(HTTPAdapter):
    """Stock requests: an ``HTTPAdapter`` that hands urllib3 an SSL context."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self.context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self.context
        super().init_poolmanager(*args, **kwargs)


def linked_errors(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception reachable from it, breadth first.

    Follows ``__cause__``, ``__context__``, ``args`` and instance attributes
    (``reason``, ``os_error``, ``certificate_error`` and the like).
    """
    seen: set[int] = set()
    queue: deque[BaseException] = deque([error])
    while queue and len(seen) < MAX_LINKS:
        current = queue.popleft()
        if id(current) in seen:
            continue

        seen.add(id(current))
        yield current
        links = [
            current.__cause__,
            current.__context__,
            *current.args,
            *vars(current).values(),
        ]
        queue.extend(link for link in links if isinstance(link, BaseException))


def refusal_behind(error: BaseException, world: TwoCAWorld) -> PinVerificationError:
    """The ``PinVerificationError`` behind ``error``, checked against ``world``."""
    found = [e for e in linked_errors(error) if isinstance(e, PinVerificationError)]
    chain = [type(e).__qualname__ for e in linked_errors(error)]
    assert found, f"no PinVerificationError behind {chain}"

    refusal = found[0]
    assert refusal.hostname == HOSTNAME
    assert refusal.expected == (world.good_intermediate.cert.pin,)
    served_pins = [entry.split()[0] for entry in refusal.served]
    assert served_pins == [world.rogue.pin, world.rogue_root.cert.pin]
    assert f"pin mismatch for {HOSTNAME}" in str(refusal)
    return refusal


def received(server: TLSServer) -> list[bytes]:
    """Application bytes of every accepted connection, once all of them ended."""
    return [record.received for record in server.wait_for(len(server.connections))]


def served_paths(server: HTTPSServer) -> list[str]:
    """Paths of the requests the HTTPS server answered."""
    return [record.path for record in server.requests]


class TestHttpClient:
    def test_accepts_genuine(
        self, ctx: ssl.SSLContext, https_server: HTTPSServer
    ) -> None:
        """http.client.HTTPSConnection(context=ctx) gets the genuine server's reply."""
        conn = http.client.HTTPSConnection(
            HOSTNAME, https_server.port, context=ctx, timeout=TIMEOUT
        )
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, DEFAULT_BODY)
        finally:
            conn.close()
        assert served_paths(https_server) == ["/"]

    def test_refuses_rogue(
        self, ctx: ssl.SSLContext, two_cas: TwoCAWorld, rogue_http: TLSServer
    ) -> None:
        """http.client raises ssl.SSLCertVerificationError; the server gets no bytes."""
        conn = http.client.HTTPSConnection(
            HOSTNAME, rogue_http.port, context=ctx, timeout=TIMEOUT
        )
        try:
            with pytest.raises(ssl.SSLCertVerificationError) as caught:
                conn.request("GET", "/", headers={"X-Secret": SECRET.decode()})
        finally:
            conn.close()
        refusal_behind(caught.value, two_cas)
        assert received(rogue_http) == [b""]


class TestUrllib:
    def test_accepts_genuine(
        self, ctx: ssl.SSLContext, https_server: HTTPSServer
    ) -> None:
        """urllib.request.urlopen(context=ctx) reads the genuine server's body."""
        with urllib.request.urlopen(
            https_server.url(HOSTNAME), context=ctx, timeout=TIMEOUT
        ) as response:
            assert (response.status, response.read()) == (200, DEFAULT_BODY)
        assert served_paths(https_server) == ["/"]

    def test_refuses_rogue(
        self, ctx: ssl.SSLContext, two_cas: TwoCAWorld, rogue_http: TLSServer
    ) -> None:
        """urlopen raises URLError whose reason is the pin refusal."""
        url = f"https://{HOSTNAME}:{rogue_http.port}/"
        with pytest.raises(urllib.error.URLError) as caught:
            urllib.request.urlopen(url, context=ctx, timeout=TIMEOUT)
        assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)
        refusal_behind(caught.value, two_cas)
        assert received(rogue_http) == [b""]


class TestRequestsPinnedAdapter:
    def test_accepts_genuine(
        self, ctx: ssl.SSLContext, https_server: HTTPSServer
    ) -> None:
        """A session with PinnedAdapter mounted gets the genuine server's body."""
        with requests.Session() as session:
            session.mount("https://", PinnedAdapter(ctx))
            response = session.get(https_server.url(HOSTNAME), timeout=TIMEOUT)
        assert (response.status_code, response.content) == (200, DEFAULT_BODY)
        assert served_paths(https_server) == ["/"]

    def test_refuses_rogue(
        self, ctx: ssl.SSLContext, two_cas: TwoCAWorld, rogue_http: TLSServer
    ) -> None:
        """requests raises requests.exceptions.SSLError; the server gets no bytes."""
        url = f"https://{HOSTNAME}:{rogue_http.port}/"
        with requests.Session() as session:
            session.mount("https://", PinnedAdapter(ctx))
            with pytest.raises(requests.exceptions.SSLError) as caught:
                session.get(url, timeout=TIMEOUT)
        refusal_behind(caught.value, two_cas)
        assert received(rogue_http) == [b""]


class TestRequestsStockAdapter:
    def test_accepts_genuine(
        self, ctx: ssl.SSLContext, https_server: HTTPSServer
    ) -> None:
        """Stock requests, an adapter passing ssl_context=ctx: genuine accepted."""
        with requests.Session() as session:
            session.mount("https://", ContextAdapter(ctx))
            response = session.get(https_server.url(HOSTNAME), timeout=TIMEOUT)
        assert (response.status_code, response.content) == (200, DEFAULT_BODY)
        assert served_paths(https_server) == ["/"]

    def test_refuses_rogue(
        self, ctx: ssl.SSLContext, two_cas: TwoCAWorld, rogue_http: TLSServer
    ) -> None:
        """Stock requests with ssl_context=ctx also refuses, with SSLError."""
        url = f"https://{HOSTNAME}:{rogue_http.port}/"
        with requests.Session() as session:
            session.mount("https://", ContextAdapter(ctx))
            with pytest.raises(requests.exceptions.SSLError) as caught:
                session.get(url, timeout=TIMEOUT)
        refusal_behind(caught.value, two_cas)
        assert received(rogue_http) == [b""]


class TestUrllib3:
    def test_accepts_genuine(
        self, ctx: ssl.SSLContext, https_server: HTTPSServer
    ) -> None:
        """urllib3.PoolManager(ssl_context=ctx) gets the genuine server's body."""
        with urllib3.PoolManager(ssl_context=ctx, timeout=TIMEOUT) as pool:
            response = pool.request("GET", https_server.url(HOSTNAME))
        assert (response.status, response.data) == (200, DEFAULT_BODY)
        assert served_paths(https_server) == ["/"]

    def test_refuses_rogue_on_every_retry(
        self, ctx: ssl.SSLContext, two_cas: TwoCAWorld, rogue_http: TLSServer
    ) -> None:
        """Default retries end in MaxRetryError(reason=SSLError); no attempt sends."""
        url = f"https://{HOSTNAME}:{rogue_http.port}/"
        with urllib3.PoolManager(ssl_context=ctx, timeout=TIMEOUT) as pool:
            with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:
                pool.request("GET", url)
        assert isinstance(caught.value.reason, urllib3.exceptions.SSLError)
        refusal_behind(caught.value, two_cas)
        attempts = received(rogue_http)
        assert len(attempts) > 1
        assert attempts == [b""] * len(attempts)

    def test_refuses_rogue_without_retries(
        self, ctx: ssl.SSLContext, two_cas: TwoCAWorld, rogue_http: TLSServer
    ) -> None:
        """With retries=False urllib3 raises its SSLError directly."""
        url = f"https://{HOSTNAME}:{rogue_http.port}/"
        with urllib3.PoolManager(ssl_context=ctx, timeout=TIMEOUT) as pool:
            with pytest.raises(urllib3.exceptions.SSLError) as caught:
                pool.request("GET", url, retries=False)
        refusal_behind(caught.value, two_cas)
        assert received(rogue_http) == [b""]


class TestHttpx:
    def test_accepts_genuine(
        self, ctx: ssl.SSLContext, https_server: HTTPSServer
    ) -> None:
        """httpx.Client(verify=ctx) gets the genuine server's body."""
        with httpx.Client(verify=ctx, timeout=TIMEOUT) as client:
            response = client.get(https_server.url(HOSTNAME))
        assert (response.status_code, response.content) == (200, DEFAULT_BODY)
        assert served_paths(https_server) == ["/"]

    def test_refuses_rogue(
        self, ctx: ssl.SSLContext, two_cas: TwoCAWorld, rogue_http: TLSServer
    ) -> None:
        """httpx raises httpx.ConnectError; the server gets no bytes."""
        url = f"https://{HOSTNAME}:{rogue_http.port}/"
        with httpx.Client(verify=ctx, timeout=TIMEOUT) as client:
            with pytest.raises(httpx.ConnectError) as caught:
                client.get(url)
        refusal_behind(caught.value, two_cas)
        assert received(rogue_http) == [b""]

    def test_async_accepts_genuine(
        self, ctx: ssl.SSLContext, https_server: HTTPSServer
    ) -> None:
        """httpx.AsyncClient(verify=ctx) gets the genuine server's body."""

        async def fetch() -> httpx.Response:
            async with httpx.AsyncClient(verify=ctx, timeout=TIMEOUT) as client:
                return await client.get(https_server.url(HOSTNAME))

        response = asyncio.run(fetch())
        assert (response.status_code, response.content) == (200, DEFAULT_BODY)
        assert served_paths(https_server) == ["/"]

    def test_async_refuses_rogue(
        self, ctx: ssl.SSLContext, two_cas: TwoCAWorld, rogue_http: TLSServer
    ) -> None:
        """httpx.AsyncClient raises httpx.ConnectError; the server gets no bytes."""
        url = f"https://{HOSTNAME}:{rogue_http.port}/"

        async def fetch() -> httpx.Response:
            async with httpx.AsyncClient(verify=ctx, timeout=TIMEOUT) as client:
                return await client.get(url)

        with pytest.raises(httpx.ConnectError) as caught:
            asyncio.run(fetch())
        refusal_behind(caught.value, two_cas)
        assert received(rogue_http) == [b""]


class TestAiohttp:
    @staticmethod
    async def fetch(url: str, ctx: ssl.SSLContext) -> tuple[int, bytes]:
        """GET ``url`` with ``ssl=ctx``; return status and body."""
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url, ssl=ctx) as response:
                return response.status, await response.read()

    def test_accepts_genuine(
        self, ctx: ssl.SSLContext, https_server: HTTPSServer
    ) -> None:
        """aiohttp with ssl=ctx gets the genuine server's body."""
        result = asyncio.run(self.fetch(https_server.url(HOSTNAME), ctx))
        assert result == (200, DEFAULT_BODY)
        assert served_paths(https_server) == ["/"]

    def test_refuses_rogue(
        self, ctx: ssl.SSLContext, two_cas: TwoCAWorld, rogue_http: TLSServer
    ) -> None:
        """aiohttp raises ClientConnectorCertificateError carrying the refusal."""
        url = f"https://{HOSTNAME}:{rogue_http.port}/"
        with pytest.raises(aiohttp.ClientConnectorCertificateError) as caught:
            asyncio.run(self.fetch(url, ctx))
        assert isinstance(caught.value.certificate_error, PinVerificationError)
        refusal_behind(caught.value, two_cas)
        assert received(rogue_http) == [b""]


class TestWebsockets:
    @staticmethod
    async def exchange(
        cert_ctx: ssl.SSLContext, ctx: ssl.SSLContext, seen: list[str]
    ) -> str:
        """Serve an echo endpoint over TLS, connect with ``ctx``, send one message."""

        def record(connection: ServerConnection, request: Request) -> None:
            seen.append(request.path)

        async def echo(connection: ServerConnection) -> None:
            async for message in connection:
                await connection.send(message)

        async with ws_serve(
            echo, HOST, 0, ssl=cert_ctx, process_request=record
        ) as server:
            port = server.sockets[0].getsockname()[1]
            uri = f"wss://{HOSTNAME}:{port}/echo"
            async with ws_connect(
                uri, ssl=ctx, open_timeout=TIMEOUT, close_timeout=TIMEOUT
            ) as websocket:
                await websocket.send("ping")
                reply = await asyncio.wait_for(websocket.recv(), TIMEOUT)
        return str(reply)

    def test_accepts_genuine(self, ctx: ssl.SSLContext, two_cas: TwoCAWorld) -> None:
        """websockets.asyncio connect(ssl=ctx) exchanges a message with the genuine."""
        seen: list[str] = []
        coroutine = self.exchange(server_context(two_cas.genuine), ctx, seen)
        assert asyncio.run(asyncio.wait_for(coroutine, TIMEOUT)) == "ping"
        assert seen == ["/echo"]

    def test_refuses_rogue(self, ctx: ssl.SSLContext, two_cas: TwoCAWorld) -> None:
        """connect raises ssl.SSLCertVerificationError; no upgrade request is sent."""
        seen: list[str] = []
        coroutine = self.exchange(server_context(two_cas.rogue), ctx, seen)
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            asyncio.run(asyncio.wait_for(coroutine, TIMEOUT))
        refusal_behind(caught.value, two_cas)
        assert seen == []


class TestAsyncioStreams:
    @staticmethod
    async def echo(server: TLSServer, ctx: ssl.SSLContext, payload: bytes) -> bytes:
        """open_connection(ssl=ctx), send ``payload``, read its echo."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                HOST, server.port, ssl=ctx, server_hostname=HOSTNAME
            ),
            TIMEOUT,
        )
        try:
            writer.write(payload)
            await writer.drain()
            return await asyncio.wait_for(reader.readexactly(len(payload)), TIMEOUT)
        finally:
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), TIMEOUT)

    def test_accepts_genuine(
        self, ctx: ssl.SSLContext, genuine_server: TLSServer
    ) -> None:
        """asyncio.open_connection(ssl=ctx) round-trips bytes with the genuine."""
        assert asyncio.run(self.echo(genuine_server, ctx, b"ping")) == b"ping"
        assert received(genuine_server) == [b"ping"]

    def test_refuses_rogue(
        self, ctx: ssl.SSLContext, two_cas: TwoCAWorld, rogue_server: TLSServer
    ) -> None:
        """open_connection raises ssl.SSLCertVerificationError; no bytes are sent."""
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            asyncio.run(self.echo(rogue_server, ctx, SECRET))
        refusal_behind(caught.value, two_cas)
        assert received(rogue_server) == [b""]


class TestSmtplib:
    def test_accepts_genuine(
        self, ctx: ssl.SSLContext, genuine_smtp: TLSServer
    ) -> None:
        """smtplib.SMTP_SSL(context=ctx) reads the greeting and EHLO reply."""
        with smtplib.SMTP_SSL(
            HOSTNAME, genuine_smtp.port, context=ctx, timeout=TIMEOUT
        ) as smtp:
            code, _ = smtp.ehlo("client.test")
            assert code == 250
            assert smtp.has_extn("8bitmime")
        assert received(genuine_smtp) == [b"ehlo client.test\r\nQUIT\r\n"]

    def test_refuses_rogue(
        self, ctx: ssl.SSLContext, two_cas: TwoCAWorld, rogue_smtp: TLSServer
    ) -> None:
        """SMTP_SSL raises ssl.SSLCertVerificationError before any command."""
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            smtplib.SMTP_SSL(HOSTNAME, rogue_smtp.port, context=ctx, timeout=TIMEOUT)
        refusal_behind(caught.value, two_cas)
        assert received(rogue_smtp) == [b""]


class TestRawSocket:
    @staticmethod
    def trusting(world: TwoCAWorld) -> ssl.SSLContext:
        """An unpinned context trusting both CAs, for wrap_socket to pin."""
        return ssl.create_default_context(cafile=str(world.cafile))

    def test_accepts_genuine(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer
    ) -> None:
        """pinssl.wrap_socket round-trips bytes with the genuine server."""
        pins = [two_cas.good_intermediate.cert.pin]
        with socket.create_connection(genuine_server.address, timeout=TIMEOUT) as raw:
            with pinssl.wrap_socket(
                raw, pins, server_hostname=HOSTNAME, context=self.trusting(two_cas)
            ) as tls:
                tls.sendall(b"ping")
                assert recv_exactly(tls, 4) == b"ping"
        assert received(genuine_server) == [b"ping"]

    def test_refuses_rogue(self, two_cas: TwoCAWorld, rogue_server: TLSServer) -> None:
        """wrap_socket raises PinVerificationError itself; no bytes are sent."""
        pins = [two_cas.good_intermediate.cert.pin]
        with socket.create_connection(rogue_server.address, timeout=TIMEOUT) as raw:
            with pytest.raises(PinVerificationError) as caught:
                pinssl.wrap_socket(
                    raw, pins, server_hostname=HOSTNAME, context=self.trusting(two_cas)
                )
        refusal_behind(caught.value, two_cas)
        assert received(rogue_server) == [b""]
