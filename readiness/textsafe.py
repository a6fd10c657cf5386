"""The one place every text bound for an output passes through: secrets redacted, control
characters made visible, a runaway value cut.

Findings quote the audited repository (a requirements line, a Cloud Build argument, a Dockerfile
CMD) and Google listings (object names); either may carry a credential or characters that
rewrite a terminal (ANSI escapes: a fake green "GO"), reorder a line (bidi overrides) or split
"one error line" in two. The results plugin applies `safe_text`/`safe_obj` to each case's
message, facts and failure text before anything is written or sent to the controller, and
again to every document it writes; the manifest's error line goes through `one_line`.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["REDACTED", "one_line", "redact", "safe_obj", "safe_text", "visible"]

REDACTED: Final = "<redacted>"

#: The authority after `scheme://`: its userinfo runs to the LAST `@` before the path, so a
#: password that itself holds an `@` is redacted whole.
_AUTHORITY: Final = re.compile(r"[^\s/?#<>\"'`]*")
#: NAME=value where a segment of NAME says it is secret (API_TOKEN=, db.password=, AUTH=);
#: `monkey=` or `keyword=` are not (KEY must be a whole segment), nor `google-auth==2.0`. The
#: name is matched loosely here and judged by _SECRET_NAME (one pattern would backtrack on
#: every word of a large document).
_EQUALS: Final = re.compile(r"(?<![=!<>~])=(?!=)")
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_VALUE_AFTER: Final = re.compile(r"(\s*)(?:\"[^\"]*\"|'[^']*'|[^\s\"'`,;&|)]+)")
_SECRET_NAME: Final = re.compile(
    r"(?i)(?:^|[_.\-])(?:token|secret|password|passwd|pwd|key|apikey|credentials?|auth)(?:$|[_.\-])"
)
#: Token shapes that are secret wherever they appear.
_TOKENS: Final = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,}|ya29\.[A-Za-z0-9_\-.]{10,}"
    r"|AIza[0-9A-Za-z_\-]{30,}|xox[abprs]-[A-Za-z0-9\-]{10,}|glpat-[A-Za-z0-9_\-]{16,})"
)
_TOKEN_MARKERS: Final = re.compile(r"gh[pousr]_|github_pat_|ya29\.|AIza|xox|glpat-")
_BEARER: Final = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9_\-.=+/]{16,}")
_PRIVATE_KEY: Final = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|.*\Z)", re.S
)
#: A cheap first look: most texts (names, dates) hold none of these and skip the substitutions.
_SUSPECT: Final = re.compile(
    r"://|=|gh[pousr]_|github_pat_|ya29\.|AIza|xox|glpat-|[Bb]earer|BEARER|-----BEGIN"
)

#: C0 controls but tab and newline, DEL, C1 controls, and the Unicode format characters that
#: reorder or hide text (bidi embeddings, overrides and isolates, marks, zero-width joiners).
_INVISIBLE: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)


def redact(text: str) -> str:
    if not _SUSPECT.search(text):
        return text
    # Each substitution only where its cheap marker is present: a scan per pattern of a
    # megabyte document costs a second otherwise.
    if "-----BEGIN" in text:
        text = _PRIVATE_KEY.sub(f"-----{REDACTED} PRIVATE KEY-----", text)
    if "://" in text:
        text = _redact_userinfo(text)
    if "=" in text:
        text = _redact_assignments(text)
    if _TOKEN_MARKERS.search(text):
        text = _TOKENS.sub(REDACTED, text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(rf"\1 {REDACTED}", text)
    return text


def _redact_userinfo(text: str) -> str:
    pieces: list[str] = []
    done = 0
    start = text.find("://")
    while start != -1:
        begin = start + 3
        authority = _AUTHORITY.match(text, begin)
        at = authority.group().rfind("@") if authority else -1
        if at > 0:
            pieces.append(text[done:begin] + REDACTED)
            done = begin + at
        start = text.find("://", begin)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _redact_assignments(text: str) -> str:
    """Each `=` is looked at once: the name before it judged, the value after it replaced."""
    pieces: list[str] = []
    done = 0
    for eq in _EQUALS.finditer(text):
        start = eq.end()
        if start < done:
            continue
        name = _name_before(text, eq.start())
        if not name or not _SECRET_NAME.search(name):
            continue
        value = _VALUE_AFTER.match(text, start)
        if value is None:
            continue
        pieces.append(text[done:start] + value.group(1))
        pieces.append(REDACTED)
        done = value.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _name_before(text: str, end: int) -> str:
    """The word right before position `end` (spaces between skipped), at most 100 characters."""
    while end > 0 and text[end - 1] in " \t":
        end -= 1
    start = end
    while start > 0 and end - start < 100 and text[start - 1] in _NAME_CHARS:
        start -= 1
    return text[start:end]


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, newlines: bool = True) -> str:
    """Control and bidi characters as visible escapes (`\\x1b`, `\\u202e`); newlines kept or,
    for a one-line context, shown as `\\n`."""
    if text.isprintable():  # no control, format or separator character but the space: as is
        return text
    if _INVISIBLE.search(text):
        text = _INVISIBLE.sub(_escape, text)
    if not newlines:
        text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")
    return text


def safe_text(text: str, *, newlines: bool = True, limit: int | None = None) -> str:
    """Redacted, visible, and at most `limit` characters (an ellipsis says it was cut)."""
    text = visible(redact(text), newlines=newlines)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def one_line(text: str, limit: int = 1000) -> str:
    """An error line: one line, however many newlines or megabytes the value had."""
    return safe_text(text, newlines=False, limit=limit)


def safe_obj(value: Any) -> Any:
    """`safe_text` over every string of a JSON-like value (keys included)."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_obj(k) if isinstance(k, str) else k: safe_obj(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [safe_obj(v) for v in value]
    return value
