"""Posting the verdict to a chat webhook (Slack-compatible JSON: {"text": ..., "blocks": [...]}).

Enabled by `--notify`. The URL is a secret: the manifest names the environment variable that
holds it (`[notify] webhook_env`), and no message, document or terminal line ever shows it. A
failed post is reported in the terminal summary and the JSON; it never changes the verdict or
the exit status.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from readiness.priorities import Priority

if TYPE_CHECKING:
    from reporting.audit import Audit

__all__ = ["NotifyResult", "payload", "post", "send"]

#: Seconds the whole post may take (connect, send, every read together): a chat service that
#: answers one byte at a time must not hold the nightly. The documents are written before.
TIMEOUT: Final = 10.0
_MAX_LISTED: Final = 10


@dataclass(frozen=True, slots=True)
class NotifyResult:
    ok: bool
    #: What happened, without the URL.
    detail: str

    def line(self) -> str:
        if self.ok:
            return self.detail
        return f"FAILED: {self.detail} (verdict and exit status unchanged)"

    def to_json(self) -> dict[str, object]:
        return {"sent": self.ok, "detail": self.detail}


def payload(audit: Audit) -> dict[str, object]:
    """The message: verdict, the open P0/P1 blockers, and every overdue one with its escalation."""
    ops = audit.ops
    phase = audit.loaded.phase
    head = (
        f"*Readiness {audit.verdict.verdict.value}* (risk {audit.verdict.risk.value}): "
        f"{audit.loaded.manifest.project.name}, phase {phase.id} ({phase.name}), {audit.run.date.isoformat()}"
    )
    lines = [head, f"Scope: {audit.scope.describe()}"]
    urgent = [b for b in audit.blockers if b.priority in (Priority.P0, Priority.P1)]
    lines.append(f"Open P0/P1 blockers: {len(urgent)}")
    for b in urgent[:_MAX_LISTED]:
        aging = ops.aging[b.key]
        state = aging.status.value if aging.status.value != "unknown" else "age unknown"
        lines.append(
            f"• {b.priority.value} {b.key}: {b.message or b.title} [{state}; owner {b.owner or 'unassigned'}]"
        )
    if len(urgent) > _MAX_LISTED:
        lines.append(f"… and {len(urgent) - _MAX_LISTED} more")
    overdue = [b for b in audit.blockers if ops.aging[b.key].escalation]
    if overdue:
        lines.append(f"Overdue: {len(overdue)}")
        lines += [
            f"• {b.priority.value} {b.key}: {ops.aging[b.key].escalation}" for b in overdue[:_MAX_LISTED]
        ]
    lines += [f"• {a.line()}" for a in ops.activities if a.missed]
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def send(audit: Audit, webhook_env: str, total_seconds: float = TIMEOUT) -> NotifyResult:
    url, refused = _webhook(webhook_env)
    return refused or _deliver(url, payload(audit), webhook_env, total_seconds)


def post(message: dict[str, object], webhook_env: str, total_seconds: float = TIMEOUT) -> NotifyResult:
    """Post one message (Slack-compatible JSON) to the URL in $webhook_env; never raises."""
    url, refused = _webhook(webhook_env)
    return refused or _deliver(url, message, webhook_env, total_seconds)


def _webhook(webhook_env: str) -> tuple[str, NotifyResult | None]:
    """(URL, None), or ("", why nothing can be sent): checked before any message is built."""
    if not webhook_env:
        return "", NotifyResult(False, "not sent: the manifest has no [notify] webhook_env")
    url = os.environ.get(webhook_env, "")
    if not url:
        return "", NotifyResult(False, f"not sent: ${webhook_env} is not set")
    problem = url_problem(url)
    if problem:
        return "", NotifyResult(False, f"not sent: ${webhook_env} is not a valid http(s) URL ({problem})")
    return url, None


def _deliver(url: str, message: dict[str, object], webhook_env: str, total_seconds: float) -> NotifyResult:
    body = json.dumps(message).encode("utf-8")
    outcome: list[NotifyResult] = []
    # A daemon thread bounds the whole exchange: urlopen's timeout is per socket operation, so
    # a server trickling bytes would otherwise hold the run for as long as it likes.
    worker = threading.Thread(
        target=lambda: outcome.append(_post(url, body, webhook_env, total_seconds)), daemon=True
    )
    worker.start()
    worker.join(total_seconds)
    if not outcome:
        return NotifyResult(
            False, f"webhook ${webhook_env} did not answer within {total_seconds:.0f} s in total"
        )
    return outcome[0]


def url_problem(url: str) -> str:
    """Why `url` cannot be posted to (without quoting it: it is a secret), or ""."""
    if not url.isascii():
        return "non-ASCII character"
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        return "space or control character"
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # raises for a port that is not a number in range
    except ValueError as exc:
        return str(exc).replace(url, "<webhook URL>")
    if parts.scheme not in ("http", "https"):
        return "not http or https"
    if not parts.hostname:
        return "no host"
    return ""


def _post(url: str, body: bytes, webhook_env: str, timeout: float) -> NotifyResult:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
            response.read()
    except urllib.error.HTTPError as exc:
        # str(exc) would be fine, but exc.url is not: build the message from the code alone.
        return NotifyResult(False, f"webhook ${webhook_env} answered HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return NotifyResult(False, f"webhook ${webhook_env} unreachable: {_without(str(reason), url)}")
    except Exception as exc:  # an invalid URL the checks above missed: one line, never a traceback
        return NotifyResult(False, f"webhook ${webhook_env}: {type(exc).__name__}: {_without(str(exc), url)}")
    return NotifyResult(True, f"posted to ${webhook_env} (HTTP {status})")


def _without(text: str, secret: str) -> str:
    return text.replace(secret, "<webhook URL>")
