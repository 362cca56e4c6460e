"""The running operator: kopf start-up and shutdown, the loops (scaling, reconcile, resync), the app
registry, leader election wiring and the operator's own /metrics and liveness."""
