"""Build the optional C parser; all metadata lives in pyproject.toml.

A failed C build leaves a working pure-Python install and says so loudly,
unless PINSSL_REQUIRE_C=1 is set, in which case the install fails.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

REQUIRE_C = os.environ.get("PINSSL_REQUIRE_C", "") == "1"

BANNER = """
************************************************************************
pinssl: the C parser could not be built ({error}).
pinssl is installed with its pure-Python parser, which gives the same
answers more slowly; pinssl.BACKEND will be "python".
Install a C compiler and Python headers and reinstall for the C parser,
or set PINSSL_REQUIRE_C=1 to make this failure fatal.
************************************************************************
"""


class OptionalBuildExt(build_ext):
    """build_ext that survives a failed compile unless C is required."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # noqa: BLE001 - any failure means no C
            self._give_up(error)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as error:  # noqa: BLE001 - any failure means no C
            self._give_up(error)

    def _give_up(self, error: Exception) -> None:
        if REQUIRE_C:
            raise error
        sys.stderr.write(BANNER.format(error=error))


setup(
    cffi_modules=["csrc/ffibuild.py:ffibuilder"],
    cmdclass={"build_ext": OptionalBuildExt},
)
