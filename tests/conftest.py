"""Shared pytest fixtures wrapping ``certs`` and ``servers``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pinssl import _backend, _der

from certs import Cert, KeyType, cached_key
from servers import (
    HTTPSServer,
    TLSServer,
    TwoCAWorld,
    make_two_ca_world,
    tls_settings_for,
)

try:
    from pinssl._spki_c import lib as C_LIB
except ImportError:  # a pure install: only the Python parser exists
    C_LIB = None

PARSER_BACKENDS = ["python"] + (["c"] if C_LIB is not None else [])


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of the load tests, which CI runs on their own."""
    config.addinivalue_line(
        "markers", "load: load and leak tests (about a minute); run with -m load"
    )


@pytest.fixture(params=PARSER_BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once on each parser backend this installation has."""
    if request.param == "python":
        monkeypatch.setattr(_backend, "_spki_span", _der.spki_span)
    else:
        assert C_LIB is not None
        monkeypatch.setattr(_backend, "_spki_span", C_LIB.pinssl_spki_span)
    return str(request.param)


@pytest.fixture(scope="session")
def two_cas(tmp_path_factory: pytest.TempPathFactory) -> TwoCAWorld:
    """Good CA (root + intermediate) and rogue CA, both trusted; genuine/rogue leaf."""
    return make_two_ca_world(tmp_path_factory.mktemp("two-cas"))


@pytest.fixture
def genuine_server(two_cas: TwoCAWorld) -> Iterator[TLSServer]:
    """Echo TLS server presenting the genuine chain."""
    with two_cas.genuine_server() as server:
        yield server


@pytest.fixture
def rogue_server(two_cas: TwoCAWorld) -> Iterator[TLSServer]:
    """Echo TLS server presenting the mis-issued (rogue CA) leaf."""
    with two_cas.rogue_server() as server:
        yield server


@pytest.fixture
def attack_server(two_cas: TwoCAWorld) -> Iterator[TLSServer]:
    """Rogue leaf with the good intermediate and root appended (CVE-2016-2402)."""
    with two_cas.attack_server() as server:
        yield server


@pytest.fixture
def https_server(two_cas: TwoCAWorld) -> Iterator[HTTPSServer]:
    """HTTPS server presenting the genuine chain."""
    with HTTPSServer(two_cas.genuine) as server:
        yield server


@pytest.fixture
def tls_server_factory() -> Iterator[Callable[..., TLSServer]]:
    """``make(cert, **TLSServer kwargs)`` -> started server, stopped at teardown."""
    started: list[TLSServer] = []

    def make(cert: Cert | None = None, **kwargs: Any) -> TLSServer:
        server = TLSServer(cert, **kwargs).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def leaf_for_key_type(two_cas: TwoCAWorld) -> Callable[[KeyType], Cert]:
    """``get(key_type)`` -> genuine-CA leaf of that key type, minted once."""
    cache: dict[str, Cert] = {}

    def get(key_type: KeyType) -> Cert:
        if key_type not in cache:
            issuer = two_cas.good_intermediate
            key = cached_key(key_type, "leaf_for_key_type")
            cache[key_type] = issuer.issue(*two_cas.hostnames, key=key)
        return cache[key_type]

    return get


@pytest.fixture
def key_type_server(
    leaf_for_key_type: Callable[[KeyType], Cert],
    tls_server_factory: Callable[..., TLSServer],
) -> Callable[[KeyType], TLSServer]:
    """``make(key_type)`` -> started echo server with that key type's leaf."""

    def make(key_type: KeyType) -> TLSServer:
        settings = tls_settings_for(key_type)
        return tls_server_factory(
            leaf_for_key_type(key_type),
            maximum_version=settings.maximum_version,
            ciphers=settings.ciphers,
            dh_params=settings.dh_params,
        )

    return make
