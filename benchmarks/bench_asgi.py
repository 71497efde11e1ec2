"""What authentication costs an ASGI app under uvicorn: zjwt's middleware and the FastAPI example.

    pip install -e '.[bench]'
    python benchmarks/bench_asgi.py [--seconds 1] [--rounds 21] [--connections 8]

Two pairs of routes, each served by uvicorn with one worker, driven by wrk
(stdlib threads without it) pinned to another core than the server, with the
same Authorization header on every request:

- a bare ASGI app behind zjwt.asgi_middleware: /protected (authenticated)
  against /public (passed through); both answer the same fixed JSON;
- examples/fastapi_app.py, as it is: /protected (its async dependency over
  authenticate_async) against /baseline, a route added here whose dependency
  reads the same header and returns the same claims without verifying
  anything. The difference is what zjwt adds, apart from FastAPI's own
  dependency cost.

The routes of a pair alternate, round after round, which one goes first
changing each round; the ratio is the median of the ratios within a round.
This VM's speed drifts from second to second, so the table also shows the
server's CPU time per request (Linux schedstat, steal time excluded): the
steadier measure of what each route costs.
"""

import argparse
import contextlib
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # the zjwt.py beside this folder

import zjwt  # noqa: E402 - after the path is set

AUDIENCE = "https://api.example.com"  # bench_verify's tokens name it
FIXED = {"body": b'{"message":"ok"}', "headers": [(b"content-type", b"application/json"), (b"content-length", b"16")]}


def _verifier() -> zjwt.Verifier:
    """Return the verifier the served apps use: the issuer comes from the benchmark process."""
    return zjwt.Verifier(os.environ["ZJWT_BENCH_ISSUER"], audience=AUDIENCE)


async def fixed_answer(scope, receive, send):
    """A bare ASGI app answering the same small JSON on every route."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": FIXED["headers"]})
        await send({"type": "http.response.body", "body": FIXED["body"]})


def bare_app():
    """Return the bare ASGI app behind zjwt's middleware (uvicorn --factory)."""
    return zjwt.asgi_middleware(fixed_answer, _verifier(), public_paths=["/public"])


def fastapi_app():
    """Return examples/fastapi_app.py's app, plus /baseline: the same route with a dependency that verifies nothing."""
    from fastapi import Depends, Request

    os.environ |= {"ZJWT_ISSUER": os.environ["ZJWT_BENCH_ISSUER"], "ZJWT_AUDIENCE": AUDIENCE}
    spec = importlib.util.spec_from_file_location("fastapi_app", ROOT / "examples" / "fastapi_app.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)  # the example as it is
    claims = example.verifier.verify(os.environ["ZJWT_BENCH_TOKEN"])  # what /protected returns: the same body

    async def fixed_claims(request: Request) -> dict:
        request.headers.getlist("authorization")
        return claims

    @example.app.get("/baseline")
    async def baseline(claims: dict = Depends(fixed_claims)):  # noqa: B008 - FastAPI's idiom
        return {"message": "Access granted", "user": claims}

    return example.app


def start_uvicorn(factory: str, env: dict) -> tuple[subprocess.Popen, str]:
    """Start uvicorn with one worker serving factory; return the process and its base URL."""
    import bench_server

    command = [*bench_server.SERVER_CORE, sys.executable, "-m", "uvicorn", f"bench_asgi:{factory}", "--factory"]
    command += ["--app-dir", str(HERE), "--port", "0", "--no-access-log", "--log-level", "info"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        found = re.search(r"running on (http://[\d.]+:\d+)", line)
        if found:
            return process, found.group(1)
    raise RuntimeError("uvicorn did not start")


def cpu_seconds(pid: int) -> float:
    """Return the CPU time all of a process's threads have used so far, in seconds (Linux schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def compare(process: subprocess.Popen, base: str, routes: tuple[str, str], header: str, args) -> tuple[dict, list]:
    """Return {route: [(requests/s, p50, p99, CPU µs per request) per round]} and the per-round ratios."""
    import bench_server

    load = bench_server.load_with_wrk if bench_server.shutil.which("wrk") else bench_server.load_with_threads
    for route in routes:  # wrk counts any answer: make sure both routes answer 200 with this header
        name, value = header.split(": ", 1)
        with urllib.request.urlopen(urllib.request.Request(base + route, headers={name: value})) as response:
            assert response.status == 200, f"{route} answered {response.status}"
    load(base + routes[1], header, 1, args.connections)  # warm up: caches
    results: dict = {route: [] for route in routes}
    ratios = []
    for round_number in range(args.rounds):
        for route in routes if round_number % 2 == 0 else routes[::-1]:
            before = cpu_seconds(process.pid)
            rate, p50, p99 = load(base + route, header, args.seconds, args.connections)
            cpu = (cpu_seconds(process.pid) - before) / (rate * args.seconds) * 1e6
            results[route].append((rate, p50, p99, cpu))
        ratios.append(results[routes[1]][-1][0] / results[routes[0]][-1][0])
    return results, ratios


def report(title: str, results: dict, ratios: list) -> None:
    """Print a table of medians and the median ratio."""
    print(f"\n{title}\n\n| route | requests/s | p50 ms | p99 ms | server CPU µs/request |\n|---|---:|---:|---:|---:|")
    medians = {}
    for route, runs in results.items():
        medians[route] = [statistics.median(column) for column in zip(*runs, strict=True)]
        rate, p50, p99, cpu = medians[route]
        print(f"| {route} | {rate:,.0f} | {p50:.2f} | {p99:.2f} | {cpu:.1f} |")
    ratios = sorted(ratios)
    first, second = list(results)
    print(
        f"\n{second} ÷ {first} requests/s, same round: median {statistics.median(ratios):.3f} "
        f"(middle half {ratios[len(ratios) // 4]:.3f}-{ratios[len(ratios) * 3 // 4]:.3f}); "
        f"CPU per request {first} ÷ {second}: {medians[first][3] / medians[second][3]:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=1, help="length of one measurement, whole seconds")
    parser.add_argument("--rounds", type=int, default=21, help="alternations of the two routes of a pair")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    import bench_server
    import bench_verify

    private, jwk = bench_verify.make_issuer(2048, "k1")
    issuer = bench_verify.jwks_server({"keys": [jwk]}).removesuffix("/.well-known/jwks.json")
    token = bench_verify.mint(private, "k1", 1, issuer=issuer)[0]
    header = "Authorization: Bearer " + token
    env = {**os.environ, "ZJWT_BENCH_ISSUER": issuer, "ZJWT_BENCH_TOKEN": token}
    tool = "wrk" if bench_server.shutil.which("wrk") else "stdlib threads"
    pinned = ", server and client pinned to different cores" if bench_server.SERVER_CORE else ""
    print(f"uvicorn, one worker; load from {tool}, {args.connections} keep-alive connections{pinned}")
    print(f"{args.rounds} rounds of {args.seconds} s per route, alternating which route goes first")
    pairs = [
        ("bare_app", ("/public", "/protected"), "A bare ASGI app behind zjwt.asgi_middleware"),
        ("fastapi_app", ("/baseline", "/protected"), "examples/fastapi_app.py against the same route unverified"),
    ]
    for factory, routes, title in pairs:
        process, base = start_uvicorn(factory, env)
        try:
            report(title, *compare(process, base, routes, header, args))
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
