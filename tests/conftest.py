import subprocess
import sys
from pathlib import Path

import pytest

# The environment helpers (probe_binary, REPO, oci_run.py) are shared by every test folder.
sys.path.insert(0, str(Path(__file__).resolve().parent / "env"))

import environments as envs  # noqa: E402


@pytest.fixture(scope="session")
def static_probe():
    """The one-file build (scripts/build-static): Swift runtime and glibc linked in."""
    out = subprocess.run([str(envs.REPO / "scripts" / "build-static")], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]
