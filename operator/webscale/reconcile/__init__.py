"""Children of a ScaledWebApp: pure builders (Deployment, Services, load-balancer tier) and the
reconciler that applies them through `kube`."""
