"""webscale_local.dns_probe: the SRV query is well formed and responses are read right (no server)."""

from __future__ import annotations

import struct

import pytest
from webscale_local.dns_probe import SRV, answers, query


def test_query_encodes_the_name_as_labels_with_one_srv_question() -> None:
    packet = query("_http._tcp.shop-pods.default.svc.cluster.local", 0x1234)
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", packet[:12])
    assert (qid, flags, qd, an, ns, ar) == (0x1234, 0x0100, 1, 0, 0, 0)
    assert packet[12:] == (
        b"\x05_http\x04_tcp\x09shop-pods\x07default\x03svc\x07cluster\x05local\x00" + struct.pack("!HH", SRV, 1)
    )


def test_query_refuses_an_empty_or_too_long_label() -> None:
    with pytest.raises(ValueError, match="not a DNS name"):
        query("a..b", 1)
    with pytest.raises(ValueError, match="not a DNS name"):
        query("x" * 64 + ".local", 1)


def test_answers_reads_rcode_and_count_of_its_own_response_only() -> None:
    nxdomain = struct.pack("!HHHHHH", 7, 0x8183, 1, 0, 1, 0)
    found = struct.pack("!HHHHHH", 7, 0x8180, 1, 2, 0, 2)
    assert answers(nxdomain, 7) == (3, 0)
    assert answers(found, 7) == (0, 2)
    with pytest.raises(ValueError, match="not the response"):
        answers(found, 8)
    with pytest.raises(ValueError, match="not the response"):
        answers(struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0), 7)  # a query, not a response
    with pytest.raises(ValueError, match="12-byte header"):
        answers(b"\x00\x07", 7)
