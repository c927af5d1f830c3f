"""Shared fixtures: where the repository's checkpoints and the w4a16 program are."""
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRODUCERS = REPO / "tests" / "fixtures" / "producers"


def producer_fixtures():
    """The checkpoints written by the formats' own tools (tests/fixtures/producers)."""
    return sorted(p.name for p in PRODUCERS.iterdir() if (p / "model.safetensors").exists())


@pytest.fixture(scope="session")
def cli():
    """The w4a16 program: $W4A16_CLI, build/w4a16, or one on PATH; skips without one."""
    for candidate in (os.environ.get("W4A16_CLI"), REPO / "build" / "w4a16", shutil.which("w4a16")):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.skip("no w4a16 program (set W4A16_CLI, or build it into build/)")
