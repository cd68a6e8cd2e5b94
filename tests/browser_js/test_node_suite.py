"""The browser modules' Node suite (tests/browser_js/*.test.js), run from pytest.

`make test` builds node_modules first (`make vendor`), so the Node tests run wherever
the Python ones do: the receipt v2 vectors and every envelope v1 vector, through
libsodium-wrappers-sumo, against source_app/static/js/.
"""

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
NODE_TESTS = sorted(Path(__file__).parent.glob("*.test.js"))
ESM_BUILD = "dist/modules-sumo-esm"
VENDORED = {
    "libsodium-wrappers.mjs": f"libsodium-wrappers-sumo/{ESM_BUILD}/libsodium-wrappers.mjs",
    "libsodium-sumo.mjs": f"libsodium-sumo/{ESM_BUILD}/libsodium-sumo.mjs",
}


def _node_modules() -> Path:
    node_modules = ROOT / "node_modules"
    if not (node_modules / "libsodium-wrappers-sumo").is_dir():
        pytest.fail("node_modules is missing: run `make vendor` (npm ci) first")
    return node_modules


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
@pytest.mark.parametrize("test_file", NODE_TESTS, ids=[path.name for path in NODE_TESTS])
def test_node_suite_passes(test_file: Path) -> None:
    _node_modules()
    finished = subprocess.run(
        ["node", "--test", "--test-reporter=tap", str(test_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-20000:] + finished.stderr[-5000:]
    assert "# fail 0" in finished.stdout


def test_vendored_files_are_the_locked_packages() -> None:
    """What the public host serves is byte for byte what npm ci installed from the lock."""
    node_modules = _node_modules()
    vendor = ROOT / "source_app" / "static" / "vendor"
    if not vendor.is_dir():
        pytest.fail("source_app/static/vendor is missing: run `make vendor` first")
    for served, installed in VENDORED.items():
        assert (
            hashlib.sha256((vendor / served).read_bytes()).digest()
            == hashlib.sha256((node_modules / installed).read_bytes()).digest()
        ), f"{served} differs from node_modules/{installed}: run `make vendor`"
