"""Host patterns of a pin mapping: matching, precedence, validation, strict mode."""

from __future__ import annotations

import hashlib
import ssl
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pinssl
from pinssl import InvalidPinError, PinPolicy, PinVerificationError, format_pin

from servers import TLSServer, TwoCAWorld, tls_connect

PINS = {name: format_pin(hashlib.sha256(name.encode()).digest()) for name in "ABCD"}
DIGESTS = {name: hashlib.sha256(name.encode()).digest() for name in "ABCD"}


def policy(mapping: dict[str, str], strict: bool = False) -> PinPolicy:
    return PinPolicy.from_spec({k: [v] for k, v in mapping.items()}, strict=strict)


def which(found: frozenset[bytes] | None) -> str | None:
    """The letter of the pin set found, or None."""
    for name, digest in DIGESTS.items():
        if found == frozenset({digest}):
            return name
    assert found is None, found
    return None


class TestMatching:
    def test_exact_name_case_and_trailing_dot(self) -> None:
        """An exact pattern matches its name in any case, with or without final dot."""
        rules = policy({"Api.Example.COM.": PINS["A"]})

        for host in ("api.example.com", "API.EXAMPLE.COM", "api.example.com."):
            assert which(rules.pins_for(host)) == "A"
        for host in ("example.com", "x.api.example.com", "api.example.co"):
            assert rules.pins_for(host) is None
        assert rules.pins_for(None) is None

    def test_single_label_wildcard(self) -> None:
        """'*.' covers exactly one more label: not the apex, not two labels."""
        rules = policy({"*.example.com": PINS["A"]})

        assert which(rules.pins_for("a.example.com")) == "A"
        assert which(rules.pins_for("B-2.Example.com.")) == "A"
        for host in ("example.com", "a.b.example.com", "aexample.com", "a.example.co"):
            assert rules.pins_for(host) is None

    def test_any_depth_wildcard(self) -> None:
        """'**.' covers the apex and every name below it, on label boundaries only."""
        rules = policy({"**.example.com": PINS["A"]})

        for host in ("example.com", "a.example.com", "a.b.c.example.com"):
            assert which(rules.pins_for(host)) == "A"
        for host in ("badexample.com", "example.com.evil", "com", "example.co"):
            assert rules.pins_for(host) is None

    def test_precedence_exact_then_one_label_then_longest_suffix(self) -> None:
        """The most specific pattern alone decides; pin sets are never merged."""
        rules = policy(
            {
                "api.example.com": PINS["A"],
                "*.example.com": PINS["B"],
                "**.example.com": PINS["C"],
                "**.deep.example.com": PINS["D"],
            }
        )

        assert which(rules.pins_for("api.example.com")) == "A"
        assert which(rules.pins_for("www.example.com")) == "B"
        assert which(rules.pins_for("example.com")) == "C"
        assert which(rules.pins_for("a.b.example.com")) == "C"
        assert which(rules.pins_for("deep.example.com")) == "B"
        assert which(rules.pins_for("x.deep.example.com")) == "D"
        assert which(rules.pins_for("x.y.deep.example.com")) == "D"

    @pytest.mark.parametrize(
        ("pattern", "host"),
        [
            ("bücher.example", "xn--bcher-kva.example"),
            ("xn--bcher-kva.example", "bücher.example"),
            ("BÜCHER.example", "Bücher.Example."),
            ("*.bücher.example", "shop.xn--bcher-kva.example"),
            ("**.bücher.example", "xn--bcher-kva.example"),
        ],
    )
    def test_idna_forms_are_one_name(self, pattern: str, host: str) -> None:
        """A Unicode name and its IDNA A-label match each other either way round."""
        assert which(policy({pattern: PINS["A"]}).pins_for(host)) == "A"

    @pytest.mark.parametrize(
        ("pattern", "host"),
        [
            ("127.0.0.1", "127.0.0.1"),
            ("::1", "0:0:0:0:0:0:0:1"),
            ("[::1]", "::1"),
            ("2001:DB8::0:1", "2001:db8:0:0:0:0:0:1"),
        ],
    )
    def test_ip_addresses_match_exactly(self, pattern: str, host: str) -> None:
        """IP literals match their canonical form only."""
        assert which(policy({pattern: PINS["A"]}).pins_for(host)) == "A"

    def test_ip_address_is_never_matched_by_a_wildcard(self) -> None:
        """A name-shaped wildcard over numeric labels does not match an IP address."""
        rules = policy({"*.0.0.1": PINS["A"], "**.1": PINS["B"]})

        assert rules.pins_for("127.0.0.1") is None
        assert rules.pins_for("127.0.0.2") is None
        assert which(rules.pins_for("x.0.0.1")) == "A"

    def test_iterable_pins_apply_to_every_host(self) -> None:
        """Pins given as an iterable apply to every host, even without a name."""
        rules = PinPolicy.from_spec([PINS["A"]])

        for host in ("example.com", "127.0.0.1", None):
            assert which(rules.pins_for(host)) == "A"
        assert not rules.by_host

    def test_patterns_are_listed_for_display(self) -> None:
        """patterns() shows every normalized pattern with its pins."""
        rules = policy({"Bücher.example": PINS["A"], "*.b.test": PINS["B"]})

        assert rules.patterns() == {
            "xn--bcher-kva.example": (PINS["A"],),
            "*.b.test": (PINS["B"],),
        }

    @given(
        st.lists(
            st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=5
        ),
        st.lists(
            st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=3
        ),
    )
    def test_wildcards_follow_label_boundaries(
        self, host_labels: list[str], suffix_labels: list[str]
    ) -> None:
        """'*.s' matches exactly one label more than s; '**.s' matches s or below it."""
        host = ".".join(host_labels) + ".test"
        suffix = ".".join(suffix_labels) + ".test"
        below = host.endswith("." + suffix)

        one = policy({f"*.{suffix}": PINS["A"]}).pins_for(host)
        assert (one is not None) == (below and host.count(".") == suffix.count(".") + 1)
        deep = policy({f"**.{suffix}": PINS["A"]}).pins_for(host)
        assert (deep is not None) == (below or host == suffix)


class TestValidation:
    @pytest.mark.parametrize(
        ("pattern", "words"),
        [
            ("", "empty"),
            (".", "empty"),
            ("*", "wildcard alone"),
            ("**", "wildcard alone"),
            ("*.", "wildcard alone"),
            ("a.*.example.com", "wildcard"),
            ("*a.example.com", "wildcard"),
            ("a*.example.com", "wildcard"),
            ("***.example.com", "wildcard"),
            ("*.*.example.com", "wildcard"),
            ("example.*", "wildcard"),
            ("*.127.0.0.1", "IP address"),
            ("a..example.com", "not a valid host name"),
            ("-a.example.com", "label"),
            ("a-.example.com", "label"),
            ("exa mple.com", "label"),
            ("example.com/path", "label"),
            ("x" * 64 + ".com", "not a valid host name"),
            (".".join(["a" * 60] * 5), "at most 253"),
        ],
    )
    def test_bad_patterns_are_refused(self, pattern: str, words: str) -> None:
        """Each malformed pattern raises InvalidPinError saying what is wrong."""
        with pytest.raises(InvalidPinError, match=words):
            PinPolicy.from_spec({pattern: [PINS["A"]]})

    def test_pattern_must_be_a_string(self) -> None:
        """A host pattern that is not a str raises TypeError."""
        by_bytes_name: Any = {b"example.com": [PINS["A"]]}
        with pytest.raises(TypeError, match="str"):
            PinPolicy.from_spec(by_bytes_name)

    def test_duplicate_after_normalization_is_refused(self) -> None:
        """Two spellings of one pattern raise instead of one silently winning."""
        with pytest.raises(InvalidPinError, match="same pattern"):
            PinPolicy.from_spec(
                {"Example.com": [PINS["A"]], "example.com.": [PINS["B"]]}
            )

    def test_empty_inputs_are_refused(self) -> None:
        """An empty pin set, an empty mapping and an empty set under a pattern raise."""
        with pytest.raises(InvalidPinError, match="empty"):
            pinssl.create_default_context([])
        with pytest.raises(InvalidPinError, match="mapping is empty"):
            pinssl.create_default_context({})
        with pytest.raises(InvalidPinError, match=r"'a\.test'.*empty"):
            pinssl.create_default_context({"a.test": []})

    def test_bad_pin_under_a_pattern_names_the_pattern(self) -> None:
        """A malformed pin inside a mapping says which pattern it belongs to."""
        with pytest.raises(InvalidPinError, match=r"'a\.test'"):
            PinPolicy.from_spec({"a.test": ["sha256/not-base64"]})


def pinned(
    world: TwoCAWorld, pins: dict[str, list[str]], strict: bool = False
) -> ssl.SSLContext:
    return pinssl.create_default_context(pins, cafile=str(world.cafile), strict=strict)


class TestMappingOnTheWire:
    def test_pattern_selects_the_pins_per_host(
        self, two_cas: TwoCAWorld, rogue_server: TLSServer
    ) -> None:
        """The rogue server is refused for pinned names and accepted for others."""
        good = [two_cas.good_intermediate.cert.pin]
        ctx = pinned(
            two_cas, {"localhost": good, "127.0.0.1": good, "**.wild.test": good}
        )

        for host in ("localhost", "LocalHost", "127.0.0.1", "a.wild.test"):
            with pytest.raises(PinVerificationError) as caught:
                tls_connect(rogue_server.address, ctx, host)
            assert caught.value.hostname is not None
        with tls_connect(rogue_server.address, ctx, "example.test") as sock:
            assert sock.getpeercert(True) == two_cas.rogue.der
        assert all(received == b"" for received in rogue_server.received)

    def test_genuine_server_passes_its_pattern(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer
    ) -> None:
        """The genuine server is accepted under an exact and a wildcard pattern."""
        good = [two_cas.good_intermediate.cert.pin]
        ctx = pinned(two_cas, {"localhost": good, "*.wild.test": good})

        for host in ("localhost", "b.wild.test"):
            with tls_connect(genuine_server.address, ctx, host) as sock:
                assert sock.getpeercert(True) == two_cas.genuine.der

    def test_strict_refuses_hosts_without_a_pattern(
        self, two_cas: TwoCAWorld, genuine_server: TLSServer
    ) -> None:
        """With strict=True a host no pattern matches is refused, genuine or not."""
        good = [two_cas.good_intermediate.cert.pin]
        ctx = pinned(two_cas, {"localhost": good}, strict=True)

        with tls_connect(genuine_server.address, ctx, "localhost"):
            pass
        with pytest.raises(PinVerificationError, match="no pin pattern matches"):
            tls_connect(genuine_server.address, ctx, "example.test")
        received = [r.received for r in genuine_server.wait_for(2)]
        assert received == [b"", b""]
