"""What a Python script needs and offers, found statically (the script is never run)."""

from __future__ import annotations

import ast
import posixpath
import sys
from dataclasses import dataclass, field
from pathlib import Path

from checks.inspect.python_flags import FlagFacts, collect_flags

__all__ = [
    "ImportNeed",
    "PathAddition",
    "PythonSource",
    "installed_projects",
    "is_local_import",
    "local_module_file",
    "local_modules",
    "local_roots",
    "parse_python",
    "third_party",
]


@dataclass(frozen=True, slots=True)
class ImportNeed:
    """One import the script cannot start without."""

    #: The module named by `import a.b` or `from a.b import c` ("a.b").
    module: str
    #: The name a `from` import takes from it ("c"); empty for `import a.b`. When it is a
    #: submodule, that submodule is what must exist: `from google.cloud import pubsub_v1` needs
    #: google.cloud.pubsub_v1, which any other google-cloud package does not provide.
    name: str = ""

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}" if self.name else self.module


@dataclass(frozen=True, slots=True)
class PathAddition:
    """A folder the script puts on sys.path: relative to its own folder, or to the working one."""

    base: str  # "script" or "cwd"
    rel: str


@dataclass(frozen=True, slots=True)
class PythonSource:
    #: Dotted modules imported anywhere in the file (absolute imports only).
    imports: tuple[str, ...]
    #: Option strings the script's parsers accept ("--workers", "-w"), wherever they are defined.
    flags: tuple[str, ...]
    #: True when the script parses with sys.argv by hand, so flags cannot be found statically.
    reads_argv: bool = field(default=False)
    #: Imports the script needs to start: not optional (try/except ImportError), not typing-only,
    #: not behind a version check.
    needs: tuple[ImportNeed, ...] = ()
    #: Folders added to sys.path by the script itself.
    path_additions: tuple[PathAddition, ...] = ()
    #: How the script builds its command line beyond literal option strings.
    flag_facts: FlagFacts = field(default_factory=FlagFacts)


def parse_python(text: str, filename: str) -> PythonSource:
    """Parse a script; raises SyntaxError with the file's line number when it does not parse."""
    tree = parse_tree(text, filename)
    collector = _Collector()
    collector.visit(tree)
    facts = collect_flags(tree)
    return PythonSource(
        imports=tuple(dict.fromkeys(collector.imports)),
        flags=facts.flags,
        reads_argv=collector.reads_argv,
        needs=tuple(dict.fromkeys(collector.needs)),
        path_additions=tuple(dict.fromkeys(collector.path_additions)),
        flag_facts=facts,
    )


def parse_tree(text: str, filename: str, feature_version: tuple[int, int] | None = None) -> ast.Module:
    """ast.parse with every way CPython refuses a file turned into a SyntaxError with a line."""
    try:
        return ast.parse(text, filename=filename, feature_version=feature_version)
    except (RecursionError, MemoryError):
        # CPython reports nesting too deep for its parser as one of these (3.11: MemoryError
        # "s_push: parser stack overflow"); python itself would refuse the file the same way.
        raise SyntaxError(
            "nested too deeply for the Python parser (line not known)", (filename, 1, 0, None)
        ) from None
    except ValueError as exc:  # NUL bytes past the binary sniff (some 3.11 releases)
        raise SyntaxError(str(exc), (filename, _nul_line(text), 0, None)) from None
    except SyntaxError as exc:
        if exc.lineno is None:  # "source code string cannot contain null bytes" has no line
            exc.lineno = _nul_line(text)
        raise


def _nul_line(text: str) -> int:
    at = text.find("\0")
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


#: Exceptions whose handler makes an import optional (a bare `except:` too).
_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type
    if kinds is None:
        return True
    names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
    return any(
        (isinstance(n, ast.Name) and n.id in _IMPORT_ERRORS)
        or (isinstance(n, ast.Attribute) and n.attr in _IMPORT_ERRORS)
        for n in names
    )


def _mentions(
    node: ast.AST, *, names: frozenset[str] = frozenset(), sys_attrs: frozenset[str] = frozenset()
) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in names:
            return True
        if isinstance(sub, ast.Attribute) and (
            sub.attr in names
            or (sub.attr in sys_attrs and isinstance(sub.value, ast.Name) and sub.value.id == "sys")
        ):
            return True
    return False


class _Collector(ast.NodeVisitor):
    def __init__(self) -> None:
        self.imports: list[str] = []
        self.needs: list[ImportNeed] = []
        self.path_additions: list[PathAddition] = []
        self.reads_argv = False
        self._optional = 0
        self._paths: dict[str, PathAddition] = {}

    # -- what makes an import optional ------------------------------------------------------

    def visit_Try(self, node: ast.Try | ast.TryStar) -> None:
        optional = any(_catches_import_error(h) for h in node.handlers)
        self._optional += optional
        for child in node.body:
            self.visit(child)
        for handler in node.handlers:  # the fallback of an optional import is an alternative
            self.visit(handler)
        self._optional -= optional
        for child in [*node.orelse, *node.finalbody]:
            self.visit(child)

    visit_TryStar = visit_Try

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        if _mentions(node.test, names=frozenset({"TYPE_CHECKING"})):
            self._optional += 1
            for child in node.body:
                self.visit(child)
            self._optional -= 1
            for child in node.orelse:
                self.visit(child)
            return
        # Each branch of a version or platform check runs on some interpreter only.
        gated = _mentions(node.test, sys_attrs=frozenset({"version_info", "platform", "version"}))
        self._optional += gated
        for child in [*node.body, *node.orelse]:
            self.visit(child)
        self._optional -= gated

    # -- imports ----------------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imports.append(alias.name)
            if not self._optional:
                self.needs.append(ImportNeed(alias.name))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return  # relative: the script's own package
        self.imports.append(node.module)
        if self._optional or node.module == "__future__":
            return
        for alias in node.names:
            self.needs.append(ImportNeed(node.module, "" if alias.name == "*" else alias.name))

    # -- sys.path and sys.argv --------------------------------------------------------------

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        value = _path_expr(node.value, self._paths)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if value is not None:
                    self._paths[target.id] = value
                else:
                    self._paths.pop(target.id, None)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        func = node.func
        if not isinstance(func, ast.Attribute):
            return
        target = _dotted(func.value)
        arg: ast.expr | None = None
        if target == "sys.path" and func.attr == "append" and node.args:
            arg = node.args[0]
        elif target == "sys.path" and func.attr == "insert" and len(node.args) == 2:
            arg = node.args[1]
        elif target == "site" and func.attr == "addsitedir" and node.args:
            arg = node.args[0]
        if arg is not None:
            added = _path_expr(arg, self._paths)
            if added is not None:
                self.path_additions.append(added)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "argv" and isinstance(node.value, ast.Name) and node.value.id == "sys":
            self.reads_argv = True
        self.generic_visit(node)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


#: Calls that keep a path's meaning: os.path.abspath(x), str(x), Path(x), x.resolve(), ...
_SAME_PATH = frozenset(
    {"os.path.abspath", "os.path.realpath", "os.path.normpath", "str", "Path", "pathlib.Path", "os.fspath"}
)
_SAME_PATH_METHODS = frozenset({"resolve", "absolute", "as_posix"})


def _path_expr(node: ast.expr, names: dict[str, PathAddition]) -> PathAddition | None:
    """The folder an expression names, relative to the script's folder or the working folder.

    `__file__` is the script; dirname/parent go up, join and `/` go down. Anything else
    (environment variables, user input) is not a folder we can know: None.
    """
    if isinstance(node, ast.Name):
        if node.id == "__file__":
            return PathAddition("file", "")
        return names.get(node.id)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if node.value.startswith("/"):
            return None
        return PathAddition("cwd", posixpath.normpath(node.value))
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        return _parent(_path_expr(node.value, names))
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "parents"
    ):
        base = _path_expr(node.value.value, names)
        index = node.slice
        if isinstance(index, ast.Constant) and isinstance(index.value, int):
            for _ in range(index.value + 1):
                base = _parent(base)
            return base
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _join(_path_expr(node.left, names), [node.right], names)
    if isinstance(node, ast.Call):
        func = _dotted(node.func)
        if func in _SAME_PATH and len(node.args) == 1:
            return _path_expr(node.args[0], names)
        if func == "os.path.dirname" and len(node.args) == 1:
            return _parent(_path_expr(node.args[0], names))
        if func == "os.path.join" and node.args:
            return _join(_path_expr(node.args[0], names), node.args[1:], names)
        if isinstance(node.func, ast.Attribute) and not node.args and node.func.attr in _SAME_PATH_METHODS:
            return _path_expr(node.func.value, names)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "joinpath":
            return _join(_path_expr(node.func.value, names), node.args, names)
    return None


def _parent(path: PathAddition | None) -> PathAddition | None:
    if path is None:
        return None
    if path.base == "file":
        return PathAddition("script", "")
    return PathAddition(path.base, posixpath.normpath(posixpath.join(path.rel, "..")))


def _join(
    base: PathAddition | None, parts: list[ast.expr], names: dict[str, PathAddition]
) -> PathAddition | None:
    if base is None or base.base == "file":
        return None
    rel = base.rel
    for part in parts:
        if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
            return None
        rel = posixpath.join(rel, part.value)
    return PathAddition(base.base, posixpath.normpath(rel))


# -- the repository's own code ------------------------------------------------------------

#: Folders never searched for the repository's own packages.
_SKIP_DIRS = frozenset(
    {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox", "site-packages"}
)
#: How deep below the root a pyproject.toml/setup.py still declares one of the repo's packages.
_PROJECT_DEPTH = 3


def local_roots(
    root: Path,
    script: str,
    python_path: tuple[str, ...] = (),
    additions: tuple[PathAddition, ...] = (),
    projects: tuple[Path, ...] | None = None,
) -> list[Path]:
    """Folders the pipeline's sys.path gives the repository's own code, for one script.

    Python puts the script's folder first; the pipeline runs from the repo root; a `src/` layout
    and every project the repo installs itself (`pip install -e .`, a pyproject.toml or
    setup.py in a subfolder) add theirs; so do the runtime's PYTHONPATH (the manifest's
    `python_path`) and the script's own sys.path.append.

    `projects`: `installed_projects(root)` as the caller keeps it for the run (every script of a
    200-script inventory asks); walked here when not given.
    """
    script_dir = (root / script).parent
    found: list[Path] = [script_dir, root, *(root / p for p in python_path)]
    for add in additions:
        found.append((script_dir if add.base == "script" else root) / add.rel)
    for project in installed_projects(root) if projects is None else projects:
        found.extend((project, project / "src"))
    found.append(root / "src")
    resolved_root = root.resolve()
    result: list[Path] = []
    for folder in found:
        try:
            real = folder.resolve()
        except OSError:
            continue
        # A folder outside the audited tree is not the repository's code: never searched.
        if (real == resolved_root or resolved_root in real.parents) and real.is_dir() and real not in result:
            result.append(real)
    return result


def installed_projects(root: Path) -> tuple[Path, ...]:
    """Folders holding a project the repo installs itself (a pyproject.toml or setup.py)."""
    projects: list[Path] = []
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            children = sorted(folder.iterdir())
        except OSError:
            continue
        names = {c.name for c in children}
        if names & {"pyproject.toml", "setup.py", "setup.cfg"}:
            projects.append(folder)
        if depth < _PROJECT_DEPTH:
            stack.extend(
                (c, depth + 1)
                for c in children
                if c.is_dir()
                and not c.is_symlink()
                and c.name not in _SKIP_DIRS
                and not c.name.startswith(".")
            )
    return tuple(projects)


def is_local_import(need: ImportNeed, roots: list[Path]) -> bool:
    """True when the import is the repository's own code in one of `roots`.

    A regular package or module there shadows the environment entirely; a folder without
    `__init__.py` is a namespace portion, local only when the imported module itself is found
    in it (`google/` holding the repo's extension does not make google.cloud.bigquery local).
    """
    parts = need.module.split(".")
    for folder in roots:
        top = folder / parts[0]
        if (folder / f"{parts[0]}.py").is_file() or (top / "__init__.py").is_file():
            return True
        if not top.is_dir():
            continue
        wanted = parts[1:] + ([need.name] if need.name else [])
        here = top
        for part in wanted:
            if (here / f"{part}.py").is_file() or (here / part / "__init__.py").is_file():
                return True
            if not (here / part).is_dir():
                break  # not in this portion of the namespace: maybe another root, or installed
            here = here / part
        else:
            return True
    return False


def local_modules(root: Path, script: str, projects: tuple[Path, ...] | None = None) -> set[str]:
    """Top-level names importable from the repo itself (for the inventory's dependency column);
    `projects` as for local_roots."""
    names: set[str] = set()
    for folder in local_roots(root, script, projects=projects):
        try:
            children = list(folder.iterdir())
        except OSError:
            continue
        for child in children:
            if child.suffix == ".py":
                names.add(child.stem)
            elif child.is_dir() and (child / "__init__.py").is_file():
                names.add(child.name)
    return names


def third_party(imports: tuple[str, ...], local: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Top-level names of imports that are not in the standard library, in first-seen order."""
    tops = (name.split(".", 1)[0] for name in imports)
    return list(
        dict.fromkeys(
            t for t in tops if t not in sys.stdlib_module_names and t != "__future__" and t not in local
        )
    )


def local_module_file(need: ImportNeed, roots: list[Path]) -> Path | None:
    """The repository file an import of its own code reads (`from options import x`: options.py)."""
    parts = need.module.split(".")
    for folder in roots:
        for dotted in ([*parts, need.name], parts) if need.name else (parts,):
            base = folder.joinpath(*dotted)
            for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
                if candidate.is_file():
                    return candidate
    return None
