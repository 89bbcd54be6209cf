"""The C parser, compiled alone under AddressSanitizer and UBSan, survives the
fuzz corpus and its deterministic mutations (``csrc/fuzz/sanitize.sh``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "csrc" / "fuzz" / "sanitize.sh"
COMPILERS = [os.environ["CC"]] if os.environ.get("CC") else ["gcc", "clang"]


@pytest.mark.skipif(
    not any(shutil.which(compiler) for compiler in COMPILERS),
    reason=f"no C compiler ({' or '.join(COMPILERS)}) to build the sanitizer run",
)
def test_corpus_replays_clean_under_sanitizers(tmp_path: Path) -> None:
    """sanitize.sh builds warning-free and replays every input with no finding."""
    env = {**os.environ, "PINSSL_SANITIZE_BUILD": str(tmp_path)}
    run = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]

    summary = re.search(r"replay: (\d+) files, (\d+) inputs, (\d+) violations", output)
    assert summary is not None, output[-4000:]
    files, inputs, violations = (int(number) for number in summary.groups())
    assert files > 0
    assert inputs > files
    assert violations == 0
