"""A tor to publish through: launched by us with a generated torrc, or attached to.

Launching our own tor (the default) keeps every setting that matters in one generated
torrc — ``SafeLogging 1``, no SOCKS port, a control socket inside a 0700 folder, and
no defaults file from /etc — and ties tor's life to ours (``TAKEOWNERSHIP``,
``__OwningControllerProcess``). Attaching to a system tor is for hosts where tor is
already run and watched by the distribution's unit; then we check its logging instead
of setting it.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import stem
import stem.connection
import stem.control
from stem.control import Controller

from tor.config import TorConfig, split_host_port
from tor.errors import ControlPortUnreachable, TorNotInstalled, TorStartFailed, UnsafeTor
from tor.keys import ensure_private_dir

# sun_path is 108 bytes on Linux; longer paths fall back to a loopback port + cookie.
MAX_SOCKET_PATH = 100
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass
class Tor:
    """An authenticated control connection, and the tor process when we launched it."""

    controller: Any  # stem.control.Controller (untyped)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    socks_port: int | None = field(default=None)

    def __enter__(self) -> "Tor":
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def launched(self) -> bool:
        return self.process is not None

    def alive(self) -> bool:
        """False once a launched tor has exited or the control connection is gone."""
        if self.process is not None and self.process.poll() is not None:
            return False
        return bool(self.controller.is_alive())

    def log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        """Close the control connection; stop a launched tor (its whole process group)."""
        with contextlib.suppress(Exception):
            self.controller.close()
        if self.process is not None:
            stop_process_group(self.process)


def find_tor(binary: str) -> str:
    """The tor executable, or a clear error naming the package to install."""
    found = shutil.which(binary)
    if found is None:
        raise TorNotInstalled(
            f"tor is not installed (no {binary!r} on PATH): install Debian's package "
            "(apt-get install tor) or set IBLAGH_TOR_BINARY to its path"
        )
    return found


def open_tor(config: TorConfig) -> Tor:
    """Attach when ``IBLAGH_TOR_CONTROL`` is set, otherwise launch our own tor."""
    if config.control:
        return attach_tor(config.control)
    return launch_tor(
        config.launched_dir,
        binary=config.tor_binary,
        disable_network=config.disable_network,
        include=Path(config.torrc_include) if config.torrc_include else None,
    )


def launch_tor(
    run_dir: Path,
    *,
    binary: str = "tor",
    disable_network: bool = False,
    socks_port: int | str = 0,
    include: Path | None = None,
    extra_lines: Sequence[str] = (),
    timeout: float = START_TIMEOUT,
) -> Tor:
    """Start tor with a torrc generated in ``run_dir`` (0700) and return it controlled.

    ``include`` is read first (``%include``), so the lines written here win over it;
    ``extra_lines`` are appended as they are. ``socks_port`` is the value of tor's
    ``SocksPort`` (0: none). tor's log goes to ``run_dir/tor.log``.
    """
    executable = find_tor(binary)
    ensure_private_dir(run_dir)
    data_dir = ensure_private_dir(run_dir / "data")
    socket_path = data_dir / "control"
    port_file = data_dir / "control-port"
    use_socket = len(str(socket_path)) <= MAX_SOCKET_PATH and not any(
        c.isspace() or c == '"' for c in str(socket_path)
    )
    for stale in (socket_path, port_file):
        stale.unlink(missing_ok=True)
    lines = [f'%include "{include}"'] if include is not None else []
    lines += [
        f'DataDirectory "{data_dir}"',
        f'PidFile "{data_dir / "pid"}"',
        "CookieAuthentication 1",
        f"SocksPort {socks_port}",
        "SafeLogging 1",
        "Log notice stdout",
        f"__OwningControllerProcess {os.getpid()}",
    ]
    if use_socket:
        lines.append(f"ControlPort unix:{socket_path}")
    else:
        lines += ["ControlPort auto", f'ControlPortWriteToFile "{port_file}"']
    if disable_network:
        lines.append("DisableNetwork 1")
    lines += list(extra_lines)
    torrc = run_dir / "torrc"
    _write_replacing(torrc, "\n".join(lines) + "\n")
    empty_defaults = run_dir / "torrc-defaults"
    _write_replacing(empty_defaults, "")
    log_path = run_dir / "tor.log"
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        process = subprocess.Popen(
            [executable, "--defaults-torrc", str(empty_defaults), "-f", str(torrc)],
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        os.close(log_fd)
    tor = Tor(controller=None, process=process, log_path=log_path)
    try:
        tor.controller = _connect_launched(
            process, socket_path if use_socket else None, port_file, timeout, tor
        )
        tor.controller.msg("TAKEOWNERSHIP")
        tor.socks_port = _socks_port(tor.controller)
    except BaseException:
        tor.close()
        raise
    return tor


def attach_tor(control: str, timeout: float = 10.0) -> Tor:
    """Authenticate to a running tor's control socket or loopback port (cookie auth)."""
    try:
        if control.startswith("unix:"):
            controller = Controller.from_socket_file(control[5:])
        else:
            host, port = split_host_port("IBLAGH_TOR_CONTROL", control)
            controller = Controller.from_port(address=host, port=port)
    except stem.SocketError as exc:
        raise ControlPortUnreachable(
            f"cannot reach tor's control port at {control} ({exc}): is tor running with "
            "that ControlPort/ControlSocket, and may this user open it?"
        ) from exc
    try:
        controller.authenticate()
    except (stem.connection.AuthenticationFailure, stem.SocketError) as exc:
        controller.close()
        raise ControlPortUnreachable(
            f"tor at {control} refused us ({exc}): enable CookieAuthentication and let "
            "this user read the cookie file (e.g. add it to the debian-tor group)"
        ) from exc
    tor = Tor(controller=controller)
    try:
        safe_logging = controller.get_conf("SafeLogging", "1")
        if str(safe_logging) != "1":
            raise UnsafeTor(
                f"the tor at {control} has SafeLogging {safe_logging}: its logs may hold "
                "addresses. Set SafeLogging 1 in its torrc and reload it"
            )
        tor.socks_port = _socks_port(controller)
    except BaseException:
        tor.close()
        raise
    return tor


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers; always reaps the leader."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)
    # Stragglers of the group (tor forks none, but be sure).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _connect_launched(
    process: subprocess.Popen[bytes],
    socket_path: Path | None,
    port_file: Path,
    timeout: float,
    tor: Tor,
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise TorStartFailed(
                f"tor exited at start-up (status {process.returncode}); its log says:\n"
                + tor.log_tail()
            )
        try:
            controller = _try_connect(socket_path, port_file)
        except (stem.SocketError, OSError, ValueError):
            controller = None
        if controller is not None:
            try:
                controller.authenticate()
            except stem.connection.AuthenticationFailure as exc:
                controller.close()
                raise TorStartFailed(f"cannot authenticate to the tor we launched: {exc}") from exc
            return controller
        if time.monotonic() > deadline:
            raise TorStartFailed(
                f"tor did not open its control port within {timeout:.0f} s; its log says:\n"
                + tor.log_tail()
            )
        time.sleep(0.05)


def _try_connect(socket_path: Path | None, port_file: Path) -> Any:
    if socket_path is not None:
        if not socket_path.exists():
            return None
        return Controller.from_socket_file(str(socket_path))
    if not port_file.exists():
        return None
    # tor writes "PORT=127.0.0.1:NNNN" to a temporary file and renames it: complete here.
    text = port_file.read_text(encoding="ascii").strip()
    host, port = split_host_port("ControlPortWriteToFile", text.split("=", 1)[1])
    return Controller.from_port(address=host, port=port)


def _socks_port(controller: Any) -> int | None:
    """The first SOCKS listener's port, if tor has one (clients use it; services need none)."""
    try:
        listeners = controller.get_listeners(stem.control.Listener.SOCKS)
    except (stem.ControllerError, ValueError):
        return None
    return int(listeners[0][1]) if listeners else None


def _write_replacing(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    partial.replace(path)
