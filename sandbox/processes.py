"""Start, probe and stop the local emulator processes used by the readiness suite.

The emulators run as separate processes (the BigQuery one even needs another Python),
so everything here is about owning those processes: logs go to a file (an unread pipe
fills up and freezes the child), each child gets its own process group so one signal
reaches everything it spawned, an atexit hook stops whatever a crashed test left, and a
parent-death signal covers a test process that is killed outright.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = "sandbox/install_emulators.sh"
# Written by install_emulators.sh as its very last step, so its presence means "complete".
INSTALL_STAMP = ".readiness-installed"

# Proxy variables must not divert probes of 127.0.0.1 to some proxy.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class EmulatorNotInstalledError(RuntimeError):
    """An emulator's files are missing: install_emulators.sh has not been run."""


class ServerStartError(RuntimeError):
    """A local server died or never became ready; the message carries its log tail."""


def emulator_home() -> Path:
    """Where install_emulators.sh puts the emulator venv and the DuckDB HOME."""
    return Path(os.environ.get("READINESS_EMULATOR_HOME") or REPO_ROOT / ".sandbox")


def emulator_venv() -> Path:
    """The emulator virtualenv, checked for a completed install.

    Checking the stamp rather than the interpreter catches a half-finished install,
    which would otherwise surface later as a confusing import error in the server log.
    """
    venv = emulator_home() / "venv"
    if not (venv / INSTALL_STAMP).is_file():
        raise EmulatorNotInstalledError(
            f"local emulators are not installed in {venv}: run `bash {INSTALL_SCRIPT}` "
            "(set READINESS_EMULATOR_HOME to install elsewhere)"
        )
    return venv


def free_ports(count: int) -> list[int]:
    """Ports free right now, all distinct: the sockets stay open until every port is picked."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # start_new_session made the child a group leader, so its pid is the group id.
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(process.pid, sig)


@dataclass(frozen=True)
class LocalServer:
    """A running local server: where it answers, its process and its log."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log file)"
        return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"

    def failure(self, problem: str) -> str:
        return f"{self.name} {problem}; last lines of {self.log_path}:\n{self.log_tail()}"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the whole process group: politely first, then by force. Idempotent."""
        atexit.unregister(self.stop)
        _signal_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(self.process, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


Probe = Callable[[], bool]


def http_ok(url: str, timeout: float = 10.0) -> bool:
    """True once url answers 200; False while nothing listens yet.

    Any other HTTP status propagates as HTTPError: a server that is up but answers an
    error will not get better by waiting, so readiness should fail at once.
    """
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return int(response.status) == 200
    except urllib.error.HTTPError:
        raise
    except OSError:  # refused, reset or timed out: not listening yet
        return False


def wait_until_ready(server: LocalServer, probe: str | Probe, timeout: float, interval: float = 0.1) -> None:
    """Poll probe (a URL that must answer 200, or a callable) until it succeeds.

    Raises ServerStartError with the server's log tail if the process exits, the probe
    gets an HTTP error, or timeout seconds pass.
    """
    check: Probe = probe if callable(probe) else functools.partial(http_ok, probe)
    deadline = time.monotonic() + timeout
    while True:
        code = server.process.poll()
        if code is not None:
            raise ServerStartError(server.failure(f"exited with code {code} before it was ready"))
        try:
            if check():
                return
        except urllib.error.HTTPError as error:
            body = error.read().decode(errors="replace")[:500]
            message = f"answered its readiness probe with HTTP {error.code}: {body}"
            raise ServerStartError(server.failure(message)) from error
        if time.monotonic() > deadline:
            raise ServerStartError(server.failure(f"was not ready after {timeout:.0f} s"))
        time.sleep(interval)


def _dies_with_parent(argv: Sequence[str]) -> list[str]:
    """Prefix argv so the kernel sends SIGTERM to the server when the test process dies.

    atexit and fixture teardown cover normal ends and Ctrl-C, but not a SIGTERM or SIGKILL
    of pytest (a CI timeout), which would orphan the server. setpriv (util-linux, always on
    Debian) sets the parent-death signal and execs argv, avoiding preexec_fn, which is unsafe
    in threaded processes. The signal follows the *thread* that started the server, so start
    servers from the main thread. Without setpriv (e.g. macOS) argv runs as is.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else list(argv)


def start_server(
    name: str,
    argv: Sequence[str],
    *,
    url: str,
    probe: str | Probe,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> LocalServer:
    """Start argv in its own session, logging to log_path, and wait until probe passes."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            _dies_with_parent(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            cwd=log_path.parent,
            start_new_session=True,
        )
    server = LocalServer(name=name, url=url, process=process, log_path=log_path)
    # Covers a test session that ends without reaching the fixture's teardown.
    atexit.register(server.stop)
    try:
        wait_until_ready(server, probe, timeout)
    except BaseException:  # KeyboardInterrupt too: never leave a half-started server
        server.stop()
        raise
    return server
