# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the zjwt authors
"""The zjwt demo: a small JSON API whose /protected route needs a valid JWT.

    python server.py
        Starts a development issuer inside the server: an RSA key made at
        start-up, published as a JWKS with an OpenID configuration that names
        it, and a curl command with a token to try.
    python server.py --issuer https://accounts.google.com --audience <client id>
        Verifies a real issuer's tokens instead: no key, no minting; the keys
        are found by OpenID Connect Discovery.

Every path except /public needs 'Authorization: Bearer <token>', as in the PHP
snippet this rebuilds (its 'before' hook); /health and the explain page are
open too.  GET / in a browser shows each check a pasted (or minted) token goes
through.  Standard library only; start-up is faster when `cryptography` is
installed.  Options also come from ZJWT_* environment variables (ZJWT_ISSUER,
ZJWT_AUDIENCE, ZJWT_JWKS_URI, ZJWT_HOST, ZJWT_PORT).
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import io
import json
import logging
import math
import os
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import zjwt

DEFAULT_HOST = "127.0.0.1"  # development mode mints tokens for anyone who asks: loopback only by default
DEFAULT_PORT = 8000
DEV_AUDIENCE = "zjwt-demo"  # the 'aud' of development tokens, which the demo's verifier requires
DEV_TOKEN_SECONDS = 3600  # lifetime of the token printed at start-up
MAX_DEV_TOKEN_SECONDS = 24 * 3600  # longest (and most negative, to see expiry) POST /dev/token lifetime
REQUEST_TIMEOUT_SECONDS = 10  # a request's line, headers and body must arrive within this; idle time counts
MAX_CONNECTIONS = 100  # connections served at once, one thread each; beyond it a new one gets 503
MAX_BODY_BYTES = 16 * 1024  # request bodies: a token to explain (at most 8 KiB, room for a larger one), a JWK
LINGER_SECONDS = 1  # after the last reply, how long unread input is drained so closing does not reset the reply
DEV_ISSUER_PATH = "/dev/issuer"
DEV_DISCOVERY_PATH = DEV_ISSUER_PATH + "/.well-known/openid-configuration"  # OpenID Connect Discovery 4
DEV_JWKS_PATH = DEV_ISSUER_PATH + "/.well-known/jwks.json"
DEV_TOKEN_PATH = "/dev/token"
# No token needed: the seed's /public, the health probe, and the explain page (its token is in the body, to explain).
# Every other path is the seed's protected one.
PUBLIC_PATHS = frozenset({"/public", "/health", "/", "/explain", "/explain.js", "/explain.css", "/favicon.svg"})


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


def generate_rsa_key(bits: int = 2048, e: int = 65537) -> dict[str, int]:
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


def rsa_private(key: dict[str, int], m: int) -> int:
    """Return m ** d mod n, computed with the CRT (RFC 8017 5.1.2), about three times faster."""
    m1, m2 = pow(m, key["dp"], key["p"]), pow(m, key["dq"], key["q"])
    return m2 + (key["qi"] * (m1 - m2) % key["p"]) * key["q"]


def b64url_uint(value: int) -> str:
    """Return a positive integer as a JWK Base64urlUInt: big-endian, minimum octets (RFC 7518 2)."""
    return zjwt.b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def public_jwk(key: dict[str, int], kid: str) -> dict[str, str]:
    """Return the public half of key as a JWK for RS256 signatures (RFC 7517 4, RFC 7518 6.3.1)."""
    return {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": b64url_uint(key["n"]),
        "e": b64url_uint(key["e"]),
    }


def sign_token(key: dict[str, int], claims: dict[str, Any], kid: str | None) -> str:
    """Return an RS256 JWT carrying claims, signed with key (RFC 7515 5.1, RFC 8017 8.2.1)."""
    header = {"alg": "RS256", "typ": "JWT", **({"kid": kid} if kid is not None else {})}
    signing_input = ".".join(zjwt.b64url_encode(json.dumps(part).encode()) for part in (header, claims))
    k = (key["n"].bit_length() + 7) // 8
    m = zjwt.emsa_pkcs1_v1_5("sha256", hashlib.sha256(signing_input.encode()).digest(), k)
    if m is None:
        raise ValueError(f"a {k * 8}-bit key is too small for RS256")
    return signing_input + "." + zjwt.b64url_encode(rsa_private(key, m).to_bytes(k, "big"))


@dataclass
class DevIssuer:
    """A development issuer: one key, served as a JWKS, minting RS256 tokens for anyone who asks."""

    url: str  # the 'iss' of its tokens
    key: dict[str, int]
    kid: str

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """Return the issuer's public JWKS document."""
        return {"keys": [public_jwk(self.key, self.kid)]}

    def discovery(self, issuer: str | None = None) -> dict[str, str]:
        """Return the OpenID configuration of the issuer at issuer (default: url): a verifier reads only these two."""
        issuer = issuer or self.url
        return {"issuer": issuer, "jwks_uri": issuer.removesuffix(DEV_ISSUER_PATH) + DEV_JWKS_PATH}

    def mint(self, sub: str = "demo-user", expires_in: int = DEV_TOKEN_SECONDS, **claims: Any) -> str:
        """Return a token for sub that expires in expires_in seconds (negative: already expired)."""
        now = int(time.time())
        claims = {"iss": self.url, "sub": sub, "aud": DEV_AUDIENCE, "iat": now, "exp": now + expires_in, **claims}
        return sign_token(self.key, claims, self.kid)


# ---------------------------------------------------------------------------
# HTTP: the routes, a handler that answers JSON only, and a server that bounds
# what each client may take: one thread per connection up to a cap, a deadline
# per request, and a polite close.
# ---------------------------------------------------------------------------


Route = Callable[[Any, bytes], None]  # a route's handler: (the claims, or None on a public route; the body)


def _url(host: str, port: int) -> str:
    """Return the http:// URL of host and port, with an IPv6 address in brackets."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


class DemoServer(ThreadingHTTPServer):
    """A threaded HTTP server holding the verifier and, in development mode, the issuer."""

    daemon_threads = True  # Ctrl-C does not wait for clients...
    block_on_close = False  # ...and neither does server_close (else it joins every client's thread, idle ones too)
    request_queue_size = 128  # listen backlog: bursts of new connections are queued, not dropped

    def __init__(self, address: tuple[str, int], verifier: zjwt.Verifier | zjwt.Issuers | None, config: Config):
        """Bind to address; with no verifier, become a development issuer and verify its tokens."""
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.dev: DevIssuer | None = None
        self.key_server: KeyServer | None = None  # before binding: a failed bind calls server_close
        super().__init__(address, DemoHandler)
        host, port = str(self.server_address[0]), int(self.server_address[1])
        self.listening_url = _url(host, port)  # what it binds: 0.0.0.0 is every IPv4 interface
        self.base_url = _url({"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host), port)  # how to reach it here
        if verifier is None:  # the issuer URL needs the port, so it exists only once bound
            self.dev = DevIssuer(self.base_url + DEV_ISSUER_PATH, generate_rsa_key(), f"dev-{secrets.token_hex(4)}")
            self.key_server = KeyServer(self.dev)
            # Like any real client, the verifier finds the keys over HTTP, by OpenID Connect Discovery: through
            # the key server's port, where no client can take the connection it needs (see KeyServer).
            source = zjwt.RemoteKeySet(issuer=self.key_server.issuer)
            verifier = zjwt.Verifier(self.dev.url, audience=DEV_AUDIENCE, key_source=source)
            source.reload()  # keys in hand before the first client is served
        self.verifier: zjwt.Verifier | zjwt.Issuers = verifier
        self.quiet = config.quiet
        self.request_timeout = config.request_timeout
        # DNS rebinding: a web page can make a browser send requests to 127.0.0.1 under
        # the page's own host name. Only requests naming this address reach /dev/*.
        own = self.base_url.removeprefix("http://")
        self.dev_hosts = None if config.expose_dev_issuer else {own, f"localhost:{port}"}
        self.connection_slots = threading.BoundedSemaphore(config.max_connections)

    def process_request(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]  # TCP: a socket
        """Serve a new connection on its own thread, or refuse it with a 503 when every slot is taken."""
        if not self.connection_slots.acquire(blocking=False):
            refuse_connection(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:  # the thread did not start ("can't start new thread"): its slot is free again
            # Not BaseException: Ctrl-C or SIGTERM may land after the thread started, and its own finally gives
            # the slot back; released here too, the semaphore would be released twice.
            self.connection_slots.release()
            raise

    def process_request_thread(  # type: ignore[override]  # TCP: a socket, no datagram
        self, request: socket.socket, client_address: Any
    ) -> None:
        """Serve one connection, then give its slot back."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a connection that failed; a client hanging up is not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            logging.getLogger("zjwt.demo").exception("connection from %s failed", client_address[0])

    def server_close(self) -> None:
        """Stop listening, the key server too."""
        super().server_close()
        if self.key_server is not None:
            self.key_server.shutdown()
            self.key_server.server_close()

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]  # TCP: a socket, no datagram
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


class KeyServer(ThreadingHTTPServer):
    """The development issuer's discovery document and JWKS again, on a loopback port for the demo's verifier alone.

    On the public port, clients holding every connection slot (99 idle ones
    and a cold request were enough) made the verifier's own key fetch get 503,
    and with no keys every /protected answered 503 too.  This port is told to
    no one, has no cap for clients to exhaust, and serves nothing else; the
    public port serves the same documents to everyone else.
    """

    daemon_threads, block_on_close = True, False  # as DemoServer: closing waits for no client

    def __init__(self, dev: DevIssuer):
        super().__init__(("127.0.0.1", 0), KeyHandler)
        self.dev = dev
        self.issuer = f"http://127.0.0.1:{self.server_address[1]}{DEV_ISSUER_PATH}"
        threading.Thread(target=self.serve_forever, args=(0.05,), name="zjwt-demo-keys", daemon=True).start()


class KeyHandler(BaseHTTPRequestHandler):
    """Answers GET of the issuer's discovery document and JWKS, as JSON; 404 for anything else."""

    server: KeyServer
    timeout = REQUEST_TIMEOUT_SECONDS  # seconds per read: a connection that sends nothing is closed

    def do_GET(self) -> None:  # the name http.server dispatches to
        """Send the document at self.path."""
        dev, issuer = self.server.dev, self.server.issuer
        document = {DEV_DISCOVERY_PATH: dev.discovery(issuer), DEV_JWKS_PATH: dev.jwks()}.get(self.path)
        if document is None:
            self.send_error(404)
            return
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Log nothing: the public port's access log is the demo's."""


def refuse_connection(request: socket.socket) -> None:
    """Answer a connection beyond the cap with 503 and close it, without a thread or a wait."""
    body = b'{"error": "Service Unavailable", "message": "too many connections; retry shortly"}\n'
    head = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    try:
        request.setblocking(False)  # a new socket's send buffer takes these few bytes at once
        request.send(head + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        request.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    request.close()


class RequestDeadline(io.RawIOBase):
    """A socket's input that fails with TimeoutError at a deadline, however slowly the bytes arrive.

    A per-read timeout lets a client that sends one byte every few seconds hold a
    thread forever (slowloris); each read here may only use what is left of the
    time the whole request (line, headers, body) was given.
    """

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.deadline = math.inf  # set by the handler for each request

    def readable(self) -> bool:
        """Return True: io.BufferedReader reads only from readable streams."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read what has arrived into buffer, waiting no longer than the deadline; return how many bytes."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request did not arrive in time")
        self.sock.settimeout(remaining)
        return self.sock.recv_into(buffer)


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
        """Read this connection's input through a per-request deadline."""
        super().setup()
        self.rfile.close()  # socketserver's own reader: replaced by one that keeps time
        self.input = RequestDeadline(self.connection)
        self.rfile = io.BufferedReader(self.input)

    def handle_one_request(self) -> None:
        """Give the next request (the wait for it included) the server's request timeout, then handle it."""
        self.input.deadline = time.monotonic() + self.server.request_timeout
        super().handle_one_request()

    def do_GET(self) -> None:  # the name http.server dispatches to
        """Handle any method the same way: the routes decide what is allowed."""
        self.responded = False
        try:
            self.handle_request()
        except Exception:  # never a stack trace to the client: log it here, answer 500
            logging.getLogger("zjwt.demo").exception("error while handling %s", ascii(self.requestline))
            self.close_connection = True
            if not self.responded:
                self.send_json(500, {"error": "Internal Server Error", "message": "see the server log"})

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET  # noqa: N815

    def handle_request(self) -> None:
        """Check the request's framing, read the body, authenticate unless the path is public, run the route."""
        refusal = self.framing_problem()
        if refusal:
            self.send_error(400, refusal)
            return
        try:
            path = urllib.parse.urlsplit(self.path).path
        except ValueError:  # such as http://[/public
            self.send_error(400, "the request target is not a valid URL")
            return
        body = self.read_body()
        if body is None:
            return
        if self.server.dev is not None and path.startswith("/dev/"):
            self.development_route(self.server.dev, path, body)
            return
        claims = None
        if path not in PUBLIC_PATHS:  # the seed's 'before' hook: authenticate every other path
            # The URL the client named, for a DPoP proof's htu: this server, as the Host header calls it.
            url = f"http://{self.headers.get('Host') or self.server.base_url.removeprefix('http://')}{path}"
            try:
                claims = self.server.verifier.authenticate(
                    self.headers.get_all("Authorization"),
                    dpop=self.headers.get_all("DPoP"),
                    method=self.command,
                    url=url,
                )
            except zjwt.AuthError as error:
                self.send(*zjwt.error_response(error))
                return
        routes: dict[str, dict[str, Route]] = {
            "/public": {"GET": self.public},
            "/health": {"GET": self.health},
            "/protected": {"GET": self.protected},
            "/": {"GET": lambda claims, body: self.send_page(PAGE_HTML, "text/html")},
            "/explain.css": {"GET": lambda claims, body: self.send_page(PAGE_CSS, "text/css")},
            "/explain.js": {"GET": lambda claims, body: self.send_page(PAGE_JS, "text/javascript")},
            "/favicon.svg": {"GET": lambda claims, body: self.send_page(PAGE_ICON, "image/svg+xml")},
            "/explain": {"GET": self.explain_page_setup, "POST": self.explain},
        }
        self.route(path, routes, claims, body)

    def route(self, path: str, routes: dict[str, dict[str, Route]], claims: dict[str, Any] | None, body: bytes) -> None:
        """Run the handler for path and method, or answer 404 or 405."""
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

    def public(self, claims: None, body: bytes) -> None:
        """GET /public: no token needed."""
        self.send_json(200, {"message": "Public endpoint: no token needed"})

    def health(self, claims: None, body: bytes) -> None:
        """GET /health: 200 while the issuer's keys are usable, 503 when they are not; the key source's status."""
        status = self.server.verifier.status()
        self.send_json(200 if status["state"] in ("fresh", "stale") else 503, status)

    def protected(self, claims: dict[str, Any], body: bytes) -> None:
        """GET /protected: the verified claims."""
        self.send_json(200, {"message": "Access granted", "user": claims})

    def explain_page_setup(self, claims: None, body: bytes) -> None:
        """GET /explain: what the page needs to know, the issuers it explains against and whether it may mint."""
        each = (
            self.server.verifier.verifiers if isinstance(self.server.verifier, zjwt.Issuers) else [self.server.verifier]
        )
        mint = self.server.dev is not None and self.dev_host_allowed()
        self.send_json(200, {"issuers": [verifier.issuer for verifier in each], "mint": mint})

    def explain(self, claims: None, body: bytes) -> None:
        """POST /explain {"token": ...}: the report of every check the token goes through (Verifier.explain)."""
        try:
            request = zjwt.parse_json(body)
        except ValueError:
            request = None
        token = request.get("token") if isinstance(request, dict) else None
        if not isinstance(token, str):
            self.send_json(400, {"error": "Bad Request", "message": 'send {"token": "<the token>"}'})
            return
        # The report holds the token's claims: for this client alone, never stored, never logged.
        self.send_json(200, self.server.verifier.explain(token), [("Cache-Control", "no-store")])

    def development_route(self, dev: DevIssuer, path: str, body: bytes) -> None:
        """Serve the development issuer: its discovery document, its JWKS and POST /dev/token."""
        if not self.dev_host_allowed():
            message = f"the development issuer answers only requests addressed to {self.server.base_url}"
            self.send_json(403, {"error": "Forbidden", "message": message})
            return
        routes: dict[str, dict[str, Route]] = {
            DEV_DISCOVERY_PATH: {"GET": lambda claims, body: self.send_json(200, dev.discovery())},
            DEV_JWKS_PATH: {"GET": lambda claims, body: self.send_json(200, dev.jwks())},
            DEV_TOKEN_PATH: {"POST": lambda claims, body: self.mint_token(dev, body)},
        }
        self.route(path, routes, None, body)

    def dev_host_allowed(self) -> bool:
        """Return True if the request names this server's own address, as /dev/* requires (see DemoServer)."""
        return self.server.dev_hosts is None or self.headers.get("Host") in self.server.dev_hosts

    def framing_problem(self) -> str | None:
        """Return why the request's headers cannot be trusted to delimit it, or None.

        Two servers that read one request differently are how request smuggling
        starts, so anything http.server parsed loosely is refused.
        """
        if self.headers.defects:
            return "malformed header lines"
        if any("\n" in value for value in self.headers.values()):
            return "folded header lines (RFC 9112 5.2: obsolete)"
        if len(self.headers.get_all("Content-Length") or []) > 1:
            return "several Content-Length headers"
        # RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, and for any with two.  With two, the
        # /dev/* check would read the first while a proxy in front may route on the last.
        hosts = len(self.headers.get_all("Host") or [])
        if hosts > 1 or (hosts == 0 and self.request_version == "HTTP/1.1"):
            return "an HTTP/1.1 request needs exactly one Host header (RFC 9112 3.2)"
        return None

    def mint_token(self, dev: DevIssuer, body: bytes) -> None:
        """POST /dev/token {"sub": ..., "expires_in": seconds, "jwk": a public key} -> a new development token.

        With a jwk, the token is DPoP-bound to that key: its cnf.jkt is the
        key's thumbprint (RFC 9449 6.1), so it works only with proofs signed by it.
        """
        try:
            request = zjwt.parse_json(body or b"{}")  # strict, and bounded in depth
        except ValueError:
            request = None
        sub = request.get("sub", "demo-user") if isinstance(request, dict) else None
        expires_in = request.get("expires_in", DEV_TOKEN_SECONDS) if isinstance(request, dict) else None
        jwk = request.get("jwk") if isinstance(request, dict) else None
        if not (isinstance(sub, str) and type(expires_in) is int and abs(expires_in) <= MAX_DEV_TOKEN_SECONDS):
            message = f'send {{"sub": "<string>", "expires_in": <integer seconds, at most {MAX_DEV_TOKEN_SECONDS}>}}'
            self.send_json(400, {"error": "Bad Request", "message": message})
            return
        claims = {}
        if jwk is not None:
            try:
                zjwt.key_from_jwk(jwk)  # a public key that passes zjwt's key policy, as proofs' keys must
                claims["cnf"] = {"jkt": zjwt.jwk_thumbprint(jwk)}
            except ValueError as error:
                self.send_json(400, {"error": "Bad Request", "message": f"the jwk cannot be used: {error}"})
                return
        token = dev.mint(sub=sub, expires_in=expires_in, **claims)
        token_type = "DPoP" if jwk is not None else "Bearer"  # RFC 9449 5: how the client must present it
        self.send_json(200, {"access_token": token, "token_type": token_type, "expires_in": expires_in})

    def read_body(self) -> bytes | None:
        """Return the request body (b"" when there is none), or answer the error and return None."""
        if "Transfer-Encoding" in self.headers:
            self.send_error(411, "send a Content-Length; chunked bodies are not accepted")
            return None
        length = self.headers.get("Content-Length", "0")
        if not (length.isascii() and length.isdigit()):  # "²".isdigit() is True, and int() refuses it
            self.send_error(400, "Content-Length is not a number")
            return None
        if len(length) > 9 or int(length) > MAX_BODY_BYTES:  # the length check first: int() of 5,000 digits fails
            self.send_error(413, f"bodies are limited to {MAX_BODY_BYTES} bytes")
            return None
        try:
            body = self.rfile.read(int(length))
        except TimeoutError:
            body = b""
        if len(body) < int(length):
            self.send_error(408, "the body did not arrive in time")
            return None
        return body

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send one complete response (no body for HEAD)."""
        self.responded = True
        self.connection.settimeout(self.server.request_timeout)  # the deadline bounds reading, not writing
        self.send_response(status)
        # Every response: no type sniffing (a JSON body is never run as a script), and the page's policy.
        for name, value in [*headers, ("X-Content-Type-Options", "nosniff"), ("Content-Security-Policy", CSP)]:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_page(self, text: str, media_type: str) -> None:
        """Send one of the explain page's files."""
        body = text.encode()
        self.send(200, [("Content-Type", f"{media_type}; charset=utf-8"), ("Content-Length", str(len(body)))], body)

    def send_json(self, status: int, payload: dict[str, Any], headers: Sequence[tuple[str, str]] = ()) -> None:
        """Send payload as a JSON response."""
        body = json.dumps(payload).encode() + b"\n"
        self.send(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers], body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a request http.server could not parse (or that we refuse) with JSON, then close."""
        self.close_connection = True
        status = HTTPStatus(code)
        self.send_json(code, {"error": status.phrase, "message": message or status.description})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Write an access log line to stderr unless the server is quiet, escaping what the client sent."""
        if not self.server.quiet:
            line = ascii(format % args)[1:-1]  # no control characters or terminal escapes from the client
            sys.stderr.write(f"{self.address_string()} - - [{self.log_date_time_string()}] {line}\n")


# ---------------------------------------------------------------------------
# The explain page: GET / in a browser.  Paste a token (or mint one, in
# development mode) and see each check zjwt makes, as POST /explain reports
# it.  Plain HTML, CSS and one small script, all served from here: nothing is
# loaded from elsewhere, the script is never inline, so the Content-Security-
# Policy below can forbid every other script, and whatever comes from a token
# is put on the page as text (textContent), never parsed as HTML.
# ---------------------------------------------------------------------------

# Sent with every response: scripts, styles and requests from this origin only; no inline script, no plugins,
# no framing (clickjacking), no <base> rewriting, no form posting elsewhere.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>zjwt: explain a token</title>
<link rel="icon" href="/favicon.svg">
<link rel="stylesheet" href="/explain.css">
<script src="/explain.js" defer></script>
</head>
<body>
<header>
  <h1><span class="brand">zjwt</span> explain a token</h1>
  <p>Every check a token goes through, against the keys of <span id="issuers">this server's issuer</span>.
  The token goes to this server only, which never logs it.</p>
</header>
<main>
  <section class="card" id="input">
    <label for="token">Token</label>
    <textarea id="token" rows="4" spellcheck="false" autocomplete="off" autocapitalize="off"
      placeholder="eyJhbGciOiJSUzI1NiIs..."></textarea>
    <div class="actions">
      <button id="explain" type="button">Explain</button>
      <button id="mint" type="button" class="secondary" hidden>Mint a development token</button>
      <span class="hint">Ctrl+Enter explains</span>
    </div>
  </section>
  <p id="verdict" class="verdict" role="status" hidden></p>
  <div id="report" hidden>
    <section class="card">
      <h2>Steps</h2>
      <ol id="steps" class="steps"></ol>
    </section>
    <aside>
      <section class="card">
        <h2>Header</h2>
        <pre id="header"></pre>
      </section>
      <section class="card">
        <h2>Claims <span id="claims-state" class="badge"></span></h2>
        <pre id="claims"></pre>
        <dl id="dates"></dl>
      </section>
      <section class="card">
        <h2>Keys</h2>
        <dl id="keys"></dl>
      </section>
    </aside>
  </div>
</main>
<footer>zjwt demo: the checks are those of <code>Verifier.verify</code>, run by <code>Verifier.explain</code>.</footer>
</body>
</html>
"""

PAGE_ICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="7" fill="#0b5cad"/>
<path d="M9 16.5l4.5 4.5L23 11" fill="none" stroke="#fff" stroke-width="3.2"
  stroke-linecap="round" stroke-linejoin="round"/>
</svg>
"""

PAGE_CSS = """:root {
  --bg: #f6f7f9; --card: #ffffff; --text: #1b1f24; --muted: #5b6470; --line: #d9dee4;
  --green: #1a7f37; --green-bg: #e6f4ea; --red: #c62828; --red-bg: #fdecea;
  --grey: #8a939e; --grey-bg: #f0f2f4; --amber: #9a6700; --amber-bg: #fff4d6; --accent: #0b5cad;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1216; --card: #171b21; --text: #e6e9ee; --muted: #9aa4b0; --line: #2a313a;
    --green: #4ac26b; --green-bg: #12261a; --red: #f47067; --red-bg: #2d1517;
    --grey: #6e7781; --grey-bg: #1d2229; --amber: #d4a72c; --amber-bg: #2b2410; --accent: #6cb6ff;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
}
header, main, footer { max-width: 1180px; margin: 0 auto; padding: 0 16px; }
header { padding-top: 20px; }
h1 { font-size: 1.4rem; margin: 0 0 4px; font-weight: 600; }
h1 .brand { color: var(--accent); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
header p { margin: 0 0 16px; color: var(--muted); overflow-wrap: anywhere; }
h2 { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); margin: 0 0 10px; }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; margin-bottom: 16px;
}
label { display: block; font-weight: 600; margin-bottom: 6px; }
textarea {
  width: 100%; resize: vertical; padding: 10px; border-radius: 8px; border: 1px solid var(--line);
  background: var(--bg); color: var(--text); word-break: break-all;
  font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}
textarea:focus, button:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-top: 10px; }
button {
  font: inherit; font-weight: 600; padding: 7px 16px; border-radius: 8px; cursor: pointer;
  border: 1px solid var(--accent); background: var(--accent); color: var(--card);
}
button.secondary { background: transparent; color: var(--accent); }
.hint { color: var(--muted); font-size: 0.85rem; }
.verdict { margin: 0 0 16px; padding: 10px 14px; border-radius: 10px; font-weight: 600; overflow-wrap: anywhere; }
.verdict.passed { background: var(--green-bg); color: var(--green); }
.verdict.failed { background: var(--red-bg); color: var(--red); }
.verdict.unavailable, .verdict.problem { background: var(--amber-bg); color: var(--amber); }
#report { display: grid; gap: 0 16px; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); }
@media (max-width: 860px) { #report { grid-template-columns: minmax(0, 1fr); } }
@media (min-width: 861px) { aside { position: sticky; top: 12px; align-self: start; } }
.steps { list-style: none; margin: 0; padding: 0; }
.step {
  display: grid; grid-template-columns: 28px minmax(0, 1fr); gap: 2px 10px;
  padding: 9px 0; border-top: 1px solid var(--line);
}
.step:first-child { border-top: 0; }
.mark {
  grid-row: span 3; width: 24px; height: 24px; border-radius: 50%; display: grid; place-items: center;
  font-weight: 700; font-size: 0.85rem;
}
.step.passed .mark { background: var(--green-bg); color: var(--green); }
.step.failed .mark { background: var(--red-bg); color: var(--red); }
.step.not-reached .mark { background: var(--grey-bg); color: var(--grey); }
.step.not-reached .title, .step.not-reached .detail { color: var(--grey); }
.title { font-weight: 600; }
.title code { font-weight: 400; color: var(--muted); margin-left: 6px; font-size: 0.85em; }
.detail { overflow-wrap: anywhere; }
.step.failed .detail { color: var(--red); font-weight: 600; }
.why { color: var(--muted); font-size: 0.88rem; }
.why a { color: var(--accent); white-space: nowrap; }
pre {
  margin: 0; padding: 10px; border-radius: 8px; background: var(--bg); overflow-x: auto;
  white-space: pre-wrap; overflow-wrap: anywhere;
  font: 12.5px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}
.badge {
  margin-left: 6px; padding: 1px 8px; border-radius: 999px; font-size: 0.72rem; letter-spacing: 0; text-transform: none;
}
.badge.verified { background: var(--green-bg); color: var(--green); }
.badge.unverified { background: var(--amber-bg); color: var(--amber); }
dl {
  display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 12px; margin: 10px 0 0; font-size: 0.9rem;
}
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
footer { color: var(--muted); font-size: 0.82rem; padding-bottom: 24px; }
"""

PAGE_JS = """"use strict";
// The explain page's one script.  Everything from the token or the report is put on the page with
// textContent, which never parses HTML: a claim such as <img src=x onerror=...> shows as those characters.

const MARKS = { "passed": "\\u2713", "failed": "\\u2717", "not reached": "\\u00b7" };
const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

async function call(method, path, body) {
  const options = { method, headers: { "Accept": "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.message || response.statusText);
  return answer;
}

function rfcLink(rfc) {
  const parts = /^RFC (\\d+)(?: ([0-9.]+))?$/.exec(rfc);
  if (!parts) return element("span", "", rfc || "zjwt's own limit");
  const link = element("a", "", rfc);
  link.href = "https://www.rfc-editor.org/rfc/rfc" + parts[1] + (parts[2] ? "#section-" + parts[2] : "");
  link.rel = "noreferrer noopener";
  link.target = "_blank";
  return link;
}

function definitions(list, rows) {
  list.replaceChildren();
  for (const [name, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    list.append(element("dt", "", name), element("dd", "", value));
  }
}

function showVerdict(kind, text) {
  const verdict = $("verdict");
  verdict.className = "verdict " + kind;
  verdict.textContent = text;
  verdict.hidden = false;
}

function render(report) {
  const error = report.error;
  if (!error) showVerdict("passed", "\\u2713 Verified: every check passed.");
  else {
    const kind = error.status === 503 ? "unavailable" : "failed";
    showVerdict(kind, "\\u2717 Refused (" + error.kind + "): " + error.message);
  }
  const steps = $("steps");
  steps.replaceChildren();
  for (const step of report.steps) {
    const item = element("li", "step " + step.result.replace(" ", "-"));
    item.dataset.step = step.name;
    const mark = element("span", "mark", MARKS[step.result]);
    mark.setAttribute("aria-label", step.result);
    const title = element("div", "title", step.title);
    title.append(element("code", "", step.name));
    const why = element("div", "why", step.why + " \\u2014 ");
    why.append(rfcLink(step.rfc));
    const detail = element("div", "detail", step.result === "not reached" ? "not reached" : step.detail);
    item.append(mark, title, detail, why);
    steps.append(item);
  }
  $("header").textContent = report.header ? JSON.stringify(report.header, null, 2) : "(the header does not decode)";
  $("claims").textContent = report.claims ? JSON.stringify(report.claims, null, 2) : "(the claims do not decode)";
  const state = $("claims-state");
  state.className = "badge " + (report.claims_verified ? "verified" : "unverified");
  state.textContent = report.claims_verified ? "verified" : "unverified: not known to be the issuer's";
  const dates = Object.entries(report.dates).map(([name, date]) => [name, date.utc + " (" + date.relative + ")"]);
  definitions($("dates"), dates);
  const keys = report.keys;
  definitions($("keys"), [
    ["state", keys.state],
    ["usable", keys.usable_keys === undefined ? null : keys.usable_keys + " of " + keys.total_keys + " keys"],
    ["JWKS", keys.jwks_uri],
    ["found by", keys.jwks_uri_from],
    ["checked with", keys.key ? keys.key.described : null],
    ["last error", keys.last_error],
  ]);
  $("report").hidden = false;
}

async function explain() {
  const token = $("token").value.trim();
  if (!token) {
    showVerdict("problem", "Paste a token first.");
    return;
  }
  try {
    render(await call("POST", "/explain", { token }));
  } catch (problem) {
    $("report").hidden = true;
    showVerdict("problem", "Could not explain: " + problem.message);
  }
}

async function mint() {
  try {
    $("token").value = (await call("POST", "/dev/token", {})).access_token;
    await explain();
  } catch (problem) {
    showVerdict("problem", "Could not mint a token: " + problem.message);
  }
}

async function start() {
  $("explain").addEventListener("click", explain);
  $("mint").addEventListener("click", mint);
  $("token").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) explain();
  });
  const about = await call("GET", "/explain");
  $("issuers").textContent = about.issuers.join(", ");
  $("mint").hidden = !about.mint;
  document.body.dataset.ready = "yes";
}

start();
"""


# ---------------------------------------------------------------------------
# Command line and start-up.
# ---------------------------------------------------------------------------


@dataclass
class Config:
    """How the demo runs; each field has a --flag and a ZJWT_* variable."""

    issuers: tuple[str, ...] = ()  # none: the development issuer built in
    audience: str | None = None
    jwks_uri: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    quiet: bool = False
    expose_dev_issuer: bool = False
    allow_http: bool = False
    request_timeout: float = REQUEST_TIMEOUT_SECONDS
    max_connections: int = MAX_CONNECTIONS


def parse_config(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Return the Config from command-line flags, falling back to ZJWT_* environment variables."""
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="python server.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--issuer",
        action="append",
        default=env.get("ZJWT_ISSUER", "").split() or None,
        help="a real issuer (repeat the flag for several; ZJWT_ISSUER: separated by spaces); "
        "default: the built-in development issuer",
    )
    parser.add_argument("--audience", default=env.get("ZJWT_AUDIENCE"), help="the 'aud' your tokens must name")
    parser.add_argument(
        "--jwks-uri", default=env.get("ZJWT_JWKS_URI"), help="default: found by OIDC discovery (one --issuer only)"
    )
    parser.add_argument(
        "--allow-http",
        action="store_true",
        default=env.get("ZJWT_ALLOW_HTTP") == "1",
        help="let a development --issuer use plain http:// (anyone on the network path could replace its keys)",
    )
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
    if args.jwks_uri and len(args.issuer or ()) > 1:
        parser.error("--jwks-uri names the keys of one issuer: with several, each is found by discovery")
    if args.issuer is None and (args.audience or args.jwks_uri or args.allow_http):
        parser.error("--audience, --jwks-uri and --allow-http need --issuer (the development issuer sets its own)")
    if args.issuer is None and not zjwt._is_loopback(args.host) and not args.expose_dev_issuer:
        parser.error(f"development mode listens on loopback only; --host {args.host} needs --expose-dev-issuer")
    return Config(
        issuers=tuple(args.issuer or ()),
        audience=args.audience,
        jwks_uri=args.jwks_uri,
        host=args.host,
        port=args.port,
        quiet=args.quiet,
        expose_dev_issuer=args.expose_dev_issuer,
        allow_http=args.allow_http,
    )


def make_server(config: Config) -> DemoServer:
    """Return a bound DemoServer for config (raise ValueError for a bad issuer or JWKS URL)."""

    verifiers = [
        zjwt.Verifier(issuer, audience=config.audience, jwks_uri=config.jwks_uri, allow_http=config.allow_http)
        for issuer in config.issuers
    ]
    # None: development mode, where the server makes its issuer and verifier once it knows its port.
    verifier = None if not verifiers else verifiers[0] if len(verifiers) == 1 else zjwt.Issuers(*verifiers)
    return DemoServer((config.host, config.port), verifier, config)


def banner(server: DemoServer) -> str:
    """Return what the demo prints at start-up: where it listens and how to try it."""
    url = server.base_url
    serving = f"Serving on {server.listening_url}"
    if server.listening_url != url:  # 0.0.0.0 or ::: every interface; from this machine, loopback reaches it
        serving += f" (every interface; {url} from this machine)"
    verifier = server.verifier
    if server.dev is None or not isinstance(verifier, zjwt.Verifier):
        each = verifier.verifiers if isinstance(verifier, zjwt.Issuers) else (verifier,)
        lines = [line for v in each for line in (f"Verifying tokens from {v.issuer}", key_status(v.key_source))]
        open_paths = " and ".join(sorted(PUBLIC_PATHS))
        return "\n".join([*lines, f"{serving}: {open_paths} are open, every other path needs a bearer token"])
    backend = {"cryptography": "cryptography", "pure": "pure Python"}[verifier.backend]
    return "\n".join(
        [
            f"Development issuer {server.dev.url} (RSA-2048 key made at start-up; signatures checked with {backend})",
            f"  its OpenID configuration: {url}{DEV_DISCOVERY_PATH}",
            f"  its keys (JWKS): {url}{DEV_JWKS_PATH}",
            "",
            "Try the protected route with this token (valid for one hour):",
            "",
            f'curl -H "Authorization: Bearer {server.dev.mint()}" {url}/protected',
            "",
            f'More tokens:  curl -X POST {url}{DEV_TOKEN_PATH}   (body: {{"sub": "alice", "expires_in": 60}})',
            f"No token:     curl {url}/public",
            f'Bound (DPoP): POST {url}{DEV_TOKEN_PATH} with {{"jwk": <your public key>}}; see the README',
            f"Explain a token, step by step, in a browser: {url}/",
            f"{serving} (Ctrl-C to stop)",
        ]
    )


def key_status(source: zjwt.KeySource) -> str:
    """Return where the issuer's keys are and how many zjwt can use, fetching them now (or why that failed)."""
    if not isinstance(source, zjwt.RemoteKeySet):
        return "  keys held in memory"
    try:
        keys = source.reload()
    except zjwt.KeySetUnavailable as error:
        return f"  keys not loaded ({error}): requests get 503 until they load"
    usable = f"{len(keys.keys)} of {len(keys.report)} keys usable"
    advice = "" if keys.keys else f": see why with  python zjwt.py keys --jwks-uri {source.jwks_uri}"
    return f"  {usable}, from {source.jwks_uri}{advice}\n  found by: {source.jwks_uri_from}"


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C or SIGTERM; return the exit status."""
    config = parse_config(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        server = make_server(config)
    except OSError as error:
        taken = error.errno == errno.EADDRINUSE
        advice = ": pass --port N, or --port 0 for any free port" if taken else ""
        print(f"error: cannot listen on {config.host} port {config.port} ({error.strerror}){advice}", file=sys.stderr)
        return 2
    except ValueError as error:
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
