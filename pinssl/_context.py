"""Pin enforcement inside ``ssl.SSLContext``: the handshake check and the API.

A pinned context gets its own subclasses of :class:`ssl.SSLSocket` and
:class:`ssl.SSLObject`, bound to its immutable :class:`PinPolicy` and assigned as
``ctx.sslsocket_class`` and ``ctx.sslobject_class``. Every client that wraps
sockets or memory BIOs with the context therefore runs the pin check right after
OpenSSL finishes the handshake (``do_handshake``), and every read and write path
first completes that handshake, so a connection made with
``do_handshake_on_connect=False`` cannot move application data before the check.

What is matched. With certificate verification on, the leaf's key first, then
the keys of the chain OpenSSL verified (never the certificates the peer merely
sent). With ``verify_mode == CERT_NONE`` only the leaf's key, since nothing else
was verified. A resumed session carries no verified chain: it is accepted when
its leaf's key is pinned or when the same leaf passed a full check for the same
host on the same context (a bounded set kept per context); any other resumed
session is refused. A full handshake whose leaf is in that set is accepted
without reading the chain again: it is the very certificate whose issuer's key
was found pinned before, and the handshake proved the server holds its key.

What a check run after ``do_handshake`` cannot undo. The check needs the peer's
certificate, which only a finished handshake provides, so some bytes have
already left by then; none of them is application data:

- With client certificates (mTLS), the client has sent its certificate and its
  CertificateVerify signature before it sees whether the server is pinned. A
  server refused by the pins has learned the client's certificate (its identity)
  but cannot replay the signature elsewhere, since it covers this handshake.
- On a socket, the client's Finished message has been sent (in TLS 1.2 and 1.3
  alike), so the server considers the handshake complete and may already have
  sent data, such as an SMTP banner or TLS 1.3 session tickets; nothing of it
  is read. With a memory BIO (asyncio, trio) the Finished message is still in
  the outgoing buffer at the check, and a refused connection never sends it.
- On the server side, a TLS 1.3 server has usually sent its session tickets
  before the client's certificate is checked. A refused client that resumes with
  such a ticket is refused again: its leaf never passed a check.
- The refusal cannot send a TLS alert (Python exposes no way to), so the peer sees
  the TCP connection close instead of a ``bad_certificate`` alert.
- Server side, TLS 1.3 post-handshake authentication
  (``verify_client_post_handshake``) delivers the client's certificate after the
  check, so it is refused on a pinned socket; so is a client certificate that is
  absent from the handshake.
- Server side, a context switched in from an ``sni_callback`` does not carry its
  pins to the socket: pin the context that wraps the listening socket.
- Renegotiation (TLS 1.2) could bring a new certificate after the check, so a
  pinned context sets ``OP_NO_RENEGOTIATION`` and refuses every handshake if the
  option was cleared afterwards.
- Code that reaches past the public API (``sock._sslobj``) is not guarded.

Other limits of the design:

- Pinning lives in ``ctx.sslsocket_class`` and ``ctx.sslobject_class``. Code that
  replaces them afterwards, or a library that wraps sockets through another
  context of its own (truststore, for one), bypasses the pins.
- :func:`pin_context` changes the caller's context in place; pin a context once,
  and make another one for another pin set.
- Host names are matched in the IDNA 2003 form Python's ``ssl`` module sends, so
  a client that encodes names itself with IDNA 2008 (``ß``, ``ς``, ZWJ) may send
  an A-label that a Unicode pattern does not match; give such patterns as
  A-labels.
- The set of leaves approved for resumption is bounded (4096 per context, the
  least recently used go first). Resuming a session whose entry was evicted
  fails with :class:`PinVerificationError`; connecting again without that
  session makes a full, checked handshake.

Each pinned context also remembers the digests of the last 256 certificates (of
up to 8 KiB each) it checked, keyed by their complete DER bytes, so that
connecting again to the same server hashes nothing: only the very same
certificate is served from this memo (:class:`CheckMemo`), never another one
with the same subject or issuer.
"""

from __future__ import annotations

import _ssl
import hashlib
import hmac
import logging
import socket
import ssl
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pinssl import _backend
from pinssl._errors import InvalidPinError, PinsslError, PinVerificationError
from pinssl._pins import format_pin
from pinssl._policy import ApprovedLeaves, PinPolicy, PinSpec, normalize_host

if TYPE_CHECKING:
    _SocketBase = ssl.SSLSocket
    _ObjectBase = ssl.SSLObject
else:
    _SocketBase = _ObjectBase = object

_log = logging.getLogger(__name__)

_CERT_NONE = int(ssl.CERT_NONE)
# The C getters, without the enum conversion the ssl.SSLContext properties add.
_raw_options = _ssl._SSLContext.options.__get__  # type: ignore[attr-defined]
_raw_verify_mode = _ssl._SSLContext.verify_mode.__get__  # type: ignore[attr-defined]
_NO_RENEGOTIATION = int(ssl.OP_NO_RENEGOTIATION)
_ENCODING_DER = _ssl.ENCODING_DER
_compare_digest = hmac.compare_digest
_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "domainComponent": "DC",
    "userId": "UID",
    "streetAddress": "STREET",
}


def _subject(rdns: Any) -> str:
    """A subject as ``CN=leaf.example, O=Org`` (most specific first)."""
    parts = []
    for rdn in reversed(rdns or ()):
        parts.append(
            "+".join(f"{_SHORT_NAMES.get(name, name)}={value}" for name, value in rdn)
        )
    return ", ".join(parts) or "no subject"


def _describe(der: bytes, subject: Any) -> str:
    """``sha256/… (subject)`` for one certificate, never failing."""
    try:
        pin = format_pin(_backend.spki_sha256(der))
    except Exception:  # noqa: BLE001 - a description must not fail
        pin = "an unparsable certificate"
    return f"{pin} ({_subject(subject)})" if subject else pin


def _served_chain(chain: list[Any]) -> list[str]:
    """Describe each ``_ssl.Certificate`` of a verified chain, leaf first."""
    served = []
    for certificate in chain:
        try:
            subject = certificate.get_info().get("subject")
        except Exception:  # noqa: BLE001 - a description must not fail
            subject = None
        served.append(_describe(certificate.public_bytes(_ENCODING_DER), subject))
    return served


def _served_leaf(sslobj: Any, leaf: bytes) -> list[str]:
    """Describe the leaf alone; its subject is known only if it was verified."""
    try:
        subject = (sslobj.getpeercert(False) or {}).get("subject")
    except Exception:  # noqa: BLE001 - a description must not fail
        subject = None
    return [_describe(leaf, subject)]


def _expected(pins: frozenset[bytes] | None) -> list[str]:
    return sorted(format_pin(pin) for pin in pins or ())


def _refusal(
    host: str | None,
    reason: str,
    pins: frozenset[bytes] | None,
    served: list[str],
    *,
    mismatch: bool = True,
) -> PinVerificationError:
    """Build the error for a refused connection, with its full message.

    ``mismatch`` says the certificates were checked and none matched; any
    other refusal (strict mode, a failed check) is worded as such.
    """
    if mismatch:
        who = host if host is not None else "the client certificate"
        message = f"pinssl: certificate pin mismatch for {who}: {reason}."
    else:
        who = host if host is not None else "the client"
        message = f"pinssl: refused the connection to {who}: {reason}."

    expected = _expected(pins)
    if expected:
        message += f" Expected one of: {', '.join(expected)}."
    if served:
        message += f" Served: {', '.join(served)}"
    return PinVerificationError(
        message, hostname=host, expected=expected, served=served
    )


MEMO_LIMIT = 256
MEMO_LARGEST = 8192


class CheckMemo:
    """What a pinned context remembers between handshakes; bounded, thread-safe.

    ``digests`` maps the complete DER bytes of a certificate to the SHA-256 of
    its SubjectPublicKeyInfo (what pins name) and of the whole DER (what
    :class:`ApprovedLeaves` keeps), so an entry is only ever served for the very
    same certificate, never for another one with the same subject or issuer.
    ``hosts`` maps a ``server_hostname`` to :func:`normalize_host` of it.
    Lookups are single dict reads and take no lock; a miss computes the value,
    then inserts it under a lock, dropping the oldest entry of that table once
    it holds ``limit`` entries. Certificates longer than ``MEMO_LARGEST`` octets
    are checked but never remembered, so a table holds at most
    ``limit * MEMO_LARGEST`` octets of DER.
    """

    def __init__(self, limit: int = MEMO_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"the limit must be at least 1, not {limit}")
        self.limit = limit
        self.digests: dict[bytes, tuple[bytes, bytes]] = {}
        self.hosts: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def learn_digests(self, der: bytes) -> tuple[bytes, bytes]:
        """Compute, remember and return the two digests of certificate ``der``.

        Raises :class:`MalformedDERError` when ``der`` is not a certificate;
        nothing is remembered then.
        """
        digests = (_backend.spki_sha256(der), hashlib.sha256(der).digest())
        if len(der) <= MEMO_LARGEST:
            self._insert(self.digests, der, digests)
        return digests

    def host_key(self, host: str | None) -> str | None:
        """:func:`normalize_host` of ``host`` (None for None), remembered."""
        if host is None:
            return None
        try:
            return self.hosts[host]
        except KeyError:
            key = normalize_host(host)
        self._insert(self.hosts, host, key)
        return key

    def clear(self) -> None:
        """Forget every certificate and host name."""
        with self._lock:
            self.digests.clear()
            self.hosts.clear()

    def _insert(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        with self._lock:
            if key not in table and len(table) >= self.limit:
                del table[next(iter(table))]
            table[key] = value


def _matches(digest: bytes, pins: frozenset[bytes]) -> bool:
    """Whether ``digest`` is one of ``pins``, compared in constant time."""
    for pin in pins:
        if _compare_digest(pin, digest):
            return True
    return False


def _check(
    policy: PinPolicy,
    approved: ApprovedLeaves,
    memo: CheckMemo,
    sslobj: Any,
    context: ssl.SSLContext,
) -> PinVerificationError | None:
    """Decide one finished handshake: None to accept, else the refusal.

    ``sslobj`` is the ``_ssl._SSLSocket`` of the connection. Exceptions are
    left to the caller, which refuses on any of them. The leaf comes first and
    the first match decides; certificates already seen cost a dict lookup.
    """
    host = sslobj.server_hostname
    pins = policy.every_host
    if pins is None:
        if sslobj.server_side:
            return _refusal(
                None,
                "pins given by host pattern cannot apply to a client certificate; "
                "give a server-side context an iterable of pins",
                None,
                [],
                mismatch=False,
            )

        pins = policy.pins_for(host)
        if pins is None:
            if policy.strict:
                return _refusal(
                    host,
                    "no pin pattern matches this host and the context is strict",
                    None,
                    [],
                    mismatch=False,
                )
            _log.debug("pinssl: %s matches no pin pattern; not pinned", host)
            return None

    if not _raw_options(context) & _NO_RENEGOTIATION:
        return _refusal(
            host,
            "OP_NO_RENEGOTIATION was cleared on a pinned context, which would let "
            "a renegotiation replace the checked certificate",
            pins,
            [],
            mismatch=False,
        )

    leaf = sslobj.getpeercert(True)
    if leaf is None:
        return _refusal(host, "the peer sent no certificate", pins, [])
    leaf_digests = memo.digests.get(leaf) or memo.learn_digests(leaf)
    if _matches(leaf_digests[0], pins):
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("pinssl: %s accepted, its leaf key is pinned", host)
        return None

    if _raw_verify_mode(context) == _CERT_NONE:
        return _refusal(
            host,
            "the leaf's key is not pinned, and certificate verification is off "
            "(CERT_NONE) so no other certificate can match",
            pins,
            _served_leaf(sslobj, leaf),
        )

    # A leaf whose issuing chain already held a pinned key for this host is the
    # very same certificate, signed by the same issuer key: accept it again
    # without pulling the chain. Only this set can vouch for a resumed session,
    # which carries no verified chain at all.
    leaf_sha256 = leaf_digests[1]
    host_key = memo.host_key(host)
    if approved.has(host_key, leaf_sha256):
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("pinssl: %s accepted, this leaf passed a full check", host)
        return None
    if sslobj.session_reused:
        return _refusal(
            host,
            "the resumed session's certificate never passed a pin check for this "
            "host on this context, and a resumed session has no verified chain",
            pins,
            _served_leaf(sslobj, leaf),
        )

    chain = sslobj.get_verified_chain()
    if not chain:
        return _refusal(host, "OpenSSL returned no verified chain", pins, [])
    for position in range(1, len(chain)):
        der = chain[position].public_bytes(_ENCODING_DER)
        if _matches((memo.digests.get(der) or memo.learn_digests(der))[0], pins):
            approved.add(host_key, leaf_sha256)
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug(
                    "pinssl: %s accepted, pinned key at chain position %d",
                    host,
                    position,
                )
            return None
    return _refusal(
        host, "no pinned key in the verified chain", pins, _served_chain(chain)
    )


def _decide(
    cls: Any, sslobj: Any, context: ssl.SSLContext
) -> PinVerificationError | None:
    """Run :func:`_check`, turning any exception into a refusal (fail closed).

    Building the refusal can fail too (a cause whose ``str()`` raises, no
    memory left); the connection is then refused with a fixed message.
    """
    try:
        return _check(
            cls._pinssl_policy, cls._pinssl_approved, cls._pinssl_memo, sslobj, context
        )
    except Exception as cause:  # noqa: BLE001 - fail closed on any error
        try:
            host = getattr(sslobj, "server_hostname", None)
            error = _refusal(
                host,
                f"the pin check failed with {type(cause).__name__}: {cause}",
                None,
                [],
                mismatch=False,
            )
        except Exception:  # noqa: BLE001 - the refusal must not fail
            error = PinVerificationError(
                "pinssl: refused the connection: the pin check failed",
                hostname=None,
                expected=(),
                served=(),
            )
        error.__cause__ = cause
        return error


def _log_refusal(error: PinVerificationError) -> None:
    """One WARNING per refusal; a failing handler cannot undo the refusal."""
    try:
        _log.warning("%s", error.verify_message)
    except Exception:  # noqa: BLE001, S110 - logging must not decide trust
        pass


class _PinnedSocket(_SocketBase):
    """Mixin for ``ssl.SSLSocket``: the check after the handshake, guarded I/O.

    ``_pinssl_state`` is None before the check, True after it passed, and the
    refusal once it failed.
    """

    _pinssl_policy: PinPolicy
    _pinssl_approved: ApprovedLeaves
    _pinssl_memo: CheckMemo
    _pinssl_state: PinVerificationError | bool | None = None
    _sslobj: Any

    def do_handshake(self, *args: Any, **kwargs: Any) -> None:
        """Run the handshake, then the pin check; refuse and close on a mismatch."""
        state = self._pinssl_state
        if isinstance(state, PinVerificationError):
            raise state

        super().do_handshake(*args, **kwargs)
        if state is True:
            return

        error = _decide(type(self), self._sslobj, self.context)
        if error is None:
            self._pinssl_state = True
            return

        self._pinssl_state = error
        try:
            socket.socket.shutdown(self, socket.SHUT_RDWR)
        except OSError:
            pass
        self.close()
        _log_refusal(error)
        raise error

    def _pinssl_before_io(self) -> None:
        """Finish the handshake and the check before the first read or write."""
        state = self._pinssl_state
        if isinstance(state, PinVerificationError):
            raise state
        if self._sslobj is not None:
            self.do_handshake()

    def verify_client_post_handshake(self) -> None:
        """Refused: the certificate it requests would arrive after the check."""
        raise PinsslError(
            "pinssl: post-handshake authentication is not supported on a pinned "
            "socket, because the client certificate would arrive after the pin "
            "check; request the certificate in the handshake (CERT_REQUIRED)"
        )


def _guarded(name: str) -> Any:
    """A ``_PinnedSocket`` method that runs the check before ``SSLSocket.name``."""

    def guarded(self: _PinnedSocket, *args: Any, **kwargs: Any) -> Any:
        if self._pinssl_state is not True:
            self._pinssl_before_io()
        return getattr(super(_PinnedSocket, self), name)(*args, **kwargs)

    guarded.__name__ = guarded.__qualname__ = name
    guarded.__doc__ = f"``SSLSocket.{name}``, after the pin check."
    return guarded


# Every SSLSocket method that moves application bytes.
_GUARDED_SOCKET_METHODS = (
    "read",
    "write",
    "send",
    "sendall",
    "sendfile",
    "sendto",
    "recv",
    "recv_into",
    "recvfrom",
    "recvfrom_into",
)
for _name in _GUARDED_SOCKET_METHODS:
    setattr(_PinnedSocket, _name, _guarded(_name))


class _PinnedObject(_ObjectBase):
    """Mixin for ``ssl.SSLObject`` (memory BIOs: asyncio, trio, anyio).

    After a refusal the object keeps the error and raises it again from every
    later handshake, read or write.
    """

    _pinssl_policy: PinPolicy
    _pinssl_approved: ApprovedLeaves
    _pinssl_memo: CheckMemo
    _pinssl_state: PinVerificationError | bool | None = None
    _sslobj: Any

    def do_handshake(self, *args: Any, **kwargs: Any) -> None:
        """Run the handshake, then the pin check; a refusal sticks."""
        state = self._pinssl_state
        if isinstance(state, PinVerificationError):
            raise state

        super().do_handshake(*args, **kwargs)
        if state is True:
            return

        error = _decide(type(self), self._sslobj, self.context)
        if error is None:
            self._pinssl_state = True
            return

        self._pinssl_state = error
        _log_refusal(error)
        raise error

    def verify_client_post_handshake(self) -> None:
        """Refused: the certificate it requests would arrive after the check."""
        raise PinsslError(
            "pinssl: post-handshake authentication is not supported on a pinned "
            "SSL object, because the client certificate would arrive after the "
            "pin check; request the certificate in the handshake (CERT_REQUIRED)"
        )

    def read(self, *args: Any, **kwargs: Any) -> Any:
        if self._pinssl_state is not True:
            self.do_handshake()
        return super().read(*args, **kwargs)

    def write(self, *args: Any, **kwargs: Any) -> Any:
        if self._pinssl_state is not True:
            self.do_handshake()
        return super().write(*args, **kwargs)


def context_policy(context: ssl.SSLContext) -> PinPolicy | None:
    """The :class:`PinPolicy` a context enforces, or None if it is not pinned."""
    socket_class = getattr(context, "sslsocket_class", None)
    if isinstance(socket_class, type) and issubclass(socket_class, _PinnedSocket):
        return socket_class._pinssl_policy
    object_class = getattr(context, "sslobject_class", None)
    if isinstance(object_class, type) and issubclass(object_class, _PinnedObject):
        return object_class._pinssl_policy
    return None


def pin_context(
    ctx: ssl.SSLContext, pins: PinSpec, *, strict: bool = False
) -> ssl.SSLContext:
    """Add pinning to a context the caller configured; return the same context.

    ``pins`` is an iterable of pin strings applied to every host, or a mapping
    of host pattern to pins (see :mod:`pinssl._policy` for patterns and which
    one wins). With ``strict``, a host that no pattern matches is refused
    instead of left unpinned. ``OP_NO_RENEGOTIATION`` is set on the context.

    Raises :class:`InvalidPinError` for bad or empty pins or patterns, or for a
    mapping on a server-only context (pins there apply to client certificates,
    which have no host name), :class:`PinsslError` if the context is already
    pinned, and :class:`TypeError` if it is not an ``ssl.SSLContext``.
    """
    if not isinstance(ctx, ssl.SSLContext):
        raise TypeError(f"expected an ssl.SSLContext, not {type(ctx).__name__}")
    if context_policy(ctx) is not None:
        raise PinsslError(
            "this SSLContext is already pinned; pinning it again would silently "
            "replace its pins, so create a new context for another pin set"
        )

    socket_base = ctx.sslsocket_class
    object_base = ctx.sslobject_class
    if not (isinstance(socket_base, type) and issubclass(socket_base, ssl.SSLSocket)):
        raise TypeError(
            f"the context's sslsocket_class {socket_base!r} is not an ssl.SSLSocket "
            "subclass, so pinssl cannot extend it"
        )
    if not (isinstance(object_base, type) and issubclass(object_base, ssl.SSLObject)):
        raise TypeError(
            f"the context's sslobject_class {object_base!r} is not an ssl.SSLObject "
            "subclass, so pinssl cannot extend it"
        )

    policy = PinPolicy.from_spec(pins, strict=strict)
    if policy.by_host and ctx.protocol == ssl.PROTOCOL_TLS_SERVER:
        raise _server_mapping_error()

    bound = {
        "_pinssl_policy": policy,
        "_pinssl_approved": ApprovedLeaves(),
        "_pinssl_memo": CheckMemo(),
        "__module__": __name__,
    }
    ctx.options |= _NO_RENEGOTIATION
    ctx.sslsocket_class = type(
        f"Pinned{socket_base.__name__}", (_PinnedSocket, socket_base), bound
    )
    ctx.sslobject_class = type(
        f"Pinned{object_base.__name__}", (_PinnedObject, object_base), bound
    )
    return ctx


def _server_mapping_error() -> InvalidPinError:
    return InvalidPinError(
        "pins given by host pattern cannot apply on the server side, where they "
        "check client certificates; give an iterable of pins"
    )


def create_default_context(
    pins: PinSpec,
    purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH,
    *,
    cafile: str | None = None,
    capath: str | None = None,
    cadata: str | bytes | None = None,
    strict: bool = False,
) -> ssl.SSLContext:
    """``ssl.create_default_context`` with TLS 1.2 or later, and pinning.

    With ``Purpose.SERVER_AUTH`` (a client context) the pins check the
    server's chain. With ``Purpose.CLIENT_AUTH`` (a server context) they check
    the client's certificate, which is therefore required
    (``verify_mode = CERT_REQUIRED``); ``pins`` must be an iterable there.
    Raises what :func:`pin_context` raises.
    """
    if purpose == ssl.Purpose.CLIENT_AUTH and isinstance(pins, Mapping):
        raise _server_mapping_error()

    ctx = ssl.create_default_context(
        purpose, cafile=cafile, capath=capath, cadata=cadata
    )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if purpose == ssl.Purpose.CLIENT_AUTH:
        ctx.verify_mode = ssl.CERT_REQUIRED
    return pin_context(ctx, pins, strict=strict)


def wrap_socket(
    sock: socket.socket,
    pins: PinSpec,
    *,
    server_hostname: str | None,
    context: ssl.SSLContext | None = None,
    **kwargs: Any,
) -> ssl.SSLSocket:
    """Wrap a socket for a raw protocol with a pinned context.

    Without ``context``, one is made by :func:`create_default_context`. A given
    context is pinned with :func:`pin_context` unless it already is; if it is,
    ``pins`` must be the pins it enforces. Other keyword arguments go to
    ``SSLContext.wrap_socket``. Raises :class:`PinVerificationError` when the
    handshake runs here and the pins refuse the peer, and :class:`PinsslError`
    if ``context`` is pinned to other pins.
    """
    if context is None:
        context = create_default_context(pins)
    else:
        current = context_policy(context)
        if current is None:
            pin_context(context, pins)
        elif current != PinPolicy.from_spec(pins, strict=current.strict):
            raise PinsslError(
                "the context is already pinned to other pins than the ones given; "
                "pass its own pins or an unpinned context"
            )
    return context.wrap_socket(sock, server_hostname=server_hostname, **kwargs)
