"""The ``pinssl`` command, run in-process with ``main([...])`` and once as a module.

Pins are checked against an oracle computed independently with ``cryptography``;
``pin --connect`` and ``check`` talk to a small TLS server on 127.0.0.1 that this
module starts itself.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import io
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import NameOID

import pinssl
from pinssl import _cli
from pinssl._cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_demo_certs import make_ca, make_leaf

DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM
SPKI_FORMAT = serialization.PublicFormat.SubjectPublicKeyInfo
DEMO_DIR = Path(pinssl.__file__).resolve().parent / "_demo"
TEXT_STYLES = ("okhttp", "hpkp", "curl", "base64", "hex", "hex-colon")


# --- the independent oracle ---------------------------------------------------------


def key_digest(public_key: PublicKeyTypes) -> bytes:
    """SHA-256 of a public key's SubjectPublicKeyInfo, as cryptography encodes it."""
    return hashlib.sha256(public_key.public_bytes(DER, SPKI_FORMAT)).digest()


def render(digest: bytes, style: str) -> str:
    """A digest written in ``style``, without using pinssl."""
    encoded = base64.b64encode(digest).decode()
    return {
        "okhttp": f"sha256/{encoded}",
        "hpkp": f'pin-sha256="{encoded}"',
        "curl": f"sha256//{encoded}",
        "base64": encoded,
        "hex": digest.hex(),
        "hex-colon": ":".join(f"{octet:02X}" for octet in digest),
    }[style]


def oracle_name(name: x509.Name) -> str:
    """cryptography's RFC 4514 text, most specific first, joined by ', '."""
    return ", ".join(rdn.rfc4514_string() for rdn in reversed(name.rdns))


def pin_lines(output: str) -> list[str]:
    """The values of the ``pin`` lines of text output."""
    return [
        line.split(None, 1)[1]
        for line in output.splitlines()
        if line.startswith("  pin ")
    ]


# --- certificates and files ---------------------------------------------------------


@dataclass
class World:
    """A CA, leaves under it, a stranger key, and files of every kind."""

    ca: x509.Certificate
    leaf: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey
    rsa_leaf: x509.Certificate
    csr: x509.CertificateSigningRequest
    stranger: ec.EllipticCurvePrivateKey
    files: dict[str, Path]
    server_pem: Path

    def pin(self, certificate: x509.Certificate, style: str = "okhttp") -> str:
        """The oracle pin of a certificate."""
        return render(key_digest(certificate.public_key()), style)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Certificates, a key, a CSR and files in PEM and DER."""
    folder = tmp_path_factory.mktemp("cli")
    ca, ca_key = make_ca("CLI test CA")
    leaf, leaf_key = make_leaf(ca, ca_key)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.timezone.utc)
    rsa_leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa.test")]))
        .issuer_name(ca.subject)
        .public_key(rsa_key.public_key())
        .serial_number(7)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CSR Org"),
            x509.NameAttribute(NameOID.COMMON_NAME, "csr.test"),
        ]
    )
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .sign(leaf_key, hashes.SHA256())
    )
    stranger = ec.generate_private_key(ec.SECP256R1())

    contents = {
        "ca.pem": ca.public_bytes(PEM),
        "leaf.pem": leaf.public_bytes(PEM),
        "leaf.der": leaf.public_bytes(DER),
        "bundle.pem": b"junk before\n"
        + leaf.public_bytes(PEM)
        + leaf_key.private_bytes(
            PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + rsa_leaf.public_bytes(PEM)
        + ca.public_bytes(PEM),
        "key.pem": leaf_key.public_key().public_bytes(PEM, SPKI_FORMAT),
        "key.der": rsa_key.public_key().public_bytes(DER, SPKI_FORMAT),
        "csr.pem": csr.public_bytes(PEM),
        "csr.der": csr.public_bytes(DER),
        "trusted.pem": b"-----BEGIN TRUSTED CERTIFICATE-----\n"
        + base64.encodebytes(
            leaf.public_bytes(DER) + bytes.fromhex("300a300806062b0601050507")
        )
        + b"-----END TRUSTED CERTIFICATE-----\n",
    }
    files = {}
    for name, data in contents.items():
        files[name] = folder / name
        files[name].write_bytes(data)

    server_pem = folder / "server.pem"
    server_pem.write_bytes(
        leaf.public_bytes(PEM)
        + leaf_key.private_bytes(
            PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return World(ca, leaf, leaf_key, rsa_leaf, csr, stranger, files, server_pem)


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """main() with ``argv``: (exit status, stdout, stderr)."""
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status: int, out: str, err: str) -> None:
    """A failure: exit 2, nothing on stdout, one ``pinssl: error:`` line."""
    assert status == 2
    assert out == ""
    assert err.startswith("pinssl: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


# --- a local TLS server -------------------------------------------------------------


class Server:
    """TLS on 127.0.0.1: completes handshakes, answers one line, then closes."""

    def __init__(self, certfile: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certfile)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        """Accept until stopped; handshake failures are the client's business."""
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(OSError), connection:
                connection.settimeout(5)
                with self.context.wrap_socket(connection, server_side=True) as tls:
                    tls.sendall(b"hello\n")

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.listener.close()


@pytest.fixture
def server(world: World) -> Iterator[Server]:
    """A server presenting the world's leaf for localhost and 127.0.0.1."""
    with Server(world.server_pem) as running:
        yield running


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


# --- pin on files -------------------------------------------------------------------


class TestPinFiles:
    """``pinssl pin FILE...``."""

    @pytest.mark.parametrize("style", TEXT_STYLES)
    @pytest.mark.parametrize("name", ["leaf.pem", "leaf.der"])
    def test_certificate_every_style(
        self, capsys: pytest.CaptureFixture[str], world: World, name: str, style: str
    ) -> None:
        """A PEM or DER certificate gives the oracle's pin in every style."""
        status, out, err = run(capsys, "pin", "--format", style, world.files[name])

        assert (status, err) == (0, "")
        assert pin_lines(out) == [world.pin(world.leaf, style)]
        assert f"  subject  {oracle_name(world.leaf.subject)}" in out
        assert f"  issuer   {oracle_name(world.leaf.issuer)}" in out
        assert "  expires  2125-01-01 00:00:00 UTC" in out
        assert out.startswith(f"{world.files[name]}[0]  certificate\n")

    def test_bundle_in_order_without_the_private_key(
        self, capsys: pytest.CaptureFixture[str], world: World
    ) -> None:
        """A bundle lists every certificate in order and skips the key block."""
        status, out, _ = run(capsys, "pin", world.files["bundle.pem"])

        assert status == 0
        expected = [world.pin(cert) for cert in (world.leaf, world.rsa_leaf, world.ca)]
        assert pin_lines(out) == expected
        assert [f"[{index}]  certificate" in out for index in range(3)] == [True] * 3
        assert "PRIVATE" not in out
        assert "  subject  CN=rsa.test" in out

    @pytest.mark.parametrize("style", TEXT_STYLES)
    def test_public_keys(
        self, capsys: pytest.CaptureFixture[str], world: World, style: str
    ) -> None:
        """PEM and DER public keys give their oracle pins and no subject."""
        status, out, _ = run(
            capsys,
            "pin",
            "--format",
            style,
            world.files["key.pem"],
            world.files["key.der"],
        )

        assert status == 0
        assert pin_lines(out) == [
            render(key_digest(world.leaf_key.public_key()), style),
            world.pin(world.rsa_leaf, style),
        ]
        assert out.count("  public key\n") == 2
        assert "subject" not in out

    @pytest.mark.parametrize("name", ["csr.pem", "csr.der"])
    def test_certificate_requests(
        self, capsys: pytest.CaptureFixture[str], world: World, name: str
    ) -> None:
        """A CSR gives the oracle pin of its key and its subject."""
        status, out, _ = run(capsys, "pin", world.files[name])

        assert status == 0
        assert pin_lines(out) == [render(key_digest(world.csr.public_key()), "okhttp")]
        assert "  certificate request\n" in out
        assert "  subject  CN=csr.test, O=CSR Org\n" in out
        assert "issuer" not in out

    def test_trusted_certificate_block(
        self, capsys: pytest.CaptureFixture[str], world: World
    ) -> None:
        """OpenSSL's TRUSTED CERTIFICATE block is read without its trust settings."""
        status, out, _ = run(capsys, "pin", world.files["trusted.pem"])

        assert status == 0
        assert pin_lines(out) == [world.pin(world.leaf)]

    def test_json(self, capsys: pytest.CaptureFixture[str], world: World) -> None:
        """JSON lists every item with the oracle's fields."""
        files = [world.files[name] for name in ("bundle.pem", "key.der", "csr.pem")]

        status, out, _ = run(capsys, "pin", "--format", "json", *files)

        assert status == 0
        bundle = str(world.files["bundle.pem"])
        expected = [
            {
                "file": bundle,
                "index": index,
                "kind": "certificate",
                "pin": world.pin(cert),
                "subject": oracle_name(cert.subject),
                "issuer": oracle_name(cert.issuer),
                "not_after": cert.not_valid_after_utc.isoformat(),
            }
            for index, cert in enumerate((world.leaf, world.rsa_leaf, world.ca))
        ]
        expected.append(
            {
                "file": str(world.files["key.der"]),
                "index": 0,
                "kind": "public key",
                "pin": world.pin(world.rsa_leaf),
                "subject": None,
                "issuer": None,
                "not_after": None,
            }
        )
        expected.append(
            {
                "file": str(world.files["csr.pem"]),
                "index": 0,
                "kind": "certificate request",
                "pin": render(key_digest(world.csr.public_key()), "okhttp"),
                "subject": oracle_name(world.csr.subject),
                "issuer": None,
                "not_after": None,
            }
        )
        assert json.loads(out) == expected

    def test_stdin(
        self,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        world: World,
    ) -> None:
        """``-`` reads standard input."""
        data = world.leaf.public_bytes(DER)
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

        status, out, _ = run(capsys, "pin", "-")

        assert status == 0
        assert out.startswith("<stdin>[0]  certificate\n")
        assert pin_lines(out) == [world.pin(world.leaf)]

    def test_expired_certificate_is_marked(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, world: World
    ) -> None:
        """An expired certificate still gives its pin and is marked expired."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old.test")])
        old = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(datetime.datetime(2001, 1, 1))
            .not_valid_after(datetime.datetime(2002, 1, 1))
            .sign(key, hashes.SHA256())
        )
        path = tmp_path / "old.pem"
        path.write_bytes(old.public_bytes(PEM))

        status, out, _ = run(capsys, "pin", path)

        assert status == 0
        assert "  expires  2002-01-01 00:00:00 UTC (expired)\n" in out
        assert pin_lines(out) == [render(key_digest(key.public_key()), "okhttp")]


# --- pin --connect and check --------------------------------------------------------


class TestConnect:
    """``pinssl pin --connect`` against a local server."""

    def test_chain_and_suggested_pins(
        self, capsys: pytest.CaptureFixture[str], world: World, server: Server
    ) -> None:
        """The verified chain with pins, then the suggested set and the advice."""
        status, out, err = run(
            capsys,
            "pin",
            "--connect",
            f"127.0.0.1:{server.port}",
            "--cafile",
            world.files["ca.pem"],
            "--servername",
            "localhost",
        )

        assert (status, err) == (0, "")
        leaf_pin, ca_pin = world.pin(world.leaf), world.pin(world.ca)
        assert pin_lines(out) == [leaf_pin, ca_pin]
        assert "[0] leaf\n" in out
        assert f"  subject  {oracle_name(world.leaf.subject)}" in out
        suggested = out.split("Suggested pin set", 1)[1]
        assert f"  {leaf_pin}  (leaf)" in suggested
        assert f"  {ca_pin}  (trust anchor)" in suggested
        assert "backup key that is not in this chain" in suggested
        assert f"--pin {leaf_pin} --pin {ca_pin} --pin BACKUP_PIN" in suggested

    def test_json(
        self, capsys: pytest.CaptureFixture[str], world: World, server: Server
    ) -> None:
        """JSON gives the chain, leaf first, and the suggested pins."""
        status, out, _ = run(
            capsys,
            "pin",
            "--format",
            "json",
            "--connect",
            f"localhost:{server.port}",
            "--cafile",
            world.files["ca.pem"],
        )

        assert status == 0
        report = json.loads(out)
        assert [entry["pin"] for entry in report["chain"]] == [
            world.pin(world.leaf),
            world.pin(world.ca),
        ]
        assert report["chain"][0]["subject"] == oracle_name(world.leaf.subject)
        assert report["chain"][0]["role"] == "leaf"
        assert report["suggested"] == [world.pin(world.leaf), world.pin(world.ca)]
        assert (report["host"], report["port"]) == ("localhost", server.port)

    def test_untrusted_server_is_an_error(
        self, capsys: pytest.CaptureFixture[str], server: Server
    ) -> None:
        """Without the test CA the chain does not verify: exit 2, one line."""
        status, out, err = run(capsys, "pin", "--connect", f"localhost:{server.port}")

        assert_one_line_error(status, out, err)
        assert "failed verification" in err


class TestCheck:
    """``pinssl check`` against a local server."""

    @pytest.mark.parametrize("which", ["leaf", "ca"])
    def test_pinned_key_is_accepted(
        self,
        capsys: pytest.CaptureFixture[str],
        world: World,
        server: Server,
        which: str,
    ) -> None:
        """A pin of the leaf or of its CA is accepted with exit 0."""
        pin = world.pin(world.leaf if which == "leaf" else world.ca)

        status, out, err = run(
            capsys,
            "check",
            f"localhost:{server.port}",
            "--cafile",
            world.files["ca.pem"],
            "--pin",
            pin,
        )

        assert (status, err) == (0, "")
        assert out.startswith(f"accepted: localhost:{server.port}")
        assert f"  matched  {pin}" in out

    def test_any_pin_form_and_several_pins(
        self, capsys: pytest.CaptureFixture[str], world: World, server: Server
    ) -> None:
        """Pins in curl and hex form, several after one --pin, are accepted."""
        stranger = render(key_digest(world.stranger.public_key()), "curl")

        status, out, _ = run(
            capsys,
            "check",
            f"127.0.0.1:{server.port}",
            "--servername",
            "localhost",
            "--cafile",
            world.files["ca.pem"],
            "--pin",
            stranger,
            world.pin(world.leaf, "hex"),
        )

        assert status == 0
        assert f"  matched  {world.pin(world.leaf)}" in out

    def test_wrong_pin_is_refused(
        self, capsys: pytest.CaptureFixture[str], world: World, server: Server
    ) -> None:
        """A pin of another key is refused with exit 1 and pinssl's message."""
        stranger = render(key_digest(world.stranger.public_key()), "okhttp")

        status, out, err = run(
            capsys,
            "check",
            f"localhost:{server.port}",
            "--cafile",
            world.files["ca.pem"],
            "--pin",
            stranger,
        )

        assert (status, err) == (1, "")
        assert out.startswith("refused: pinssl: certificate pin mismatch for localhost")
        assert stranger in out
        assert world.pin(world.leaf) in out
        assert out.count("\n") == 1

    def test_closed_port(
        self, capsys: pytest.CaptureFixture[str], world: World, closed_port: int
    ) -> None:
        """Nothing listening: exit 2 and one line."""
        status, out, err = run(
            capsys, "check", f"127.0.0.1:{closed_port}", "--pin", world.pin(world.leaf)
        )

        assert_one_line_error(status, out, err)
        assert f"cannot connect to 127.0.0.1:{closed_port}" in err

    def test_unverified_chain(
        self, capsys: pytest.CaptureFixture[str], world: World, server: Server
    ) -> None:
        """A CA failure is an error (exit 2), not a pin refusal."""
        status, out, err = run(
            capsys, "check", f"localhost:{server.port}", "--pin", world.pin(world.leaf)
        )

        assert_one_line_error(status, out, err)
        assert "failed verification" in err

    def test_wrong_server_name(
        self, capsys: pytest.CaptureFixture[str], world: World, server: Server
    ) -> None:
        """A name the certificate does not cover is an error (exit 2)."""
        status, out, err = run(
            capsys,
            "check",
            f"127.0.0.1:{server.port}",
            "--servername",
            "elsewhere.test",
            "--cafile",
            world.files["ca.pem"],
            "--pin",
            world.pin(world.leaf),
        )

        assert_one_line_error(status, out, err)
        assert "elsewhere.test" in err

    def test_handshake_timeout(
        self, capsys: pytest.CaptureFixture[str], world: World
    ) -> None:
        """A peer that never answers the handshake times out: exit 2, one line."""
        with socket.create_server(("127.0.0.1", 0)) as silent:
            port = silent.getsockname()[1]

            status, out, err = run(
                capsys,
                "check",
                f"127.0.0.1:{port}",
                "--timeout",
                "0.2",
                "--pin",
                world.pin(world.leaf),
            )

        assert_one_line_error(status, out, err)
        assert "timed out" in err


# --- bad input ----------------------------------------------------------------------


def pem_text(label: str, body: str) -> bytes:
    """A PEM block with a literal body."""
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()


def _garbage_files(folder: Path, world: World) -> dict[str, Path]:
    der = world.leaf.public_bytes(DER)
    contents = {
        "empty": b"",
        "text": b"hello, world\n",
        "truncated.der": der[:-10],
        "private-key.pem": world.leaf_key.private_bytes(
            PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "bad-base64.pem": pem_text("CERTIFICATE", "AA!A"),
        "not-a-cert.pem": pem_text("CERTIFICATE", "AAAA"),
        "key-as-cert.pem": world.files["key.pem"]
        .read_bytes()
        .replace(b"PUBLIC KEY", b"CERTIFICATE"),
    }
    paths = {}
    for name, data in contents.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    return paths


GARBAGE = (
    "empty",
    "text",
    "truncated.der",
    "private-key.pem",
    "bad-base64.pem",
    "not-a-cert.pem",
    "key-as-cert.pem",
)


class TestBadInput:
    """Bad input gives one ``pinssl: error:`` line and a non-zero exit."""

    @pytest.mark.parametrize("name", GARBAGE)
    def test_unusable_files(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        world: World,
        name: str,
    ) -> None:
        """A file that holds no usable certificate, key or request is named."""
        path = _garbage_files(tmp_path, world)[name]

        status, out, err = run(capsys, "pin", path)

        assert_one_line_error(status, out, err)
        assert str(path) in err

    @pytest.mark.parametrize(
        ("argv", "needle"),
        [
            (["pin", "/nonexistent/cert.pem"], "No such file or directory"),
            (["pin", "/"], "Is a directory"),
            (["pin"], "give at least one file"),
            (["pin", "--cafile", "x.pem", "cert.pem"], "--cafile only applies"),
            (["check", "localhost", "--pin", "sha256/abc"], "not valid base64"),
            (["check", "localhost", "--pin", "sha1/" + "A" * 28], "only sha256"),
            (["check", "localhost", "--pin", ";"], "pin set is empty"),
            (["check", "localhost:0", "--pin", "A" * 64], "bad port '0'"),
            (["check", "localhost:https", "--pin", "A" * 64], "bad port 'https'"),
            (["check", "[::1", "--pin", "A" * 64], "[IPv6]:PORT"),
            (["check", ":443", "--pin", "A" * 64], "names no host"),
            (["check", "localhost"], "required: --pin"),
            (
                ["check", "localhost", "--pin", "A" * 64, "--timeout", "-1"],
                "out of range",
            ),
            (["pin", "--format", "der", "x"], "invalid choice"),
            ([], "required: COMMAND"),
            (["frobnicate"], "invalid choice"),
        ],
    )
    def test_usage_and_input_errors(
        self, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
    ) -> None:
        """Usage mistakes and bad arguments are one line, exit 2."""
        status, out, err = run(capsys, *argv)

        assert_one_line_error(status, out, err)
        assert needle in err

    def test_missing_cafile(
        self, capsys: pytest.CaptureFixture[str], world: World
    ) -> None:
        """A CA file that does not exist is named in one line."""
        status, out, err = run(
            capsys,
            "check",
            "127.0.0.1:9",
            "--cafile",
            "/nonexistent/ca.pem",
            "--pin",
            world.pin(world.leaf),
        )

        assert_one_line_error(status, out, err)
        assert "cannot use the CA file /nonexistent/ca.pem" in err

    def test_unexpected_exception(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An unexpected exception is still one line with exit 2."""

        def explode(args: object) -> int:
            raise RuntimeError("boom\nsecond line")

        monkeypatch.setattr(_cli, "_pin", explode)

        status, out, err = run(capsys, "pin", "x")

        assert_one_line_error(status, out, err)
        assert "unexpected RuntimeError: boom second line" in err

    def test_keyboard_interrupt(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Ctrl-C exits 130 and says so."""

        def interrupt(args: object) -> int:
            raise KeyboardInterrupt

        monkeypatch.setattr(_cli, "_pin", interrupt)

        status, _, err = run(capsys, "pin", "x")

        assert status == 130
        assert err == "pinssl: interrupted\n"

    def test_help_and_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--help and --version exit 0 with their text on stdout."""
        status, out, _ = run(capsys, "--version")
        assert status == 0
        assert out == f"pinssl {pinssl.__version__} ({pinssl.BACKEND})\n"

        status, out, _ = run(capsys, "check", "--help")
        assert status == 0
        assert "--pin PIN" in out


# --- the demo -----------------------------------------------------------------------


def demo_certificates() -> dict[str, x509.Certificate]:
    """The shipped demo certificates, loaded with cryptography."""
    names = ("trusted-ca", "genuine", "rogue-ca", "rogue")
    return {
        name: x509.load_pem_x509_certificate((DEMO_DIR / f"{name}.pem").read_bytes())
        for name in names
    }


class TestDemo:
    """``pinssl demo``."""

    def test_in_process(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The demo accepts the genuine server, refuses the impostor, and exits 0."""
        certificates = demo_certificates()
        pins = {
            name: render(key_digest(cert.public_key()), "okhttp")
            for name, cert in certificates.items()
        }

        status, out, err = run(capsys, "demo")

        assert (status, err) == (0, "")
        for pin in pins.values():
            assert pin in out
        genuine, refused = out.split("3. Pinned connection to the impostor", 1)
        assert "HTTP/1.0 200 OK" in genuine
        assert "hello from the genuine server" in genuine
        assert (
            "pinssl.PinVerificationError: pinssl: certificate pin mismatch" in refused
        )
        assert pins["rogue"] in refused
        assert out.rstrip().endswith("mis-issued certificate refused.")

    def test_fails_loudly_without_pinning(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If pinning did nothing, the demo says so and exits non-zero."""

        def unpinned(pins: object, **kwargs: str) -> ssl.SSLContext:
            return ssl.create_default_context(cadata=kwargs["cadata"])

        monkeypatch.setattr(pinssl, "create_default_context", unpinned)

        status, out, _ = run(capsys, "demo")

        assert status == 1
        assert "UNEXPECTED: accepted" in out
        assert "the pinned client accepted the impostor" in out

    def test_module_entry_point(self) -> None:
        """``python -m pinssl demo`` runs in a fresh interpreter and exits 0."""
        package_root = str(Path(pinssl.__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {
            **os.environ,
            "PYTHONPATH": package_root + (os.pathsep + path if path else ""),
        }

        done = subprocess.run(
            [sys.executable, "-m", "pinssl", "demo"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        assert "Pinning worked" in done.stdout

    def test_shipped_certificates(self) -> None:
        """The demo certificates cover localhost, chain to their CAs, last 100 years."""
        certificates = demo_certificates()

        for leaf, ca in (("genuine", "trusted-ca"), ("rogue", "rogue-ca")):
            certificate = certificates[leaf]
            names = certificate.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value
            assert names.get_values_for_type(x509.DNSName) == ["localhost"]
            assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == [
                "127.0.0.1"
            ]
            certificate.verify_directly_issued_by(certificates[ca])
        for certificate in certificates.values():
            lifetime = (
                certificate.not_valid_after_utc - certificate.not_valid_before_utc
            )
            assert lifetime.days >= 365 * 100
        assert key_digest(certificates["genuine"].public_key()) != key_digest(
            certificates["rogue"].public_key()
        )
