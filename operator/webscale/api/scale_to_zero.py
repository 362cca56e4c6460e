"""Scale to zero: what the spec asks for, and the combinations the API server refuses.

The CRD carries the same rules as CEL (models.ScaledWebAppSpec / Autoscaling); `errors` repeats
them for the operator, which marks an app that bypassed admission Invalid and changes nothing.
Called by `webscale.api.validation.semantic_errors`, the HAProxy config renderer and the
autoscaling step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from webscale.api.durations import seconds
from webscale.api.models import ScaledWebAppSpec

RETRY_AFTER_SECONDS = 5
"""Retry-After on the 503 a held request gets when no pod came within holdRequestsFor: a pod may be
starting slowly (its image pulling); a client that retries this much later finds it or is held again."""


@dataclass(frozen=True)
class ZeroSettings:
    """An app's scale-to-zero settings in seconds."""

    idle_after: float
    hold: float

    @property
    def hold_ms(self) -> int:
        return math.ceil(self.hold * 1000)


def settings(spec: ScaledWebAppSpec) -> ZeroSettings | None:
    """The app's scale-to-zero settings when the section is written, else None."""
    section = spec.autoscaling.scale_to_zero
    if section is None:
        return None
    return ZeroSettings(seconds(section.idle_after), seconds(section.hold_requests_for))


def may_scale_to_zero(spec: ScaledWebAppSpec) -> bool:
    """True when the app goes to 0 pods while idle: the section, replicas.min 0, autoscaling auto."""
    return settings(spec) is not None and spec.replicas.min == 0 and spec.autoscaling.mode == "auto"


def errors(spec: ScaledWebAppSpec) -> list[str]:
    """The bad combinations, each naming the field (the same rules as the CRD's CEL)."""
    found: list[str] = []
    section = spec.autoscaling.scale_to_zero
    if spec.replicas.min == 0 and section is None:
        found.append(
            "spec.replicas.min: 0 needs an autoscaling.scaleToZero section (idleAfter, holdRequestsFor): "
            "without it an app keeps at least one pod"
        )
    if section is None:
        return found
    if spec.load_balancer.provider != "haproxy":
        found.append(
            "spec.autoscaling.scaleToZero: needs loadBalancer.provider haproxy: at zero the HAProxy tier holds "
            "requests until a pod is ready, a kube-proxy Service would refuse them"
        )
    if seconds(section.idle_after) < seconds(spec.autoscaling.polling_interval):
        found.append(
            f"spec.autoscaling.scaleToZero.idleAfter: {section.idle_after} is below autoscaling.pollingInterval "
            f"{spec.autoscaling.polling_interval} (idleness is measured once per poll)"
        )
    return found
