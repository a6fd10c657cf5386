"""Ask the interpreter that will run the scripts which modules and distributions it has.

The probes run in a subprocess of the target interpreter (it may not be ours) with `-I`: no
PYTHONPATH, no user site, no current folder, so nothing of the audited repository is on its
sys.path; the repository's own modules are found from the file tree instead (python_source).
Modules are located without importing anything: top-level names through find_spec (which
imports no package), submodules through PathFinder over the package's folders, so no
`__init__.py` runs. One probe per interpreter answers every question, so a 200-script
inventory costs one subprocess: the callers keep each answer for the run (readiness.memo), not
this module, since an interpreter's packages may change between two runs of one process.
"""

from __future__ import annotations

import json
import subprocess
import sys

__all__ = [
    "InterpreterError",
    "compile_sources",
    "import_distributions",
    "package_folder",
    "probe",
    "probe_imports",
]

_PROBE = r"""
import importlib.metadata as md, importlib.util as iu, json, sys
mods, dists = json.loads(sys.stdin.read())
found = {}
for name in mods:
    try:
        found[name] = iu.find_spec(name) is not None
    except Exception:
        found[name] = False
versions = {}
for name in dists:
    try:
        versions[name] = md.version(name)
    except md.PackageNotFoundError:
        versions[name] = None
print(json.dumps([found, versions]))
"""

# Runs on the pipeline's Python, which may be as old as 3.8: plain syntax only.
_IMPORTS_PROBE = r"""
import importlib.machinery as im, importlib.util as iu, json, os, re, sys

SUFFIXES = im.all_suffixes()

def folders(parts, locations):
    # Every sys.path folder holding this package: PEP 420, pkgutil and pkg_resources
    # namespaces spread one package over several site folders.
    locs = list(locations or [])
    for entry in sys.path:
        d = os.path.join(entry, *parts)
        if os.path.isdir(d) and d not in locs:
            locs.append(d)
    return locs

def child(name, locations):
    # (origin, submodule folders or None) of submodule `name` in the package folders, or None.
    # A namespace package's origin is None. Read from the file tree: nothing is imported.
    portions = []
    for folder in locations:
        base = os.path.join(folder, name)
        if os.path.isdir(base):
            for suffix in SUFFIXES:
                init = os.path.join(base, "__init__" + suffix)
                if os.path.isfile(init):
                    return init, [base]
            portions.append(base)
            continue
        for suffix in SUFFIXES:
            if os.path.isfile(base + suffix):
                return base + suffix, None
    return (None, portions) if portions else None

def find(dotted):
    parts = dotted.split(".")
    try:
        spec = iu.find_spec(parts[0])
    except Exception:
        return None, 0
    if spec is None:
        return None, 0
    found = (spec.origin, spec.submodule_search_locations)
    for i in range(1, len(parts)):
        if found[1] is None:
            return found, len(parts) - i  # a plain module: the rest are its attributes
        found = child(parts[i], folders(parts[:i], found[1]))
        if found is None:
            return None, 0
    return found, 0

def defines(origin, name):
    if not (origin or "").endswith(".py"):
        return True  # compiled or built in: its names cannot be read, so trusted
    try:
        with open(origin, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return True
    return "import *" in text or re.search(r"\b%s\b" % re.escape(name), text) is not None

answers = {}
for module, name in json.loads(sys.stdin.read()):
    found, attrs = find(module)
    key = module + ("." + name if name else "")
    if found is None:
        ok = False
    elif attrs or not name:
        ok = True
    elif found[1] is not None and child(name, folders(module.split("."), found[1])) is not None:
        ok = True
    elif found[0] is None and found[1] is not None:
        ok = False  # a namespace package has no attributes: the name must be a submodule
    else:
        ok = defines(found[0], name)
    answers[key] = ok
print(json.dumps({"found": answers, "executable": sys.executable,
                  "version": "%d.%d.%d" % sys.version_info[:3]}))
"""

_COMPILE = r"""
import json, sys
out = {}
for path, text in json.loads(sys.stdin.read()).items():
    try:
        compile(text, path, "exec", dont_inherit=True)
        out[path] = None
    except SyntaxError as e:
        out[path] = [e.lineno, e.msg]
    except (RecursionError, MemoryError):
        # How CPython's parser reports nesting too deep for it (3.11: an empty MemoryError).
        out[path] = [None, "nested too deeply for the Python parser (line not known)"]
    except ValueError as e:
        out[path] = [None, str(e)]
print(json.dumps({"errors": out, "version": "%d.%d.%d" % sys.version_info[:3]}))
"""


class InterpreterError(Exception):
    pass


def _run(exe: str, program: str, payload: str, timeout: float = 60) -> str:
    try:
        proc = subprocess.run(
            # -B: the probe writes nothing into the pipeline's environment (no .pyc beside its
            # packages); -I alone ignores PYTHONDONTWRITEBYTECODE.
            [exe, "-I", "-B", "-c", program],
            input=payload,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
        )
    except (FileNotFoundError, PermissionError):
        raise InterpreterError(f"interpreter {exe!r} not found") from None
    except subprocess.TimeoutExpired:
        raise InterpreterError(f"interpreter {exe!r} did not answer within {timeout:g} s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise InterpreterError(f"interpreter {exe!r} failed: {last}")
    return proc.stdout


def probe(
    python: str | None, modules: tuple[str, ...], dists: tuple[str, ...]
) -> tuple[dict[str, bool], dict[str, str | None]]:
    """(module -> importable, distribution -> installed version) in interpreter `python`."""
    out = _run(python or sys.executable, _PROBE, json.dumps([list(modules), list(dists)]))
    found, versions = json.loads(out)
    return dict(found), dict(versions)


def probe_imports(python: str, needs: tuple[tuple[str, str], ...]) -> dict[str, bool]:
    """`module[.name]` -> importable, for (module, from-name) pairs, without importing anything."""
    answer = json.loads(_run(python, _IMPORTS_PROBE, json.dumps([list(n) for n in needs])))
    return dict(answer["found"])


def compile_sources(
    python: str, sources: tuple[tuple[str, str], ...]
) -> dict[str, tuple[int | None, str] | None]:
    """path -> (line, message) of the SyntaxError `python` raises compiling it, or None.

    compile() only: nothing in the file runs. It catches what the parser alone accepts and
    the interpreter refuses to start (`return` outside a function, duplicate arguments,
    unknown __future__ features), judged by the pipeline's own Python version.
    """
    answer = json.loads(_run(python, _COMPILE, json.dumps(dict(sources)), timeout=120))
    return {path: (err[0], err[1]) if err else None for path, err in answer["errors"].items()}


_PACKAGE_FOLDER = r"""
import importlib.util as iu, json, sys
spec = iu.find_spec(sys.stdin.read().strip())
locations = list(spec.submodule_search_locations or []) if spec is not None else []
print(json.dumps(locations[0] if locations else None))
"""


def package_folder(python: str, package: str) -> str | None:
    """Where a top-level package of `python` lives (found, not imported), or None."""
    try:
        found = json.loads(_run(python, _PACKAGE_FOLDER, package))
    except (InterpreterError, ValueError):
        return None
    return found if isinstance(found, str) else None


# Which installed distribution provides each dotted import: the one whose RECORD holds the
# deepest matching path (`google.cloud.bigquery` -> google-cloud-bigquery, not every `google`
# distribution). Reads metadata only; runs on the pipeline's Python (3.8: no
# packages_distributions, so top_level.txt and RECORD are read directly).
_DISTRIBUTIONS = r"""
import importlib.metadata as md, json, sys
wanted = json.loads(sys.stdin.read())
tops = set(d.split(".")[0] for d in wanted)
prefixes = {}
for dist in md.distributions():
    try:
        name = dist.metadata["Name"]
        files = dist.files or []
    except Exception:
        continue
    if not name:
        continue
    seen = set()
    for f in files:
        parts = str(f).replace("\\", "/").split("/")
        if parts[0] not in tops and parts[0].split(".")[0] not in tops:
            continue
        if parts[-1].endswith(".py") or "." in parts[-1]:
            parts[-1] = parts[-1].split(".")[0]
        for i in range(1, len(parts) + 1):
            seen.add(".".join(parts[:i]))
    for p in seen:
        prefixes.setdefault(p, set()).add(name)
out = {}
for dotted in wanted:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        names = prefixes.get(".".join(parts[:i]))
        if names:
            out[dotted] = sorted(names)
            break
print(json.dumps(out))
"""


def import_distributions(python: str, dotted: tuple[str, ...]) -> dict[str, list[str]]:
    """Dotted import -> the distributions of `python` that provide it (found, not imported)."""
    try:
        answer = json.loads(_run(python, _DISTRIBUTIONS, json.dumps(list(dotted)), timeout=120))
    except (InterpreterError, ValueError):
        return {}
    return {str(k): [str(n) for n in v] for k, v in answer.items()} if isinstance(answer, dict) else {}
