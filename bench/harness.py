"""What every benchmark shares: the generated data, the local backend, running the real suite,
and the figures they report.

The backend is the bench's BigQuery stand-in plus the sandbox's IAM fake (a real service-account
key whose token_uri is local, so google-auth signs and exchanges a JWT as against Google). A
suite run is the real `pytest` over checks/ in a subprocess, with bench.probe loaded to mark its
phases and read the controller's peak memory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from bench.generate import DEFAULT_OUT, NOW, SIZES, Generated, Size, generate
from bench.probe import OUT_ENV
from bench.standin import BigQueryStandin, Hit
from sandbox.fakes.http import FakeServer, FaultRule
from sandbox.world import World, environment_applied

__all__ = [
    "LATENCY",
    "REPO",
    "Backend",
    "Figure",
    "SuiteRun",
    "backend",
    "data",
    "print_figures",
    "run_alone",
    "run_suite",
]

REPO: Final = Path(__file__).resolve().parents[1]
OUT: Final = REPO / "bench" / "out"
#: The pipeline's run environments (checks/run_env.py), built once by the warm-up run.
ENV_CACHE: Final = OUT / "envs"
#: Per-request latency of the stand-in (seconds): what the real API costs per call.
LATENCY: Final = float(os.environ.get("BENCH_LATENCY", "0.1"))


# -- figures -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Figure:
    benchmark: str
    name: str
    value: float | None
    unit: str
    target: str = ""
    #: None: informative only (no target).
    passed: bool | None = None
    note: str = ""

    def cell(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit in ("x", "%"):
            return f"{self.value:.1f}{self.unit}" if self.unit == "x" else f"{self.value:.1f} %"
        if self.unit == "MB":
            return f"{self.value:.0f} MB"
        if self.unit == "s":
            return f"{self.value:.2f} s"
        if float(self.value).is_integer():
            return f"{int(self.value):,} {self.unit}".strip()
        return f"{self.value:.2f} {self.unit}".strip()

    def status(self) -> str:
        return "" if self.passed is None else ("pass" if self.passed else "MISS")


def print_figures(figures: Sequence[Figure]) -> None:
    from tabulate import tabulate

    rows = [(f.benchmark, f.name, f.cell(), f.target, f.status(), f.note) for f in figures]
    print(tabulate(rows, headers=("benchmark", "figure", "value", "target", "", "note"), tablefmt="github"))


def write_results(path: Path, figures: Sequence[Figure], extra: dict[str, Any] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    existing: dict[str, Any] = {}
    if path.exists():
        with contextlib.suppress(ValueError):
            existing = json.loads(path.read_text())
    benchmarks = {f.benchmark for f in figures}
    kept = [f for f in existing.get("figures", []) if f.get("benchmark") not in benchmarks]
    data = {
        "latency_seconds": LATENCY,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "figures": kept + [dataclasses.asdict(f) for f in figures],
        "details": {**existing.get("details", {}), **(extra or {})},
    }
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


# -- data and backend ----------------------------------------------------------------------------


def data(size: str | Size, regenerate: bool = False) -> Generated:
    """The generated pipeline of one size; generated on first use (deterministic, ~2 s)."""
    chosen = SIZES[size] if isinstance(size, str) else size
    made = Generated(DEFAULT_OUT / chosen.name, chosen)
    if regenerate or not (
        made.metadata.exists() and (made.repo / ".git").exists() and made.manifest.exists()
    ):
        return generate(DEFAULT_OUT, chosen)
    return made


@dataclasses.dataclass
class Backend:
    """The BigQuery stand-in, and the sandbox's REST fakes for the pipeline's other services
    (Cloud Run, IAM permission tests, quotas, API states) at the same latency, with the
    sandbox's IAM fake behind a real service-account key."""

    standin: BigQueryStandin
    world: World

    def env(self) -> dict[str, str]:
        """Environment of a suite process: the local ADC and endpoints, nothing of the host's."""
        env = self.world.env()
        endpoints = {**self.world.endpoints(), "bigquery": self.standin.url}
        return {**env, "READINESS_ENDPOINTS": json.dumps(endpoints, sort_keys=True)}

    def applied(self) -> contextlib.AbstractContextManager[None]:
        """env() in this process (benchmarks that call the suite's modules in-process)."""
        return environment_applied(self.env())

    def services(self) -> list[FakeServer]:
        """The fakes with latency: every service but the token endpoint."""
        return [f for f in self.world.fakes() if f is not self.world.iam]

    def service_requests(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for fake in self.services():
            counts.update(fake.request_counts())
        return dict(sorted(counts.items()))

    def set_latency(self, seconds: float) -> None:
        self.standin.latency = seconds
        for fake in self.services():
            fake.clear_faults()
            if seconds:
                fake.add_fault(FaultRule.slow(seconds, count=None))

    def reset(self) -> None:
        self.standin.reset_counts()
        for fake in self.world.fakes():
            fake.reset_counts()


@contextlib.contextmanager
def backend(made: Generated, latency: float = LATENCY) -> Iterator[Backend]:
    from readiness.manifest import load_manifest
    from sandbox.seed import seed_services

    with tempfile.TemporaryDirectory(prefix="bench-backend-") as tmp:
        standin = BigQueryStandin(made.metadata, latency=latency)
        world = World(Path(tmp), standin.project, bigquery=False, storage=False)
        with standin, world:
            seed_services(world, load_manifest(made.manifest))
            be = Backend(standin, world)
            be.set_latency(latency)
            yield be


# -- suite runs ----------------------------------------------------------------------------------


@dataclasses.dataclass
class SuiteRun:
    label: str
    args: list[str]
    wall: float
    returncode: int
    probe: dict[str, Any]
    hits: list[Hit]
    out_dir: Path
    tail: str
    #: Requests to the other services (Cloud Run, IAM tests, quotas, APIs), per method.
    services: dict[str, int] = dataclasses.field(default_factory=dict)
    #: Each xdist worker's timeline (bench.probe marks), by worker id.
    workers: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)

    def mark(self, name: str) -> float:
        return float(self.probe.get("marks", {}).get(name, float("nan")))

    @property
    def started(self) -> float:
        return self.mark("_started")

    @property
    def reports_seconds(self) -> float:
        """Documents, results JSON, history, HTML and the terminal summary: all session-finish
        hooks (the terminal summary runs inside the terminal reporter's session finish)."""
        return self.mark("sessionfinish_end") - self.mark("sessionfinish_start")

    @property
    def checks_seconds(self) -> float:
        return self.mark("runtestloop_end") - self.mark("runtestloop_start")

    @property
    def startup_seconds(self) -> float:
        """Interpreter start, imports, plugins, manifest and collection (up to the first check)."""
        return self.mark("runtestloop_start") - self.started

    @property
    def cpu_seconds(self) -> float:
        """CPU time of the controller and the processes it waited for (a serial run: all of it)."""
        return float(self.probe.get("controller_cpu_seconds", 0)) + float(
            self.probe.get("children_cpu_seconds", 0)
        )

    @property
    def controller_rss_mb(self) -> float:
        return float(self.probe.get("controller_max_rss_bytes", 0)) / 1e6

    def worker_seconds(self, start: str, end: str) -> list[float]:
        """Per worker: seconds from the mark `start` to `end` ("_started": the run's start)."""
        return [
            marks[end] - (self.started if start == "_started" else marks[start])
            for marks in self.workers.values()
        ]

    def per_dataset(self) -> dict[str, int]:
        return BigQueryStandin.per_dataset(self.hits)

    def routes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for hit in self.hits:
            counts[hit.route] = counts.get(hit.route, 0) + 1
        return dict(sorted(counts.items()))


def run_suite(
    made: Generated,
    be: Backend,
    args: Sequence[str] = (),
    label: str = "",
    tests: Sequence[str] = (),
    extra_env: dict[str, str] | None = None,
) -> SuiteRun:
    """The real suite on the generated pipeline, against the backend; one subprocess."""
    run_dir = OUT / "runs" / f"{made.size.name}-{label or 'run'}"
    out_dir = run_dir / "reports"
    run_dir.mkdir(parents=True, exist_ok=True)
    probe_file = run_dir / "probe.json"
    probe_file.unlink(missing_ok=True)
    for stale in run_dir.glob(f"{probe_file.name}.*"):
        stale.unlink()
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(REPO / "pytest.ini"),
        "--rootdir",
        str(REPO),
        *(tests or [str(REPO / "checks")]),
        "--manifest",
        str(made.manifest),
        "--readiness-out",
        str(out_dir),
        "--readiness-now",
        NOW.replace(tzinfo=None).isoformat(),
        "--history",
        str(run_dir / "history.sqlite"),
        "-p",
        "bench.probe",
        "-q",
        *args,
    ]
    env = {
        # Without PYTHONDONTWRITEBYTECODE (a developer's shell may set it): a user's runs keep
        # their bytecode, and pytest then rewrites the suite's modules once, not on every run.
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "READINESS_")) and k != "PYTHONDONTWRITEBYTECODE"
        },
        **be.env(),
        "READINESS_ENV_CACHE": str(ENV_CACHE),
        OUT_ENV: str(probe_file),
        "PYTHONPATH": str(REPO),
        **(extra_env or {}),
    }
    profile = (extra_env or {}).get("BENCH_CPROFILE")
    if profile:
        argv[1:1] = ["-m", "cProfile", "-o", profile]
    (run_dir / "history.sqlite").unlink(missing_ok=True)
    be.reset()
    started = time.time()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.time() - started
    probe: dict[str, Any] = json.loads(probe_file.read_text()) if probe_file.exists() else {}
    probe.setdefault("marks", {})["_started"] = started
    workers = {
        path.suffix.lstrip("."): dict(json.loads(path.read_text())["marks"])
        for path in sorted(run_dir.glob(f"{probe_file.name}.*"))
    }
    output = proc.stdout + proc.stderr
    (run_dir / "output.txt").write_text(output)
    tail = "\n".join(output.strip().splitlines()[-25:])
    return SuiteRun(
        label,
        list(args),
        wall,
        proc.returncode,
        probe,
        be.standin.hits(),
        out_dir,
        tail,
        be.service_requests(),
        workers,
    )


class Session:
    """One backend per size, kept for the whole bench run, and the suite runs already made:
    benchmarks that need the same run (the nightly serial run feeds three of them) share it."""

    def __init__(self, latency: float = LATENCY) -> None:
        self.latency = latency
        self._stack = contextlib.ExitStack()
        self._backends: dict[str, tuple[Generated, Backend]] = {}
        self._runs: dict[tuple[str, str], SuiteRun] = {}
        self.details: dict[str, Any] = {}

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def backend(self, size: str) -> tuple[Generated, Backend]:
        if size not in self._backends:
            made = data(size)
            be = self._stack.enter_context(backend(made, self.latency))
            self._backends[size] = (made, be)
            warm(made, be)
            # Unmeasured, like a user's second run: the interpreter's bytecode cache and pytest's
            # cache of its rewritten modules are written, and the pipeline's run environment is
            # built into the bench's cache (with the host's network: the measured runs are
            # offline), so runs time the suite, not compiling or installing.
            host_proxies = {k: os.environ.get(k, "") for k in ("HTTPS_PROXY", "HTTP_PROXY")}
            run_suite(made, be, ["-k", "package_installed"], label="warm-up", extra_env=host_proxies)
        return self._backends[size]

    def run(self, size: str, label: str, args: Sequence[str] = (), tests: Sequence[str] = ()) -> SuiteRun:
        key = (size, label)
        if key not in self._runs:
            made, be = self.backend(size)
            run = run_suite(made, be, args, label=label, tests=tests)
            if not run.probe.get("marks", {}).get("unconfigure"):
                raise RuntimeError(
                    f"suite run {size}/{label} did not finish (exit {run.returncode}):\n{run.tail}"
                )
            self._runs[key] = run
            self.details[f"{size}/{label}"] = summary(run)
            print(f"  [{size}/{label}] {run.wall:.1f} s, exit {run.returncode}, {len(run.hits)} BigQuery requests, "
                  f"{sum(run.services.values())} to the other services", flush=True)  # fmt: skip
        return self._runs[key]

    #: The nightly run: every check, all documents and the HTML report.
    def nightly(self, size: str, workers: int = 0) -> SuiteRun:
        label = "nightly" if not workers else f"nightly-n{workers}"
        html = OUT / "runs" / f"{size}-{label}" / "report.html"
        args = ["--html", str(html), "--self-contained-html"]
        if workers:
            args += ["-n", str(workers)]
        return self.run(size, label, args)


def summary(run: SuiteRun) -> dict[str, Any]:
    return {
        "args": run.args,
        "wall_seconds": round(run.wall, 3),
        "startup_seconds": round(run.startup_seconds, 3),
        "checks_seconds": round(run.checks_seconds, 3),
        "reports_seconds": round(run.reports_seconds, 3),
        "controller_max_rss_mb": round(run.controller_rss_mb, 1),
        "cpu_seconds": round(run.cpu_seconds, 3),
        "items": run.probe.get("facts", {}).get("items"),
        "bigquery_requests": len(run.hits),
        "service_requests": run.services,
        "routes": run.routes(),
        "per_dataset": run.per_dataset(),
        "exit": run.returncode,
    }


def warm(made: Generated, be: Backend) -> None:
    """Take the suite's snapshot of every dataset once, unmeasured, so the stand-in has its query
    results ready: runs then time the suite and the modelled latency, not the stand-in's SQLite."""
    from checks.gcp.access import GoogleAccess, endpoints_for
    from checks.gcp.bq_snapshot import BigQueryMetadata, DatasetRef
    from checks.gcp.credentials import resolve_identity
    from readiness.manifest import load_manifest

    loaded = load_manifest(made.manifest)
    gcp = loaded.manifest.gcp
    assert gcp is not None
    latency = be.standin.latency
    be.set_latency(0.0)
    try:
        with be.applied():
            endpoints = endpoints_for(gcp)
            identity = resolve_identity(gcp.impersonate, endpoints.iamcredentials, gcp.timeout_seconds)
        metadata = BigQueryMetadata(GoogleAccess(gcp, identity, endpoints))
        for dataset in loaded.manifest.datasets:
            metadata.snapshot(DatasetRef.parse(dataset.subject, gcp.project))
    finally:
        be.set_latency(latency)
        be.reset()


def run_alone(run: Callable[[Session], list[Figure]], results: str = "results.json") -> None:
    """`python -m bench.<one>`: run one benchmark in its own session, print and save its figures."""
    with Session() as session:
        figures = run(session)
        print_figures(figures)
        write_results(OUT / results, figures, session.details)
