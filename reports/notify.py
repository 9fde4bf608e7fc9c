"""Tell someone when a scheduled run needs a person: a JSON POST to a webhook (config
`operations.notify`) when a run ends failed, interrupted, stopped at the gate or unbalanced.

The body holds what the console says (status, stage, verdict, message, run folder), never customer
values or a password: messages name places and counts, and every secret is scrubbed. It carries a
`text` line too, so chat webhooks (Slack, Teams, DingTalk, Feishu) show something readable. A
webhook that fails is logged and never fails the run: the run folder already says everything."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from crm_migrate.secrets import scrub


def payload(manifest: dict) -> dict:
    """The notification body of a run, from its manifest."""
    verdict = manifest.get("verdict") or {}
    error = manifest.get("error") or {}
    status = manifest.get("status", "?")
    stage = error.get("stage") or manifest.get("stage")
    text = (f"crm-migrate {manifest.get('project', '')}: run {manifest.get('run_id')} {status}"
            + (f" in stage {stage}" if status in ("failed", "interrupted") and stage else "")
            + (f"; verdict {verdict['result']}" if verdict.get("result") else "")
            + (f": {error['message'].splitlines()[0]}" if error.get("message") else "")
            + (f"; {'; '.join(verdict.get('reasons', [])[:3])}" if verdict.get("reasons") and not error else ""))
    return {"project": manifest.get("project"), "run_id": manifest.get("run_id"), "status": status, "stage": stage,
            "dry_run": manifest.get("dry_run"), "verdict": verdict or None, "message": error.get("message"),
            "run_dir": manifest.get("run_dir"), "text": text}


def send(url: str, body: dict, secrets: list[str], timeout: float) -> str | None:
    """POST `body` as JSON to `url`; None when it was taken, else why not (in words without the URL's
    secret parts)."""
    data = scrub(json.dumps(body, ensure_ascii=False, default=str), secrets).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8",
                                                                             "User-Agent": "crm-migrate"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's own webhook
            return None if 200 <= response.status < 300 else f"the webhook answered HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"the webhook answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return scrub(f"the webhook could not be reached ({reason if isinstance(reason, str) else type(reason).__name__})", secrets)
