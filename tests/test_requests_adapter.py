"""``PinnedAdapter``: requests uses the pinned context as it is, trust store included.

Stock requests hands urllib3 a CA bundle path for every connection pool, and
urllib3 loads it into whatever context it was given on every new connection.
These tests count the CAs in the context and the loads urllib3 asks for, with
``PinnedAdapter`` and with a stock ``HTTPAdapter`` given the same kind of context.
"""

from __future__ import annotations

import pickle
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import requests.utils
from requests.adapters import HTTPAdapter

import pinssl
from pinssl import PinVerificationError
from pinssl.requests_adapter import PinnedAdapter

from certs import CA
from servers import DEFAULT_BODY, HTTPSServer, TwoCAWorld

TIMEOUT = 5.0
HOSTNAME = "localhost"
CONNECTIONS = 3
TRUSTED_ROOTS = 2  # the good root and the rogue root, from two_cas.cafile
EXTRA_ROOT_NAME = "pinssl extra root"
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


class ContextAdapter(HTTPAdapter):
    """Stock requests: an ``HTTPAdapter`` that hands urllib3 an SSL context."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self.context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self.context
        super().init_poolmanager(*args, **kwargs)


class LoadSpy:
    """Records the trust-store loads made on one context, then performs them."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        for name in ("load_verify_locations", "load_default_certs"):
            setattr(ctx, name, self._recording(name, getattr(ctx, name)))

    def _recording(self, name: str, method: Any) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args + tuple(kwargs.values())))
            return method(*args, **kwargs)

        return record


@pytest.fixture(autouse=True)
def hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy and no CA bundle from the environment unless a test sets one."""
    for name in ENVIRONMENT_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def extra_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA bundle holding one root that nothing here is issued by."""
    path = tmp_path_factory.mktemp("extra-bundle") / "extra.pem"
    path.write_bytes(CA.root(EXTRA_ROOT_NAME).pem)
    return path


@pytest.fixture
def ctx(two_cas: TwoCAWorld) -> ssl.SSLContext:
    """A fresh pinned client context: good intermediate pinned, both CAs trusted."""
    return pinssl.create_default_context(
        [two_cas.good_intermediate.cert.pin], cafile=str(two_cas.cafile)
    )


@pytest.fixture
def rogue_https(two_cas: TwoCAWorld) -> Iterator[HTTPSServer]:
    """HTTPS server presenting the mis-issued leaf."""
    with HTTPSServer(two_cas.rogue) as server:
        yield server


def pin_refusal(error: BaseException) -> PinVerificationError:
    """The ``PinVerificationError`` among the causes and contexts of ``error``."""
    pending: list[BaseException | None] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue

        if isinstance(current, PinVerificationError):
            return current
        seen.add(id(current))
        pending += [current.__cause__, current.__context__]
    raise AssertionError(f"no PinVerificationError behind {error!r}")


def ca_count(ctx: ssl.SSLContext) -> int:
    """CA certificates in the context's trust store."""
    return int(ctx.cert_store_stats()["x509_ca"])


def ca_names(ctx: ssl.SSLContext) -> set[str]:
    """Common names of the CA certificates in the context's trust store."""
    names: set[str] = set()
    for cert in ctx.get_ca_certs():
        subject: Any = cert["subject"]
        names.update(
            value for rdn in subject for key, value in rdn if key == "commonName"
        )
    return names


def bundle_size(path: str) -> int:
    """CA certificates an empty context holds after loading ``path``."""
    fresh = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    fresh.load_verify_locations(path)
    return ca_count(fresh)


def counts_over_new_connections(
    server: HTTPSServer,
    make_adapter: Callable[[ssl.SSLContext], HTTPAdapter],
    ctx: ssl.SSLContext,
) -> list[int]:
    """CA count before and after each of ``CONNECTIONS`` new connections.

    Two requests share a session but close their connection; the last one uses a
    new session and adapter around the same context.
    """
    counts = [ca_count(ctx)]
    with requests.Session() as session:
        session.mount("https://", make_adapter(ctx))
        for _ in range(CONNECTIONS - 1):
            response = session.get(
                server.url(HOSTNAME), headers={"Connection": "close"}, timeout=TIMEOUT
            )
            assert response.content == DEFAULT_BODY
            counts.append(ca_count(ctx))
    with requests.Session() as session:
        session.mount("https://", make_adapter(ctx))
        assert session.get(server.url(HOSTNAME), timeout=TIMEOUT).ok
        counts.append(ca_count(ctx))
    assert server.handshakes == CONNECTIONS
    return counts


class TestTrustStore:
    def test_pinned_adapter_keeps_the_ca_count(
        self, ctx: ssl.SSLContext, https_server: HTTPSServer
    ) -> None:
        """Across new connections PinnedAdapter loads nothing into the context."""
        spy = LoadSpy(ctx)

        counts = counts_over_new_connections(https_server, PinnedAdapter, ctx)
        assert counts == [TRUSTED_ROOTS] * (CONNECTIONS + 1)
        assert spy.calls == []
        assert ctx.verify_mode == ssl.CERT_REQUIRED
        assert ctx.check_hostname is True

    def test_stock_adapter_loads_the_bundle_on_every_new_connection(
        self, ctx: ssl.SSLContext, https_server: HTTPSServer
    ) -> None:
        """Stock requests reloads its bundle per connection; the CA count jumps."""
        bundle = requests.utils.DEFAULT_CA_BUNDLE_PATH
        spy = LoadSpy(ctx)

        counts = counts_over_new_connections(https_server, ContextAdapter, ctx)
        widened = TRUSTED_ROOTS + bundle_size(bundle)
        assert counts == [TRUSTED_ROOTS, *[widened] * CONNECTIONS]
        loads = [("load_verify_locations", (bundle, None, None))] * CONNECTIONS
        assert spy.calls == loads

    def test_requests_ca_bundle_is_not_loaded(
        self,
        ctx: ssl.SSLContext,
        https_server: HTTPSServer,
        extra_bundle: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """REQUESTS_CA_BUNDLE does not reach a PinnedAdapter's context."""
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(extra_bundle))
        spy = LoadSpy(ctx)

        with requests.Session() as session:
            session.mount("https://", PinnedAdapter(ctx))
            assert session.get(https_server.url(HOSTNAME), timeout=TIMEOUT).ok
        assert ca_count(ctx) == TRUSTED_ROOTS
        assert EXTRA_ROOT_NAME not in ca_names(ctx)
        assert spy.calls == []

    def test_stock_adapter_loads_requests_ca_bundle(
        self,
        ctx: ssl.SSLContext,
        https_server: HTTPSServer,
        extra_bundle: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """For contrast: stock requests adds REQUESTS_CA_BUNDLE to the context."""
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(extra_bundle))

        with requests.Session() as session:
            session.mount("https://", ContextAdapter(ctx))
            assert session.get(https_server.url(HOSTNAME), timeout=TIMEOUT).ok
        assert ca_count(ctx) == TRUSTED_ROOTS + 1
        assert EXTRA_ROOT_NAME in ca_names(ctx)

    def test_verify_path_is_not_loaded(
        self, ctx: ssl.SSLContext, https_server: HTTPSServer, extra_bundle: Path
    ) -> None:
        """A CA bundle path given as verify= is ignored; the context decides."""
        spy = LoadSpy(ctx)

        with requests.Session() as session:
            session.mount("https://", PinnedAdapter(ctx))
            response = session.get(
                https_server.url(HOSTNAME), verify=str(extra_bundle), timeout=TIMEOUT
            )
        assert response.content == DEFAULT_BODY
        assert EXTRA_ROOT_NAME not in ca_names(ctx)
        assert spy.calls == []


class TestOverrides:
    @pytest.mark.parametrize("where", ["request", "session"])
    def test_verify_false_is_refused(
        self, ctx: ssl.SSLContext, https_server: HTTPSServer, where: str
    ) -> None:
        """verify=False raises ValueError before any connection is made."""
        with requests.Session() as session:
            session.mount("https://", PinnedAdapter(ctx))
            kwargs: dict[str, Any] = {"timeout": TIMEOUT}
            if where == "session":
                session.verify = False
            else:
                kwargs["verify"] = False
            with pytest.raises(ValueError, match=r"verify=False does not apply"):
                session.get(https_server.url(HOSTNAME), **kwargs)
        assert (https_server.handshakes, https_server.failed_handshakes) == (0, 0)
        assert ctx.verify_mode == ssl.CERT_REQUIRED

    @pytest.mark.parametrize("form", ["pair", "single"])
    def test_client_cert_is_refused(
        self,
        ctx: ssl.SSLContext,
        https_server: HTTPSServer,
        two_cas: TwoCAWorld,
        form: str,
    ) -> None:
        """cert= raises ValueError pointing at load_cert_chain(); nothing connects."""
        files = two_cas.genuine_files
        cert: Any = (
            (str(files.cert), str(files.key)) if form == "pair" else str(files.chain)
        )
        with requests.Session() as session:
            session.mount("https://", PinnedAdapter(ctx))
            with pytest.raises(ValueError, match=r"cert= .*load_cert_chain\(\)"):
                session.get(https_server.url(HOSTNAME), cert=cert, timeout=TIMEOUT)
        assert (https_server.handshakes, https_server.failed_handshakes) == (0, 0)


class TestConstructor:
    def test_pins_form_pins_a_default_context(
        self,
        two_cas: TwoCAWorld,
        https_server: HTTPSServer,
        rogue_https: HTTPSServer,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
    ) -> None:
        """PinnedAdapter(pins=...) accepts the genuine server and refuses the rogue."""
        monkeypatch.setenv("SSL_CERT_FILE", str(two_cas.cafile))
        monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
        adapter = PinnedAdapter(pins=[two_cas.good_intermediate.cert.pin])
        policy = pinssl.context_policy(adapter.ssl_context)
        assert policy is not None

        with requests.Session() as session:
            session.mount("https://", adapter)
            response = session.get(https_server.url(HOSTNAME), timeout=TIMEOUT)
            assert response.content == DEFAULT_BODY
            with pytest.raises(requests.exceptions.SSLError) as caught:
                session.get(rogue_https.url(HOSTNAME), timeout=TIMEOUT)
        refusal = pin_refusal(caught.value)
        assert refusal.hostname == HOSTNAME
        assert refusal.served[0].startswith(two_cas.rogue.pin)
        assert rogue_https.requests == []

    def test_context_and_pins_together_are_a_type_error(
        self, ctx: ssl.SSLContext, two_cas: TwoCAWorld
    ) -> None:
        """Giving both a context and pins raises TypeError."""
        with pytest.raises(TypeError, match="not both"):
            PinnedAdapter(ctx, pins=[two_cas.good_intermediate.cert.pin])

    def test_neither_context_nor_pins_is_a_type_error(self) -> None:
        """Giving neither a context nor pins raises TypeError saying so."""
        with pytest.raises(TypeError, match="neither"):
            PinnedAdapter()

    def test_context_must_be_an_ssl_context(self, two_cas: TwoCAWorld) -> None:
        """A CA bundle path in place of a context raises TypeError at once."""
        with pytest.raises(TypeError, match=r"needs an ssl\.SSLContext, not str"):
            PinnedAdapter(str(two_cas.cafile))  # type: ignore[arg-type]

    def test_pickling_is_refused(self, ctx: ssl.SSLContext) -> None:
        """Pickling raises TypeError instead of dropping the context silently."""
        with requests.Session() as session:
            session.mount("https://", PinnedAdapter(ctx))
            with pytest.raises(TypeError, match="cannot be pickled"):
                pickle.dumps(session)

    def test_other_arguments_reach_http_adapter(self, ctx: ssl.SSLContext) -> None:
        """Pool and retry arguments go to HTTPAdapter unchanged."""
        adapter = PinnedAdapter(ctx, pool_maxsize=3, max_retries=2)
        assert adapter.ssl_context is ctx
        assert adapter.max_retries.total == 2
        assert adapter.poolmanager.connection_pool_kw["maxsize"] == 3
        assert adapter.poolmanager.connection_pool_kw["ssl_context"] is ctx
