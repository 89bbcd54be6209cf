"""Pin strings: every accepted spelling, every rendering, and clear refusals."""

from __future__ import annotations

import base64
import hashlib
import pickle
import ssl

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pinssl
from pinssl import InvalidPinError, format_pin, format_pins, parse_pin, parse_pins

DIGEST = hashlib.sha256(b"an example SubjectPublicKeyInfo").digest()
B64 = base64.b64encode(DIGEST).decode()
OTHER = hashlib.sha256(b"another key").digest()


class TestParsePin:
    @pytest.mark.parametrize(
        "text",
        [
            f"sha256/{B64}",
            f'pin-sha256="{B64}"',
            f"sha256//{B64}",
            B64,
            DIGEST.hex(),
            DIGEST.hex().upper(),
            DIGEST.hex(":"),
            DIGEST.hex(":").upper(),
            f"  sha256/{B64}\n",
        ],
    )
    def test_accepted_forms(self, text: str) -> None:
        """Each documented spelling of a pin gives back the same digest."""
        assert parse_pin(text) == DIGEST

    def test_base64_containing_slash_is_not_taken_for_an_algorithm(self) -> None:
        """A bare base64 pin that happens to contain '/' still parses."""
        digest = next(
            hashlib.sha256(bytes([n])).digest()
            for n in range(256)
            if "/" in base64.b64encode(hashlib.sha256(bytes([n])).digest()).decode()
        )
        assert parse_pin(base64.b64encode(digest).decode()) == digest

    def test_okhttp_pin_whose_base64_starts_with_slash(self) -> None:
        """sha256/ followed by base64 starting with '/' is not read as curl."""
        digest = b"\xfc" + bytes(31)
        encoded = base64.b64encode(digest).decode()
        assert encoded.startswith("/")
        assert parse_pin("sha256/" + encoded) == digest
        assert parse_pin("sha256//" + encoded) == digest

    @pytest.mark.parametrize(
        ("text", "words"),
        [
            ("", "empty"),
            ("   ", "empty"),
            (f"sha1/{base64.b64encode(b'x' * 20).decode()}", "'sha1'"),
            (f'pin-sha1="{base64.b64encode(b"x" * 20).decode()}"', "'sha1'"),
            (f"sha384/{base64.b64encode(b'x' * 48).decode()}", "'sha384'"),
            (f"sha256/{base64.b64encode(b'x' * 31).decode()}", "31 bytes"),
            (f"sha256/{B64[:-2]}", "not valid base64"),
            (f"sha256/{B64[:-1]}!", "not valid base64"),
            (f"pin-sha256={B64}", "must be quoted"),
            (DIGEST.hex()[:-2], "not valid base64"),
            (DIGEST.hex(":")[:-3], "not valid base64"),
            ("x" * 300, "exceeds the limit of 256"),
        ],
    )
    def test_refusals_say_what_is_wrong(self, text: str, words: str) -> None:
        """A bad pin raises InvalidPinError, a ValueError naming the problem."""
        with pytest.raises(InvalidPinError) as caught:
            parse_pin(text)

        assert isinstance(caught.value, ValueError)
        assert isinstance(caught.value, pinssl.PinsslError)
        assert words in str(caught.value)

    def test_non_canonical_base64_is_refused(self) -> None:
        """Base64 with non-zero padding bits is refused, not silently fixed."""
        last = B64[-2]
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        bumped = alphabet[alphabet.index(last) ^ 1]
        with pytest.raises(InvalidPinError, match="canonical"):
            parse_pin(B64[:-2] + bumped + "=")

    def test_bytes_is_a_type_error(self) -> None:
        """Pins are text; raw bytes are refused with a TypeError."""
        with pytest.raises(TypeError):
            parse_pin(DIGEST)  # type: ignore[arg-type]


class TestParsePins:
    def test_curl_list_and_iterables(self) -> None:
        """A ';'-joined curl list and an iterable of mixed forms both parse."""
        curl = f"sha256//{B64};sha256//{base64.b64encode(OTHER).decode()}"
        assert parse_pins(curl) == {DIGEST, OTHER}
        assert parse_pins([f"sha256/{B64}", OTHER.hex()]) == {DIGEST, OTHER}

    @pytest.mark.parametrize("spec", ["", " ; ", [], [""]])
    def test_empty_set_is_an_error(self, spec: str | list[str]) -> None:
        """An empty pin set raises instead of pinning nothing."""
        with pytest.raises(InvalidPinError, match="empty"):
            parse_pins(spec)

    def test_one_bad_pin_spoils_the_set(self) -> None:
        """A set with one malformed pin is refused as a whole."""
        with pytest.raises(InvalidPinError):
            parse_pins([f"sha256/{B64}", "sha256/nope"])


class TestFormat:
    def test_every_style(self) -> None:
        """Each style renders the documented text."""
        assert format_pin(DIGEST) == f"sha256/{B64}"
        assert format_pin(DIGEST, "hpkp") == f'pin-sha256="{B64}"'
        assert format_pin(DIGEST, "curl") == f"sha256//{B64}"
        assert format_pin(DIGEST, "base64") == B64
        assert format_pin(DIGEST, "hex") == DIGEST.hex()
        assert format_pin(DIGEST, "hex-colon") == DIGEST.hex(":").upper()

    def test_curl_joins_with_semicolons(self) -> None:
        """Several pins in curl style form one --pinnedpubkey argument."""
        joined = format_pins([DIGEST, OTHER], "curl")
        assert joined.count(";") == 1
        assert parse_pins(joined) == {DIGEST, OTHER}

    def test_unknown_style_and_wrong_size(self) -> None:
        """An unknown style or a digest of the wrong size is refused."""
        with pytest.raises(ValueError, match="unknown pin style"):
            format_pin(DIGEST, "sha1")
        with pytest.raises(InvalidPinError, match="not 20"):
            format_pin(b"x" * 20)

    @given(st.binary(min_size=32, max_size=32), st.sampled_from(pinssl._pins.STYLES))
    def test_round_trip(self, digest: bytes, style: str) -> None:
        """Every rendering parses back to the digest it came from."""
        assert parse_pin(format_pin(digest, style)) == digest

    @given(st.text(max_size=300))
    def test_arbitrary_text_never_crashes(self, text: str) -> None:
        """Any text either parses to 32 bytes or raises InvalidPinError."""
        try:
            digest = parse_pin(text)
        except InvalidPinError:
            return
        assert len(digest) == 32


class TestExceptions:
    def test_errors_survive_pickling(self) -> None:
        """Errors cross process boundaries (multiprocessing) with their fields."""
        refusal = pinssl.PinVerificationError(
            "pinssl: refused", hostname="h.example", expected=["a"], served=["b"]
        )
        malformed = pinssl.MalformedDERError("unexpected tag", 7)

        copy = pickle.loads(pickle.dumps(refusal))
        assert isinstance(copy, ssl.SSLCertVerificationError)
        assert (copy.hostname, copy.expected, copy.served) == (
            "h.example",
            ("a",),
            ("b",),
        )
        assert str(copy) == copy.verify_message == "pinssl: refused"
        assert copy.errno == 1

        again = pickle.loads(pickle.dumps(malformed))
        assert (again.reason, again.offset, str(again)) == (
            "unexpected tag",
            7,
            str(malformed),
        )
