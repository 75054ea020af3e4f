"""Load a running `python -m stages.serve` with concurrent clients and print the latencies.

    python benchmarks/serve_load.py [--url http://127.0.0.1:8000] [--requests 200]
        [--clients 8] PICTURE

Each client sends PICTURE (a PNG or JPEG file) to POST /predict, one request after
another, until `--requests` have been sent in all; prints how many were answered with
200 and the 50th and 99th percentile and largest latency. The form is encoded once and
sent over the standard library's http.client (about 0.2 ms of CPU per request, where
httpx's client took 0.9 ms, on the cores the server runs on). Local only: the figures
depend on the machine and on what else runs on it (tests/test_serve.py runs it against
a server it starts).
"""

import argparse
import http.client
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

BOUNDARY = "serve-load-boundary"


def form(picture: bytes) -> bytes:
    """A multipart/form-data body of one file, PICTURE, as picture.png."""
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="picture.png"\r\n\r\n'
    return head.encode() + picture + f"\r\n--{BOUNDARY}--\r\n".encode()


def load(url: str, picture: bytes, requests: int, clients: int) -> dict:
    """Statuses and latencies (seconds) of `requests` POSTs of `picture` to URL/predict
    from `clients` concurrent clients, each with its own connection."""
    address, body = urlsplit(url), form(picture)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    def client(count: int) -> list[tuple[int, float]]:
        answers = []
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        try:
            for _ in range(count):
                start = time.perf_counter()
                connection.request("POST", "/predict", body, headers)
                response = connection.getresponse()
                response.read()
                answers.append((response.status, time.perf_counter() - start))
        finally:
            connection.close()
        return answers

    shares = [requests // clients + (index < requests % clients) for index in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        answers = [answer for part in pool.map(client, shares) for answer in part]
    latencies = sorted(seconds for _, seconds in answers)
    return {
        "requests": len(answers),
        "ok": sum(status == 200 for status, _ in answers),
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "max": latencies[-1],
    }


def describe(figures: dict, clients: int) -> str:
    """`load`'s figures in one line."""
    p50, p99, most = (f"{1000 * figures[key]:.1f} ms" for key in ("p50", "p99", "max"))
    return (
        f"{figures['ok']} of {figures['requests']} requests answered 200 by {clients} clients; "
        f"latency p50 {p50}, p99 {p99}, max {most}"
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("picture", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    figures = load(args.url, args.picture.read_bytes(), args.requests, args.clients)
    print(describe(figures, args.clients))


if __name__ == "__main__":
    main()
