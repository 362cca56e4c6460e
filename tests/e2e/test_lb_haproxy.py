"""The HAProxy tier end to end on loopback, real processes only: the operator's rendered haproxy.cfg in a
real haproxy, a real dnsmasq serving the headless Service's SRV records, real sample apps on 127.0.0.x
(see lb_rig for what is swapped in the config). Every loop is bounded in count and time."""

from __future__ import annotations

import collections
import os
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest
from webscale_local.lb_rig import APP_HOSTS, Client, apps_on, backend_pid, rig
from webscale_local.waiting import WaitTimeout, wait_for

from webscale.api.models import parse_spec
from webscale.reconcile import haproxy_config

pytestmark = pytest.mark.e2e

CLIENT_SOURCES = [f"127.0.0.{i}" for i in range(101, 121)]  # 20 client addresses
CHECK_SECONDS = 2.0  # `inter 2s` in the rendered config
HOLD_VALID = 5.0  # `hold valid 5s`


def _seconds(value: str) -> float:
    return float(value.removesuffix("s"))


def test_rig_constants_follow_the_rendered_config():
    assert _seconds(haproxy_config.HOLD_VALID) == HOLD_VALID
    assert "inter 2s fall 2 rise 2" in haproxy_config.render_for("default", "shop", parse_spec({"image": "x"}))


def _spread(url: str, pids: dict[int, str], requests: int, threads: int, path: str = "/healthz") -> collections.Counter:
    """Send `requests` GETs over `threads` keep-alive connections; count answers by backend host."""
    counts: collections.Counter = collections.Counter()
    lock = threading.Lock()
    per_thread = requests // threads

    def worker() -> None:
        client = Client(url)
        try:
            for _ in range(per_thread):
                status, body = client.get(path)
                with lock:
                    counts[pids.get(body.get("pid"), f"status {status}")] += 1
        finally:
            client.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    return counts


def test_round_robin_gives_each_backend_a_third(tmp_path):
    with apps_on(tmp_path, APP_HOSTS[:3]) as apps, rig(tmp_path, apps, "round-robin") as r:
        counts = _spread(r.url, r.pids(), requests=3000, threads=3)
    total = sum(counts.values())
    print(f"round-robin over {total} requests: {dict(counts)}")
    assert total == 3000 and set(counts) == set(APP_HOSTS[:3])
    for host in APP_HOSTS[:3]:
        assert abs(counts[host] / total - 1 / 3) <= 0.05, counts


def test_another_cluster_domain_finds_the_pods_under_that_domain(tmp_path):
    # a cluster built with --service-dns-domain corp.internal: its DNS answers the Service's SRV name there
    # only (dnsmasq refuses cluster.local), and the operator told so (WEBSCALE_CLUSTER_DOMAIN) renders that name
    with (
        apps_on(tmp_path, APP_HOSTS[:2]) as apps,
        rig(tmp_path, apps, "round-robin", cluster_domain="corp.internal") as r,
    ):
        cfg = r.lb.cfg_path.read_text()
        assert "svc.corp.internal" in cfg and "cluster.local" not in cfg
        counts = _spread(r.url, r.pids(), requests=200, threads=2)
    assert sum(counts.values()) == 200 and set(counts) == set(APP_HOSTS[:2]), counts


def _share_of_slow_backend(tmp_path, apps, strategy: str) -> tuple[float, collections.Counter]:
    """Backend 0 is kept busy by direct /work?ms=40 requests; 6 clients send /healthz through HAProxy."""
    slow = apps[0]
    stop = threading.Event()
    worked: list[int] = []

    def keep_busy() -> None:
        client = Client(slow.url)
        try:
            for _ in range(2000):  # bounded; stopped when the measurement ends
                if stop.is_set():
                    return
                client.get("/work?ms=40")
                worked.append(1)
        finally:
            client.close()

    with rig(tmp_path, apps, strategy) as r:
        pids = r.pids()
        busy = threading.Thread(target=keep_busy)
        busy.start()
        try:
            # the slow backend is busy: its first 40 ms request is done and the next one is under way
            wait_for(lambda: worked, 10, 0.01, "a /work request on the slow backend")
            counts = _spread(r.url, pids, requests=1200, threads=6)
        finally:
            stop.set()
            busy.join(timeout=30)
    return counts[slow.host] / sum(counts.values()), counts


def test_least_connections_sends_fewer_requests_to_a_slow_backend(tmp_path):
    with apps_on(tmp_path, APP_HOSTS[:3]) as apps:
        rr_share, rr = _share_of_slow_backend(tmp_path, apps, "round-robin")
        lc_share, lc = _share_of_slow_backend(tmp_path, apps, "least-connections")
    print(
        f"\nslow backend {apps[0].host}: round-robin {rr_share:.1%} of requests {dict(rr)}; "
        f"least-connections {lc_share:.1%} {dict(lc)}"
    )
    assert sum(lc.values()) == sum(rr.values()) == 1200
    assert lc_share < 0.6 * rr_share, "least-connections should send clearly fewer requests to the slow backend"


def _placement(url: str, pids: dict[int, str], sources: list[str], repeats: int = 5) -> dict[str, set[str]]:
    """source address -> the backends that served its `repeats` requests (each on a new connection)."""
    seen: dict[str, set[str]] = {}
    for source in sources:
        for _ in range(repeats):
            client = Client(url, source=source)
            try:
                _, body = client.get()
            finally:
                client.close()
            seen.setdefault(source, set()).add(pids.get(body.get("pid"), "?"))
    return seen


def test_ip_hash_keeps_each_client_on_one_backend_and_removal_moves_only_its_clients(tmp_path):
    with apps_on(tmp_path, APP_HOSTS[:3]) as apps, rig(tmp_path, apps, "ip-hash") as r:
        pids = r.pids()
        before = _placement(r.url, pids, CLIENT_SOURCES)
        assert all(len(backends) == 1 for backends in before.values()), before
        home = {source: next(iter(b)) for source, b in before.items()}
        per_backend = collections.Counter(home.values())
        print(f"\nip-hash: clients per backend {dict(per_backend)}")
        assert len(per_backend) >= 2, "20 clients should spread over more than one backend"
        removed = per_backend.most_common(1)[0][0]
        r.serve([h for h in APP_HOSTS[:3] if h != removed])  # the pod leaves the headless Service
        r.wait_active(2, timeout=HOLD_VALID * 3)
        after = _placement(r.url, pids, CLIENT_SOURCES)
    assert all(len(backends) == 1 for backends in after.values()), after
    moved = {s for s in CLIENT_SOURCES if after[s] != before[s]}
    print(f"moved {len(moved)} clients, all of them from {removed}")
    assert moved == {s for s in CLIENT_SOURCES if home[s] == removed}
    assert all(removed not in after[s] for s in CLIENT_SOURCES)


def test_scale_out_reaches_a_new_backend_through_dns_without_a_reload(tmp_path):
    with apps_on(tmp_path, APP_HOSTS[:4]) as apps, rig(tmp_path, apps, "round-robin", serving=3) as r:
        pid, log_before = r.lb.pid, r.lb.log()
        pids = r.pids()
        new = apps[3]
        r.serve(APP_HOSTS[:4])  # the fourth pod becomes ready: one more SRV record
        added = time.monotonic()
        took = None
        client = Client(r.url)
        try:
            # give up well after the bound below, to report how late it was
            wait_for(
                lambda: pids.get(client.get()[1].get("pid")) == new.host,
                HOLD_VALID + 3 * CHECK_SECONDS,
                0.01,
                f"a request answered by {new.host}",
            )
            took = time.monotonic() - added
        except WaitTimeout:
            pass
        finally:
            client.close()
        log = r.lb.log()
        assert r.lb.alive() and r.lb.pid == pid
    print(f"\nthe new backend got its first request {took}s after its DNS record appeared")
    assert took is not None, f"no request reached {new.host} within hold valid + health checks"
    # within one fresh DNS answer (hold valid), plus a second for the query itself on a busy machine
    assert took <= HOLD_VALID + 1, f"the new backend waited {took:.1f}s for traffic"
    assert "Reexecuting" not in log and "reload" not in log.lower(), log[-2000:]
    assert log.count("New worker") == log_before.count("New worker") == 1


def test_killed_backend_fails_only_its_in_flight_requests_and_is_marked_down(tmp_path):
    threads, per_thread = 4, 600
    with apps_on(tmp_path, APP_HOSTS[:3]) as apps, rig(tmp_path, apps, "round-robin") as r:
        victim = apps[0]
        victim_pid = backend_pid(victim)
        results: collections.Counter = collections.Counter()
        failures: list[str] = []
        lock = threading.Lock()
        sent = threading.Semaphore(0)

        def worker() -> None:
            client = Client(r.url)
            try:
                for _ in range(per_thread):
                    try:
                        status, _ = client.get("/io?ms=5")
                        outcome = str(status) if status != 200 else "ok"
                    except OSError as exc:
                        outcome = f"error {type(exc).__name__}"
                    with lock:
                        results[outcome] += 1
                        if outcome != "ok":
                            failures.append(outcome)
                    sent.release()
            finally:
                client.close()

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for t in pool:
            t.start()
        for _ in range(300):  # let load flow before the kill
            sent.acquire(timeout=10)
        os.killpg(victim.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        for t in pool:
            t.join(timeout=120)
        down_after = r.wait_active(2, timeout=4 * CHECK_SECONDS + 5)
        down_log = r.lb.log()
    print(
        f"\nkilled {victim.host} (pid {victim_pid}) under load: {dict(results)}; "
        f"marked down {time.monotonic() - killed:.1f}s after the kill (waited {down_after:.1f}s after the load)"
    )
    assert sum(results.values()) == threads * per_thread
    # at most one request per client connection can be in flight on the victim when it dies
    assert len(failures) <= threads, failures
    assert "is DOWN" in down_log


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_haproxy_is_ready_only_while_an_app_pod_is_up(tmp_path):
    """The HAProxy pod's readiness probe (LB_READY_PATH): 200 while a server is up, 503 when none is, so
    the Service never sends a request to an HAProxy that could only answer 503; liveness (/healthz)
    stays 200 throughout. The one app's worker is frozen (SIGSTOP): its health checks time out."""
    with apps_on(tmp_path, APP_HOSTS[:1]) as apps, rig(tmp_path, apps, "round-robin") as r:
        ready = f"http://127.0.0.1:{r.metrics_port}{haproxy_config.LB_READY_PATH}"
        alive = f"http://127.0.0.1:{r.metrics_port}/healthz"
        assert _status(ready) == 200
        worker = backend_pid(apps[0])
        os.kill(worker, signal.SIGSTOP)
        try:
            # fall 2 checks of `inter 2s`, each timing out after `timeout check 2s`
            wait_for(lambda: _status(ready) == 503, 6 * CHECK_SECONDS, 0.2, "/readyz 503 with no server up")
            assert _status(alive) == 200
        finally:
            os.kill(worker, signal.SIGCONT)
        wait_for(lambda: _status(ready) == 200, 4 * CHECK_SECONDS, 0.2, "/readyz 200 once the server is up again")
        assert r.lb.alive()
