"""Posting the verdict to a chat webhook (Slack-compatible JSON: {"text": ..., "blocks": [...]}).

Enabled by `--notify`. The URL is a secret: the manifest names the environment variable that
holds it (`[notify] webhook_env`), and no message, document or terminal line ever shows it. A
failed post is reported in the terminal summary and the JSON; it never changes the verdict or
the exit status.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from checks.priority import Priority

if TYPE_CHECKING:
    from reporting.audit import Audit

__all__ = ["NotifyResult", "payload", "send"]

#: Seconds to wait for the webhook; a slow chat service must not hold the nightly.
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
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def send(audit: Audit, webhook_env: str) -> NotifyResult:
    if not webhook_env:
        return NotifyResult(False, "not sent: the manifest has no [notify] webhook_env")
    url = os.environ.get(webhook_env, "")
    if not url:
        return NotifyResult(False, f"not sent: ${webhook_env} is not set")
    if not url.startswith(("https://", "http://")):
        return NotifyResult(False, f"not sent: ${webhook_env} is not an http(s) URL")
    body = json.dumps(payload(audit)).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        # str(exc) would be fine, but exc.url is not: build the message from the code alone.
        return NotifyResult(False, f"webhook ${webhook_env} answered HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return NotifyResult(False, f"webhook ${webhook_env} unreachable: {_without(str(reason), url)}")
    return NotifyResult(True, f"posted to ${webhook_env} (HTTP {status})")


def _without(text: str, secret: str) -> str:
    return text.replace(secret, "<webhook URL>")
