"""The ``pinssl`` command line: pins of files and servers, checks, and a demo.

``pinssl pin FILE...`` prints the pins of certificates, public keys and
certificate requests; ``pinssl pin --connect HOST`` those of a server's
verified chain with a suggested pin set; ``pinssl check HOST --pin PIN``
connects with pinning enforced; ``pinssl demo`` shows pinning accept a genuine
server and refuse a mis-issued certificate, offline.

Exit status: 0 on success, 1 when ``check`` was refused (or the demo did not
behave), 2 for any error, 130 when interrupted. Errors are one line on
standard error. Only the standard library and pinssl are used.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import importlib.resources
import json
import os
import re
import shlex
import socket
import ssl
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from pinssl import _backend
from pinssl._errors import MalformedDERError, PinsslError
from pinssl._pem import MAX_PEM_TEXT, PEMError, looks_like_pem, pem_blocks
from pinssl._pins import STYLES, format_pin, parse_pins
from pinssl._x509 import (
    CertificateInfo,
    certificate_info,
    first_element_end,
    request_subject,
)

PROG = "pinssl"
MAX_FILE_SIZE = MAX_PEM_TEXT
MAX_RESPONSE = 65536
DEFAULT_PORT = 443
DEFAULT_TIMEOUT = 10.0
DEMO_TIMEOUT = 5.0
FORMATS = (*STYLES, "json")

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

_LABEL_KINDS = {
    "CERTIFICATE": _backend.KIND_CERTIFICATE,
    "TRUSTED CERTIFICATE": _backend.KIND_CERTIFICATE,
    "PUBLIC KEY": _backend.KIND_PUBLIC_KEY,
    "CERTIFICATE REQUEST": _backend.KIND_CSR,
    "NEW CERTIFICATE REQUEST": _backend.KIND_CSR,
}
_SSL_NOISE = re.compile(r"^\[[^\]]*\]\s*|\s*\(_ssl\.c:\d+\)$")
_DEMO_HOST = "127.0.0.1"
_DEMO_NAME = "localhost"


class CommandError(Exception):
    """A failure the command reports in one line and exits 2 for."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


@dataclass(frozen=True)
class _Item:
    """One certificate, public key or request and its pin."""

    source: str
    index: int
    kind: int
    digest: bytes
    certificate: CertificateInfo | None = None
    subject: str | None = None
    note: str | None = None

    def as_json(self, style: str) -> dict[str, Any]:
        """The item as a JSON object, its pin written in ``style``."""
        not_after = self.certificate.not_after if self.certificate else None
        return {
            "file": self.source,
            "index": self.index,
            "kind": _backend.KIND_NAMES[self.kind],
            "pin": format_pin(self.digest, style),
            "subject": self.subject,
            "issuer": self.certificate.issuer if self.certificate else None,
            "not_after": not_after.isoformat() if not_after else None,
        }


def _one_line(text: object) -> str:
    """``text`` with every run of white space, newlines included, as one space."""
    return " ".join(str(text).split())


def _reason(error: OSError) -> str:
    """The readable part of an OS or TLS error, on one line."""
    if isinstance(error, ssl.SSLError) and len(error.args) > 1:
        text = _SSL_NOISE.sub("", str(error.args[1]))
    else:
        text = error.strerror or str(error)
    return _one_line(text)


def _describe(source: str, index: int, kind: int, der: bytes, digest: bytes) -> _Item:
    """An item with the subject, issuer and validity read for display."""
    try:
        if kind == _backend.KIND_CERTIFICATE:
            info = certificate_info(der)
            return _Item(source, index, kind, digest, info, info.subject)
        if kind == _backend.KIND_CSR:
            return _Item(source, index, kind, digest, subject=request_subject(der))
    except MalformedDERError as error:
        note = f"details not shown: {error}"
        return _Item(source, index, kind, digest, note=note)
    return _Item(source, index, kind, digest)


def read_items(source: str, data: bytes) -> list[_Item]:
    """Every certificate, public key and request in PEM or DER ``data``.

    ``source`` names the input in messages. Raises :class:`CommandError` for
    input that holds none, naming the block and what was wrong with it.
    """
    if not data:
        raise CommandError(f"{source} is empty")
    # PEM files often start with text (certifi's comments, openssl's subject=).
    if not (looks_like_pem(data) or b"-----BEGIN " in data):
        try:
            kind, offset, length = _backend.find_spki(data)
        except MalformedDERError as error:
            raise CommandError(
                f"{source} is not a certificate, public key or certificate request "
                f"in PEM or DER ({error})"
            ) from None
        digest = hashlib.sha256(data[offset : offset + length]).digest()
        return [_describe(source, 0, kind, data, digest)]

    try:
        blocks = pem_blocks(data)
    except PEMError as error:
        raise CommandError(f"{source}: {error}") from None

    items = []
    for index, (label, der) in enumerate(blocks):
        try:
            if label == "TRUSTED CERTIFICATE":
                der = der[: first_element_end(der)]
            kind, offset, length = _backend.find_spki(der, _LABEL_KINDS[label])
        except MalformedDERError as error:
            raise CommandError(
                f"{source}: PEM block {index} ({label}) is not a valid "
                f"{label.lower()} ({error})"
            ) from None
        digest = hashlib.sha256(der[offset : offset + length]).digest()
        items.append(_describe(source, index, kind, der, digest))
    return items


def _read_input(path: str) -> bytes:
    """The bytes of ``path`` (``-`` for standard input), within the size limit."""
    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            if sys.stdin is None:
                raise CommandError("there is no standard input to read")
            data = sys.stdin.buffer.read(MAX_FILE_SIZE + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_FILE_SIZE + 1)
    except OSError as error:
        raise CommandError(f"{name}: {_reason(error)}") from None

    if len(data) > MAX_FILE_SIZE:
        raise CommandError(f"{name} exceeds the limit of {MAX_FILE_SIZE} bytes")
    return data


def _expiry(info: CertificateInfo) -> str:
    """The expiry time, marked when the certificate is not valid now."""
    shown = info.not_after.strftime("%Y-%m-%d %H:%M:%S UTC")
    now = datetime.datetime.now(datetime.timezone.utc)
    if info.not_after < now:
        return shown + " (expired)"

    if info.not_before > now:
        return shown + f" (not valid before {info.not_before:%Y-%m-%d})"
    return shown


def _print_item(title: str, item: _Item, style: str) -> None:
    """Print one item as a title and indented fields."""
    print(title)
    if item.subject is not None:
        print(f"  subject  {item.subject}")
    if item.certificate is not None:
        print(f"  issuer   {item.certificate.issuer}")
        print(f"  expires  {_expiry(item.certificate)}")
    if item.note is not None:
        print(f"  note     {_one_line(item.note)}")
    print(f"  pin      {format_pin(item.digest, style)}")


def _address(text: str) -> tuple[str, int]:
    """Host and port from ``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or a URL."""
    if "://" in text:
        try:
            parts = urllib.parse.urlsplit(text)
            host, port = parts.hostname or "", parts.port or DEFAULT_PORT
        except ValueError as error:
            raise CommandError(f"cannot use the address {text!r}: {error}") from None
        if not host:
            raise CommandError(f"the address {text!r} names no host")
        return host, port

    host, port_text = text, ""
    if text.startswith("["):
        close = text.find("]")
        rest = text[close + 1 :] if close > 0 else "?"
        if rest and not rest.startswith(":"):
            raise CommandError(f"cannot read the address {text!r}; write [IPv6]:PORT")
        host, port_text = text[1:close], rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host.strip():
        raise CommandError(f"the address {text!r} names no host")

    if not port_text:
        return host, DEFAULT_PORT

    if not (port_text.isascii() and port_text.isdigit()) or not (
        1 <= int(port_text) <= 65535
    ):
        raise CommandError(
            f"bad port {port_text!r} in {text!r}; a port is a number from 1 to 65535"
        )
    return host, int(port_text)


def _where(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _tls_connect(
    context: ssl.SSLContext,
    host: str,
    port: int,
    server_hostname: str,
    timeout: float,
) -> ssl.SSLSocket:
    """Connect and complete the TLS handshake.

    A refused pin raises :class:`pinssl.PinVerificationError`; every other
    failure becomes a one-line :class:`CommandError`.
    """
    from pinssl import PinVerificationError

    where = _where(host, port)
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as error:
        raise CommandError(f"cannot resolve {host!r}: {_reason(error)}") from None
    except TimeoutError:
        raise CommandError(
            f"timed out after {timeout:g} s connecting to {where}"
        ) from None
    except OSError as error:
        raise CommandError(f"cannot connect to {where}: {_reason(error)}") from None

    try:
        return context.wrap_socket(raw, server_hostname=server_hostname)
    except PinVerificationError:
        raw.close()
        raise
    except ssl.SSLCertVerificationError as error:
        raw.close()
        detail = error.verify_message or _reason(error)
        raise CommandError(
            f"the certificate of {where} failed verification: {_one_line(detail)}"
        ) from None
    except TimeoutError:
        raw.close()
        raise CommandError(
            f"timed out after {timeout:g} s in the TLS handshake with {where}"
        ) from None
    except OSError as error:
        raw.close()
        raise CommandError(
            f"the TLS handshake with {where} failed: {_reason(error)}"
        ) from None


def verified_chain(tls: ssl.SSLSocket) -> list[bytes]:
    """The DER certificates of the chain the handshake verified, leaf first."""
    import _ssl

    sslobj = getattr(tls, "_sslobj", None)
    chain = sslobj.get_verified_chain() if sslobj is not None else None
    if not chain:
        raise CommandError("the TLS library returned no verified chain")
    return [bytes(cert.public_bytes(_ssl.ENCODING_DER)) for cert in chain]


def _chain_items(where: str, chain: Sequence[bytes]) -> list[_Item]:
    """Items for the certificates of a verified chain."""
    items = []
    for index, der in enumerate(chain):
        kind, offset, length = _backend.find_spki(der, _backend.KIND_CERTIFICATE)
        digest = hashlib.sha256(der[offset : offset + length]).digest()
        items.append(_describe(where, index, kind, der, digest))
    return items


def _role(index: int, count: int) -> str:
    """What the certificate at ``index`` of a verified chain is."""
    if index == 0:
        return "leaf" if count > 1 else "leaf, trust anchor"
    return "trust anchor" if index == count - 1 else "intermediate"


def _timeout(text: str) -> float:
    """An argparse type: seconds, above 0 and at most an hour."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range; give seconds above 0 and at most 3600"
        )
    return value


def _client_context(cafile: str | None) -> ssl.SSLContext:
    """The verifying context of ``pin --connect``: system CAs or ``cafile``."""
    try:
        return ssl.create_default_context(cafile=cafile)
    except OSError as error:
        raise CommandError(
            f"cannot use the CA file {cafile}: {_reason(error)}"
        ) from None


def _pin_connect(args: argparse.Namespace) -> int:
    """``pinssl pin --connect``: the verified chain and a suggested pin set."""
    host, port = _address(args.connect)
    server_hostname = args.servername or host
    where = _where(host, port)
    context = _client_context(args.cafile)
    with _tls_connect(context, host, port, server_hostname, args.timeout) as tls:
        version = tls.version()
        items = _chain_items(where, verified_chain(tls))

    style = "okhttp" if args.format == "json" else args.format
    suggested = [item.digest for item in items[:2]]
    if args.format == "json":
        chain = []
        for item in items:
            entry = item.as_json(style)
            entry["role"] = _role(item.index, len(items))
            chain.append(entry)
        report = {
            "host": host,
            "port": port,
            "server_name": server_hostname,
            "chain": chain,
            "suggested": [format_pin(digest, style) for digest in suggested],
        }
        print(json.dumps(report, indent=2))
        return EXIT_OK

    print(f"{where} ({version}, server name {server_hostname}): verified chain")
    for item in items:
        print()
        _print_item(f"[{item.index}] {_role(item.index, len(items))}", item, style)

    print()
    print("Suggested pin set: the leaf and its issuer.")
    for index, digest in enumerate(suggested):
        print(f"  {format_pin(digest, style)}  ({_role(index, len(items))})")
    print(
        "Add the pin of a backup key that is not in this chain (a spare key kept "
        "offline, or another CA) so that a key change does not lock clients out."
    )
    command = [PROG, "check", where]
    if args.servername:
        command += ["--servername", args.servername]
    if args.cafile:
        command += ["--cafile", args.cafile]
    for digest in suggested:
        command += ["--pin", format_pin(digest)]
    print(f"Check it: {shlex.join(command)} --pin BACKUP_PIN")
    return EXIT_OK


def _pin(args: argparse.Namespace) -> int:
    """``pinssl pin``: pins of files, or of a server's chain with --connect."""
    if args.connect is not None:
        if args.files:
            raise CommandError("give files or --connect, not both")
        return _pin_connect(args)

    for option in ("cafile", "servername"):
        if getattr(args, option) is not None:
            raise CommandError(f"--{option} only applies with --connect")
    if not args.files:
        raise CommandError(
            "give at least one file, '-' for standard input, or --connect"
        )

    items = []
    for path in args.files:
        source = "<stdin>" if path == "-" else path
        items.extend(read_items(source, _read_input(path)))

    if args.format == "json":
        print(json.dumps([item.as_json("okhttp") for item in items], indent=2))
        return EXIT_OK

    for number, item in enumerate(items):
        if number:
            print()
        title = f"{item.source}[{item.index}]  {_backend.KIND_NAMES[item.kind]}"
        _print_item(title, item, args.format)
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    """``pinssl check``: connect with the pins enforced; 0 accepted, 1 refused."""
    import pinssl

    pins = sorted(parse_pins(args.pin))
    host, port = _address(args.address)
    server_hostname = args.servername or host
    where = _where(host, port)
    try:
        context = pinssl.create_default_context(
            [format_pin(digest) for digest in pins], cafile=args.cafile
        )
    except OSError as error:
        raise CommandError(
            f"cannot use the CA file {args.cafile}: {_reason(error)}"
        ) from None

    try:
        with _tls_connect(context, host, port, server_hostname, args.timeout) as tls:
            items = _chain_items(where, verified_chain(tls))
    except pinssl.PinVerificationError as error:
        print(f"refused: {_one_line(error)}")
        return EXIT_REFUSED

    pinned = set(pins)
    print(f"accepted: {where} (server name {server_hostname}) served a pinned key")
    for item in items:
        if item.digest in pinned:
            subject = f", {item.subject}" if item.subject else ""
            role = _role(item.index, len(items))
            print(f"  matched  {format_pin(item.digest)}  ({role}{subject})")
    return EXIT_OK


# The demo ------------------------------------------------------------------


def _demo_text(name: str) -> str:
    """The text of the shipped demo file ``name``."""
    resource = importlib.resources.files("pinssl") / "_demo" / name
    try:
        return str(resource.read_text(encoding="ascii"))
    except OSError:
        raise CommandError(
            f"the demo certificate {name} is missing from this installation "
            "(pinssl/_demo/*.pem must be installed as package data)"
        ) from None


class _DemoServer:
    """A TLS server on 127.0.0.1 that answers each request with one page."""

    def __init__(self, context: ssl.SSLContext, body: bytes) -> None:
        self._context = context
        self._response = (
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode("ascii")
            + body
        )
        self._stop = threading.Event()
        self._listener = socket.create_server((_DEMO_HOST, 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> _DemoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(DEMO_TIMEOUT)
        self._listener.close()

    def _serve(self) -> None:
        """Accept until stopped; a client that refuses us just ends its turn."""
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.suppress(OSError), connection:
                connection.settimeout(DEMO_TIMEOUT)
                with self._context.wrap_socket(connection, server_side=True) as tls:
                    request = b""
                    while b"\r\n\r\n" not in request and len(request) < MAX_RESPONSE:
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        request += chunk
                    tls.sendall(self._response)


def _fetch(context: ssl.SSLContext, port: int) -> tuple[str, str]:
    """GET / from the demo server on ``port``: (status line, body)."""
    with socket.create_connection((_DEMO_HOST, port), timeout=DEMO_TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname=_DEMO_NAME) as tls:
            tls.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            response = b""
            with contextlib.suppress(ssl.SSLEOFError):
                while len(response) < MAX_RESPONSE:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    response += chunk
                    head, _, body = response.partition(b"\r\n\r\n")
                    length = _content_length(head)
                    if length is not None and len(body) >= length:
                        break

    head, _, body = response.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("ascii", "replace")
    return status, body.decode("utf-8", "replace").strip()


def _content_length(head: bytes) -> int | None:
    """The Content-Length of an HTTP head, or None when it has none."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value)
    return None


@contextlib.contextmanager
def _demo_server(name: str, body: bytes) -> Iterator[_DemoServer]:
    """Serve the demo certificate ``name`` (certificate and key in one file)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _demo_text(name)  # a clear message when the package data is missing

    resource = importlib.resources.files("pinssl") / "_demo" / name
    with importlib.resources.as_file(resource) as path:
        context.load_cert_chain(path)
    with _DemoServer(context, body) as server:
        yield server


def _demo(args: argparse.Namespace) -> int:
    """``pinssl demo``: a genuine server accepted, an impostor refused, offline."""
    import pinssl

    trusted_ca = _demo_text("trusted-ca.pem")
    rogue_ca = _demo_text("rogue-ca.pem")
    genuine = _demo_text("genuine.pem")
    rogue = _demo_text("rogue.pem")
    genuine_pins = [pinssl.spki_pin(genuine), pinssl.spki_pin(trusted_ca)]

    print("pinssl demo: public-key pinning, offline on 127.0.0.1")
    print()
    print("The client trusts two CAs, as every client trusts many:")
    print(f"  trusted CA  {pinssl.spki_pin(trusted_ca)}")
    print(f"  rogue CA    {pinssl.spki_pin(rogue_ca)}  (stands for a compromised CA)")
    print(f"Two servers claim to be {_DEMO_NAME}, each with a certificate CAs accept:")
    print(f"  genuine     {genuine_pins[0]}  (issued by the trusted CA)")
    print(f"  impostor    {pinssl.spki_pin(rogue)}  (mis-issued by the rogue CA)")
    print("The client pins the genuine server's key and its CA's key:")
    for pin in genuine_pins:
        print(f"  {pin}")
    print("  ctx = pinssl.create_default_context(PINS, cadata=BOTH_CAS)")

    cadata = trusted_ca + rogue_ca
    pinned = pinssl.create_default_context(genuine_pins, cadata=cadata)
    plain = ssl.create_default_context(cadata=cadata)
    failures = []
    with (
        _demo_server("genuine.pem", b"hello from the genuine server\n") as real,
        _demo_server("rogue.pem", b"hello from the impostor\n") as impostor,
    ):
        print()
        print(f"1. Pinned connection to the genuine server ({_DEMO_HOST}:{real.port})")
        try:
            status, body = _fetch(pinned, real.port)
        except (PinsslError, OSError) as error:
            failures.append(f"the genuine server was refused: {_one_line(error)}")
            print(f"   UNEXPECTED: refused: {_one_line(error)}")
        else:
            print("   accepted; sent GET / over the pinned socket and read back:")
            print(f"   {status}")
            print(f"   {body}")

        print()
        print(
            f"2. Plain ssl, CA checks only, to the impostor ({_DEMO_HOST}:"
            f"{impostor.port})"
        )
        try:
            status, body = _fetch(plain, impostor.port)
        except OSError as error:
            failures.append(f"plain ssl refused the impostor: {_one_line(error)}")
            print(f"   UNEXPECTED: refused: {_one_line(error)}")
        else:
            print(f"   accepted, and the impostor answered: {status}, {body!r}")
            print("   Both CAs are trusted, so CA checks alone cannot tell them apart.")

        print()
        print(f"3. Pinned connection to the impostor ({_DEMO_HOST}:{impostor.port})")
        try:
            status, body = _fetch(pinned, impostor.port)
        except pinssl.PinVerificationError as error:
            print("   refused in the handshake, before a byte of the request was sent:")
            print(f"   pinssl.PinVerificationError: {_one_line(error)}")
        except OSError as error:
            failures.append(f"the impostor failed in another way: {_one_line(error)}")
            print(f"   UNEXPECTED: {type(error).__name__}: {_one_line(error)}")
        else:
            failures.append("the pinned client accepted the impostor")
            print(f"   UNEXPECTED: accepted, and the impostor answered: {status}")

    print()
    if failures:
        print("The demo did not behave as expected: " + "; ".join(failures) + ".")
        return EXIT_REFUSED
    print(
        "Pinning worked: the genuine server was accepted and the mis-issued "
        "certificate refused."
    )
    return EXIT_OK


# The parser and the entry point --------------------------------------------


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    """--cafile, --servername and --timeout, shared by check and pin."""
    parser.add_argument(
        "--cafile",
        metavar="FILE",
        help="PEM file of CA certificates to trust instead of the system's",
    )
    parser.add_argument(
        "--servername",
        metavar="NAME",
        help="name to send (SNI) and verify; the host by default",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=_timeout,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for the connection (default {DEFAULT_TIMEOUT:g})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pinssl`` command."""
    from pinssl import BACKEND, __version__

    parser = _Parser(
        prog=PROG,
        description="SPKI public-key pins: compute them, check servers against them.",
        epilog="Exit status: 0 success, 1 pin refused, 2 error.",
    )
    parser.add_argument(
        "--version", action="version", version=f"{PROG} {__version__} ({BACKEND})"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    pin = commands.add_parser(
        "pin",
        help="print the pins of files or of a server's verified chain",
        description=(
            "Print the pin of each certificate (PEM or DER, several per PEM file), "
            "public key and certificate request, with subject, issuer and expiry; "
            "or, with --connect, of each certificate a server's verified chain holds."
        ),
    )
    pin.add_argument("files", nargs="*", metavar="FILE", help="file, or - for stdin")
    pin.add_argument(
        "--format",
        choices=FORMATS,
        default="okhttp",
        help="how to write pins (default okhttp: sha256/BASE64)",
    )
    pin.add_argument(
        "--connect",
        metavar="HOST[:PORT]",
        help=f"connect and verify as a client would (port {DEFAULT_PORT} by default)",
    )
    _add_connection_options(pin)
    pin.set_defaults(handler=_pin)

    check = commands.add_parser(
        "check",
        help="connect with pins enforced; exit 0 if accepted, 1 if refused",
        description=(
            "Connect with CA verification and the given pins enforced in the "
            "handshake. Exit 0 when a pinned key is in the verified chain, 1 when "
            "the connection is refused for its pins, 2 for any other failure."
        ),
    )
    check.add_argument("address", metavar="HOST[:PORT]")
    check.add_argument(
        "--pin",
        required=True,
        action="extend",
        nargs="+",
        metavar="PIN",
        help="accepted pin (sha256/BASE64, HPKP, curl or hex form); repeatable",
    )
    _add_connection_options(check)
    check.set_defaults(handler=_check)

    demo = commands.add_parser(
        "demo",
        help="show pinning accept a genuine server and refuse an impostor, offline",
        description=(
            "Start two local TLS servers on 127.0.0.1, a genuine one and one with a "
            "mis-issued certificate, and connect to both with pins enforced."
        ),
    )
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``pinssl`` command with ``argv`` (``sys.argv[1:]`` by default).

    Returns the exit status instead of raising, for usage errors and ``--help``
    too; errors are reported on standard error in one line.
    """
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (``pinssl pin … | head``); keep
        # the interpreter from complaining again when it flushes at exit.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except (CommandError, PinsslError, OSError, ValueError) as error:
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # noqa: BLE001 - the command must not show tracebacks
        print(
            f"{PROG}: error: unexpected {type(error).__name__}: {_one_line(error)}",
            file=sys.stderr,
        )
        return EXIT_ERROR
