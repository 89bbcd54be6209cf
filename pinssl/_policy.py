"""Which pins apply to which host: the immutable policy of a pinned context.

Pins are given either as one pin set for every host (an iterable of pin strings)
or as a mapping from host patterns to pin sets. A pattern is one of:

- an exact host name, ``api.example.com``;
- ``*.example.com``: exactly one more label, so ``a.example.com`` but neither
  ``example.com`` nor ``a.b.example.com``;
- ``**.example.com``: ``example.com`` itself and any name below it;
- an IP address, matched exactly (``::1`` and ``0:0::1`` are the same address;
  brackets around an IPv6 address are ignored).

Names are compared case-insensitively, without a trailing dot, and in their
IDNA form (Python's ``idna`` codec, the one :mod:`ssl` uses to encode
``server_hostname``), so ``bücher.example`` and ``xn--bcher-kva.example`` are
one name.

When several patterns match a host, the most specific one alone decides, and the
pin sets are never merged: an exact name beats ``*.`` which beats ``**.``, and
among ``**.`` patterns the longest suffix wins. A host that no pattern matches is
not pinned, unless the policy is strict, in which case it is refused.
"""

from __future__ import annotations

import ipaddress
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from threading import Lock
from types import MappingProxyType

from pinssl._errors import InvalidPinError
from pinssl._pins import format_pin, parse_pins

PinStrings = str | Iterable[str]
PinSpec = PinStrings | Mapping[str, PinStrings]

MAX_NAME_LENGTH = 253
APPROVED_LIMIT = 4096

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_EMPTY: Mapping[str, frozenset[bytes]] = MappingProxyType({})


def _ip_literal(text: str) -> str | None:
    """The canonical text of an IP address literal, or None for a name."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" not in text and not text[-1:].isdigit():
        return None

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def normalize_host(hostname: str) -> str | None:
    """The form a connection's host name is matched in; None if it has none.

    Lower case, no trailing dot, IDNA-encoded, IP addresses canonical. A name
    that cannot be encoded matches no pattern, so it is returned as None.
    """
    host = hostname.strip()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        return None

    address = _ip_literal(host)
    if address is not None:
        return address
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host.lower()


def _normalize_name(pattern: str, name: str) -> str:
    """Encode and check the name part of ``pattern``; raise if it is not a name."""
    try:
        encoded = name.encode("idna").decode("ascii").lower()
    except UnicodeError as error:
        raise InvalidPinError(
            f"host pattern {pattern!r} is not a valid host name ({error})"
        ) from None

    if len(encoded) > MAX_NAME_LENGTH:
        raise InvalidPinError(
            f"host pattern {pattern!r} is {len(encoded)} characters long; "
            f"a host name has at most {MAX_NAME_LENGTH}"
        )
    for label in encoded.split("."):
        if "*" in label:
            raise InvalidPinError(
                f"host pattern {pattern!r} has a wildcard that is not the whole "
                "first label; write '*.example.com' or '**.example.com'"
            )
        if not _LABEL.fullmatch(label):
            raise InvalidPinError(
                f"host pattern {pattern!r} has the label {label!r}; a label is 1 "
                "to 63 letters, digits, hyphens or underscores, not starting or "
                "ending with a hyphen"
            )
    return encoded


def parse_pattern(pattern: str) -> tuple[str, str]:
    """Split a host pattern into its kind and normalized name.

    The kind is ``"exact"``, ``"one"`` (``*.``) or ``"any"`` (``**.``). Raises
    :class:`InvalidPinError` for an empty pattern, a wildcard anywhere but as the
    whole first label, a wildcard alone or before an IP address, or a name that
    is not a valid host name.
    """
    if not isinstance(pattern, str):
        raise TypeError(f"a host pattern is a str, not {type(pattern).__name__}")

    text = pattern.strip()
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise InvalidPinError(f"host pattern {pattern!r} is empty")

    address = _ip_literal(text)
    if address is not None:
        return "exact", address

    kind = "exact"
    head, dot, rest = text.partition(".")
    if head in ("*", "**"):
        if not dot or not rest:
            raise InvalidPinError(
                f"host pattern {pattern!r} is a wildcard alone; to pin every host, "
                "pass the pins as an iterable instead of a mapping"
            )
        if _ip_literal(rest) is not None:
            raise InvalidPinError(
                f"host pattern {pattern!r} puts a wildcard before an IP address"
            )
        kind = "one" if head == "*" else "any"
        text = rest
    return kind, _normalize_name(pattern, text)


def _freeze(table: dict[str, frozenset[bytes]]) -> Mapping[str, frozenset[bytes]]:
    return MappingProxyType(table) if table else _EMPTY


class PinPolicy:
    """The pins a pinned context enforces, by host; immutable.

    Build one with :meth:`from_spec`. ``every_host`` holds the pin set that
    applies to every connection, or is None when pins were given by host
    pattern; ``exact``, ``one_label`` and ``any_depth`` map normalized names
    (the part after ``*.`` or ``**.``) to pin sets.
    """

    __slots__ = ("any_depth", "every_host", "exact", "one_label", "strict")

    every_host: frozenset[bytes] | None
    exact: Mapping[str, frozenset[bytes]]
    one_label: Mapping[str, frozenset[bytes]]
    any_depth: Mapping[str, frozenset[bytes]]
    strict: bool

    def __init__(
        self,
        every_host: frozenset[bytes] | None,
        exact: Mapping[str, frozenset[bytes]] = _EMPTY,
        one_label: Mapping[str, frozenset[bytes]] = _EMPTY,
        any_depth: Mapping[str, frozenset[bytes]] = _EMPTY,
        strict: bool = False,
    ) -> None:
        fields = {
            "every_host": every_host,
            "exact": exact,
            "one_label": one_label,
            "any_depth": any_depth,
            "strict": strict,
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"PinPolicy is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"PinPolicy is immutable; cannot delete {name!r}")

    def _fields(self) -> tuple[object, ...]:
        return (
            self.every_host,
            dict(self.exact),
            dict(self.one_label),
            dict(self.any_depth),
            self.strict,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PinPolicy):
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self) -> str:
        return (
            f"PinPolicy(every_host={self.every_host!r}, exact={dict(self.exact)!r}, "
            f"one_label={dict(self.one_label)!r}, "
            f"any_depth={dict(self.any_depth)!r}, strict={self.strict!r})"
        )

    @classmethod
    def from_spec(cls, pins: PinSpec, *, strict: bool = False) -> PinPolicy:
        """Parse pins for every host, or a mapping of host pattern to pins.

        Raises :class:`InvalidPinError` for a bad pin, an empty pin set, an
        empty mapping, a bad pattern, or two patterns that normalize to the
        same one (``Example.com`` and ``example.com.``).
        """
        if not isinstance(pins, Mapping):
            return cls(every_host=parse_pins(pins), strict=strict)
        if not pins:
            raise InvalidPinError(
                "the pin mapping is empty; give at least one host pattern"
            )

        tables: dict[str, dict[str, frozenset[bytes]]] = {
            "exact": {},
            "one": {},
            "any": {},
        }
        seen: dict[tuple[str, str], str] = {}
        for pattern, spec in pins.items():
            kind, name = parse_pattern(pattern)
            earlier = seen.setdefault((kind, name), pattern)
            if earlier != pattern:
                raise InvalidPinError(
                    f"host patterns {earlier!r} and {pattern!r} are the same "
                    "pattern; give each pattern once"
                )

            try:
                tables[kind][name] = parse_pins(spec)
            except InvalidPinError as error:
                raise InvalidPinError(f"host pattern {pattern!r}: {error}") from None
        return cls(
            every_host=None,
            exact=_freeze(tables["exact"]),
            one_label=_freeze(tables["one"]),
            any_depth=_freeze(tables["any"]),
            strict=strict,
        )

    def __hash__(self) -> int:
        return hash(
            (
                self.every_host,
                frozenset(self.exact.items()),
                frozenset(self.one_label.items()),
                frozenset(self.any_depth.items()),
                self.strict,
            )
        )

    @property
    def by_host(self) -> bool:
        """Whether the pins were given by host pattern."""
        return self.every_host is None

    def pins_for(self, hostname: str | None) -> frozenset[bytes] | None:
        """The pin set for ``hostname``, or None if it is not pinned.

        Strictness is not applied here: the caller refuses an unpinned host
        when :attr:`strict` is set.
        """
        if self.every_host is not None:
            return self.every_host
        if hostname is None:
            return None

        host = normalize_host(hostname)
        if host is None:
            return None
        pins = self.exact.get(host)
        if pins is not None:
            return pins
        if ":" in host or (host[-1].isdigit() and _ip_literal(host) is not None):
            return None

        dot = host.find(".")
        if dot > 0 and self.one_label:
            pins = self.one_label.get(host[dot + 1 :])
            if pins is not None:
                return pins

        any_depth = self.any_depth
        if not any_depth:
            return None
        pins = any_depth.get(host)
        while pins is None and dot > 0:
            pins = any_depth.get(host[dot + 1 :])
            dot = host.find(".", dot + 1)
        return pins

    def patterns(self) -> dict[str, tuple[str, ...]]:
        """Every pattern with its pins as ``sha256/<base64>``, for display.

        Pins for every host are listed under the pattern ``"*"``.
        """

        def render(digests: frozenset[bytes]) -> tuple[str, ...]:
            return tuple(sorted(format_pin(digest) for digest in digests))

        if self.every_host is not None:
            return {"*": render(self.every_host)}

        shown = {name: render(pins) for name, pins in self.exact.items()}
        shown.update(
            {f"*.{name}": render(pins) for name, pins in self.one_label.items()}
        )
        shown.update(
            {f"**.{name}": render(pins) for name, pins in self.any_depth.items()}
        )
        return shown


class ApprovedLeaves:
    """A bounded, thread-safe set of ``(host, sha256 of leaf DER)`` pairs.

    A pinned context remembers here which leaf certificates passed a full pin
    check for which host, so that a resumed session, which carries no verified
    chain, can be accepted only when its leaf was checked before. The oldest
    entries go first once ``limit`` is reached.
    """

    def __init__(self, limit: int = APPROVED_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"the limit must be at least 1, not {limit}")
        self.limit = limit
        self._entries: OrderedDict[tuple[str | None, bytes], None] = OrderedDict()
        self._lock = Lock()

    def add(self, host: str | None, leaf_sha256: bytes) -> None:
        """Remember that this leaf passed a full check for ``host``."""
        key = (host, leaf_sha256)
        with self._lock:
            self._entries[key] = None
            self._entries.move_to_end(key)
            if len(self._entries) > self.limit:
                self._entries.popitem(last=False)

    def has(self, host: str | None, leaf_sha256: bytes) -> bool:
        """Whether this leaf passed a full check for ``host`` (and is kept)."""
        key = (host, leaf_sha256)
        with self._lock:
            if key not in self._entries:
                return False

            self._entries.move_to_end(key)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Forget every approved leaf; later resumptions need a full handshake."""
        with self._lock:
            self._entries.clear()
