"""The Prometheus adapter's pure parts: the size cap while streaming, reading the answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from webscale.metrics.client import ResponseTooLarge, answer_of, read_capped
from webscale.metrics.parse import MalformedResult


def chunks(*sizes: int) -> Iterator[bytes]:
    for size in sizes:
        yield b"x" * size


def test_a_body_within_the_cap_is_read_whole():
    assert read_capped(chunks(3, 4), cap=7) == b"x" * 7


def test_a_body_over_the_cap_is_refused_before_the_rest_is_read():
    read: list[int] = []

    def counted() -> Iterator[bytes]:
        for size in (4, 4, 4, 4):
            read.append(size)
            yield b"x" * size

    with pytest.raises(ResponseTooLarge, match="larger than 6 bytes"):
        read_capped(counted(), cap=6)
    assert read == [4, 4]  # stopped at the chunk that passed the cap


def test_a_declared_length_over_the_cap_is_refused_without_reading():
    def never() -> Iterator[bytes]:
        raise AssertionError("read")
        yield b""

    with pytest.raises(ResponseTooLarge):
        read_capped(never(), cap=10, declared=11)


def test_the_answer_is_its_result_type_and_result():
    assert answer_of(b'{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}') == ("scalar", [1, "2"])
    assert answer_of(b'{"data":{"result":[]}}') == ("", [])
    with pytest.raises(MalformedResult, match=r"no data\.result"):
        answer_of(b'{"status":"success"}')
    with pytest.raises(MalformedResult):
        answer_of(b"[1, 2]")
    with pytest.raises(ValueError):
        answer_of(b"<html>")
