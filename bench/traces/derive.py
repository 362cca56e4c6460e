"""Derive the compact request-rate traces in bench/traces/ from public raw data.

Run from the repository root after fetching the three public repositories below into /work/.mirror
(the `fetch` tool of the build environment, or `git clone --bare` of the same repositories):

    python bench/traces/derive.py [--mirror /work/.mirror]

It reads the raw data straight out of the git objects (`git show HEAD:<path>`), counts requests
per bucket and writes `<trace>.csv` as `t,rps` rows (t: seconds from the trace's start; rps:
requests in the bucket / bucket length, held until the next row: the format `webscale simulate
--trace FILE` reads). Nothing from the source repositories is copied: only counts per bucket.
The raw rates are kept; the benchmark scales each trace's peak (bench/scaling.py).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import io
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
WEB_SERVICE = "reconfigurable-ml-pipeline+web-service-datasets"  # NASA (and the Twitter stream), per second
WORLDCUP = "nimamahmoudi+worldcup98-dataset"  # WorldCup98, per minute
AZURE = "Azure+AzurePublicDataset"  # Azure LLM inference trace 2023, one row per request


def blob(mirror: Path, repo: str, path: str) -> bytes:
    git_dir = mirror / repo / "repo"
    return subprocess.run(["git", "-C", str(git_dir), "show", f"HEAD:{path}"], check=True, capture_output=True).stdout


def per_second_workload(data: bytes) -> list[int]:
    """The web-service-datasets format: a bzip2 tar holding workload.txt, one count per second."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:bz2") as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("workload.txt"))
        text = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
    return [int(x) for x in text.split()]


def buckets(counts: Iterable[int], size: int) -> list[int]:
    values = list(counts)
    return [sum(values[i : i + size]) for i in range(0, len(values) - size + 1, size)]


def write(name: str, per_bucket: list[int], size: int, header: list[str]) -> None:
    lines = [f"# {line}" for line in header]
    lines.append(f"# {len(per_bucket)} buckets of {size} s; {sum(per_bucket):,} requests; see {name}.md")
    lines.append("t,rps")
    lines += [f"{i * size},{count / size:g}" for i, count in enumerate(per_bucket)]
    (HERE / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    peak = max(per_bucket) / size
    mean = sum(per_bucket) / len(per_bucket) / size
    print(f"{name}.csv: {len(per_bucket)} x {size} s, mean {mean:.2f} req/s, peak {peak:.2f} req/s")


def fill_outages(per_bucket: list[int], reach: int = 60, share: float = 0.25) -> tuple[list[int], int]:
    """Buckets with fewer than `share` of the median of the `reach` buckets either side are taken as
    an outage of the server or of its log (a web log counts served requests: while the server is
    down the users' requests are not in it) and are filled linearly between the nearest buckets
    around them that are not. Returns the filled series and the number of buckets filled."""
    n = len(per_bucket)
    gap = []
    for i, count in enumerate(per_bucket):
        around = sorted(per_bucket[max(0, i - reach) : i] + per_bucket[i + 1 : i + 1 + reach])
        gap.append(count < share * around[len(around) // 2])
    out = list(per_bucket)
    for i in range(n):
        if gap[i]:
            left = next((j for j in range(i - 1, -1, -1) if not gap[j]), None)
            right = next((j for j in range(i + 1, n) if not gap[j]), None)
            if left is None or right is None:
                out[i] = per_bucket[right if left is None else left]  # type: ignore[index]
            else:
                out[i] = round(per_bucket[left] + (per_bucket[right] - per_bucket[left]) * (i - left) / (right - left))
    return out, sum(gap)


def nasa_days(mirror: Path, first: int, days: int, name: str, dates: str) -> None:
    """Days `first`..`first + days - 1` of the NASA log (day 0 is 1995-07-01), per minute, outages filled."""
    # workload.txt starts at the log's first second, 1995-07-01 00:00:01 -0400, one count per second.
    seconds = per_second_workload(blob(mirror, WEB_SERVICE, "dataset/nasa/workload.tbz2"))
    counts = seconds[first * 86400 : (first + days) * 86400]
    minutes, filled = fill_outages(buckets(counts, 60))
    header = [
        f"NASA Kennedy Space Center WWW server, HTTP requests on {dates} (-0400), per minute",
        f"{filled} minutes with under a quarter of the median of the two hours around them (server or log",
        "outages: a log has only served requests) filled linearly from the minutes around them",
    ]
    write(name, minutes, 60, header)


def nasa(mirror: Path) -> None:
    """1995-07-13, the day of the STS-70 launch: the busiest day of the log."""
    nasa_days(mirror, 12, 1, "nasa-kennedy-1995-07-13", "1995-07-13")


def nasa_three_days(mirror: Path) -> None:
    """1995-07-10 (Monday) to 07-12, the three days before the launch: the only stretch of the real
    traces long enough for a seasonal prior (the same time yesterday) to have a yesterday."""
    nasa_days(mirror, 9, 3, "nasa-kennedy-1995-07-10-to-12", "1995-07-10 to 1995-07-12")


def twitter(mirror: Path) -> None:
    seconds = per_second_workload(blob(mirror, WEB_SERVICE, "dataset/twitter_trace/workload.tbz2"))
    counts = seconds[21 * 86400 :]  # the series' last day: the only one without empty (uncollected) seconds
    header = ["Archive Team Twitter stream grab 2021-08, records (tweets and deletions) of the series' last day"]
    write("twitter-stream-2021-08-day22", buckets(counts, 10), 10, header)


def worldcup(mirror: Path) -> None:
    text = blob(mirror, WORLDCUP, "invocation_count.csv").decode()
    per_minute: dict[str, int] = collections.defaultdict(int)
    for row in text.splitlines()[1:]:
        if row.strip():
            period, count = row.split(",")
            per_minute[period] += int(count)
    start = dt.datetime(1998, 6, 30)
    minutes = [per_minute.get((start + dt.timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M:%S"), 0) for m in range(1440)]
    header = ["1998 FIFA World Cup web site, HTTP requests on 1998-06-30 (log timestamps as recreated), per minute"]
    write("worldcup98-1998-06-30", minutes, 60, header)


def azure_llm(mirror: Path, service: str) -> None:
    text = blob(mirror, AZURE, f"data/AzureLLMInferenceTrace_{service}.csv").decode()
    stamps = [dt.datetime.fromisoformat(r.split(",")[0][:26]) for r in text.splitlines()[1:] if r.strip()]
    start = min(stamps).replace(microsecond=0)
    count = collections.Counter(int((s - start).total_seconds()) // 10 for s in stamps)
    per_bucket = [count.get(i, 0) for i in range(max(count))]  # the last, partial bucket is dropped
    header = [f"Azure LLM inference trace 2023 ({service} service), requests from {start.isoformat()}, per 10 s"]
    write(f"azure-llm-{service}-2023-11-16", per_bucket, 10, header)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args()
    nasa(args.mirror)
    nasa_three_days(args.mirror)
    worldcup(args.mirror)
    twitter(args.mirror)
    azure_llm(args.mirror, "conv")
    azure_llm(args.mirror, "code")


if __name__ == "__main__":
    main()
