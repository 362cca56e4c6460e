"""Where the load generator may send: loopback always; a Pod or Service address only from inside a
harness-made network namespace with no default route (a real node's), never from the machine's own."""

from __future__ import annotations

import pytest
from webscale_local import netns
from webscale_local.load import Load


def test_loopback_is_accepted() -> None:
    assert Load(["http://127.0.0.1:3000"], rate=1, duration=1).targets == [("127.0.0.1", 3000)]


def test_a_service_address_is_refused_outside_a_harness_namespace() -> None:
    if netns.current() is not None:
        pytest.skip("this process runs inside a harness-made namespace, where such addresses are allowed")
    with pytest.raises(ValueError, match="no default route"):
        Load(["http://10.96.0.10:80"], rate=1, duration=1)


def test_a_url_without_a_port_is_refused() -> None:
    with pytest.raises(ValueError, match="http://<host>:<port>"):
        Load(["http://127.0.0.1/"], rate=1, duration=1)
