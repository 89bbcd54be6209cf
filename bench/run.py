"""Benchmarks for pinssl: the pin, the check per handshake, requests, import, leaks.

``python bench/run.py`` runs everything (about two minutes); ``--quick`` scales every
loop down so that the run ends within a minute, for CI. Nothing here asserts a
timing: each section prints its numbers, as ratios, next to the target the issue
set, and the script exits 0 unless something errors. bench/README.md says what
each line means and records a full run.

Contenders are interleaved: every round runs each of them once, in an order
shuffled from round to round, so that load from other processes on the machine
falls on all of them alike. The TLS server runs in a subprocess on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import binascii
import datetime
import gc
import hashlib
import ipaddress
import json
import os
import platform
import random
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import timeit
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
SERVER_NAME = "localhost"
KEY_TYPES = ("RSA-2048", "RSA-4096", "P-256", "Ed25519")
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    b"Connection: close\r\n\r\nok\n"
)
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
IMPORT_PROBE = r"""
import json, sys, time

def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

start = time.perf_counter_ns()
import ssl
ssl_ns = time.perf_counter_ns() - start
before, rss_before = set(sys.modules), rss_kib()
start = time.perf_counter_ns()
import pinssl
pinssl_ns = time.perf_counter_ns() - start
rss_after = rss_kib()
added = sorted(set(sys.modules) - before)
foreign = sorted(
    {name.split(".")[0] for name in added} - set(sys.stdlib_module_names) - {"pinssl"}
)
print(json.dumps({
    "ssl_ns": ssl_ns, "pinssl_ns": pinssl_ns, "rss_kib": rss_after - rss_before,
    "modules": len(added), "third_party": foreign, "backend": pinssl.BACKEND,
}))
"""
# The same, one module at a time: which import costs the RSS.
IMPORT_STEPS = ("hashlib", "hmac", "logging", "_cffi_backend", "pinssl")
STEP_PROBE = r"""
import importlib, json, ssl, sys

def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

steps, last = {}, rss_kib()
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
    now = rss_kib()
    steps[name], last = now - last, now
print(json.dumps(steps))
"""


@dataclass(frozen=True)
class Scale:
    """How long each section runs."""

    micro_rounds: int
    handshakes: int
    requests: int
    imports: int
    leak_checks: int
    leak_handshakes: int


FULL = Scale(200, 1500, 300, 20, 100_000, 10_000)
QUICK = Scale(40, 200, 60, 6, 10_000, 500)


@dataclass(frozen=True)
class Material:
    """Certificates and files the benchmarks use, minted for this run."""

    directory: Path
    cafile: Path
    bundle: Path
    chain: tuple[bytes, ...]
    leaf_pin: str
    intermediate_pin: str
    other_pin: str
    samples: dict[str, bytes]


# Certificates.


def _mint(directory: Path) -> Material:
    """A P-256 root, intermediate and served leaf, and a leaf per key type."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pinssl bench"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )

    def issue(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    issuer_key.public_key()
                ),
                False,
            )
            .add_extension(
                x509.KeyUsage(
                    digital_signature=not ca,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=ca,
                    crl_sign=ca,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            )
        )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False
            ).add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName(SERVER_NAME),
                        x509.DNSName("bench.pinssl.test"),
                        x509.IPAddress(ipaddress.ip_address(HOST)),
                    ]
                ),
                False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    def der(certificate: Any) -> bytes:
        return bytes(certificate.public_bytes(serialization.Encoding.DER))

    def pem(certificate: Any) -> bytes:
        return bytes(certificate.public_bytes(serialization.Encoding.PEM))

    root_key = ec.generate_private_key(ec.SECP256R1())
    root = issue("pinssl bench root", root_key, "pinssl bench root", root_key, True)
    middle_key = ec.generate_private_key(ec.SECP256R1())
    middle = issue(
        "pinssl bench intermediate", middle_key, "pinssl bench root", root_key, True
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue(SERVER_NAME, leaf_key, "pinssl bench intermediate", middle_key, False)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = issue("nobody", other_key, "nobody", other_key, True)

    (directory / "chain.pem").write_bytes(pem(leaf) + pem(middle))
    (directory / "leaf.key").write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cafile = directory / "root.pem"
    cafile.write_bytes(pem(root))
    bundle = directory / "bundle.pem"
    certifi = _certifi_bundle()
    if certifi is not None:
        bundle.write_bytes(Path(certifi).read_bytes() + b"\n" + pem(root))

    keys: dict[str, Any] = {
        "RSA-2048": rsa.generate_private_key(65537, 2048),
        "RSA-4096": rsa.generate_private_key(65537, 4096),
        "P-256": ec.generate_private_key(ec.SECP256R1()),
        "Ed25519": ed25519.Ed25519PrivateKey.generate(),
    }
    samples = {
        label: der(
            issue(SERVER_NAME, key, "pinssl bench intermediate", middle_key, False)
        )
        for label, key in keys.items()
    }

    import pinssl

    return Material(
        directory=directory,
        cafile=cafile,
        bundle=bundle,
        chain=(der(leaf), der(middle), der(root)),
        leaf_pin=pinssl.spki_pin(der(leaf)),
        intermediate_pin=pinssl.spki_pin(der(middle)),
        other_pin=pinssl.spki_pin(der(other)),
        samples=samples,
    )


def _certifi_bundle() -> str | None:
    """The CA bundle requests loads by default; None without requests."""
    try:
        from requests.utils import DEFAULT_CA_BUNDLE_PATH
    except ImportError:
        return None
    return str(DEFAULT_CA_BUNDLE_PATH)


# The TLS server, in a subprocess: python bench/run.py --serve DIRECTORY.


def _serve(directory: Path) -> None:
    """Answer TLS on an ephemeral port until stdin closes; print the port first.

    After the handshake a connection gets one HTTP response if it sends a
    request, and is closed either way. Four threads accept, so a connection
    never waits for the previous one to be torn down.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "chain.pem", directory / "leaf.key")
    listener = socket.create_server((HOST, 0), backlog=256)
    print(listener.getsockname()[1], flush=True)

    def answer(raw: socket.socket) -> None:
        raw.settimeout(10)
        try:
            with context.wrap_socket(raw, server_side=True) as tls:
                received = b""
                while b"\r\n\r\n" not in received:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    received += chunk
                tls.sendall(RESPONSE)
        except (OSError, ssl.SSLError):
            pass
        finally:
            raw.close()

    def accept_forever() -> None:
        while True:
            raw, _ = listener.accept()
            answer(raw)

    for _ in range(4):
        threading.Thread(target=accept_forever, daemon=True).start()
    sys.stdin.read()


@contextmanager
def _server(material: Material) -> Iterator[tuple[str, int]]:
    """Start the TLS server subprocess; yield its address; stop it."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(material.directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield HOST, port
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


# Measuring.


def _interleaved(
    contenders: dict[str, Callable[[], float]], rounds: int
) -> dict[str, list[float]]:
    """Run every contender once per round, in a new order each round.

    The order is shuffled (with a fixed seed) rather than rotated, so that no
    contender always runs right after the same other one, whose leftovers in the
    caches it would otherwise always inherit.
    """
    names = list(contenders)
    results: dict[str, list[float]] = {name: [] for name in names}
    shuffle = random.Random(20261203).shuffle
    for _ in range(rounds):
        shuffle(names)
        for name in names:
            results[name].append(contenders[name]())
    return results


def _batch(function: Callable[[Any], Any], argument: Any, budget_ns: float) -> int:
    """How many calls of ``function(argument)`` take about ``budget_ns``."""
    timer = timeit.Timer("f(a)", globals={"f": function, "a": argument})
    number = 1
    while True:
        elapsed = timer.timeit(number) * 1e9
        if elapsed >= budget_ns / 4 or number >= 1 << 20:
            return max(1, int(number * budget_ns / max(elapsed, 1.0)))
        number *= 4


def _per_call(
    function: Callable[[Any], Any],
    argument: Any,
    number: int,
    before: Callable[[], Any],
) -> Callable[[], float]:
    """A contender: ``before()``, then ns per call over ``number`` calls."""
    timer = timeit.Timer("f(a)", globals={"f": function, "a": argument})

    def run() -> float:
        before()
        return float(timer.timeit(number) * 1e9 / number)

    return run


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _resources() -> tuple[int, int]:
    """(RSS in KiB, open file descriptors) of this process."""
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return rss, len(os.listdir("/proc/self/fd"))


def _verdict(value: float, target: float, unit: str = "") -> str:
    """``target <= 1.5: met`` or ``... NOT met``, for one measured value."""
    return f"target <= {target:g}{unit}: {_met(value, target)}"


def _met(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


# 1. spki_pin per key type.


_sha256 = hashlib.sha256
_b2a_base64 = binascii.b2a_base64


def _floor(spki: bytes) -> str:
    """The floor: the pin of an SPKI already sliced out, as spki_pin writes it."""
    return "sha256/" + _b2a_base64(_sha256(spki).digest(), newline=False).decode()


def _cryptography_pin(der: bytes) -> str:
    """The usual recipe: load, take the public key, serialize it, hash it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    spki = (
        x509.load_der_x509_certificate(der)
        .public_key()
        .public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )
    return "sha256/" + _b2a_base64(_sha256(spki).digest(), newline=False).decode()


def bench_spki_pin(material: Material, scale: Scale) -> None:
    """spki_pin on both backends, the floor and cryptography, per key type."""
    from pinssl import _backend, _der, spki_der, spki_pin

    spans: dict[str, Any] = {"pure": _der.spki_span}
    try:
        from pinssl._spki_c import lib
    except ImportError:
        pass
    else:
        spans["C"] = lib.pinssl_spki_span
    original = _backend._spki_span

    print(
        "\n1. spki_pin(certificate DER) per key type, in ns per call: the min and "
        f"the median\n   of {scale.micro_rounds} interleaved rounds, and their "
        "ratios to the floor, 'sha256/' + base64\n   of the SHA-256 of an SPKI "
        "already sliced out; the verdict uses the min"
    )
    if "C" not in spans:
        print("   (the C extension is not built here: no C backend lines)")
    print(
        f"   {'key type':<10}{'contender':<15}{'min':>7}{'x floor':>9}"
        f"{'median':>9}{'x floor':>9}  target"
    )
    targets = {"C": 1.5, "pure": 3.5}
    try:
        for label in KEY_TYPES:
            der = material.samples[label]
            spki = spki_der(der)
            for span in spans.values():
                _backend._spki_span = span
                if spki_pin(der) != _floor(spki) or spki_pin(der) != _cryptography_pin(
                    der
                ):
                    raise AssertionError(f"{label}: the contenders disagree")

            def bind(span: Any) -> Callable[[], None]:
                def before() -> None:
                    _backend._spki_span = span

                return before

            def nothing() -> None:
                return None

            contenders: dict[str, Callable[[], float]] = {}
            budget = 400_000.0
            contenders["floor"] = _per_call(
                _floor, spki, _batch(_floor, spki, budget), nothing
            )
            for name, span in spans.items():
                _backend._spki_span = span
                contenders[f"{name} backend"] = _per_call(
                    spki_pin, der, _batch(spki_pin, der, budget), bind(span)
                )
            contenders["cryptography"] = _per_call(
                _cryptography_pin,
                der,
                _batch(_cryptography_pin, der, budget),
                nothing,
            )

            results = _interleaved(contenders, scale.micro_rounds)
            floor_min = min(results["floor"])
            floor_median = _median(results["floor"])
            for index, (name, values) in enumerate(results.items()):
                low, middle = min(values), _median(values)
                target = targets.get(name.split()[0])
                print(
                    f"   {label if index == 0 else '':<10}{name:<15}{low:>7.0f}"
                    f"{low / floor_min:>9.2f}{middle:>9.0f}"
                    f"{middle / floor_median:>9.2f}"
                    + (
                        f"  <= {target:g}: {_met(low / floor_min, target)}"
                        if target
                        else ""
                    )
                )
    finally:
        _backend._spki_span = original


# 2. The pin check per handshake.


class _CheckClock:
    """Times every call of pinssl's handshake hook with perf_counter_ns."""

    def __init__(self) -> None:
        from pinssl import _context

        self.samples: list[int] = []
        self._module = _context
        self._original = _context._decide

    def __enter__(self) -> _CheckClock:
        original, samples = self._original, self.samples
        clock = time.perf_counter_ns

        def timed(cls: Any, sslobj: Any, context: ssl.SSLContext) -> Any:
            start = clock()
            try:
                return original(cls, sslobj, context)
            finally:
                samples.append(clock() - start)

        self._module._decide = timed
        return self

    def __exit__(self, *exc: object) -> None:
        self._module._decide = self._original


def _handshake(
    context: ssl.SSLContext, address: tuple[str, int], name: str = SERVER_NAME
) -> tuple[int, int]:
    """One connection: (ns to connect and handshake, ns of the TLS handshake)."""
    clock = time.perf_counter_ns
    start = clock()
    raw = socket.create_connection(address, timeout=10)
    connected = clock()
    try:
        tls = context.wrap_socket(raw, server_hostname=name)
    except BaseException:
        raw.close()
        raise
    done = clock()
    tls.close()
    return done - start, done - connected


def _contexts(material: Material) -> dict[str, ssl.SSLContext]:
    import pinssl

    def plain() -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(material.cafile))
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        return context

    def pinned(pin: str) -> ssl.SSLContext:
        return pinssl.pin_context(plain(), [pin, material.other_pin])

    return {
        "unpinned": plain(),
        "pinned, leaf match": pinned(material.leaf_pin),
        "pinned, intermediate match": pinned(material.intermediate_pin),
        "pinned, refused": pinssl.pin_context(plain(), [material.other_pin]),
    }


def bench_handshakes(
    material: Material, address: tuple[str, int], scale: Scale
) -> None:
    """The check's own time inside real handshakes, and pinned against unpinned."""
    import pinssl

    contexts = _contexts(material)
    refusing = contexts.pop("pinned, refused")
    totals: dict[str, list[int]] = {name: [] for name in contexts}
    tls_only: dict[str, list[int]] = {name: [] for name in contexts}
    checks: dict[str, list[int]] = {name: [] for name in contexts if name != "unpinned"}

    def contender(name: str, clock: _CheckClock) -> Callable[[], float]:
        context = contexts[name]

        def run() -> float:
            total, handshake = _handshake(context, address)
            totals[name].append(total)
            tls_only[name].append(handshake)
            if name != "unpinned":
                checks[name].append(clock.samples.pop())
            return 0.0

        return run

    for context in contexts.values():
        _handshake(context, address)
    with _CheckClock() as clock:
        _interleaved(
            {name: contender(name, clock) for name in contexts}, scale.handshakes
        )
        extra = max(20, scale.handshakes // 10)
        for _ in range(extra):
            try:
                _handshake(refusing, address)
            except pinssl.PinVerificationError:
                pass
            else:
                raise AssertionError("a handshake that the pins refuse went through")
        refusals = list(clock.samples)
        first_contact: dict[str, list[int]] = {}
        for name in checks:
            socket_class: Any = contexts[name].sslsocket_class
            memo = socket_class._pinssl_memo
            clock.samples.clear()
            for _ in range(extra):
                memo.clear()
                _handshake(contexts[name], address)
            first_contact[name] = list(clock.samples)
    version = _tls_version(contexts["unpinned"], address)

    base_total = _median(totals["unpinned"])
    base_tls = _median(tls_only["unpinned"])
    print(
        f"\n2. The pin check inside real {version} handshakes to {HOST}, "
        f"{scale.handshakes} per case,\n   interleaved; the server sends a P-256 "
        "leaf and its intermediate, and OpenSSL\n   verifies a chain of 3 up to "
        "the root the client trusts"
    )
    print(
        f"   unpinned, medians: connect + handshake {base_total / 1000:.0f} us, the "
        f"TLS handshake alone\n   {base_tls / 1000:.0f} us (the base of the % "
        "column); e2e: pinned / unpinned connect + handshake"
    )
    print(
        f"   {'check in the hook':<27}{'median':>11}{'p90':>11}{'% of hs':>9}"
        f"  {'<= 1 %':<9}{'e2e':>6}  <= 1.02"
    )

    def row(label: str, samples: list[int]) -> tuple[str, float]:
        share = 100 * _median(samples) / base_tls
        return (
            f"   {label:<27}{_median(samples) / 1000:>8.1f} us"
            f"{_percentile(samples, 0.9) / 1000:>8.1f} us{share:>7.2f} %",
            share,
        )

    for name, samples in checks.items():
        line, share = row(name, samples)
        ratio = _median(totals[name]) / base_total
        print(f"{line}  {_met(share, 1.0):<9}{ratio:>6.3f}  {_met(ratio, 1.02)}")
    print(f"   not targets, {extra} handshakes each after that loop:")
    for name, samples in first_contact.items():
        label = name.replace("pinned, ", "").replace(" match", "") + ", memo cleared"
        print(row(label, samples)[0])
    print(row("refused", refusals)[0])


def _tls_version(context: ssl.SSLContext, address: tuple[str, int]) -> str:
    raw = socket.create_connection(address, timeout=10)
    with context.wrap_socket(raw, server_hostname=SERVER_NAME) as tls:
        return str(tls.version()).replace("v", " ")


# 3. requests per new connection.


def bench_requests(material: Material, address: tuple[str, int], scale: Scale) -> None:
    """requests through PinnedAdapter and stock requests, per new connection."""
    import requests
    from requests.adapters import HTTPAdapter

    import pinssl
    from pinssl.requests_adapter import PinnedAdapter

    plain = ssl.create_default_context(cafile=str(material.cafile))
    url = f"https://{HOST}:{address[1]}/"

    class ContextAdapter(HTTPAdapter):
        """Stock requests handed a context: the documented recipe."""

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = plain
            super().init_poolmanager(*args, **kwargs)

    pinned_session = requests.Session()
    pinned_session.mount(
        "https://",
        PinnedAdapter(
            pinssl.create_default_context(
                [material.leaf_pin, material.other_pin], cafile=str(material.cafile)
            )
        ),
    )
    unpinned_session = requests.Session()
    unpinned_session.mount(
        "https://",
        PinnedAdapter(ssl.create_default_context(cafile=str(material.cafile))),
    )
    context_session = requests.Session()
    context_session.mount("https://", ContextAdapter())
    default_session = requests.Session()
    default_session.verify = str(material.bundle)
    sessions = (pinned_session, unpinned_session, context_session, default_session)
    for session in sessions:
        # REQUESTS_CA_BUNDLE would replace the bundles compared here.
        session.trust_env = False

    def fetch(session: requests.Session) -> Callable[[], None]:
        def run() -> None:
            response = session.get(url, timeout=10)
            if response.content != b"ok\n":
                raise AssertionError(f"unexpected response {response.content!r}")

        return run

    def bare() -> None:
        _handshake(plain, address, HOST)

    def bare_http() -> None:
        raw = socket.create_connection(address, timeout=10)
        with plain.wrap_socket(raw, server_hostname=HOST) as tls:
            tls.sendall(REQUEST)
            received = b""
            while chunk := tls.recv(4096):
                received += chunk
        if not received.endswith(b"ok\n"):
            raise AssertionError(f"unexpected response {received!r}")

    actions = {
        "bare handshake": bare,
        "bare handshake + HTTP": bare_http,
        "PinnedAdapter": fetch(pinned_session),
        "PinnedAdapter, no pins": fetch(unpinned_session),
        "HTTPAdapter(ssl_context)": fetch(context_session),
        "requests defaults": fetch(default_session),
    }

    def timed(action: Callable[[], None]) -> Callable[[], float]:
        def run() -> float:
            start = time.perf_counter_ns()
            action()
            return float(time.perf_counter_ns() - start)

        return run

    for action in actions.values():
        action()
    results = _interleaved(
        {name: timed(action) for name, action in actions.items()}, scale.requests
    )
    base = _median(results["bare handshake"])
    print(
        f"\n3. One GET per new connection (the server closes each one), "
        f"{scale.requests} per line,\n   interleaved; medians"
    )
    for note in (
        "bare handshake: connect + TLS handshake + close with ssl alone, the base;",
        "+ HTTP: the same socket also sends the GET and reads the answer;",
        "PinnedAdapter, no pins: the same adapter given an unpinned context;",
        "HTTPAdapter(ssl_context): stock requests handed a context, which loads",
        "  certifi's bundle into it on every connection; requests defaults: a",
        "  Session with verify= a bundle of that size (certifi + the test root).",
    ):
        print(f"   {note}")
    for name, values in results.items():
        value = _median(values)
        print(f"   {name:<28}{value / 1000:>9.0f} us{value / base:>8.2f} x bare")
    pinned = _median(results["PinnedAdapter"])
    print(
        f"   PinnedAdapter: {pinned / base:.2f} x bare, "
        f"{_verdict(pinned / base, 1.1)}; "
        f"{pinned / _median(results['bare handshake + HTTP']):.2f} x bare + HTTP;\n"
        f"   {pinned / _median(results['PinnedAdapter, no pins']):.3f} x the same "
        "adapter without pins; "
        f"{_median(results['HTTPAdapter(ssl_context)']) / pinned:.1f} times faster "
        "than stock"
    )
    for session in sessions:
        session.close()


# 4. import pinssl.


def bench_import(scale: Scale) -> None:
    """Time, RSS and modules that import pinssl adds over import ssl.

    Each run is a fresh interpreter. Bytecode is cached (in a scratch
    PYTHONPYCACHEPREFIX, warmed by a first run) as it is in an installed
    package, even where PYTHONDONTWRITEBYTECODE is set.
    """
    with tempfile.TemporaryDirectory(prefix="pinssl-pyc-") as cache:
        environment = dict(os.environ, PYTHONPYCACHEPREFIX=cache)
        environment.pop("PYTHONDONTWRITEBYTECODE", None)

        def probe(code: str, *args: str) -> Any:
            return json.loads(
                subprocess.run(
                    [sys.executable, "-c", code, *args],
                    check=True,
                    capture_output=True,
                    text=True,
                    cwd=tempfile.gettempdir(),
                    env=environment,
                ).stdout
            )

        probe(IMPORT_PROBE)
        runs = [probe(IMPORT_PROBE) for _ in range(scale.imports)]
        steps = [probe(STEP_PROBE, *IMPORT_STEPS) for _ in range(scale.imports)]

    rss = _median([run["rss_kib"] for run in runs]) / 1024
    foreign = sorted({name for run in runs for name in run["third_party"]})
    print(f"\n4. import pinssl after import ssl, {scale.imports} fresh interpreters")
    print(
        f"   import ssl {_median([r['ssl_ns'] for r in runs]) / 1e6:.1f} ms, then "
        f"import pinssl {_median([r['pinssl_ns'] for r in runs]) / 1e6:.1f} ms and "
        f"{_median([r['modules'] for r in runs]):.0f} more modules"
    )
    print(
        f"   RSS +{rss:.2f} MiB (largest +{max(r['rss_kib'] for r in runs) / 1024:.2f})"
        f"  ({_verdict(rss, 2, ' MiB')})"
    )
    parts = ", ".join(
        f"{name} +{_median([step[name] for step in steps]) / 1024:.2f}"
        for name in IMPORT_STEPS
    )
    print(
        textwrap.fill(
            f"the same RSS step by step, in MiB: {parts} (the last: pinssl's own "
            "modules and extension)",
            width=85,
            initial_indent="   ",
            subsequent_indent="   ",
        )
    )
    allowed = {"_cffi_backend", "cffi"}
    print(
        f"   backend {runs[0]['backend']}; third-party modules: "
        f"{', '.join(foreign) or 'none'} "
        f"({'only cffi: met' if set(foreign) <= allowed else 'NOT only cffi'})"
    )


# 5. Growth.


def bench_growth(material: Material, address: tuple[str, int], scale: Scale) -> None:
    """RSS and open descriptors over many pin checks and handshakes."""
    import pinssl
    from pinssl import _backend, _der

    spans: list[Callable[[bytes, int, int], int]] = [_der.spki_span]
    try:
        from pinssl._spki_c import lib
    except ImportError:
        pass
    else:
        spans.append(lib.pinssl_spki_span)
    original = _backend._spki_span
    inputs = [*material.samples.values(), *material.chain]
    broken = material.chain[0][:-1]

    def checks(count: int) -> int:
        errors = 0
        try:
            for index in range(count):
                if index % 1000 == 0:
                    _backend._spki_span = spans[index // 1000 % len(spans)]
                if index % 100 == 99:
                    try:
                        pinssl.spki_pin(broken)
                    except pinssl.MalformedDERError:
                        errors += 1
                    continue
                pinssl.spki_pin(inputs[index % len(inputs)])
        finally:
            _backend._spki_span = original
        return errors

    contexts = _contexts(material)
    cycle = [
        "pinned, leaf match",
        "pinned, intermediate match",
        "unpinned",
        "pinned, leaf match",
        "pinned, refused",
    ]

    def handshakes(count: int) -> int:
        refused = 0
        for index in range(count):
            try:
                _handshake(contexts[cycle[index % len(cycle)]], address)
            except pinssl.PinVerificationError:
                refused += 1
        return refused

    print("\n5. Growth of this process over many checks and handshakes")
    checks(2000)
    handshakes(100)
    print("   RSS in MiB and open descriptors at the start, halfway and the end:")
    for label, count, run, what in (
        ("pin checks", scale.leak_checks, checks, "malformed"),
        ("handshakes", scale.leak_handshakes, handshakes, "refused"),
    ):
        marks, odd = [], 0
        for _ in range(2):
            gc.collect()
            marks.append(_resources())
            odd += run(count // 2)
        gc.collect()
        marks.append(_resources())
        rss = " -> ".join(f"{mark[0] / 1024:.1f}" for mark in marks)
        fds = " -> ".join(str(mark[1]) for mark in marks)
        print(f"   {count:>7} {label} ({odd} {what}): RSS {rss}, fds {fds}")
        print(
            f"   {'':>7} second half: {(marks[2][0] - marks[1][0]) / 1024:+.2f} MiB, "
            f"{marks[2][1] - marks[1][1]:+d} fds"
        )
    bound: list[Any] = [context.sslsocket_class for context in contexts.values()]
    kept = [
        (len(cls._pinssl_memo.digests), len(cls._pinssl_approved))
        for cls in bound
        if hasattr(cls, "_pinssl_memo")
    ]
    print(
        "   memo entries / approved leaves of each pinned context afterwards: "
        + ", ".join(f"{memo} / {approved}" for memo, approved in kept)
    )


# Running.


def _machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{ssl.OPENSSL_VERSION}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks (or, internally, the TLS server)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for CI")
    parser.add_argument("--serve", metavar="DIRECTORY", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(Path(args.serve))
        return 0

    import pinssl

    scale = QUICK if args.quick else FULL
    started = time.monotonic()
    print(
        f"pinssl {pinssl.__version__} benchmarks ({'quick' if args.quick else 'full'}"
        f"), backend {pinssl.BACKEND}, {datetime.date.today()}"
    )
    print(f"machine: {_machine()}")
    try:
        import cryptography  # noqa: F401 - only to say what is missing
    except ImportError:
        print("the benchmarks mint their certificates with cryptography: install it")
        return 1
    with tempfile.TemporaryDirectory(prefix="pinssl-bench-") as scratch:
        material = _mint(Path(scratch))
        bench_spki_pin(material, scale)
        with _server(material) as address:
            bench_handshakes(material, address, scale)
            if material.bundle.exists():
                bench_requests(material, address, scale)
            else:
                print("\n3. requests: skipped, requests is not installed")
            bench_import(scale)
            bench_growth(material, address, scale)
    print(f"\ndone in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
