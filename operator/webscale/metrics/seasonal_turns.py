"""Which seasonal settings are queried this poll (pure).

Each distinct autoscaling.seasonal setting (offset, lookahead, level window) in use is one query over
every app's series, so apps that share a setting cost one query together. But a namespace user can
give each of their apps another setting: left alone, a hundred settings would be a hundred
cluster-wide queries each poll, one after the other, holding up every app's decision. So at most
`budget` settings are queried per poll and Prometheus, and the namespaces take turns: each picks its
least recently read setting, the namespace that has waited longest first. A setting read on an earlier
poll serves its apps while its reading is young enough (`prometheus.SEASONAL_MAX_AGE`); one that gets
no turn in time gives its apps no seasonal prior for that poll (the other signals still size them).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Set
from typing import TypeVar

S = TypeVar("S", bound=Hashable)


def seasonal_turn(users: Mapping[S, Set[str]], last_read: Mapping[S, float], budget: int) -> list[S]:
    """The settings to query now, at most `budget`: `users` maps each setting in use to the namespaces
    whose apps use it; `last_read` when each was last read (missing: never). The namespace served
    longest ago (by any of its settings, shared ones too) picks first, its least recently read setting."""

    def age(setting: S) -> tuple[float, str]:
        return (last_read.get(setting, float("-inf")), repr(setting))

    namespaces = sorted({ns for used_by in users.values() for ns in used_by})
    queues = {ns: sorted((s for s, used_by in users.items() if ns in used_by), key=age) for ns in namespaces}
    served = {ns: max(last_read.get(s, float("-inf")) for s in queue) for ns, queue in queues.items()}
    chosen: list[S] = []
    while len(chosen) < budget:
        waiting = [ns for ns in sorted(namespaces, key=lambda ns: (served[ns], ns)) if queues[ns]]
        if not waiting:
            break
        ns = waiting[0]
        setting = queues[ns].pop(0)
        chosen.append(setting)
        for other in users[setting]:
            served[other] = float("inf")  # served now: the others go first
        for queue in queues.values():
            if setting in queue:
                queue.remove(setting)
    return chosen
