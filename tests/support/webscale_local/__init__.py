"""The local stack on loopback, for tests, `make run`, `make load`, `make demo` and the benchmarks.

Installed into the venv with the operator (pyproject.toml: `tests/support` is a package root), so
scripts and tests import it by name:

    launcher        the local control plane (etcd, kube-apiserver, controllers, kwok) from tests/cluster
    prometheus      a real Prometheus (the Debian package) with temporary storage
    sample_app      the real sample app (node, cluster mode) standing for an app's pods
    load            a bounded, paced HTTP load generator (127.0.0.1 only)
    haproxy         the real Debian haproxy: `haproxy -c`, or one running a config on loopback
    dnsmasq         a real DNS server serving a headless Service's SRV records on loopback
    lb_rig          sample apps on 127.0.0.x + dnsmasq + haproxy with the operator's rendered config
    wrk             wrk (Debian) as a closed-loop or paced client, results merged over processes
    throttle        one CPU-throttled pod: a bounded SIGSTOP/SIGCONT duty cycle on a real process
    operator_process `webscale run` as a subprocess
    stack           all of the above together: what `make run` starts and `make load` drives

and what the tests share:

    waiting         wait_for: poll a condition with a deadline, saying what did not happen
    audit           the control plane's audit log: requests and writes in a window, quiet spells
    swa             ScaledWebApp coordinates, bodies, conditions, the CRD installed
    http_server     a test's own HTTP server served from a thread

Never part of the operator image: the Dockerfile copies operator/ only.
"""
