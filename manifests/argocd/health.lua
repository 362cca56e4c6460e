-- Argo CD resource health check for ScaledWebApp (webscale.dev/v1alpha1).
-- Argo CD runs it with the live object as `obj` and shows the returned status and message.
-- Install: manifests/argocd/argocd-cm-patch.yaml (generated from this file), see README "Install".
-- Argo CD runs Lua 5.1 (gopher-lua): only 5.1 features here. Tested with Debian's lua5.4 and lua5.1
-- against objects captured from a real API server (tests/integration/test_argocd_health.py).
--
--   Suspended    the webscale.dev/paused annotation freezes replicas
--   Progressing  no status yet, or the operator has not yet observed the latest spec,
--                or pods are not all ready
--   Degraded     the spec is invalid (Invalid=True; the running Deployment is left as it was),
--                the rollout is stuck or its pods cannot be created (Ready=False, RolloutStuck or
--                ReplicaFailure), or the metrics are unavailable (replicas are held, not scaled)
--   Healthy      Ready=True: every wanted pod is ready
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local annotations = obj.metadata.annotations or {}
if annotations["webscale.dev/paused"] == "true" then
  hs.status = "Suspended"
  hs.message = "paused by the webscale.dev/paused annotation: replicas are frozen"
  return hs
end

if obj.status == nil or obj.status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to reconcile"
  return hs
end

local invalid = condition("Invalid")
if invalid ~= nil and invalid.status == "True" then
  hs.status = "Degraded"
  hs.message = "invalid spec: " .. (invalid.message or "")
  return hs
end

if obj.metadata.generation ~= nil and obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = string.format("waiting for the operator to observe generation %d", obj.metadata.generation)
  return hs
end

local ready = condition("Ready")
if ready ~= nil and ready.status == "False" and (ready.reason == "RolloutStuck" or ready.reason == "ReplicaFailure") then
  hs.status = "Degraded"
  hs.message = ready.message or ready.reason
  return hs
end

if ready == nil or ready.status ~= "True" then
  hs.status = "Progressing"
  hs.message = (ready and ready.message) or "waiting for pods"
  return hs
end

local metrics = condition("MetricsAvailable")
if metrics ~= nil and metrics.status == "False" then
  hs.status = "Degraded"
  hs.message = "metrics unavailable, replicas held: " .. (metrics.message or "")
  return hs
end

hs.status = "Healthy"
hs.message = ready.message or "all pods ready"
return hs
