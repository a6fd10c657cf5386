"""Launch the local BigQuery emulator (PyPI `local-bigquery`, a FastAPI app over DuckDB).

It needs Python >= 3.13, so it runs from the emulator venv made by install_emulators.sh,
never in the suite's own interpreter. The official client reaches it with
client_options={"api_endpoint": server.url} and AnonymousCredentials.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sandbox.processes import (
    EmulatorNotInstalledError,
    LocalServer,
    emulator_home,
    emulator_venv,
    free_ports,
    start_server,
)

# local-bigquery reads these settings from the environment (pydantic-settings, any case)
# and the CLI does not override them: e.g. a STORAGE_EMULATOR_HOST meant for the suite
# would silently reroute its gs:// load/extract jobs. Python's own variables would make
# the 3.13 interpreter import the 3.11 suite's packages.
_LEAKY_VARIABLES = frozenset(
    {
        "storage_emulator_host",
        "gcs_local_root",
        "caller",
        "groups",
        "postgres_uri",
        "postgres_connection_id",
        "pythonpath",
        "pythonhome",
    }
)


def emulator_python() -> Path:
    """The emulator venv's interpreter; EmulatorNotInstalledError names the install script."""
    python = emulator_venv() / "bin" / "python"
    if not python.is_file():
        raise EmulatorNotInstalledError(f"{python} is missing: re-run sandbox/install_emulators.sh")
    return python


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in _LEAKY_VARIABLES}
    # DuckDB looks for its extensions under $HOME/.duckdb, where the install script put
    # them; with another HOME it would try to download them and fail offline.
    env["HOME"] = str(emulator_home() / "home")
    return env


def start_bigquery_emulator(work_dir: Path, project: str, timeout: float = 60.0) -> LocalServer:
    """Start a fresh emulator serving `project`, with its data and log under work_dir."""
    python = emulator_python()
    data_dir = work_dir / "bigquery-data"
    # DuckDB files from an earlier session would bring back old datasets and tables.
    shutil.rmtree(data_dir, ignore_errors=True)
    port, grpc_port = free_ports(2)  # the gRPC port serves the Storage Read API
    url = f"http://127.0.0.1:{port}"
    # `python -m local_bigquery.cli` exits silently (no __main__ guard): use the console script.
    argv = [
        str(python.parent / "local-bigquery"),
        "serve",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--grpc-port", str(grpc_port),
        "--project", project,
        "--data-dir", str(data_dir),
    ]  # fmt: skip
    # Listing projects opens DuckDB and loads its extensions, so a 200 here means queries
    # will work; a broken install answers 400 and fails the start at once.
    return start_server(
        "local-bigquery",
        argv,
        url=url,
        probe=f"{url}/bigquery/v2/projects",
        log_path=work_dir / "bigquery.log",
        env=_server_env(),
        timeout=timeout,
    )
