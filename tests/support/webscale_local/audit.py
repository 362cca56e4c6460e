"""Read the local control plane's audit log: the requests one client (by user agent) made in a window.

    reader = AuditReader(cluster.audit_log)
    mark = reader.offset()
    ...                                            # let the operator run
    ours = reader.requests(mark, agents=("webscale-operator/",))
    writes = [r for r in ours if r.write]

Windows are byte offsets into the file (it only grows: the launcher does not rotate it), so a long
run is read once per window, not from the start each time.

Tests that look at whole entries (who made a request, whether it was refused) use the raw form:

    since = mark(cluster.audit_log)
    ...
    writes = operator_writes(cluster.audit_log, since, namespace=ns)   # the audit entries (dicts)
    quiet = Quiet(cluster.audit_log, seconds=10.0)                       # wait_for(quiet.reached, ...)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
OPERATOR_AGENTS = ("webscale-operator", "kopf")
"""User agents of the operator: its own API client (webscale-operator/<version>) and kopf's."""


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

    def _read(self, start: int, end: int | None) -> bytes:
        end = self.offset() if end is None else end
        with open(self.path, "rb") as f:
            f.seek(start)
            return f.read(max(0, end - start))

    def entries(self, start: int, end: int | None = None) -> list[dict]:
        """Every audit entry logged between two offsets, as the API server wrote it."""
        out = []
        for line in self._read(start, end).splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut at `end` while the server was writing it
        return out

    def requests(self, start: int, end: int | None = None, agents: tuple[str, ...] = ()) -> list[Request]:
        """Requests logged between two offsets whose user agent starts with one of `agents` (all if empty)."""
        out = []
        data = self._read(start, end)
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


def mark(log: Path) -> int:
    """Where the audit log ends now: pass it as `since` to read what was logged afterwards."""
    return AuditReader(log).offset()


def entries(log: Path, since: int) -> list[dict]:
    """The audit entries logged since `mark(log)` returned `since`."""
    return AuditReader(log).entries(since)


def operator_writes(
    log: Path,
    since: int,
    agents: tuple[str, ...] = OPERATOR_AGENTS,
    namespace: str | None = None,
    resource: str | None = None,
    name: str | None = None,
    leases: bool = True,
) -> list[dict]:
    """Completed writes by the operator (user agent starting with one of `agents`) since `since`, in
    `namespace`, to `resource` (its subresources included) named `name` when given; without Leases
    when `leases` is False (leader election renews its Lease every few seconds)."""
    out = []
    for entry in entries(log, since):
        ref = entry.get("objectRef") or {}
        if (
            entry.get("userAgent", "").startswith(agents)
            and entry.get("verb") in WRITE_VERBS
            and entry.get("stage") == "ResponseComplete"
            and (namespace is None or ref.get("namespace") == namespace)
            and (resource is None or ref.get("resource") == resource)
            and (name is None or ref.get("name") == name)
            and (leases or ref.get("resource") != "leases")
        ):
            out.append(entry)
    return out


class Quiet:
    """Has the audit log shown no operator write (but Leases) for `seconds`? Poll `reached` with
    wait_for: the clock restarts whenever the count of writes changes."""

    def __init__(self, log: Path, seconds: float, agents: tuple[str, ...] = OPERATOR_AGENTS) -> None:
        self.log, self.seconds, self.agents = log, seconds, agents
        self.start = mark(log)
        self.count, self.since = -1, time.monotonic()

    def reached(self) -> bool:
        count = len(operator_writes(self.log, self.start, agents=self.agents, leases=False))
        if count != self.count:
            self.count, self.since = count, time.monotonic()
        return time.monotonic() - self.since >= self.seconds
