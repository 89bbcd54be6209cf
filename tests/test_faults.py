"""Fail closed: a fault at any stage of the pin check refuses the connection.

Each stage the check goes through is broken in turn, in a connection the pins
would otherwise accept and in one they would otherwise refuse, against real TLS
servers on 127.0.0.1. A fault is an exception raised from a patched name of
:mod:`pinssl._context` or :mod:`pinssl._backend`, from a patched method of the
policy, the memo or the approved-leaves set, from a logging filter, or from a
proxy standing in for the ``_ssl._SSLSocket`` and the certificates the check
reads. Every refusal must be a :class:`PinVerificationError` (chained to the
fault when the fault caused it), close the socket and let no application byte
reach the server.

Scenes, each pinning the good intermediate for ``localhost`` by host pattern so
that the policy lookup runs too:

- ``genuine``: the genuine chain, accepted at chain position 1;
- ``rogue``: the mis-issued leaf, refused after the whole verified chain;
- ``resumed-genuine``: a resumed session whose leaf passed a check before;
- ``resumed-refused``: the same session once the approved set was emptied.

A stage is tried in every scene that reaches it; a stage only one outcome
reaches (``approved.add`` only on acceptance, the served-chain description only
on refusal) has only that scene.
"""

from __future__ import annotations

import _ssl
import asyncio
import hashlib
import logging
import socket
import ssl
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import pinssl
import pinssl._context as context_module
from pinssl import PinVerificationError, _backend
from pinssl._context import CheckMemo
from pinssl._policy import ApprovedLeaves, PinPolicy

from servers import ConnectionRecord, TLSServer, TwoCAWorld, recv_exactly

TIMEOUT = 5.0
SECRET = b"application secret"
SSL_SOCKET_TYPE: type = _ssl._SSLSocket  # type: ignore[attr-defined]

GENUINE = "genuine"
ROGUE = "rogue"
RESUMED_GENUINE = "resumed-genuine"
RESUMED_REFUSED = "resumed-refused"
ALL_SCENES = (GENUINE, ROGUE, RESUMED_GENUINE, RESUMED_REFUSED)
FULL_HANDSHAKES = (GENUINE, ROGUE)
RESUMED = (RESUMED_GENUINE, RESUMED_REFUSED)

CAUSED = "refused, caused by the fault"
UNCHANGED = "refused as it would be without the fault"
DESCRIBED_WITHOUT = "refused, the fault only dropped a subject from the message"


class InjectedFault(RuntimeError):
    """What every injected fault raises; ``stage`` names where it was raised."""

    def __init__(self, stage: str) -> None:
        super().__init__(f"fault injected at {stage}")
        self.stage = stage


class UnprintableFault(InjectedFault):
    """A fault whose ``str()`` itself raises, as some third-party errors do."""

    def __str__(self) -> str:
        raise InjectedFault(f"str() of the fault at {self.stage}")


class Fault:
    """One armed fault: raises ``make()`` while armed and counts each time.

    ``times`` disarms it after that many raises (None: never).
    """

    def __init__(
        self,
        stage: str,
        make: Callable[[], BaseException] | None = None,
        times: int | None = None,
    ) -> None:
        self.stage = stage
        self.hits = 0
        self.times = times
        self.make = make or (lambda: InjectedFault(stage))

    def fire(self) -> None:
        """Raise while armed; do nothing once disarmed."""
        if self.times is None or self.hits < self.times:
            self.hits += 1
            raise self.make()

    def wrap(
        self, original: Callable[..., Any], when: Callable[..., bool] | None = None
    ) -> Callable[..., Any]:
        """``original``, but firing first on the calls ``when`` selects."""

        def faulty(*args: Any, **kwargs: Any) -> Any:
            if when is None or when(*args, **kwargs):
                self.fire()
            return original(*args, **kwargs)

        return faulty


class FaultyCertificate:
    """Stands in for one ``_ssl.Certificate``; ``member`` faults."""

    def __init__(self, real: Any, fault: Fault, member: str) -> None:
        self._real = real
        self._fault = fault
        self._member = member

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._real, name)
        return self._fault.wrap(value) if name == self._member else value


class FaultySSL:
    """Stands in for the ``_ssl._SSLSocket`` the check reads; one member faults.

    ``member`` is an attribute (faults when read), ``getpeercert(True)`` or
    ``getpeercert(False)`` (faults for that form only), ``get_verified_chain``,
    or ``certificate.<method>`` (faults inside the verified chain's items).
    """

    ATTRIBUTES = ("server_hostname", "server_side", "session_reused")

    def __init__(self, real: Any, fault: Fault, member: str) -> None:
        self._real = real
        self._fault = fault
        self._member = member

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._real, name)
        member = self._member
        if name == member and name in self.ATTRIBUTES:
            self._fault.fire()
        if name == "getpeercert" and member.startswith("getpeercert"):
            binary = member == "getpeercert(True)"

            def selects(binary_form: bool = False) -> bool:
                return binary_form == binary

            return self._fault.wrap(value, selects)
        if name == "get_verified_chain" and member == name:
            return self._fault.wrap(value)
        if name == "get_verified_chain" and member.startswith("certificate."):
            method = member.partition(".")[2]
            return lambda: [FaultyCertificate(c, self._fault, method) for c in value()]
        return value


class FaultyDigests(dict[bytes, Any]):
    """The memo's digest table with a faulty ``get``."""

    def __init__(self, items: dict[bytes, Any], fault: Fault) -> None:
        super().__init__(items)
        self.fault = fault

    def get(self, key: bytes, default: Any = None) -> Any:
        self.fault.fire()
        return super().get(key, default)


class FaultyFilter(logging.Filter):
    """A logging filter that faults on records of one level."""

    def __init__(self, fault: Fault, level: int) -> None:
        super().__init__()
        self.fault = fault
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == self.level:
            self.fault.fire()
        return True


@dataclass
class Scene:
    """One connection under test, and what it takes to set it up."""

    name: str
    ctx: ssl.SSLContext
    server: TLSServer
    leaf: bytes
    served_pins: tuple[str, ...]
    session: ssl.SSLSession | None = None
    earlier: int = 0

    @property
    def memo(self) -> CheckMemo:
        """The memo of digests the context keeps between handshakes."""
        pinned_class: Any = self.ctx.sslsocket_class
        return pinned_class._pinssl_memo  # type: ignore[no-any-return]

    @property
    def approved(self) -> ApprovedLeaves:
        """The leaves the context approved for resumption."""
        pinned_class: Any = self.ctx.sslsocket_class
        return pinned_class._pinssl_approved  # type: ignore[no-any-return]

    def record(self) -> ConnectionRecord:
        """The server's record of the connection under test, once it finished."""
        return self.server.wait_for(self.earlier + 1)[-1]


@dataclass
class Patch:
    """What an installer may patch with: pytest's helpers and the scene."""

    monkeypatch: pytest.MonkeyPatch
    caplog: pytest.LogCaptureFixture
    scene: Scene


Installer = Callable[[Patch, Fault], None]


def pinned(world: TwoCAWorld) -> ssl.SSLContext:
    """A client context pinning the good intermediate for localhost by pattern."""
    return pinssl.create_default_context(
        {"localhost": [world.good_intermediate.cert.pin]}, cafile=str(world.cafile)
    )


def session_after_echo(server: TLSServer, ctx: ssl.SSLContext) -> ssl.SSLSession:
    """Connect, echo once (so TLS 1.3 tickets arrive) and return the session."""
    raw = socket.create_connection(server.address, timeout=TIMEOUT)
    with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
        session = sock.session
    assert session is not None
    return session


def make_scene(name: str, world: TwoCAWorld, start: Callable[..., TLSServer]) -> Scene:
    """Start the server of scene ``name`` and set up its client context."""
    ctx = pinned(world)
    if name == ROGUE:
        served = (world.rogue.pin, world.rogue_root.cert.pin)
        return Scene(name, ctx, start(world.rogue), world.rogue.der, served)

    server = start(world.genuine)
    scene = Scene(name, ctx, server, world.genuine.der, (world.genuine.pin,))
    if name in RESUMED:
        scene.session = session_after_echo(server, ctx)
        scene.earlier = 1
        scene.memo.clear()
        if name == RESUMED_REFUSED:
            scene.approved.clear()
    return scene


def open_socket(scene: Scene) -> ssl.SSLSocket:
    """The scene's client socket, its handshake left to the first I/O call."""
    raw = socket.create_connection(scene.server.address, timeout=TIMEOUT)
    return scene.ctx.wrap_socket(
        raw,
        server_hostname="localhost",
        session=scene.session,
        do_handshake_on_connect=False,
    )


class BioPump:
    """An ``SSLObject`` over memory BIOs, fed from a blocking socket by hand."""

    def __init__(self, scene: Scene, sock: socket.socket) -> None:
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = scene.ctx.wrap_bio(
            self.incoming,
            self.outgoing,
            server_hostname="localhost",
            session=scene.session,
        )

    def flush(self) -> None:
        """Send whatever the SSLObject has written to the outgoing BIO."""
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


# --- installers -------------------------------------------------------------------


def on_context(name: str) -> Installer:
    """Patch the name ``name`` in :mod:`pinssl._context`."""

    def install(patch: Patch, fault: Fault) -> None:
        original = getattr(context_module, name)
        patch.monkeypatch.setattr(context_module, name, fault.wrap(original))

    return install


def on_method(cls: type, name: str) -> Installer:
    """Patch method ``name`` of ``cls`` (the policy, memo or approved set)."""

    def install(patch: Patch, fault: Fault) -> None:
        patch.monkeypatch.setattr(cls, name, fault.wrap(getattr(cls, name)))

    return install


def on_sslobj(member: str) -> Installer:
    """Hand the check a proxy of its ``_ssl._SSLSocket`` whose ``member`` faults."""

    def install(patch: Patch, fault: Fault) -> None:
        original: Callable[..., Any] = context_module._check

        def check(*args: Any) -> Any:
            return original(
                *(
                    FaultySSL(arg, fault, member)
                    if isinstance(arg, SSL_SOCKET_TYPE)
                    else arg
                    for arg in args
                )
            )

        patch.monkeypatch.setattr(context_module, "_check", check)

    return install


def on_spki(of_leaf: bool) -> Installer:
    """Fault ``_backend.spki_sha256`` for the leaf, or for chain certificates."""

    def install(patch: Patch, fault: Fault) -> None:
        leaf = patch.scene.leaf

        def selects(der: bytes) -> bool:
            return (der == leaf) == of_leaf

        faulty = fault.wrap(_backend.spki_sha256, selects)
        patch.monkeypatch.setattr(_backend, "spki_sha256", faulty)

    return install


def on_der_digest(patch: Patch, fault: Fault) -> None:
    """Fault the SHA-256 of the whole DER, through the hashlib the memo sees."""
    stub = types.SimpleNamespace(sha256=fault.wrap(hashlib.sha256))
    patch.monkeypatch.setattr(context_module, "hashlib", stub)


def on_memo_lookup(patch: Patch, fault: Fault) -> None:
    """Fault the memo's digest lookup."""
    memo = patch.scene.memo
    patch.monkeypatch.setattr(memo, "digests", FaultyDigests(memo.digests, fault))


def on_log(level: int) -> Installer:
    """A logging filter on the check's logger faulting on records of ``level``."""

    def install(patch: Patch, fault: Fault) -> None:
        logger = context_module._log
        patch.caplog.set_level(logging.DEBUG, logger=logger.name)
        filters = [*logger.filters, FaultyFilter(fault, level)]
        patch.monkeypatch.setattr(logger, "filters", filters)

    return install


@dataclass(frozen=True)
class Stage:
    """How to break one stage, the scenes reaching it, and with what fault.

    ``times`` is how many calls fault (None: all), ``error`` what they raise.
    """

    install: Installer
    scenes: dict[str, str]
    times: int | None = None
    error: Callable[[str], BaseException] = InjectedFault

    def fault(self, stage: str) -> Fault:
        """A fresh fault for ``stage``, as this stage raises it."""
        return Fault(stage, lambda: self.error(stage), self.times)


def every(scenes: tuple[str, ...], outcome: str = CAUSED) -> dict[str, str]:
    """The same expected outcome for each of ``scenes``."""
    return dict.fromkeys(scenes, outcome)


STAGES: dict[str, Stage] = {
    "sslobj.server_hostname": Stage(on_sslobj("server_hostname"), every(ALL_SCENES)),
    "sslobj.server_side": Stage(on_sslobj("server_side"), every(ALL_SCENES)),
    "policy.pins_for": Stage(on_method(PinPolicy, "pins_for"), every(ALL_SCENES)),
    "context.options": Stage(on_context("_raw_options"), every(ALL_SCENES)),
    "sslobj.getpeercert(True)": Stage(
        on_sslobj("getpeercert(True)"), every(ALL_SCENES)
    ),
    "memo.digests.get": Stage(on_memo_lookup, every(ALL_SCENES)),
    "spki_sha256(leaf)": Stage(on_spki(of_leaf=True), every(ALL_SCENES)),
    "sha256(leaf der)": Stage(on_der_digest, every(ALL_SCENES)),
    "compare_digest": Stage(on_context("_compare_digest"), every(ALL_SCENES)),
    "context.verify_mode": Stage(on_context("_raw_verify_mode"), every(ALL_SCENES)),
    "sslobj.session_reused": Stage(
        on_sslobj("session_reused"), every((GENUINE, ROGUE, RESUMED_REFUSED))
    ),
    "sslobj.get_verified_chain": Stage(
        on_sslobj("get_verified_chain"), every(FULL_HANDSHAKES)
    ),
    "certificate.public_bytes": Stage(
        on_sslobj("certificate.public_bytes"), every(FULL_HANDSHAKES)
    ),
    "spki_sha256(chain)": Stage(on_spki(of_leaf=False), every(FULL_HANDSHAKES)),
    "memo.host_key": Stage(on_method(CheckMemo, "host_key"), every(ALL_SCENES)),
    "approved.add": Stage(on_method(ApprovedLeaves, "add"), every((GENUINE,))),
    "approved.has": Stage(on_method(ApprovedLeaves, "has"), every(ALL_SCENES)),
    "log.debug": Stage(on_log(logging.DEBUG), every((GENUINE, RESUMED_GENUINE))),
    "certificate.get_info": Stage(
        on_sslobj("certificate.get_info"), every((ROGUE,), DESCRIBED_WITHOUT)
    ),
    "sslobj.getpeercert(False)": Stage(
        on_sslobj("getpeercert(False)"), every((RESUMED_REFUSED,), DESCRIBED_WITHOUT)
    ),
    "_served_chain": Stage(on_context("_served_chain"), every((ROGUE,))),
    "_served_leaf": Stage(on_context("_served_leaf"), every((RESUMED_REFUSED,))),
    "_subject": Stage(on_context("_subject"), every((ROGUE, RESUMED_REFUSED))),
    "format_pin": Stage(on_context("format_pin"), every((ROGUE, RESUMED_REFUSED))),
    "_refusal(once)": Stage(
        on_context("_refusal"), every((ROGUE, RESUMED_REFUSED)), times=1
    ),
}

# Faults raised outside the guard of ``_decide``'s ``_check`` call: the refusal
# itself fails to build, or the WARNING for the refusal does. Both must still
# end in a PinVerificationError and a closed socket.
OUTSIDE_GUARD: dict[str, Stage] = {
    "_refusal(always)": Stage(on_context("_refusal"), every((ROGUE,))),
    "str(cause)": Stage(
        on_method(PinPolicy, "pins_for"),
        every(FULL_HANDSHAKES),
        error=UnprintableFault,
    ),
    "log.warning": Stage(
        on_log(logging.WARNING), every((ROGUE, RESUMED_REFUSED), UNCHANGED)
    ),
}


def cases(
    stages: dict[str, Stage], mark: pytest.MarkDecorator | None = None
) -> list[Any]:
    """One ``(stage, scene, outcome)`` param per stage and scene reaching it."""
    marks = [mark] if mark is not None else []
    return [
        pytest.param(stage, scene, outcome, id=f"{stage}-{scene}", marks=marks)
        for stage, spec in stages.items()
        for scene, outcome in spec.scenes.items()
    ]


CASES = cases(STAGES) + cases(OUTSIDE_GUARD)
BIO_CASES = [
    pytest.param(stage, next(iter(spec.scenes)), id=stage)
    for stage, spec in STAGES.items()
]


@pytest.fixture
def arm(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Callable[[Stage, Scene, Fault], None]:
    """``arm(stage, scene, fault)`` installs ``fault``; undone at teardown."""

    def install(stage: Stage, scene: Scene, fault: Fault) -> None:
        stage.install(Patch(monkeypatch, caplog, scene), fault)

    return install


def stage_spec(stage: str) -> Stage:
    """The stage named ``stage``, inside the guard or outside it."""
    return STAGES[stage] if stage in STAGES else OUTSIDE_GUARD[stage]


def check_refusal(
    error: PinVerificationError, fault: Fault, outcome: str, scene: Scene
) -> None:
    """The refusal is the one ``outcome`` promises for this fault."""
    assert fault.hits >= 1, f"the fault at {fault.stage} never fired"
    if outcome == CAUSED:
        assert isinstance(error.__cause__, InjectedFault)
        assert error.__cause__.stage == fault.stage
        assert str(error).startswith("pinssl: refused the connection")
        return

    assert error.__cause__ is None
    assert str(error).startswith("pinssl: certificate pin mismatch for localhost")
    if outcome == DESCRIBED_WITHOUT:
        assert error.served == scene.served_pins


class TestEveryStage:
    @pytest.mark.parametrize(("stage", "scene_name", "outcome"), CASES)
    def test_socket_is_refused_closed_and_silent(
        self,
        two_cas: TwoCAWorld,
        tls_server_factory: Callable[..., TLSServer],
        arm: Callable[[Stage, Scene, Fault], None],
        stage: str,
        scene_name: str,
        outcome: str,
    ) -> None:
        """A fault here refuses the first sendall; nothing reaches the server."""
        scene = make_scene(scene_name, two_cas, tls_server_factory)
        spec = stage_spec(stage)
        fault = spec.fault(stage)
        arm(spec, scene, fault)

        with open_socket(scene) as sock:
            with pytest.raises(PinVerificationError) as caught:
                sock.sendall(SECRET)
            check_refusal(caught.value, fault, outcome, scene)
            assert sock.fileno() == -1
            for call in (lambda: sock.sendall(SECRET), lambda: sock.recv(1)):
                with pytest.raises(PinVerificationError) as again:
                    call()
                assert again.value is caught.value
        record = scene.record()
        assert record.handshake_ok
        assert record.session_reused == (scene.session is not None)
        assert record.received == b""

    @pytest.mark.parametrize(("stage", "scene_name"), BIO_CASES)
    def test_ssl_object_keeps_raising(
        self,
        two_cas: TwoCAWorld,
        tls_server_factory: Callable[..., TLSServer],
        arm: Callable[[Stage, Scene, Fault], None],
        stage: str,
        scene_name: str,
    ) -> None:
        """On an SSLObject (memory BIO) the refusal sticks to read, write, handshake."""
        scene = make_scene(scene_name, two_cas, tls_server_factory)
        spec = STAGES[stage]
        fault = spec.fault(stage)
        arm(spec, scene, fault)

        with socket.create_connection(scene.server.address, timeout=TIMEOUT) as raw:
            pump = BioPump(scene, raw)
            with pytest.raises(PinVerificationError) as caught:
                pump.run(lambda: pump.obj.write(SECRET))
            check_refusal(caught.value, fault, spec.scenes[scene_name], scene)
            for call in (
                lambda: pump.obj.write(SECRET),
                lambda: pump.obj.read(1),
                pump.obj.do_handshake,
            ):
                with pytest.raises(PinVerificationError) as again:
                    call()
                assert again.value is caught.value
            pump.flush()
        assert scene.record().received == b""

    @pytest.mark.parametrize(
        "stage",
        ["policy.pins_for", "spki_sha256(leaf)", "certificate.public_bytes"],
    )
    def test_asyncio_stream_is_refused(
        self,
        two_cas: TwoCAWorld,
        tls_server_factory: Callable[..., TLSServer],
        arm: Callable[[Stage, Scene, Fault], None],
        stage: str,
    ) -> None:
        """asyncio.open_connection raises the refusal, chained to the fault."""
        scene = make_scene(GENUINE, two_cas, tls_server_factory)
        spec = STAGES[stage]
        fault = spec.fault(stage)
        arm(spec, scene, fault)

        async def connect() -> None:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    *scene.server.address, ssl=scene.ctx, server_hostname="localhost"
                ),
                TIMEOUT,
            )
            writer.write(SECRET)
            writer.close()

        with pytest.raises(PinVerificationError) as caught:
            asyncio.run(connect())
        check_refusal(caught.value, fault, CAUSED, scene)
        assert scene.record().received == b""


class TestOutsideTheGuard:
    @pytest.mark.parametrize(("stage", "scene_name", "outcome"), cases(OUTSIDE_GUARD))
    def test_no_byte_leaves_and_later_io_raises(
        self,
        two_cas: TwoCAWorld,
        tls_server_factory: Callable[..., TLSServer],
        arm: Callable[[Stage, Scene, Fault], None],
        stage: str,
        scene_name: str,
        outcome: str,
    ) -> None:
        """A fault the guard misses still sends nothing and leaves no usable socket."""
        scene = make_scene(scene_name, two_cas, tls_server_factory)
        spec = OUTSIDE_GUARD[stage]
        fault = spec.fault(stage)
        arm(spec, scene, fault)

        with open_socket(scene) as sock:
            for call in (
                lambda: sock.sendall(SECRET),
                lambda: sock.recv(1),
                lambda: sock.sendall(SECRET),
            ):
                with pytest.raises((PinVerificationError, InjectedFault)):
                    call()
        assert fault.hits >= 1
        assert scene.record().received == b""


def raising(kind: type[BaseException]) -> Callable[[], BaseException]:
    """Make a ``kind`` (not necessarily an ``Exception``) for a fault to raise."""
    return lambda: kind("injected")


class TestNotAnException:
    @pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit])
    @pytest.mark.parametrize("scene_name", FULL_HANDSHAKES)
    def test_propagates_and_the_next_call_checks_again(
        self,
        two_cas: TwoCAWorld,
        tls_server_factory: Callable[..., TLSServer],
        arm: Callable[[Stage, Scene, Fault], None],
        kind: type[BaseException],
        scene_name: str,
    ) -> None:
        """KeyboardInterrupt or SystemExit propagates as is; the next call checks."""
        scene = make_scene(scene_name, two_cas, tls_server_factory)
        fault = Fault("policy.pins_for", make=raising(kind), times=1)
        arm(STAGES["policy.pins_for"], scene, fault)

        with open_socket(scene) as sock:
            with pytest.raises(kind):
                sock.sendall(SECRET)
            assert sock._pinssl_state is None  # type: ignore[attr-defined]
            assert sock.fileno() != -1

            if scene_name == GENUINE:
                sock.sendall(SECRET)
                assert recv_exactly(sock, len(SECRET)) == SECRET
                expected = SECRET
            else:
                with pytest.raises(PinVerificationError):
                    sock.sendall(SECRET)
                assert sock.fileno() == -1
                expected = b""
        assert scene.record().received == expected

    @pytest.mark.parametrize("path", ["socket", "bio"])
    def test_a_lasting_interrupt_never_lets_data_through(
        self,
        two_cas: TwoCAWorld,
        tls_server_factory: Callable[..., TLSServer],
        arm: Callable[[Stage, Scene, Fault], None],
        path: str,
    ) -> None:
        """While the check keeps being interrupted, every I/O call is interrupted."""
        scene = make_scene(GENUINE, two_cas, tls_server_factory)
        fault = Fault("policy.pins_for", make=raising(KeyboardInterrupt))
        arm(STAGES["policy.pins_for"], scene, fault)

        calls: list[Callable[[], object]]
        with socket.create_connection(scene.server.address, timeout=TIMEOUT) as raw:
            if path == "socket":
                sock = scene.ctx.wrap_socket(
                    raw, server_hostname="localhost", do_handshake_on_connect=False
                )
                calls = [lambda: sock.sendall(SECRET), lambda: sock.recv(1)]
                finish = sock.close
            else:
                pump = BioPump(scene, raw)
                calls = [
                    lambda: pump.run(lambda: pump.obj.write(SECRET)),
                    lambda: pump.obj.read(1),
                ]
                finish = pump.flush
            for call in calls * 2:
                with pytest.raises(KeyboardInterrupt):
                    call()
            finish()
        assert fault.hits == 4
        assert scene.record().received == b""

    def test_interrupt_while_logging_the_refusal_keeps_the_refusal(
        self,
        two_cas: TwoCAWorld,
        tls_server_factory: Callable[..., TLSServer],
        arm: Callable[[Stage, Scene, Fault], None],
    ) -> None:
        """KeyboardInterrupt from the refusal's WARNING propagates; refusal stays."""
        scene = make_scene(ROGUE, two_cas, tls_server_factory)
        fault = Fault("log.warning", make=raising(KeyboardInterrupt))
        arm(OUTSIDE_GUARD["log.warning"], scene, fault)

        with open_socket(scene) as sock:
            with pytest.raises(KeyboardInterrupt):
                sock.sendall(SECRET)
            for call in (lambda: sock.sendall(SECRET), lambda: sock.recv(1)):
                with pytest.raises(PinVerificationError):
                    call()
        assert fault.hits == 1
        assert scene.record().received == b""
