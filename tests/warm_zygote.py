"""The zygote of warm_pytest.py: imports the libraries a suite run needs, then forks one child
per request, each of which becomes `python -m pytest <args>` as a fresh interpreter would start.

Started by warm_pytest.py as `python warm_zygote.py <socket path>`; exits when its parent does.
Only third-party libraries are imported here, never our packages nor a pytest plugin: pytest
must import those itself, to rewrite their asserts as it does in a fresh interpreter.
"""

from __future__ import annotations

import sys

# A fresh `python -m pytest` has its working directory first on sys.path, not this folder.
del sys.path[0]

import atexit  # noqa: E402
import contextlib  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import runpy  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

#: What a suite run imports before its first check, minus our packages and pytest plugins.
PRELOAD = (
    "pytest",
    "_pytest.pytester",
    "_pytest.junitxml",
    "_pytest.terminal",
    "pygments.lexers",
    "pygments.formatters",
    "google.auth",
    "google.auth.transport.requests",
    "google.auth.compute_engine",
    "google.api_core.client_options",
    "google.api_core.exceptions",
    "google.protobuf",
    "google.cloud.bigquery",
    "google.cloud.storage",
    "google.cloud.cloudquotas_v1",
    "google.cloud.resourcemanager_v3",
    "google.cloud.run_v2",
    "google.cloud.service_usage_v1",
    "grpc",
    "pydantic",
    "requests",
    "jinja2",
    "yaml",
    "tabulate",
    "packaging.version",
    "packaging.requirements",
    "execnet",
)

#: sys.path of a fresh interpreter after its working directory and PYTHONPATH (this one has none).
BASE_PATH = list(sys.path)
HEADER = struct.Struct("!Q")


def preload() -> None:
    for name in PRELOAD:
        with contextlib.suppress(ImportError):  # an optional library: the run imports what it has
            importlib.import_module(name)


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError("request cut short")
        data += chunk
    return data


def _exit_code(exc: SystemExit) -> int:
    """What the interpreter makes of SystemExit(code)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def child(conn: socket.socket, request: dict[str, object], out_fd: int, err_fd: int) -> None:
    """Become the run, report its pid then its exit code on conn; never returns."""
    code = 1
    interrupted = False
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        for fd in (devnull, out_fd, err_fd):
            os.close(fd)
        cwd = str(request["cwd"])
        os.chdir(cwd)
        env = dict(request["env"])  # type: ignore[call-overload]
        os.environ.clear()
        os.environ.update(env)
        time.tzset()
        extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:] = [os.getcwd(), *extra, *BASE_PATH]
        sys.argv = ["-m", *request["args"]]  # type: ignore[misc]
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
        try:
            # As `python -m pytest`: sys.argv[0] becomes pytest/__main__.py.
            runpy.run_module("pytest", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = _exit_code(exc)
        except KeyboardInterrupt:
            interrupted = True
        except BaseException:
            sys.excepthook(*sys.exc_info())
            code = 1
        # The interpreter's shutdown: wait for non-daemon threads, atexit, flush the streams.
        with contextlib.suppress(Exception):
            threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                code = 120
        if interrupted:  # as the interpreter does: die by the signal
            conn.sendall(json.dumps({"signal": signal.SIGINT}).encode() + b"\n")
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        conn.sendall(json.dumps({"rc": code}).encode() + b"\n")
    except BaseException:
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except Exception:
            pass
    finally:
        os._exit(code)


def serve(path: str) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    listener.settimeout(1.0)
    parent = os.getppid()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    print("ready", flush=True)
    while os.getppid() == parent:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.setblocking(True)
        try:
            head, fds, _, _ = socket.recv_fds(conn, HEADER.size, 2)
            (size,) = HEADER.unpack(head)
            request = json.loads(_recv_exact(conn, size))
        except (OSError, EOFError, ValueError, struct.error):
            conn.close()
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            child(conn, request, fds[0], fds[1])
        conn.close()
        for fd in fds:
            os.close(fd)


if __name__ == "__main__":
    preload()
    serve(sys.argv[1])
