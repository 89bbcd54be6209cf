"""Pin enforcement through asyncio, anyio and trio (SSLObject over memory BIOs)."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import anyio
import pytest
import trio

import pinssl
from pinssl import PinVerificationError

from servers import TLSServer, TwoCAWorld

TIMEOUT = 5.0
TRIO_VERSION = tuple(int(part) for part in trio.__version__.split(".")[:2])
ANYIO_MIN_TRIO = (0, 26)
ANYIO_MIN_TRIO_TEXT = "0.26"
SECRET = b"application secret"


def pinned(world: TwoCAWorld) -> ssl.SSLContext:
    """A client context pinning the good intermediate, trusting both CAs."""
    return pinssl.create_default_context(
        [world.good_intermediate.cert.pin], cafile=str(world.cafile)
    )


def refusal_in(error: BaseException) -> PinVerificationError | None:
    """The PinVerificationError itself or the one a framework wrapped."""
    while error is not None:
        if isinstance(error, PinVerificationError):
            return error
        error = error.__cause__  # type: ignore[assignment]
    return None


async def asyncio_echo(server: TLSServer, ctx: ssl.SSLContext, payload: bytes) -> bytes:
    """Open an asyncio TLS stream, send ``payload`` and read the echo."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(*server.address, ssl=ctx, server_hostname="localhost"),
        TIMEOUT,
    )
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(payload)), TIMEOUT)
    finally:
        writer.close()


class TestAsyncio:
    def test_streams_accept_genuine_and_refuse_rogue(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer, rogue_server: TLSServer
    ) -> None:
        """asyncio.open_connection(ssl=ctx) goes through the pin check."""
        ctx = pinned(two_cas)

        assert asyncio.run(asyncio_echo(genuine_server, ctx, b"ping")) == b"ping"
        with pytest.raises(PinVerificationError):
            asyncio.run(asyncio_echo(rogue_server, ctx, SECRET))
        assert [r.received for r in rogue_server.wait_for(1)] == [b""]

    def test_many_tasks_share_one_context(
        self,
        two_cas: TwoCAWorld,
        genuine_server: TLSServer,
        rogue_server: TLSServer,
        attack_server: TLSServer,
    ) -> None:
        """Forty concurrent tasks on one context, mixed servers: all decided right."""
        ctx = pinned(two_cas)
        servers = [genuine_server, rogue_server, attack_server]
        expected = ["accepted", "refused", "refused"]

        async def one(index: int) -> str:
            payload = b"task %d" % index
            try:
                echoed = await asyncio_echo(servers[index % 3], ctx, payload)
            except PinVerificationError:
                return "refused"
            assert echoed == payload
            return "accepted"

        async def main() -> list[str]:
            return await asyncio.wait_for(
                asyncio.gather(*(one(i) for i in range(40))), TIMEOUT * 4
            )

        outcomes = asyncio.run(main())
        assert outcomes == [expected[i % 3] for i in range(40)]
        assert not any(rogue_server.received) and not any(attack_server.received)


class TestAnyio:
    @pytest.mark.parametrize("backend", ["asyncio", "trio"])
    def test_connect_tcp_with_tls(
        self,
        two_cas: TwoCAWorld,
        genuine_server: TLSServer,
        rogue_server: TLSServer,
        backend: str,
    ) -> None:
        """anyio.connect_tcp(tls=True, ssl_context=ctx) is pinned on both backends."""
        if backend == "trio" and TRIO_VERSION < ANYIO_MIN_TRIO:
            pytest.skip(
                f"anyio's trio backend needs trio {ANYIO_MIN_TRIO_TEXT} or later"
            )
        ctx = pinned(two_cas)

        async def exchange(server: TLSServer) -> bytes:
            with anyio.fail_after(TIMEOUT):
                stream = await anyio.connect_tcp(
                    *server.address,
                    tls=True,
                    ssl_context=ctx,
                    tls_hostname="localhost",
                    tls_standard_compatible=False,
                )
                async with stream:
                    await stream.send(b"ping")
                    return await stream.receive()

        assert anyio.run(exchange, genuine_server, backend=backend) == b"ping"
        with pytest.raises(Exception) as caught:
            anyio.run(exchange, rogue_server, backend=backend)
        assert refusal_in(caught.value) is not None
        assert [r.received for r in rogue_server.wait_for(1)] == [b""]


class TestTrio:
    def test_ssl_stream(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer, rogue_server: TLSServer
    ) -> None:
        """trio.SSLStream is pinned; a refusal surfaces as the stream's cause."""
        ctx = pinned(two_cas)

        async def exchange(server: TLSServer, payload: bytes) -> Any:
            with trio.fail_after(TIMEOUT):
                tcp = await trio.open_tcp_stream(*server.address)
                stream = trio.SSLStream(tcp, ctx, server_hostname="localhost")
                async with stream:
                    await stream.send_all(payload)
                    return await stream.receive_some(len(payload))

        assert trio.run(exchange, genuine_server, b"ping") == b"ping"
        with pytest.raises(trio.BrokenResourceError) as caught:
            trio.run(exchange, rogue_server, SECRET)
        assert refusal_in(caught.value) is not None
        assert [r.received for r in rogue_server.wait_for(1)] == [b""]
