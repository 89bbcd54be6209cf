"""A requests transport adapter that uses one pinned context as it is.

Stock requests, handed an ``ssl.SSLContext`` through an adapter, still tells
urllib3 to load its CA bundle on every new connection: tens of milliseconds
each time, and the bundle's CAs are added to the context's trust store, which
quietly widens what the context trusts. :class:`PinnedAdapter` gives urllib3
the context and nothing to load, so the context's own trust store is the one
and only trust store used::

    import requests
    import pinssl
    from pinssl.requests_adapter import PinnedAdapter

    session = requests.Session()
    session.mount("https://", PinnedAdapter(pins=["sha256/..."]))

This module imports requests; pinssl itself does not depend on it.

Because the context decides trust, the adapter refuses a request made with
``verify=False`` or with a client certificate (``cert=``): build the context
with the verification mode and client certificate you want instead. A CA
bundle path given as ``verify`` (or through ``REQUESTS_CA_BUNDLE``) is not
loaded; load extra CAs into the context once, when you create it.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from typing import Any

from requests.adapters import HTTPAdapter

from pinssl._context import create_default_context

__all__ = ["PinnedAdapter"]

_CERT_REQS_NAMES = {
    ssl.CERT_NONE: "CERT_NONE",
    ssl.CERT_OPTIONAL: "CERT_OPTIONAL",
    ssl.CERT_REQUIRED: "CERT_REQUIRED",
}


class PinnedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections all use one pinned context.

    Give either ``context`` (an ``ssl.SSLContext``, typically from
    :func:`pinssl.create_default_context` or :func:`pinssl.pin_context`) or
    ``pins`` (anything :func:`pinssl.create_default_context` accepts). Other
    keyword arguments go to ``HTTPAdapter`` (pool sizes, retries).

    Raises :class:`TypeError` when given both or neither, or a context that is
    not an ``ssl.SSLContext``, and when pickled (an SSL context cannot be), and
    what :func:`pinssl.create_default_context` raises for bad pins.
    """

    def __init__(
        self,
        context: ssl.SSLContext | None = None,
        *,
        pins: Iterable[str] | Mapping[str, Iterable[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        if pins is not None:
            if context is not None:
                raise TypeError("give PinnedAdapter a context or pins, not both")
            context = create_default_context(pins)
        elif context is None:
            raise TypeError("give PinnedAdapter a context or pins; it got neither")
        elif not isinstance(context, ssl.SSLContext):
            raise TypeError(
                f"PinnedAdapter needs an ssl.SSLContext, not {type(context).__name__}"
            )

        self.ssl_context = context
        super().__init__(**kwargs)

    def __getstate__(self) -> dict[str, Any]:
        """Refuse pickling: the SSL context that decides trust cannot be pickled."""
        raise TypeError(
            "a PinnedAdapter cannot be pickled, because its SSL context cannot be; "
            "mount a new PinnedAdapter where the session is used"
        )

    def init_poolmanager(self, *args: Any, **pool_kwargs: Any) -> None:
        pool_kwargs["ssl_context"] = self.ssl_context
        super().init_poolmanager(*args, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs["ssl_context"] = self.ssl_context
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def build_connection_pool_key_attributes(
        self, request: Any, verify: Any, cert: Any = None
    ) -> Any:
        """The pool key: this adapter's context and verify mode, no CA bundle."""
        # Typed Any: requests' own types for this pair changed across versions.
        host_params, requested = super().build_connection_pool_key_attributes(
            request, verify, cert
        )

        pool_kwargs: dict[str, Any] = dict(requested)
        pool_kwargs.pop("ca_certs", None)
        pool_kwargs.pop("ca_cert_dir", None)
        pool_kwargs["ssl_context"] = self.ssl_context
        pool_kwargs["cert_reqs"] = self._cert_reqs()
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Keep the context's trust store: nothing for urllib3 to load."""
        if url.lower().startswith("https"):
            self._refuse_overrides(verify, cert)
        conn.cert_reqs = self._cert_reqs()
        conn.ca_certs = None
        conn.ca_cert_dir = None

    def _cert_reqs(self) -> str:
        return _CERT_REQS_NAMES[self.ssl_context.verify_mode]

    @staticmethod
    def _refuse_overrides(verify: Any, cert: Any) -> None:
        if verify is False:
            raise ValueError(
                "verify=False does not apply to a PinnedAdapter: its SSL context "
                "decides verification"
            )
        if cert is not None:
            raise ValueError(
                "cert= does not apply to a PinnedAdapter: load the client "
                "certificate into its SSL context with load_cert_chain()"
            )
