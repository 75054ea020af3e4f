"""The most a running `python -m stages.serve` can be made to take: time and the server's
memory under the largest uploads its limits admit, and under what they refuse.

    python benchmarks/serve_worst_case.py --pid PID [--url http://127.0.0.1:8000]
        [--concurrent 8]

Three loads, one after another, each of white 5,000 x 5,000 PNGs with one black stroke
(about 30 kB each): one request of 32 of them (over the request's pixel budget), then
`--concurrent` requests at once of 4 (the budget, 100 million pixels), then 40 requests
at once of 4. Prints, per load, the statuses, the slowest answer and the server's
largest resident memory while it ran (sampled from /proc/PID/status every 20 ms), and
the server's peak since it started (VmHWM). Local only: the figures depend on the
machine and on what else runs on it.
"""

import argparse
import io
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx2
import numpy as np
from PIL import Image

SIDE = 5_000


def stroke_picture() -> bytes:
    pixels = np.full((SIDE, SIDE), 255, np.uint8)
    pixels[1_000:4_000, 2_400:2_600] = 0
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def memory(pid: int, field: str) -> int:
    """A /proc/PID/status figure in MB."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) // 1024


def under_load(url: str, pid: int, picture: bytes, pictures: int, requests: int) -> str:
    largest, done = [memory(pid, "VmRSS")], threading.Event()

    def sample():
        while not done.wait(0.02):
            largest.append(memory(pid, "VmRSS"))

    def send(_) -> tuple[int, float]:
        start = time.perf_counter()
        files = [("file", (f"{index}.png", picture)) for index in range(pictures)]
        response = httpx2.post(f"{url}/predict", files=files, timeout=300)
        return response.status_code, time.perf_counter() - start

    sampler = threading.Thread(target=sample)
    sampler.start()
    with ThreadPoolExecutor(requests) as pool:
        answers = list(pool.map(send, range(requests)))
    done.set()
    sampler.join()
    statuses = ", ".join(
        f"{count} x {status}" for status, count in sorted(Counter(s for s, _ in answers).items())
    )
    slowest = max(seconds for _, seconds in answers)
    return (
        f"{requests} request(s) of {pictures} pictures: {statuses}; slowest {slowest:.1f} s; "
        f"server RSS {largest[0]:,} -> at most {max(largest):,} MB"
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pid", type=int, required=True, help="the server's process id")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--concurrent", type=int, default=8)
    args = parser.parse_args()
    picture = stroke_picture()
    print(f"each picture: {SIDE:,} x {SIDE:,} pixels, {len(picture):,} bytes")
    for pictures, requests in ((32, 1), (4, args.concurrent), (4, 40)):
        print(under_load(args.url, args.pid, picture, pictures, requests))
    print(f"server peak RSS since it started (VmHWM): {memory(args.pid, 'VmHWM'):,} MB")


if __name__ == "__main__":
    main()
