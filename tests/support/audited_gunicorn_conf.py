"""gunicorn settings for tests: production settings plus a record of every file opened to write.

Python's audit hooks see every ``open``/``os.open`` with its flags and every
``tempfile.mkstemp``: even a temporary file unlinked at once (as Werkzeug spools
uploads) leaves a line here. SQLite's own files are opened from C and do not appear;
the tests scan those directly.
"""

import json
import os
import sys
from typing import Any

from source_app.gunicorn_conf import *  # noqa: F403 - the settings under test
from source_app.gunicorn_conf import post_fork as production_post_fork

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _writes(event: str, args: tuple[Any, ...]) -> str | None:
    if event == "open" and len(args) >= 3:
        path, mode, flags = args[0], args[1], args[2]
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            return str(path)
        if isinstance(flags, int) and flags & _WRITE_FLAGS:
            return str(path)
    if event in ("tempfile.mkstemp", "tempfile.mkdtemp", "os.mkdir", "os.rename"):
        return str(args[0])
    return None


def post_fork(server: Any, worker: Any) -> None:
    production_post_fork(server, worker)
    log_path = os.environ["IBLAGH_TEST_OPEN_LOG"]
    log = open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives with the worker

    def hook(event: str, args: tuple[Any, ...]) -> None:
        path = _writes(event, args)
        if path is not None and path != log_path:
            log.write(json.dumps({"event": event, "path": path}) + "\n")

    sys.addaudithook(hook)
