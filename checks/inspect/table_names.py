"""Table names a script declares or spells in its source, judged against a naming mandate.

Pure functions over names: the source is read with `ast` (never run), and a name pattern
(`cov_agg_{pair}`, an f-string `f"lag_{pair}_{window}"`) is judged by whether any name it can
produce follows the family's table pattern: the two are regular languages, and their
intersection being empty (interegular) proves that no value of the placeholders complies.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import interegular

from checks.inspect.mandates import in_family
from readiness.manifest.gcp import Family
from readiness.manifest.tables import ENTRY

__all__ = ["TableRef", "can_comply", "family_of", "parse_entry", "source_table_names"]

#: A `{placeholder}` of a declared pattern stands for one name segment (no `_`): `{pair}`.
_SEGMENT: Final = "[A-Za-z0-9-]+"
#: Marks an f-string's replacement field while its text is scanned.
_HOLE: Final = "\x00"
_PART: Final = rf"[A-Za-z0-9_\-{_HOLE}*]+"
_BACKTICKED: Final = re.compile(r"`([^`]+)`")
_AFTER_KEYWORD: Final = re.compile(
    rf"\b(?:FROM|JOIN|INTO|UPDATE|TABLE|MERGE)\s+({_PART}(?:\.{_PART}){{0,2}})", re.IGNORECASE
)
_SQL: Final = re.compile(
    r"^\s*(?:WITH|SELECT|INSERT|UPDATE|DELETE|MERGE|CREATE|ALTER|DROP|TRUNCATE)\b", re.IGNORECASE
)
_DOTTED_ID: Final = re.compile(rf"^{_PART}(?:\.{_PART}){{1,2}}$")
_BARE_ID: Final = re.compile(rf"^{_PART}$")
#: The last part of `x.csv`: a file name, never a table (seen in sm-etl-cloud-run's ETL scripts).
_FILE_EXTENSIONS: Final = frozenset(
    {"csv", "json", "jsonl", "parquet", "avro", "orc", "txt", "sql", "py", "yaml", "yml", "toml",
     "gz", "zip", "xlsx", "xls", "log", "dbc", "dbf", "pkl", "pickle", "md"}
)  # fmt: skip
#: google-cloud-bigquery calls whose string arguments are table ids.
_TABLE_CALLS: Final = frozenset(
    {
        "Table",
        "TableReference",
        "get_table",
        "create_table",
        "delete_table",
        "update_table",
        "list_rows",
        "insert_rows",
        "insert_rows_json",
        "load_table_from_dataframe",
        "load_table_from_uri",
        "load_table_from_file",
        "load_table_from_json",
        "copy_table",
        "extract_table",
    }
)


@dataclass(frozen=True, slots=True)
class TableRef:
    """One table name, pattern or family, as declared or as found in the source."""

    #: As written ("bqx_ml_v3_features.cov_agg_{pair}", "COV").
    text: str
    #: The dataset it names ("" = any dataset the manifest audits).
    dataset: str
    #: The table part; `*` any text, `{x}` one segment.
    name: str
    #: For a family entry (`COV`): the family, whose `match` decides membership.
    family: Family | None = None
    #: Source line it was found on (0: declared in the manifest).
    line: int = 0

    @property
    def is_pattern(self) -> bool:
        return "*" in self.name or "{" in self.name

    @property
    def regex(self) -> str:
        parts = re.split(r"(\*|\{[A-Za-z0-9_]*\})", self.name)
        return "".join(
            ".*" if p == "*" else _SEGMENT if p.startswith("{") else re.escape(p) for p in parts if p
        )

    @property
    def literal(self) -> str:
        """The name without its placeholders: what family membership is decided on."""
        return re.sub(r"\*|\{[A-Za-z0-9_]*\}", "", self.name)

    def matches(self, table: str) -> bool:
        if self.family is not None:
            return in_family(table, self.family)
        return re.fullmatch(self.regex, table) is not None

    def where(self) -> str:
        return f"{self.text} (line {self.line})" if self.line else self.text


def parse_entry(text: str, families: Sequence[Family]) -> TableRef:
    """A manifest entry (validated by readiness/manifest/tables.py)."""
    match = ENTRY.match(text)
    assert match is not None, text
    dataset, name = match["dataset"] or "", match["name"]
    if not dataset:
        family = next((f for f in families if f.family == name), None)
        if family is not None:
            return TableRef(text, "", name, family)
    return TableRef(text, dataset, name)


def family_of(ref: TableRef, families: Sequence[Family]) -> Family | None:
    """The naming family a name or pattern belongs to (None: the mandate does not cover it)."""
    if ref.family is not None:
        return ref.family
    literal = ref.literal
    return next((f for f in families if f.table_pattern and literal and in_family(literal, f)), None)


def can_comply(ref: TableRef, family: Family) -> bool:
    """Whether the name, or some name the pattern produces, follows the family's table pattern."""
    if ref.family is not None or not family.table_pattern:
        return True  # a family entry names no table of its own
    if not ref.is_pattern:
        return re.fullmatch(family.table_pattern, ref.name) is not None
    mandated = _unanchored(family.table_pattern)
    try:
        ours = interegular.parse_pattern(ref.regex).to_fsm()
        theirs = interegular.parse_pattern(mandated).to_fsm()
        return not ours.intersection(theirs).empty()  # type: ignore[no-untyped-call]
    except Exception:  # a construct interegular does not model (lookaround): no proof either way
        return True


def _unanchored(pattern: str) -> str:
    # The mandate's patterns are full matches already; interegular models no anchors.
    return pattern.removeprefix("^").removesuffix("$")


def source_table_names(text: str, filename: str) -> list[TableRef]:
    """Table names and f-string patterns spelled in a Python source: backticked names and names
    after FROM/JOIN/INTO/UPDATE/TABLE/MERGE in SQL text, `dataset.table` strings, and string
    arguments of the BigQuery client's table calls. Raises SyntaxError."""
    tree = ast.parse(text, filename)
    found: dict[tuple[str, str], TableRef] = {}
    inner: set[int] = set()
    call_args: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            inner.add(id(body[0].value))  # a docstring is prose, not SQL
        if isinstance(node, ast.JoinedStr):
            inner.update(id(v) for v in node.values)
        if isinstance(node, ast.Call) and _call_name(node.func) in _TABLE_CALLS:
            call_args.update(id(a) for a in [*node.args, *(k.value for k in node.keywords)])
    for node in ast.walk(tree):
        if id(node) in inner:
            continue
        string = _string(node)
        if string is None:
            continue
        line = getattr(node, "lineno", 0)
        for candidate in _candidates(string, id(node) in call_args):
            ref = _ref(candidate, line)
            if ref is not None:
                found.setdefault((ref.dataset, ref.name), ref)
    return sorted(found.values(), key=lambda r: (r.line, r.name))


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _string(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else _HOLE
            for v in node.values
        )
    return None


def _candidates(string: str, table_argument: bool) -> Iterable[str]:
    yield from _BACKTICKED.findall(string)
    if _SQL.match(string):
        # A backticked name is taken whole above; what follows a keyword unquoted is a name too.
        yield from _AFTER_KEYWORD.findall(_BACKTICKED.sub("\x01", string))
    stripped = string.strip()
    if _DOTTED_ID.match(stripped) or (table_argument and _BARE_ID.match(stripped)):
        yield stripped


def _ref(candidate: str, line: int) -> TableRef | None:
    parts = candidate.replace(_HOLE, "*").split(".")
    if any(p.upper() == "INFORMATION_SCHEMA" for p in parts):
        return None
    if len(parts) >= 2 and parts[-1].lower() in _FILE_EXTENSIONS:
        return None  # `f"{name}_{date}.csv"`: a file, not `dataset.table`
    table = re.sub(r"\*+", "*", parts[-1])
    if not table or table == "*" or table.startswith("__") or not re.search(r"[A-Za-z]", table):
        return None
    dataset = parts[-2] if len(parts) >= 2 and "*" not in parts[-2] else ""
    return TableRef(candidate.replace(_HOLE, "{…}"), dataset, table, line=line)
