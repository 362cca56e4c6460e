"""Bounded reads of the apps' own HAProxy pods (the network adapter of the wake loop and the fast signal).

A pod is a namespace user's to break: it may answer slowly, trickle its answer a byte at a time, send no
HTTP at all or send numbers no counter can hold. None of that may hold up another app. So each pod is
given `timeout` in all — connecting, the headers and the body together, not per read — and at most
`max_body` bytes; any failure, of any kind, is that pod's answer None, and the round goes on. At most
`fan_out` pods are read at once. No proxy from the environment and no redirect is followed: only the
pod's own address is dialled.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import aiohttp

T = TypeVar("T")


def finite(value: float) -> bool:
    """A counter or gauge a pod may report: a number, not NaN or infinite, not negative."""
    return math.isfinite(value) and value >= 0


async def _body(stream: aiohttp.StreamReader, max_body: int) -> bytes:
    """The answer's body to its end or to `max_body` bytes: a read returns what has arrived so far,
    and an exporter's answer comes in several pieces."""
    chunks, size = [], 0
    while size < max_body:
        chunk = await stream.read(max_body - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def _read(
    session: aiohttp.ClientSession,
    gate: asyncio.Semaphore,
    url: str,
    parse: Callable[[str], T | None],
    timeout: float,
    max_body: int,
) -> T | None:
    async with gate:
        try:
            async with asyncio.timeout(timeout), session.get(url, allow_redirects=False) as resp:
                if resp.status != 200:
                    return None
                body = await _body(resp.content, max_body)
            return parse(body.decode(errors="replace"))
        except Exception:
            return None


async def _read_all(
    urls: Sequence[str], parse: Callable[[str], T | None], timeout: float, max_body: int, fan_out: int
) -> list[T | None]:
    gate = asyncio.Semaphore(fan_out)
    connector = aiohttp.TCPConnector(limit=fan_out, force_close=True)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        return await asyncio.gather(*(_read(session, gate, url, parse, timeout, max_body) for url in urls))


def read_pods(
    urls: Sequence[str], parse: Callable[[str], T | None], timeout: float, max_body: int, fan_out: int
) -> dict[str, T | None]:
    """{url: parse(body), or None when the pod did not answer 200 within `timeout` in all}. Blocking: runs
    its own event loop (called from the loops' worker threads)."""
    if not urls:
        return {}
    found = asyncio.run(_read_all(urls, parse, timeout, max_body, fan_out))
    return dict(zip(urls, found, strict=True))
