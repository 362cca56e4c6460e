"""The only code that talks to the Kubernetes API: the client adapter, watch caches, leader election,
and the pure drift test that decides whether a write is needed."""
