"""`pytest --sandbox`: run the whole suite against a local Google Cloud, seeded from the manifest.

The controller starts the world (emulators and REST fakes), seeds it, and puts its credentials
and endpoints into os.environ before pytest-xdist spawns any worker, so every worker reaches
the same world through configuration alone (READINESS_ENDPOINTS, GOOGLE_APPLICATION_CREDENTIALS).
Workers start nothing. The world stops in pytest_unconfigure, which pytest reaches after a
normal end, a usage error and Ctrl-C alike.

Hooks and why:
- pytest_cmdline_main (tryfirst) picks the default manifest, the output folder and the HTML
  report path. It runs after option parsing and before any pytest_configure, which is where
  checks.plugin loads the manifest (tryfirst) and pytest-html reads `htmlpath`: setting the
  options any later would be too late for both. (pytest_load_initial_conftests would be earlier
  still, but pytest calls it only for -p and installed plugins, never for conftest plugins.)
- pytest_configure (trylast) starts and seeds the world: after checks.plugin has validated the
  manifest the seed reads, after the terminal reporter exists (so we can say what we do), and
  still before pytest_sessionstart, where xdist starts its workers. It runs on the main
  thread, which the emulators' parent-death signal is tied to.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, final

import pytest

from readiness.manifest import LoadedManifest
from readiness.stash import loaded_manifest, out_dir
from sandbox.processes import (
    INSTALL_SCRIPT,
    REPO_ROOT,
    EmulatorNotInstalledError,
    ServerStartError,
    emulator_venv,
)
from sandbox.world import World

__all__ = ["EXAMPLE_MANIFEST", "SANDBOX_KEY", "SandboxPlugin"]

#: The manifest `--sandbox` audits when none is given: the shipped example pipeline.
EXAMPLE_MANIFEST: Final = REPO_ROOT / "examples" / "bqx_demo" / "readiness.toml"

SANDBOX_KEY: Final = pytest.StashKey["SandboxPlugin"]()
#: Set by pytest_cmdline_main when --sandbox chose the HTML path (we may delete that file only).
_OWN_HTML_KEY: Final = pytest.StashKey[Path]()
#: Set when --sandbox chose the manifest through READINESS_MANIFEST (removed at the end).
_SET_MANIFEST_ENV_KEY: Final = pytest.StashKey[bool]()

Seed = Callable[[World, LoadedManifest], None]


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    if not config.getoption("sandbox") or not _is_controller(config):
        return
    if not config.getoption("manifest") and not os.environ.get("READINESS_MANIFEST"):
        config.option.manifest = str(EXAMPLE_MANIFEST)
        # xdist workers parse the original command line again, without this option; they
        # inherit the environment, and checks.plugin reads the manifest path from there too.
        os.environ["READINESS_MANIFEST"] = str(EXAMPLE_MANIFEST)
        config.stash[_SET_MANIFEST_ENV_KEY] = True
    if not config.getoption("readiness_out"):
        # The run's own folder, fixed now so report.html can go beside the documents. A bad
        # --readiness-now is reported by reporting.plugin's configure, with its usage message.
        with contextlib.suppress(pytest.UsageError):
            config.option.readiness_out = str(out_dir(config))
    if config.pluginmanager.hasplugin("html") and not config.getoption("htmlpath"):
        html = Path(config.getoption("readiness_out")) / "report.html"
        config.option.htmlpath = str(html)
        config.option.self_contained_html = True
        config.stash[_OWN_HTML_KEY] = html


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("sandbox") or not _is_controller(config):
        return
    if config.getoption("help") or config.getoption("version", 0):
        return
    plugin = SandboxPlugin(config)
    config.stash[SANDBOX_KEY] = plugin
    config.pluginmanager.register(plugin, "readiness-sandbox")
    plugin.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_SET_MANIFEST_ENV_KEY, False):
        del config.stash[_SET_MANIFEST_ENV_KEY]
        os.environ.pop("READINESS_MANIFEST", None)
    plugin = config.stash.get(SANDBOX_KEY, None)
    if plugin is None:
        return
    del config.stash[SANDBOX_KEY]
    plugin.stop()
    config.pluginmanager.unregister(plugin)


class SandboxError(Exception):
    """The sandbox cannot start; the message is one line that says why and what to do."""


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


@final
class SandboxPlugin:
    """The world of one `pytest --sandbox` run, on the controller."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.loaded = loaded_manifest(config)
        #: The world's folder: key file, emulator data and logs; removed after a clean stop.
        self.work_dir: Path | None = None
        self.world: World | None = None
        #: Environment values replaced by the world's, restored at the end.
        self._saved_env: dict[str, str | None] = {}
        #: Seconds per step: install, world start, seed.
        self.timings: dict[str, float] = {}
        self.seed_name = ""
        self.exitstatus: int | None = None
        #: A failed start keeps the world's folder: the error names a log file inside it.
        self.keep_files = False
        self._session_began = 0.0

    # -- output -----------------------------------------------------------------------------------

    def say(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"sandbox: {line}")
        else:
            print(f"sandbox: {line}", file=sys.stderr, flush=True)

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        gcp = self.loaded.manifest.gcp
        if gcp is None:
            self.say(f"{self.loaded.path} has no [gcp] section: nothing to emulate, no world started")
            return
        try:
            self._ensure_installed()
            self.work_dir = Path(tempfile.mkdtemp(prefix="readiness-sandbox-"))
            began = time.perf_counter()
            self.world = World(self.work_dir, gcp.project, location=gcp.location).start()
            self.timings["world start"] = time.perf_counter() - began
            seed, self.seed_name = self._seed_function()
            began = time.perf_counter()
            seed(self.world, self.loaded)
            self.timings["seed"] = time.perf_counter() - began
        except SandboxError as exc:
            problem = str(exc)
        except EmulatorNotInstalledError as exc:
            problem = str(exc)
        except ServerStartError as exc:
            # The log tail stays in the file the first line names (so the folder is kept).
            self.keep_files = True
            problem = _first_line(str(exc)).replace("; last lines of ", "; see its log ").rstrip(":")
        except OSError as exc:
            problem = f"cannot start the local servers: {exc}"
        else:
            problem = ""
        if problem:
            self.stop()
            raise pytest.UsageError(f"sandbox: {problem}")
        assert self.world is not None
        # Before pytest_sessionstart: xdist workers spawned there inherit this environment.
        env = self.world.env()
        self._saved_env = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        self.say(
            f"local Google Cloud for project {gcp.project} in {self.work_dir} "
            f"(started in {self.timings['world start']:.1f} s, seeded by {self.seed_name} "
            f"in {self.timings['seed']:.1f} s)"
        )

    def stop(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        world, self.world = self.world, None
        if world is not None:
            world.stop()
            self.say(f"local Google Cloud stopped (it ran in {self.work_dir})")
        if self.work_dir is not None and not self.keep_files:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        self._drop_interrupted_html()

    def _ensure_installed(self) -> None:
        try:
            emulator_venv()
            return
        except EmulatorNotInstalledError:
            pass
        self.say(f"installing the local emulators with `bash {INSTALL_SCRIPT}` (about 40 s, once)")
        began = time.perf_counter()
        proc = subprocess.run(
            ["bash", str(REPO_ROOT / INSTALL_SCRIPT)],
            capture_output=True,
            text=True,
            check=False,
        )
        self.timings["install"] = time.perf_counter() - began
        if proc.returncode != 0:
            problem = _first_line(proc.stderr) or f"exit status {proc.returncode}"
            raise SandboxError(f"{INSTALL_SCRIPT} failed: {problem}")

    def _seed_function(self) -> tuple[Seed, str]:
        """The manifest's [sandbox] seed file's `seed(world, manifest)`, else the generic seed."""
        given = self.loaded.manifest.sandbox.seed
        if not given:
            from sandbox.seed import seed_from_manifest

            return seed_from_manifest, "the manifest (sandbox.seed)"
        path = (self.loaded.path.parent / given).resolve()
        if not path.is_file():
            raise SandboxError(f"{self.loaded.path}: sandbox.seed: {path} does not exist")
        spec = importlib.util.spec_from_file_location(f"readiness_sandbox_seed_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise SandboxError(f"{path}: cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise SandboxError(f"{path}: {_where(exc, path)}{type(exc).__name__}: {exc}") from None
        seed = getattr(module, "seed", None)
        if not callable(seed):
            raise SandboxError(f"{path}: defines no function seed(world, manifest)")

        def run(world: World, loaded: LoadedManifest) -> None:
            try:
                seed(world, loaded)
            except Exception as exc:
                raise SandboxError(
                    f"{path}: seed failed: {_where(exc, path)}{type(exc).__name__}: {_first_line(str(exc))}"
                ) from None

        return run, str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path)

    # -- reporting --------------------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._session_began = time.perf_counter()

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.exitstatus = exitstatus
        if self._session_began:
            self.timings["checks"] = time.perf_counter() - self._session_began

    def _drop_interrupted_html(self) -> None:
        # pytest-html writes its report even for an interrupted run; the readiness documents are
        # not written then, and a report.html of half a run beside them would read as a result.
        html = self.config.stash.get(_OWN_HTML_KEY, None)
        if html is not None and self.exitstatus in (
            pytest.ExitCode.INTERRUPTED,
            pytest.ExitCode.INTERNAL_ERROR,
        ):
            html.unlink(missing_ok=True)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.timings:
            return
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.timings.items())
        terminalreporter.write_line(f"sandbox: {steps}; world in {self.work_dir}")


def _where(exc: BaseException, path: Path) -> str:
    """`line N: ` of the innermost frame inside the seed file, so a one-line error is findable."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return f"line {frames[-1].lineno}: " if frames else ""
