"""What the public host serves as static files, and the proof of it: the manifest.

``/static/manifest.json`` lists the SHA-384 of every static file (Subresource Integrity
form), so an operator, an auditor or a reporter can compare what this host serves with a
clean checkout (`iblagh-public static-manifest` prints the same). The report page loads
its scripts with those hashes (``integrity``), the libsodium modules through an import
map that carries theirs, and a Content-Security-Policy that allows exactly that import
map (by its SHA-256), this host's own scripts and WebAssembly, on that page only; the
status page the same way with its own script.
"""

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

STATIC_DIR: Final = Path(__file__).parent / "static"
STATIC_URL: Final = "/static/"
FORM_SCRIPT: Final = "js/report_form.js"
STATUS_SCRIPT: Final = "js/status_page.js"
# The bare module names libsodium's ESM build and our modules import.
VENDOR_MODULES: Final = {
    "libsodium-wrappers-sumo": "vendor/libsodium-wrappers.mjs",
    "libsodium-sumo": "vendor/libsodium-sumo.mjs",
}


def sri(data: bytes) -> str:
    """The Subresource Integrity string of ``data``: ``sha384-`` and base64."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def static_manifest(static_dir: Path = STATIC_DIR) -> dict[str, str]:
    """``{"/static/<path>": "sha384-…"}`` for every file under the static folder, sorted."""
    files = sorted(p for p in static_dir.rglob("*") if p.is_file())
    return {
        STATIC_URL + path.relative_to(static_dir).as_posix(): sri(path.read_bytes())
        for path in files
    }


@dataclass(frozen=True)
class SealingAssets:
    """What the report page needs to load the sealing script under its policy."""

    import_map: str
    script: str
    integrity: str
    script_src: str


def sealing_assets(manifest: dict[str, str], script: str = FORM_SCRIPT) -> SealingAssets | None:
    """The import map, ``script`` and the CSP source list; None without the vendored
    libsodium (``make vendor`` not run): the page then stays on the server path."""
    wanted = [STATIC_URL + script, *(STATIC_URL + p for p in VENDOR_MODULES.values())]
    if any(url not in manifest for url in wanted):
        return None
    modules = {url: sri_ for url, sri_ in manifest.items() if url.endswith((".js", ".mjs"))}
    import_map = json.dumps(
        {
            "imports": {name: STATIC_URL + path for name, path in VENDOR_MODULES.items()},
            "integrity": modules,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode("ascii")
    return SealingAssets(
        import_map=import_map,
        script=STATIC_URL + script,
        integrity=manifest[STATIC_URL + script],
        script_src=f"'self' 'sha256-{digest}' 'wasm-unsafe-eval'",
    )
