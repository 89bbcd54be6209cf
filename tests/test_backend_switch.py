"""The backend switch: PINSSL_BACKEND forces a parser, once, at import time."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import C_LIB

# Runs in a fresh interpreter; a meta path hook hides the C extension on demand.
PROBE = """
import sys
if sys.argv[1] == "hide-c":
    class HideExtension:
        def find_spec(self, name, path=None, target=None):
            if name == "pinssl._spki_c":
                raise ImportError("hidden by the test")
            return None
    sys.meta_path.insert(0, HideExtension())
try:
    import pinssl
except ImportError as error:
    print("ImportError", type(error).__name__, error)
else:
    print("BACKEND", pinssl.BACKEND)
"""


def probe(forced: str | None, hide_c: bool = False) -> str:
    """Import pinssl in a child process and report what it chose."""
    env = {key: value for key, value in os.environ.items() if key != "PINSSL_BACKEND"}
    if forced is not None:
        env["PINSSL_BACKEND"] = forced
    run = subprocess.run(
        [sys.executable, "-c", PROBE, "hide-c" if hide_c else "keep"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return run.stdout.strip()


def test_python_can_always_be_forced() -> None:
    """PINSSL_BACKEND=python selects the pure parser, C built or not."""
    assert probe("python") == "BACKEND python"
    assert probe("python", hide_c=True) == "BACKEND python"


@pytest.mark.skipif(C_LIB is None, reason="the C extension is not built here")
def test_c_is_the_default_when_built() -> None:
    """With the extension built, the default and PINSSL_BACKEND=c choose C."""
    assert probe(None) == "BACKEND c"
    assert probe("c") == "BACKEND c"
    assert probe(" C ") == "BACKEND c"


def test_missing_extension_falls_back_unless_c_is_forced() -> None:
    """Without the extension the default is pure; forcing C is a clear error."""
    assert probe(None, hide_c=True) == "BACKEND python"

    refused = probe("c", hide_c=True)
    assert refused.startswith("ImportError BackendUnavailableError")
    assert "PINSSL_BACKEND=c" in refused
    assert "pinssl._spki_c is not available" in refused


def test_unknown_backend_name_is_an_error() -> None:
    """A misspelt backend name is refused rather than silently ignored."""
    refused = probe("rust")
    assert refused.startswith("ImportError BackendUnavailableError")
    assert "'rust'" in refused
