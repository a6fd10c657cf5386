"""`python -m pytest ...` in a subprocess, forked from a warm interpreter instead of a new one.

Our tests start the real suite hundreds of times; each fresh interpreter spends about 4 s of CPU
importing pytest, pydantic and the Google client libraries before the first check, most of a
small run's cost. One zygote per test process (warm_zygote.py) imports those libraries once and
forks a child per run. The child is still a separate process that becomes `python -m pytest` as
the interpreter starts it: the run's working directory, environment, argv, sys.path (working
directory, then PYTHONPATH), stdin from /dev/null, stdout and stderr to the caller's files, the
exit code of its SystemExit after the interpreter's shutdown steps (threads, atexit, flush).
Our packages and pytest plugins are imported by the run itself, as in a fresh interpreter.

What a fork cannot reproduce starts a fresh interpreter instead (`fresh`): a command prefix
(setpriv), or a variable the interpreter reads only when it starts (PYTHON* other than
PYTHONPATH, the locale). READINESS_TEST_FRESH=1 makes every run a fresh interpreter.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

_ZYGOTE = Path(__file__).with_name("warm_zygote.py")
_HEADER_SIZE = 8
#: The environment the zygote starts with: this process's, before any test changed it.
_START_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
#: Where its socket lives: a short path (a socket's is at most 107 bytes), whatever TMPDIR a test sets.
_TMP = tempfile.gettempdir()
_lock = threading.Lock()
_state: dict[str, Any] = {}


def startup_variables(env: Mapping[str, str]) -> dict[str, str]:
    """The variables an interpreter reads only at start-up (PYTHONPATH is reproduced)."""
    return {
        k: v
        for k, v in env.items()
        if (k.startswith(("PYTHON", "LC_")) and k != "PYTHONPATH") or k in ("LANG", "LANGUAGE")
    }


def forkable(env: Mapping[str, str]) -> bool:
    return os.environ.get("READINESS_TEST_FRESH") != "1" and startup_variables(env) == startup_variables(
        _START_ENV
    )


def _zygote() -> str:
    """The socket path of this process's zygote, started on first use (and again if it died)."""
    with _lock:
        proc: subprocess.Popen[str] | None = _state.get("proc")
        if proc is not None and proc.poll() is None:
            return str(_state["path"])
        folder = tempfile.mkdtemp(prefix="warm-pytest-", dir=_TMP)
        path = os.path.join(folder, "zygote.sock")
        proc = subprocess.Popen(
            [sys.executable, str(_ZYGOTE), path],
            env=_START_ENV,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("warm_pytest: the zygote did not start")
        _state.update(proc=proc, path=path)
        atexit.register(shutil.rmtree, folder, True)
        atexit.register(proc.kill)
        return path


def _read_line(conn: socket.socket, buffer: bytearray, deadline: float | None) -> dict[str, Any] | None:
    while b"\n" not in buffer:
        if deadline is not None:
            conn.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = conn.recv(4096)
        except TimeoutError:
            raise
        if not chunk:
            return None
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    value: dict[str, Any] = json.loads(line)
    return value


def run_pytest(
    args: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str],
    stdout: IO[Any],
    stderr: IO[Any],
    timeout: float | None,
) -> int:
    """`[sys.executable, "-m", "pytest", *args]` with stdout and stderr to the given files;
    its return code (negative: killed by that signal). Raises subprocess.TimeoutExpired after
    killing it, as subprocess.run does."""
    command = [sys.executable, "-m", "pytest", *args]
    if not forkable(env):
        proc = subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    request = json.dumps({"cwd": os.fspath(cwd), "env": dict(env), "args": list(args)}).encode()
    deadline = None if timeout is None else time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(_zygote())
        socket.send_fds(
            conn, [len(request).to_bytes(_HEADER_SIZE, "big")], [stdout.fileno(), stderr.fileno()]
        )
        conn.sendall(request)
        buffer = bytearray()
        pid = 0
        try:
            started = _read_line(conn, buffer, deadline)
            if started is None:
                raise RuntimeError("warm_pytest: the zygote dropped the run")
            pid = int(started["pid"])
            while True:
                message = _read_line(conn, buffer, deadline)
                if message is None:  # killed from outside: no exit code was sent
                    return -9
                if "signal" in message:
                    return -int(message["signal"])
                return int(message["rc"])
        except TimeoutError:
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
            raise subprocess.TimeoutExpired(command, timeout or 0) from None


def run_captured(
    args: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str],
    timeout: float | None,
    errors: str = "strict",
) -> tuple[int, str, str]:
    """run_pytest with stdout and stderr read back as text (`errors` as subprocess.run's)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code = run_pytest(args, cwd=cwd, env=env, stdout=out, stderr=err, timeout=timeout)
        out.seek(0)
        err.seek(0)
        return code, _text(out.read(), errors), _text(err.read(), errors)


def _text(data: bytes, errors: str) -> str:
    """As subprocess.run(text=True) decodes: the locale's encoding, universal newlines."""
    return data.decode(errors=errors).replace("\r\n", "\n").replace("\r", "\n")
