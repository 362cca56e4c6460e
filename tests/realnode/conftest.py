"""A real node (webscale_local.node): containerd, kubelet, kube-proxy and CoreDNS beside the local control
plane, all inside a network namespace the harness created, with no default route.

Run with `make test-node-real`: it builds the images on the host (they need Debian's, PyPI's and npm's
servers), then runs pytest inside a fresh namespace (`python -m webscale_local.netns run ...`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from webscale_local import netns
from webscale_local.node import RealNode, built_images


@pytest.fixture(scope="session")
def node() -> Iterator[RealNode]:
    """The control plane and one real node. Before anything starts: this process is inside its own
    network namespace and it has no default route. After: nothing is left behind."""
    netns.assert_inside()
    n = RealNode(name="node-0", images=built_images())
    with n:
        yield n
    left = n.leftovers()
    assert left == [], f"the node left these behind: {left}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside a harness-made network namespace (a plain `pytest tests`), these tests are skipped, not failed."""
    if netns.current() is not None:
        return
    skip = pytest.mark.skip(reason="needs a real node in its own network namespace: make test-node-real")
    for item in items:
        if "realnode" in item.nodeid.split("/"):
            item.add_marker(skip)
