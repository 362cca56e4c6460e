"""Read the local control plane's audit log: the requests one client (by user agent) made in a window.

    reader = AuditReader(cluster.audit_log)
    mark = reader.offset()
    ...                                            # let the operator run
    ours = reader.requests(mark, agents=("webscale-operator/",))
    writes = [r for r in ours if r.write]

Windows are byte offsets into the file (it only grows: the launcher does not rotate it), so a long
run is read once per window, not from the start each time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(frozen=True)
class Request:
    """One audited request (a watch when it started, anything else when it completed)."""

    verb: str
    resource: str
    """resource[/subresource], e.g. "deployments", "scaledwebapps/status", "leases"."""
    namespace: str
    name: str
    code: int
    at: float
    """When the API server received it (epoch seconds)."""
    user_agent: str
    manager: str = ""
    """The fieldManager query parameter of a write (server-side apply names its writer so)."""

    @property
    def write(self) -> bool:
        return self.verb in WRITE_VERBS


class AuditReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def offset(self) -> int:
        """Where the log ends now: the start of a window."""
        return self.path.stat().st_size if self.path.exists() else 0

    def requests(self, start: int, end: int | None = None, agents: tuple[str, ...] = ()) -> list[Request]:
        """Requests logged between two offsets whose user agent starts with one of `agents` (all if empty)."""
        end = self.offset() if end is None else end
        out = []
        with open(self.path, "rb") as f:
            f.seek(start)
            data = f.read(max(0, end - start))
        needles = [f'"userAgent":"{a}'.encode() for a in agents]
        for line in data.splitlines():
            if needles and not any(n in line for n in needles):
                continue  # cheap filter before parsing: the log holds every component's requests
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut at `end` while the server was writing it
            # a watch counts when it starts (it completes minutes later); anything else when it completes
            wanted = ("ResponseStarted",) if entry.get("verb") == "watch" else ("ResponseComplete", "Panic")
            if entry.get("stage") not in wanted:
                continue
            ref = entry.get("objectRef") or {}
            resource = ref.get("resource", entry.get("requestURI", ""))
            if ref.get("subresource"):
                resource += "/" + ref["subresource"]
            received = entry.get("requestReceivedTimestamp") or entry.get("stageTimestamp")
            out.append(
                Request(
                    verb=entry.get("verb", ""),
                    resource=resource,
                    namespace=ref.get("namespace", ""),
                    name=ref.get("name", ""),
                    code=int((entry.get("responseStatus") or {}).get("code") or 0),
                    at=datetime.fromisoformat(received.replace("Z", "+00:00")).timestamp() if received else 0.0,
                    user_agent=entry.get("userAgent", ""),
                    manager=(parse_qs(urlsplit(entry.get("requestURI", "")).query).get("fieldManager") or [""])[0],
                )
            )
        return out
