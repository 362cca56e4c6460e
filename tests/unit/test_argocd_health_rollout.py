"""Argo CD's health of a ScaledWebApp whose rollout failed (manifests/argocd/health.lua, run by real Lua
interpreters as Argo CD runs it: Degraded, as Argo CD calls a Deployment past its progress deadline)."""

from __future__ import annotations

import pytest
from argocd_health import health


def app(reason: str, status: str = "False", message: str = "the rollout is stuck: ...") -> dict:
    ready = {"type": "Ready", "status": status, "reason": reason, "message": message}
    return {
        "apiVersion": "webscale.dev/v1alpha1",
        "kind": "ScaledWebApp",
        "metadata": {"name": "shop", "namespace": "default", "generation": 3},
        "status": {"observedGeneration": 3, "conditions": [{"type": "Invalid", "status": "False"}, ready]},
    }


@pytest.mark.parametrize("lua", ["lua5.4", "lua5.1"])
@pytest.mark.parametrize("reason", ["RolloutStuck", "ReplicaFailure"])
def test_a_stuck_or_failing_rollout_is_degraded_with_its_message(lua, reason):
    assert health(app(reason), lua) == ("Degraded", "the rollout is stuck: ...")


@pytest.mark.parametrize("lua", ["lua5.4", "lua5.1"])
def test_pods_merely_not_ready_yet_are_progressing(lua):
    assert health(app("PodsNotReady", message="1/2 pods ready"), lua) == ("Progressing", "1/2 pods ready")
