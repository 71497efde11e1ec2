"""What authentication costs the demo server: /public against /protected, and memory under distinct tokens.

    pip install -e '.[fast]'
    python benchmarks/bench_server.py [--seconds 1] [--rounds 21] [--connections 8] [--tokens 100000]

It starts `python server.py` against a real issuer (a JWKS served here on
127.0.0.1, keys from `cryptography`), then drives it with keep-alive clients:
wrk when installed, else stdlib threads, pinned to another core than the
server when taskset exists.  Both routes get the same Authorization header, so
the difference between them is the cost of authentication (a verified-token
cache hit) and of echoing the claims.  The routes alternate, round after
round, which one goes first changing each round; the table shows medians and
the ratio is the median of the ratios measured within a round.  Finally it
sends --tokens distinct tokens to /protected and reports the server's resident
memory before and its peak after (Linux /proc).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import bench_verify  # the same issuer, tokens and JWKS server as the verify benchmark

ROOT = Path(__file__).resolve().parent.parent


# On a machine with few cores the server and the load generator fight for them, and
# the numbers swing from run to run; pinned to different cores (taskset) they do not.
SERVER_CORE, CLIENT_CORE = (["taskset", "-c", "0"], ["taskset", "-c", "1"]) if shutil.which("taskset") else ([], [])


def start_server(issuer: str) -> tuple[subprocess.Popen, str]:
    """Start the demo against issuer; return the process and its base URL."""
    command = [*SERVER_CORE, sys.executable, "server.py", "--issuer", issuer, "--audience", bench_verify.AUDIENCE]
    process = subprocess.Popen([*command, "--port", "0", "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        found = re.search(r"Serving on (http://[\d.]+:\d+)", line)
        if found:
            return process, found.group(1)
    raise RuntimeError("the demo server did not start")


def memory_kib(pid: int) -> dict[str, int]:
    """Return the process's current (VmRSS) and peak (VmHWM) resident memory in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {name: int(re.search(rf"{name}:\s+(\d+)", status).group(1)) for name in ("VmRSS", "VmHWM")}


def load_with_wrk(url: str, header: str, seconds: float, connections: int) -> tuple[float, float, float]:
    """Return (requests/s, p50 ms, p99 ms) measured by wrk."""
    output = subprocess.run(
        [*CLIENT_CORE, "wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-H", header, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.M))
    return rate, *(to_ms(percentiles[p]) for p in ("50", "99"))


def to_ms(text: str) -> float:
    """Return a wrk duration such as 812.00us, 1.20ms or 1.01s in milliseconds."""
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def load_with_threads(url: str, header: str, seconds: float, connections: int) -> tuple[float, float, float]:
    """Return (requests/s, p50 ms, p99 ms) measured by keep-alive clients on stdlib threads."""
    host, port, path = re.fullmatch(r"http://([\d.]+):(\d+)(/.*)", url).groups()
    name, value = header.split(": ", 1)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    def client():
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        while (started := time.perf_counter()) < deadline:
            conn.request("GET", path, headers={name: value})
            conn.getresponse().read()
            latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return len(latencies) / seconds, latencies[len(latencies) // 2] * 1000, latencies[len(latencies) * 99 // 100] * 1000


def mint_chunk(arguments: tuple) -> list[str]:
    """Mint one chunk of distinct tokens in a worker process."""
    from cryptography.hazmat.primitives import serialization

    pem, issuer, first, count = arguments
    return bench_verify.mint(serialization.load_pem_private_key(pem, password=None), "k1", count, first, issuer)


def send_distinct(base: str, tokens: list[str], connections: int) -> int:
    """Send each token once to /protected over keep-alive connections; return how many got 200."""
    host, port = re.fullmatch(r"http://([\d.]+):(\d+)", base).groups()
    ok = []

    def client(batch):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        for token in batch:
            conn.request("GET", "/protected", headers={"Authorization": "Bearer " + token})
            response = conn.getresponse()
            response.read()
            ok.append(response.status == 200)

    threads = [threading.Thread(target=client, args=(tokens[i::connections],)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=1, help="length of one measurement, whole seconds")
    parser.add_argument("--rounds", type=int, default=21, help="alternations of /public and /protected")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=100_000, help="distinct tokens for the memory test")
    args = parser.parse_args()

    from cryptography.hazmat.primitives import serialization

    private, jwk = bench_verify.make_issuer(2048, "k1")
    issuer = bench_verify.jwks_server({"keys": [jwk]}).rsplit("/.well-known/", 1)[0]
    header = "Authorization: Bearer " + bench_verify.mint(private, "k1", 1, issuer=issuer)[0]
    process, base = start_server(issuer)
    try:
        load = load_with_wrk if shutil.which("wrk") else load_with_threads
        tool = "wrk" if load is load_with_wrk else "stdlib threads"
        pinned = ", server and client pinned to different cores" if SERVER_CORE else ""
        print(f"demo server at {base}; load from {tool}, {args.connections} keep-alive connections{pinned}")
        print(f"{args.rounds} rounds of {args.seconds} s per route, alternating which route goes first")
        load(base + "/protected", header, 1, args.connections)  # warm up: JWKS fetch, caches
        results: dict = {"/public": [], "/protected": []}
        ratios = []
        for round_number in range(args.rounds):
            for route in sorted(results, reverse=round_number % 2 == 1):
                results[route].append(load(base + route, header, args.seconds, args.connections))
            ratios.append(results["/protected"][-1][0] / results["/public"][-1][0])
        print("\n| route | requests/s | p50 ms | p99 ms |\n|---|---:|---:|---:|")
        for route, runs in results.items():
            rate, p50, p99 = (statistics.median(column) for column in zip(*runs, strict=True))
            print(f"| {route} | {rate:,.0f} | {p50:.2f} | {p99:.2f} |")
        ratios.sort()
        print(
            f"\n/protected ÷ /public requests/s, same round: median {statistics.median(ratios):.3f} "
            f"(middle half {ratios[len(ratios) // 4]:.3f}-{ratios[len(ratios) * 3 // 4]:.3f}; "
            "same Authorization header on both)"
        )

        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        started = time.perf_counter()
        chunks = [(pem, issuer, i, min(5000, args.tokens - i)) for i in range(0, args.tokens, 5000)]
        with multiprocessing.Pool() as pool:
            tokens = [token for chunk in pool.map(mint_chunk, chunks) for token in chunk]
        print(f"\nminted {len(tokens):,} distinct tokens in {time.perf_counter() - started:.0f} s")
        before = memory_kib(process.pid)
        started = time.perf_counter()
        accepted = send_distinct(base, tokens, args.connections)
        after = memory_kib(process.pid)
        seconds = time.perf_counter() - started
        growth = (after["VmHWM"] - before["VmRSS"]) / 1024
        print(
            f"{accepted:,} of {len(tokens):,} accepted in {seconds:.0f} s ({len(tokens) / seconds:,.0f}/s); "
            f"server RSS {before['VmRSS'] / 1024:.1f} MiB before, peak {after['VmHWM'] / 1024:.1f} MiB after: "
            f"growth {growth:.1f} MiB"
        )
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
