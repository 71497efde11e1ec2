"""The zjwt demo: a small JSON API whose /protected route needs a valid JWT.

    python server.py
        Starts a development issuer inside the server: an RSA key made at
        start-up, published as a JWKS, and a curl command with a token to try.
    python server.py --issuer https://my-api-a32f34.zuplo.api/__zuplo/issuer
        Verifies a real gateway's tokens instead: no key, no minting.

Every path except /public needs 'Authorization: Bearer <token>', as in the PHP
snippet this rebuilds (its 'before' hook).  Standard library only; start-up is
faster when `cryptography` is installed.  Options also come from ZJWT_*
environment variables (ZJWT_ISSUER, ZJWT_AUDIENCE, ZJWT_JWKS_URI, ZJWT_HOST,
ZJWT_PORT).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import math
import os
import secrets
import signal
import socket
import sys
import time
import urllib.parse
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import zjwt

DEFAULT_HOST = "127.0.0.1"  # development mode mints tokens for anyone who asks: loopback only by default
DEFAULT_PORT = 8000
DEV_AUDIENCE = "zjwt-demo"  # the 'aud' of development tokens, which the demo's verifier requires
DEV_TOKEN_SECONDS = 3600  # lifetime of the token printed at start-up
MAX_DEV_TOKEN_SECONDS = 24 * 3600  # longest (and most negative, to see expiry) POST /dev/token lifetime
IDLE_TIMEOUT_SECONDS = 10  # a connection that sends nothing for this long is closed, freeing its thread
MAX_BODY_BYTES = 4096  # request bodies: only POST /dev/token takes one, a tiny JSON object
LINGER_SECONDS = 1  # after the last reply, how long unread input is drained so closing does not reset the reply
DEV_ISSUER_PATH = "/dev/issuer"
DEV_JWKS_PATH = DEV_ISSUER_PATH + "/.well-known/jwks.json"  # where zjwt looks by default: <issuer>/.well-known/...
DEV_TOKEN_PATH = "/dev/token"


# ---------------------------------------------------------------------------
# Development issuer: an RSA key, its JWKS, and RS256 tokens signed with it.
# ---------------------------------------------------------------------------

_SMALL_PRIMES_PRODUCT = math.prod(p for p in range(3, 4000, 2) if all(p % q for q in range(3, math.isqrt(p) + 1, 2)))


def _is_probable_prime(n: int, rounds: int = 20) -> bool:
    """Return True if n passes `rounds` Miller-Rabin tests (error below 4**-rounds)."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _random_prime(bits: int) -> int:
    """Return a random prime of exactly `bits` bits whose top two bits are set."""
    while True:
        candidate = secrets.randbits(bits) | (3 << (bits - 2)) | 1  # two top bits: p * q has 2 * bits bits
        if math.gcd(candidate, _SMALL_PRIMES_PRODUCT) == 1 and _is_probable_prime(candidate):
            return candidate


def generate_rsa_key(bits: int = 2048, e: int = 65537) -> dict:
    """Return a new RSA private key as integers (n, e, d, p, q and the CRT values), via cryptography if installed."""
    try:
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:  # pure Python: about a second for 2048 bits
        while True:
            p, q = _random_prime(bits // 2), _random_prime(bits - bits // 2)
            if p != q and math.gcd(e, (p - 1) * (q - 1)) == 1:
                break
    else:
        private = rsa.generate_private_key(public_exponent=e, key_size=bits).private_numbers()
        p, q = private.p, private.q
    d = pow(e, -1, math.lcm(p - 1, q - 1))
    return {"n": p * q, "e": e, "d": d, "p": p, "q": q, "dp": d % (p - 1), "dq": d % (q - 1), "qi": pow(q, -1, p)}


def rsa_private(key: dict, m: int) -> int:
    """Return m ** d mod n, computed with the CRT (RFC 8017 5.1.2), about three times faster."""
    m1, m2 = pow(m, key["dp"], key["p"]), pow(m, key["dq"], key["q"])
    return m2 + (key["qi"] * (m1 - m2) % key["p"]) * key["q"]


def b64url(data: bytes) -> str:
    """Return unpadded base64url text (RFC 7515 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_uint(value: int) -> str:
    """Return a positive integer as a JWK Base64urlUInt: big-endian, minimum octets (RFC 7518 2)."""
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def public_jwk(key: dict, kid: str) -> dict:
    """Return the public half of key as a JWK for RS256 signatures (RFC 7517 4, RFC 7518 6.3.1)."""
    return {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": b64url_uint(key["n"]),
        "e": b64url_uint(key["e"]),
    }


def sign_token(key: dict, claims: dict, kid: str | None) -> str:
    """Return an RS256 JWT carrying claims, signed with key (RFC 7515 5.1, RFC 8017 8.2.1)."""
    header = {"alg": "RS256", "typ": "JWT", **({"kid": kid} if kid is not None else {})}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    k = (key["n"].bit_length() + 7) // 8
    m = zjwt.emsa_pkcs1_v1_5("sha256", hashlib.sha256(signing_input.encode()).digest(), k)
    return signing_input + "." + b64url(rsa_private(key, m).to_bytes(k, "big"))


@dataclass
class DevIssuer:
    """A development issuer: one key, served as a JWKS, minting RS256 tokens for anyone who asks."""

    url: str  # the 'iss' of its tokens
    key: dict
    kid: str

    def jwks(self) -> dict:
        """Return the issuer's public JWKS document."""
        return {"keys": [public_jwk(self.key, self.kid)]}

    def mint(self, sub: str = "demo-user", expires_in: int = DEV_TOKEN_SECONDS, **claims) -> str:
        """Return a token for sub that expires in expires_in seconds (negative: already expired)."""
        now = int(time.time())
        claims = {"iss": self.url, "sub": sub, "aud": DEV_AUDIENCE, "iat": now, "exp": now + expires_in, **claims}
        return sign_token(self.key, claims, self.kid)


# ---------------------------------------------------------------------------
# HTTP: the routes, a handler that answers JSON only, and a server that closes politely.
# ---------------------------------------------------------------------------


class DemoServer(ThreadingHTTPServer):
    """A threaded HTTP server holding the verifier and, in development mode, the issuer."""

    daemon_threads = True  # Ctrl-C does not wait for clients
    request_queue_size = 128  # listen backlog: bursts of new connections are queued, not dropped

    def __init__(self, address, verifier: zjwt.Verifier | None, quiet: bool, idle_timeout: float):
        """Bind to address; with no verifier, become a development issuer and verify its tokens."""
        super().__init__(address, DemoHandler)
        host, port = self.server_address[:2]
        self.base_url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
        self.dev = None
        if verifier is None:  # the issuer URL needs the port, so it exists only once bound
            self.dev = DevIssuer(self.base_url + DEV_ISSUER_PATH, generate_rsa_key(), f"dev-{secrets.token_hex(4)}")
            # Like any real client, the verifier fetches the keys over HTTP from <issuer>/.well-known/jwks.json.
            verifier = zjwt.Verifier(self.dev.url, audience=DEV_AUDIENCE)
        self.verifier = verifier
        self.quiet = quiet
        self.idle_timeout = idle_timeout

    def handle_error(self, request: socket.socket, client_address: tuple) -> None:
        """Log a connection that failed; a client hanging up is not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            logging.getLogger("zjwt.demo").exception("connection from %s failed", client_address[0])

    def shutdown_request(self, request: socket.socket) -> None:
        """Close a connection without resetting it: end our side, then drain what the client still sends."""
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(LINGER_SECONDS)
            deadline = time.monotonic() + LINGER_SECONDS
            while time.monotonic() < deadline and request.recv(65536):
                pass
        except OSError:
            pass
        self.close_request(request)


class DemoHandler(BaseHTTPRequestHandler):
    """Answers one connection's requests: authentication first, then the route, JSON always."""

    server: DemoServer
    server_version = f"zjwt-demo/{zjwt.__version__}"
    protocol_version = "HTTP/1.1"  # keep-alive, so every response has a Content-Length
    # One send per response: headers and body written separately meet Nagle's algorithm and the
    # client's delayed ACK, and every keep-alive request then waits 40 ms.
    wbufsize = -1  # buffered; http.server flushes after each request
    disable_nagle_algorithm = True

    def setup(self) -> None:
        """Apply the server's idle timeout to this connection's socket."""
        self.timeout = self.server.idle_timeout
        super().setup()

    def do_GET(self) -> None:  # the name http.server dispatches to
        """Handle any method the same way: the routes decide what is allowed."""
        self.responded = False
        try:
            self.handle_request()
        except Exception:  # never a stack trace to the client: log it here, answer 500
            logging.getLogger("zjwt.demo").exception("error while handling %s", self.requestline)
            self.close_connection = True
            if not self.responded:
                self.send_json(500, {"error": "Internal Server Error", "message": "see the server log"})

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET  # noqa: N815

    def handle_request(self) -> None:
        """Read the body, authenticate unless the path is public, then run the route."""
        body = self.read_body()
        if body is None:
            return
        path = urllib.parse.urlsplit(self.path).path
        routes = self.routes()
        public = path == "/public" or (self.server.dev is not None and path.startswith("/dev/"))
        claims = None
        if not public:  # the seed's 'before' hook: authenticate every other path
            try:
                claims = self.server.verifier.authenticate(self.authorization())
            except zjwt.AuthError as error:
                self.send(*zjwt.error_response(error))
                return
        methods = routes.get(path)
        if methods is None:
            self.send_json(404, {"error": "Not Found", "message": f"no route {path[:80]}"})
            return
        method = "GET" if self.command == "HEAD" else self.command
        if method not in methods:
            allowed = ", ".join(sorted({*methods, "HEAD"} if "GET" in methods else methods))
            message = f"{self.command} is not allowed here; use {allowed}"
            self.send_json(405, {"error": "Method Not Allowed", "message": message}, [("Allow", allowed)])
            return
        methods[method](claims, body)

    def routes(self) -> dict:
        """Return path -> {method: handler(claims, body)}."""
        routes = {
            "/public": {
                "GET": lambda claims, body: self.send_json(200, {"message": "Public endpoint: no token needed"})
            },
            "/protected": {
                "GET": lambda claims, body: self.send_json(200, {"message": "Access granted", "user": claims})
            },
        }
        if self.server.dev is not None:
            routes[DEV_JWKS_PATH] = {"GET": lambda claims, body: self.send_json(200, self.server.dev.jwks())}
            routes[DEV_TOKEN_PATH] = {"POST": self.mint_token}
        return routes

    def authorization(self) -> str | None:
        """Return the Authorization header, refusing requests that carry several (RFC 6750 3.1)."""
        values = self.headers.get_all("Authorization") or []
        if len(values) > 1:
            raise zjwt.InvalidRequest("the request has several Authorization headers")
        return values[0] if values else None

    def mint_token(self, claims: dict | None, body: bytes) -> None:
        """POST /dev/token {"sub": ..., "expires_in": seconds} -> a new development token."""
        try:
            request = json.loads(body or b"{}")
            sub = request.get("sub", "demo-user")
            expires_in = request.get("expires_in", DEV_TOKEN_SECONDS)
            valid = isinstance(sub, str) and type(expires_in) is int and abs(expires_in) <= MAX_DEV_TOKEN_SECONDS
        except (ValueError, AttributeError):
            valid = False
        if not valid:
            message = f'send {{"sub": "<string>", "expires_in": <integer seconds, at most {MAX_DEV_TOKEN_SECONDS}>}}'
            self.send_json(400, {"error": "Bad Request", "message": message})
            return
        token = self.server.dev.mint(sub=sub, expires_in=expires_in)
        self.send_json(200, {"access_token": token, "token_type": "Bearer", "expires_in": expires_in})

    def read_body(self) -> bytes | None:
        """Return the request body (b"" when there is none), or answer the error and return None."""
        if "Transfer-Encoding" in self.headers:
            self.send_error(411, "send a Content-Length; chunked bodies are not accepted")
            return None
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit():
            self.send_error(400, "Content-Length is not a number")
            return None
        if int(length) > MAX_BODY_BYTES:
            self.send_error(413, f"bodies are limited to {MAX_BODY_BYTES} bytes")
            return None
        return self.rfile.read(int(length))

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send one complete response (no body for HEAD)."""
        self.responded = True
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: dict, headers: list[tuple[str, str]] = ()) -> None:
        """Send payload as a JSON response."""
        body = json.dumps(payload).encode() + b"\n"
        self.send(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers], body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a request http.server could not parse (or that we refuse) with JSON, then close."""
        self.close_connection = True
        status = HTTPStatus(code)
        self.send_json(code, {"error": status.phrase, "message": message or status.description})

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        """Write the access log line to stderr, unless the server is quiet."""
        if not self.server.quiet:
            super().log_message(format, *args)


# ---------------------------------------------------------------------------
# Command line and start-up.
# ---------------------------------------------------------------------------


@dataclass
class Config:
    """How the demo runs; each field has a --flag and a ZJWT_* variable."""

    issuer: str | None = None  # None: development issuer built in
    audience: str | None = None
    jwks_uri: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    quiet: bool = False
    expose_dev_issuer: bool = False
    idle_timeout: float = IDLE_TIMEOUT_SECONDS


def parse_config(argv: list[str] | None = None, environ: dict | None = None) -> Config:
    """Return the Config from command-line flags, falling back to ZJWT_* environment variables."""
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="python server.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--issuer", default=env.get("ZJWT_ISSUER"), help="a real issuer; default: the built-in development issuer"
    )
    parser.add_argument("--audience", default=env.get("ZJWT_AUDIENCE"), help="the 'aud' your tokens must name")
    parser.add_argument("--jwks-uri", default=env.get("ZJWT_JWKS_URI"), help="default: <issuer>/.well-known/jwks.json")
    parser.add_argument(
        "--host", default=env.get("ZJWT_HOST", DEFAULT_HOST), help=f"address to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument("--port", type=int, default=int(env.get("ZJWT_PORT", DEFAULT_PORT)), help="0 picks a free port")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.add_argument(
        "--expose-dev-issuer",
        action="store_true",
        help="DANGER: allow the development issuer on a non-loopback --host (anyone could mint tokens)",
    )
    args = parser.parse_args(argv)
    if args.issuer is None and (args.audience or args.jwks_uri):
        parser.error("--audience and --jwks-uri need --issuer (the development issuer sets its own)")
    if args.issuer is None and not _is_loopback_host(args.host):
        if not args.expose_dev_issuer:
            parser.error(f"development mode listens on loopback only; --host {args.host} needs --expose-dev-issuer")
        if args.host != "0.0.0.0":
            parser.error("with --expose-dev-issuer use --host 0.0.0.0 (the server fetches its own keys over loopback)")
    return Config(args.issuer, args.audience, args.jwks_uri, args.host, args.port, args.quiet, args.expose_dev_issuer)


def _is_loopback_host(host: str) -> bool:
    """Return True for the host names that only this machine can reach."""
    return host in ("localhost", "127.0.0.1") or host.startswith("127.")


def make_server(config: Config) -> DemoServer:
    """Return a bound DemoServer for config (raise ValueError for a bad issuer or JWKS URL)."""

    verifier = None  # development mode: the server makes its issuer and verifier once it knows its port
    if config.issuer is not None:
        verifier = zjwt.Verifier(config.issuer, audience=config.audience, jwks_uri=config.jwks_uri)
    return DemoServer((config.host, config.port), verifier, config.quiet, config.idle_timeout)


def banner(server: DemoServer) -> str:
    """Return what the demo prints at start-up: where it listens and how to try it."""
    url = server.base_url
    if server.dev is None:
        keys = server.verifier.key_source.uri
        return (
            f"Verifying tokens from {server.verifier.issuer}\n  keys from {keys}\n"
            f"Serving on {url}: /public is open, every other path needs 'Authorization: Bearer <token>'"
        )
    backend = {"cryptography": "cryptography", "pure": "pure Python"}[server.verifier.backend]
    return "\n".join(
        [
            f"Development issuer {server.dev.url} (RSA-2048 key made at start-up; signatures checked with {backend})",
            f"  its keys (JWKS): {url}{DEV_JWKS_PATH}",
            "",
            "Try the protected route with this token (valid for one hour):",
            "",
            f'curl -H "Authorization: Bearer {server.dev.mint()}" {url}/protected',
            "",
            f'More tokens:  curl -X POST {url}{DEV_TOKEN_PATH}   (body: {{"sub": "alice", "expires_in": 60}})',
            f"No token:     curl {url}/public",
            f"Serving on {url} (Ctrl-C to stop)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C or SIGTERM; return the exit status."""
    config = parse_config(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        server = make_server(config)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if config.expose_dev_issuer and server.dev is not None:
        print(
            "WARNING: --expose-dev-issuer: ANYONE who can reach this port can mint valid tokens. Demo only!",
            file=sys.stderr,
        )
    print(banner(server), flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop cleanly when asked to
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
