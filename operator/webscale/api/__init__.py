"""The resource: the ScaledWebApp spec and status models, validation, the `App` value, labels,
and the CRD and reference generated from them. Pure; imports nothing above it but `promql` (template checks)."""
