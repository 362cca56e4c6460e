"""A minimal DNS client for the real-node benchmarks: does the cluster DNS answer an SRV name with a record
yet? The query (pure) asks what HAProxy asks for an app's pods (`_http._tcp.<app>-pods.<ns>.svc.<domain>`,
type SRV, recursion desired, no DNSSEC bit), so CoreDNS's cache answers it from the same entry as HAProxy's
queries: what this sees is what HAProxy can see. Only for addresses inside a harness-made namespace."""

from __future__ import annotations

import socket
import struct

SRV = 33


def query(name: str, qid: int, qtype: int = SRV) -> bytes:
    """A DNS query packet for `name` (one question, class IN, recursion desired)."""
    labels = [part.encode("ascii") for part in name.rstrip(".").split(".")]
    if any(not 0 < len(label) < 64 for label in labels):
        raise ValueError(f"{name!r} is not a DNS name (each label 1-63 characters)")
    header = struct.pack("!HHHHHH", qid & 0xFFFF, 0x0100, 1, 0, 0, 0)
    question = b"".join(struct.pack("!B", len(label)) + label for label in labels) + b"\x00"
    return header + question + struct.pack("!HH", qtype, 1)


def answers(response: bytes, qid: int) -> tuple[int, int]:
    """(rcode, answer count) of a response to query `qid`; ValueError for a short or foreign packet."""
    if len(response) < 12:
        raise ValueError(f"a DNS response has a 12-byte header, this one {len(response)} bytes")
    rid, flags, _, ancount, _, _ = struct.unpack("!HHHHHH", response[:12])
    if rid != qid & 0xFFFF or not flags & 0x8000:
        raise ValueError(f"not the response to query {qid} (id {rid}, flags {flags:#06x})")
    return flags & 0x000F, ancount


def has_records(server: str, name: str, qid: int, timeout: float = 0.3) -> bool:
    """Does `server` (port 53, UDP) answer `name` with at least one SRV record (NOERROR)?"""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(query(name, qid), (server, 53))
        rcode, count = answers(sock.recv(4096), qid)
    return rcode == 0 and count > 0
