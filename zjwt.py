# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the zjwt authors
"""zjwt: verify the JWTs an API gateway or OpenID Connect issuer signs, with the keys it publishes.

One file, standard library only.  RSA (RS256/384/512, PS256/384/512), ECDSA
(ES256/384/512) and Ed25519 (EdDSA) signatures are checked with `cryptography`
when it is installed, and in pure Python everywhere else; both give the same
answers.

Quick start::

    import zjwt

    verifier = zjwt.Verifier(
        "https://my-api-a32f34.zuplo.api/__zuplo/issuer",  # exactly the "iss" of your tokens
        audience="orders-api",  # exactly what their "aud" names: this service
    )
    try:
        claims = verifier.authenticate(authorization)  # the request's Authorization header
    except zjwt.AuthError as error:
        status, headers, body = zjwt.error_response(error)  # 401, 400 or 503, with RFC 6750 headers: send them

The path of one token, and where each step is written (chapter numbers are
those of the banners below)::

     1. bearer_token            the token out of "Authorization: Bearer ..."      9 Integrations
     2. Verifier._verify        at most 8 KiB; a token verified before is reused   8 Verifier
     3. split_token             exactly three segments: header.payload.signature   8 Verifier
     4. read_header             the JOSE header: alg on the allow-list, crit        8 Verifier
                                refused, kid, typ if required; jwk, jku, x5u,
                                x5c, x5t never read
     5. RemoteKeySet.key_set    the issuer's JWKS: found by discovery, cached,      7 Key source
                                refreshed one fetch at a time
     6. find_key                the one key for (kid, alg)                          3 Keys
     7. b64url_decode           payload and signature, in their one spelling        2 Encoding
     8. verify_signature        over the bytes as received: RSA here, ECDSA and     4 Signatures,
                                Ed25519 in pure Python in chapter 5                 5 Elliptic curves
     9. parse_json              only now the payload: strict JSON, an object        2 Encoding
    10. check_claims            iss, aud, exp, nbf, iat (and max_age; typ was in 4)  6 Claims
    11. the claims are returned; any failure is an AuthError (1 Errors) that
        error_response turns into the HTTP answer (9 Integrations)

After the path come what is built on it: chapter 10 for people coming from
PyJWT (PEM keys, reading a token without verifying it), chapter 11 for
several issuers and multi-tenant ones (Issuers, {tenantid}), chapter 12 for
explaining a token (Verifier.explain: this path, step by step, for one token
of yours, with why each rule exists), chapter 13 for DPoP (tokens bound to a
key the client holds, with a proof per request; authenticate calls it when
given the request), and chapter 14, the command line.  Each chapter opens
with what it takes and gives; every check that rejects something says,
beside it, what it prevents.

Words used throughout:

    JWS         JSON Web Signature (RFC 7515): a signed message.  Its compact
                form is three base64url segments, header.payload.signature.
    JWT         JSON Web Token (RFC 7519): a JWS whose payload is a JSON object
                of claims, such as iss (issuer), aud (audience), exp (expiry).
    JOSE header the first segment: a JSON object saying how the token is signed.
    alg         the header's signature algorithm, trusted only if the verifier
                allows it (RFC 8725 3.1).
    kid         the header's key id: which of the issuer's keys signed it.  Only
                ever a dictionary key into the issuer's own key set.
    JWK, JWKS   JSON Web Key (RFC 7517): one public key as a JSON object; a JWK
                Set, {"keys": [...]}, is what an issuer publishes.
    NumericDate seconds since 1970-01-01T00:00:00Z, as exp, nbf, iat count.
    DigestInfo  the fixed DER bytes naming the hash inside an RSA PKCS#1 v1.5
                signature (RFC 8017 9.2).
    PSS         RSA's probabilistic signature scheme (RFC 8017 8.1): the hash,
                salted and masked, instead of PKCS#1 v1.5's fixed padding.
    ECDSA R||S  how JOSE carries an ECDSA signature: the integers r and s, each
                exactly as wide as the curve, side by side (RFC 7518 3.4).
    discovery   OpenID Connect Discovery: <issuer>/.well-known/openid-configuration
                names the issuer's jwks_uri.
    DPoP        Demonstrating Proof of Possession (RFC 9449): a token bound to a
                client's key, by the key's thumbprint (jkt, RFC 7638) in its cnf
                claim, and a proof JWT signed with that key for each request.

Standards: RFC 7515 (JWS), 7517 (JWK), 7518 (JWA), 7519 (JWT), 8037 and 8032
(EdDSA), 8725 (JWT best practices), 8017 (RSA), SEC 1 (ECDSA), 6750 (bearer
tokens), 9449 (DPoP), 7638 (JWK thumbprints), 3986 (URIs), OpenID Connect
Discovery 1.0.
"""

from __future__ import annotations

import argparse
import binascii
import collections
import contextlib
import email.utils
import functools
import hashlib
import hmac
import http
import http.client
import inspect
import ipaddress
import json
import logging
import marshal
import math
import os
import re
import socket
import ssl
import sys
import threading
import time
import types
import urllib.parse
from collections.abc import Awaitable, Callable, Collection, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeGuard

__version__ = "0.1.0"

__all__ = [
    "ALGORITHMS",
    "CURVES",
    "DETAILS",
    "DPOP_ALGORITHMS",
    "ED25519",
    "STEPS",
    "AuthError",
    "Authenticator",
    "ClaimRules",
    "Curve",
    "DisallowedAlgorithm",
    "EventHook",
    "ExpiredToken",
    "HTTPStatusError",
    "InvalidAudience",
    "InvalidDPoPProof",
    "InvalidIssuer",
    "InvalidRequest",
    "InvalidSignature",
    "InvalidToken",
    "InvalidTokenType",
    "Issuers",
    "KeySet",
    "KeySetUnavailable",
    "KeySource",
    "MalformedToken",
    "MissingClaim",
    "MissingToken",
    "PublicKey",
    "RemoteKeySet",
    "ReplayCache",
    "ReplayStore",
    "Response",
    "StepText",
    "Tenancy",
    "TokenNotYetValid",
    "UnknownKey",
    "Verifier",
    "access_token_hash",
    "asgi_middleware",
    "b64url_decode",
    "b64url_encode",
    "bearer_token",
    "cache_lifetime",
    "check_claims",
    "check_dpop_proof",
    "check_dpop_request",
    "check_header",
    "check_https_url",
    "check_key_policy",
    "check_size",
    "check_tenant",
    "check_times",
    "credentials",
    "default_backend",
    "discover_jwks_uri",
    "dpop_credentials",
    "ecdsa_verify",
    "ed25519_verify",
    "emsa_pkcs1_v1_5",
    "error_response",
    "fetch_json",
    "find_key",
    "http_get",
    "is_preflight",
    "jwk_from_pem",
    "jwk_thumbprint",
    "key_from_jwk",
    "normal_url",
    "parse_json",
    "parse_key_set",
    "proxy_for",
    "public_rule",
    "read_header",
    "split_token",
    "tenancy",
    "typ_matches",
    "unverified_claims",
    "unverified_header",
    "verify_signature",
    "wsgi_middleware",
]

MAX_TOKEN_BYTES = 8 * 1024  # bytes; gateway tokens are ~1 KiB; the cap bounds the work before the signature
MAX_JSON_DEPTH = 32  # nesting levels in a header, claims set or JWKS; real ones use 3 or 4
MAX_KID_CHARS = 256  # characters; a kid is only a dictionary key (RFC 8725 3.10), a long one is an attack
MIN_RSA_BITS = 2048  # bits; RFC 7518 3.3: "A key of size 2048 bits or larger MUST be used"
MAX_RSA_BITS = 16384  # bits; bounds the cost of one pure-Python pow(); no issuer publishes larger keys
MAX_RSA_EXPONENT = 2**64  # exclusive; OpenSSL refuses larger e above 3072 bits, so both backends agree
MAX_NUMERIC_DATE = 253402300799  # seconds; 9999-12-31T23:59:59Z: later (or negative) times are not plausible
JWKS_CACHE_SECONDS = 600  # seconds; the seed's cache lifetime, when the issuer says none: rotation seen in ten minutes
# An issuer's Cache-Control max-age decides how long its keys stay fresh, within bounds: max-age=0 or no-store
# must not turn every request into a fetch (once a minute, a 304 where the issuer sends an ETag, is cheap), and a
# year-long max-age must not pin keys the issuer has withdrawn (within the hour, they stop working).
MIN_JWKS_CACHE_SECONDS = 60  # seconds
MAX_JWKS_CACHE_SECONDS = 3600  # seconds
DISCOVERY_SECONDS = 24 * 3600  # seconds a discovered JWKS URL is trusted before the issuer is asked again
REFETCH_COOLDOWN_SECONDS = 30  # seconds between fetch attempts, so unknown kids cannot make us hammer the issuer
FETCH_TIMEOUT_SECONDS = 5  # seconds for a whole fetch (connect, TLS, headers, body); a hung issuer must not hang us
MAX_JWKS_BYTES = 1024 * 1024  # bytes; real key sets are a few KiB
MAX_JWKS_KEYS = 100  # keys in one set; issuers publish two or three, rotation rarely more
MAX_STALE_SECONDS = 24 * 3600  # seconds cached keys keep serving while every refresh fails
READ_CHUNK_BYTES = 64 * 1024  # bytes read from the JWKS response at a time
MAX_PROXY_LINE_BYTES = 8 * 1024  # bytes in one line of a proxy's answer to CONNECT
MAX_PROXY_HEADER_LINES = 100  # header lines in a proxy's answer to CONNECT (http.client allows as many)
VERIFIED_CACHE_SIZE = 1000  # tokens; clients resend one token until it expires, so its signature is checked once
DEFAULT_REALM = "api"  # RFC 6750 3: the Bearer challenge needs at least one auth-param

logger = logging.getLogger("zjwt")


# ---------------------------------------------------------------------------
# 1. Errors.  Every rejection is an AuthError that says, for people, what was
# wrong, and carries what an HTTP server should answer: the status, the RFC 6750
# error code and WWW-Authenticate challenge, and Retry-After for a 503.
#   AuthError > MissingToken, InvalidRequest, KeySetUnavailable, InvalidToken
#   InvalidToken > MalformedToken, DisallowedAlgorithm, UnknownKey, ..., InvalidDPoPProof
# ---------------------------------------------------------------------------


class AuthError(Exception):
    """A request that must not reach the protected resource, with the answer to send.

    message tells the client what was wrong with its request, and only that;
    internal adds what only operators may see (the JWKS URL, the configured
    audience, why a fetch failed).  str(error) holds both, for logs and the CLI.
    """

    status = 401  # HTTP status a server should send
    error: str | None = None  # RFC 6750 3.1 error code, or None
    retry_after: int | None = None  # seconds, for the Retry-After header of a 503
    challenges: tuple[str, ...] = ("Bearer",)  # the schemes to answer with, the one the request used first
    dpop_algs = ""  # the DPoP challenge's algs: the proof algorithms accepted (RFC 9449 7.1)

    def __init__(self, message: str, internal: str | None = None):
        super().__init__(message if internal is None else f"{message} ({internal})")
        self.message = message  # for the client: what was wrong with its request or token
        self.internal = internal  # for operators only: URLs, hosts, configuration, exception text

    def www_authenticate(self, realm: str = DEFAULT_REALM, describe: bool = True) -> str | None:
        """Return the WWW-Authenticate value for this error (describe=False: no error_description).

        RFC 6750 3's Bearer challenge, and where the verifier takes DPoP, RFC
        9449 7.1's DPoP challenge with its algs; the error goes with the first,
        the scheme the request used (RFC 9449 7.2).
        """
        params = [f'realm="{_header_safe(realm)}"']
        if self.error:
            params.append(f'error="{self.error}"')
            if describe:
                params.append(f'error_description="{_header_safe(self.message)}"')
        challenges = []
        for scheme in self.challenges:
            algs = [f'algs="{self.dpop_algs}"'] if scheme == "DPoP" and self.dpop_algs else []
            challenges.append(f"{scheme} " + ", ".join(params + algs))
            params = params[:1]
        return ", ".join(challenges)


class MissingToken(AuthError):
    """The request carries no bearer token (RFC 6750 3.1: answer without an error code)."""


class InvalidRequest(AuthError):
    """The Authorization header is malformed (RFC 6750 3.1 invalid_request)."""

    status = 400
    error = "invalid_request"


class InvalidToken(AuthError):
    """The bearer token was rejected (RFC 6750 3.1 invalid_token); the base of every token error."""

    error = "invalid_token"


class MalformedToken(InvalidToken):
    """The token is not a well-formed compact JWS carrying a JSON claims set."""


class DisallowedAlgorithm(InvalidToken):
    """The token's alg is not one the verifier allows (RFC 8725 3.1)."""


class UnknownKey(InvalidToken):
    """No single key in the issuer's key set can verify this token."""


class InvalidSignature(InvalidToken):
    """The signature does not match the token under the issuer's key."""


class ExpiredToken(InvalidToken):
    """The token's exp has passed (RFC 7519 4.1.4)."""


class TokenNotYetValid(InvalidToken):
    """The token's nbf or iat lies in the future (RFC 7519 4.1.5, 4.1.6)."""


class InvalidIssuer(InvalidToken):
    """The token's iss is not the configured issuer (RFC 7519 4.1.1)."""


class InvalidAudience(InvalidToken):
    """The token's aud does not name this service (RFC 7519 4.1.3)."""


class MissingClaim(InvalidToken):
    """The token lacks a claim the verifier requires."""


class InvalidTokenType(InvalidToken):
    """The token's typ is not the type this service accepts (RFC 8725 3.11, RFC 9068 2.1)."""


class InvalidDPoPProof(InvalidToken):
    """The DPoP proof does not show possession of the token's key for this request (RFC 9449 4.3, 7.1)."""

    error = "invalid_dpop_proof"


class KeySetUnavailable(AuthError):
    """The issuer's keys cannot be obtained right now: answer 503, never accept."""

    status = 503

    def __init__(self, message: str, retry_after: int, internal: str | None = None):
        super().__init__(message, internal)
        self.retry_after = retry_after

    def www_authenticate(self, realm: str = DEFAULT_REALM, describe: bool = True) -> None:
        """Return None: the request was not at fault, so there is no challenge."""
        return None


def _show(value: object, limit: int = 40) -> str:
    """Return a short, escaped rendering of an untrusted value for messages and logs.

    A token's text reaches log files and terminals: escaped and cut short, it
    can neither forge log lines nor send terminal control sequences.
    """
    if isinstance(value, str):
        return ascii(value[:limit]) + ("..." if len(value) > limit else "")
    if value is None or isinstance(value, (bool, int, float)):
        return str(value)[:limit]
    return "a JSON " + ("object" if isinstance(value, dict) else "array")


Step = Callable[..., None]  # step(name) or step(name, found): told of each check as it begins (chapter 12)


def _unobserved(name: str, found: object = None) -> None:
    """Hear nothing: what verify passes where explain listens to each step."""


def _printable(text: str) -> str:
    """Return text with control characters escaped: text from outside must not forge log lines or drive terminals."""
    return text if text.isprintable() else "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _reason(error: BaseException) -> str:
    """Return why an operation failed, as one escaped line for logs and operators: "TimeoutError: ..."."""
    return _printable(f"{type(error).__name__}: {error}")


def _header_safe(text: str) -> str:
    """Return text with every character RFC 6750 3 forbids in a quoted value replaced by '?'."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)


# ---------------------------------------------------------------------------
# 2. Encoding.  Text in, bytes and values out: strict base64url (RFC 7515 2,
# RFC 4648 5) and strict JSON (RFC 8259), raising ValueError on anything else.
# The rule behind every check: one token has exactly one spelling, and every
# parser reads it alike.  A second spelling of the same signed token gets past
# a deny-list or replay cache keyed on the token's text and splits logs; a JSON
# text two parsers read differently lets the value checked differ from the value
# used.  One second spelling is not ours to close: an ECDSA signature (r, s)
# has a twin, (r, n − s), that verifies as well.  JOSE does not ask for low S
# and issuers emit both, so zjwt accepts either (chapter 4); a replay or
# deny-list must therefore key on jti, or on the signing input (header.payload),
# never on the token's text.
# ---------------------------------------------------------------------------

# '-' and '_' become the standard alphabet; '+', '/' and '=' become '!', which
# strict decoding refuses, so only the URL-safe alphabet without padding passes.
_BASE64URL_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = {0: b"", 2: b"==", 3: b"="}
# RFC 4648 3.5: the bits after the last whole byte must be zero, so a segment of
# length 2 or 3 (mod 4) must end in a character whose low 4 or 2 bits are zero.
_CANONICAL_LAST_BYTE = {0: None, 2: frozenset(b"AQgw"), 3: frozenset(b"AEIMQUYcgkosw048")}


def b64url_decode(segment: str | bytes) -> bytes:
    """Return the bytes of a non-empty, unpadded, canonical base64url segment, or raise ValueError."""
    data = segment.encode("ascii") if isinstance(segment, str) else segment  # UnicodeEncodeError is a ValueError
    if not data:
        raise ValueError("empty")
    remainder = len(data) % 4
    if remainder == 1:  # no bytes are spelled so: something was cut or added
        raise ValueError("impossible length")
    last_bytes = _CANONICAL_LAST_BYTE[remainder]
    if last_bytes is not None and data[-1] not in last_bytes:  # ...In1 decodes as ...In0 does: a second spelling
        raise ValueError("non-canonical encoding (unused bits set)")
    return binascii.a2b_base64(data.translate(_BASE64URL_TO_STANDARD) + _PADDING[remainder], strict_mode=True)


def b64url_encode(data: bytes) -> str:
    """Return data as unpadded base64url text (RFC 7515 2): the one spelling b64url_decode accepts.

    >>> b64url_encode(b"\\xfb\\xff")
    '-_8'
    """
    return binascii.b2a_base64(data, newline=False).decode("ascii").translate(_TO_BASE64URL).rstrip("=")


_TO_BASE64URL = str.maketrans("+/", "-_")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Return the JSON object of pairs, or raise ValueError on a repeated name (RFC 7515 4, RFC 7519 4).

    With {"iss": "evil", "iss": "good"}, Python keeps the last value and other
    parsers the first: the issuer one component checked would not be the one
    another component trusts.
    """
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _reject_constant(name: str) -> None:
    """Raise ValueError: NaN and Infinity are not JSON (RFC 8259 6), and every comparison with NaN is false."""
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    """Return a JSON number as a float, or raise ValueError when it overflows: 1e999 would be infinity."""
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


_JSON = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates,
    parse_constant=_reject_constant,
    parse_float=_finite_float,
)


def parse_json(data: bytes) -> object:
    """Return the value of strict UTF-8 JSON text, or raise ValueError."""
    try:
        # RFC 8259 8.1: UTF-8 only (json.loads would also guess UTF-16 and 32, a second spelling of the same
        # text); RFC 8259 2: whitespace may surround the value.
        text = data.decode("utf-8").strip(" \t\n\r")
        value, end = _JSON.raw_decode(text)
    except RecursionError:  # how Python 3.11 ends deep nesting; later versions parse deeper
        raise ValueError("nested too deeply") from None
    if end != len(text):  # a second parser might read what follows the value
        raise ValueError("extra data after the JSON value")
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:  # bounded work
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
    if "\\u" in text:  # an escaped lone surrogate ("\ud800") is not a Unicode string (RFC 8725 3.7)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    return value


def _depth(value: object) -> int:
    """Return how deeply arrays and objects nest in value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _decode_segment(segment: bytes, what: str) -> bytes:
    """Return the bytes of a token segment, or raise MalformedToken naming the segment."""
    try:
        return b64url_decode(segment)
    except ValueError as error:
        raise MalformedToken(f"the {what} is not base64url ({error})") from None


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    """Return the JSON object data holds, or raise MalformedToken naming what it is."""
    try:
        value = parse_json(data)
    except ValueError as error:
        raise MalformedToken(f"the {what} is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise MalformedToken(f"the {what} is not a JSON object")  # RFC 7519 7.2 steps 4 and 10
    return value


# ---------------------------------------------------------------------------
# 3. Keys.  A JWK (RFC 7517) in, a PublicKey out, or a ValueError saying why the
# key cannot be used; a JWKS in, a KeySet out: the usable keys indexed by
# (kid, alg), so each token's lookup is one dictionary get, and the others with
# their reasons.  Strict with tokens, liberal with keys: key material from the
# configured issuer is read whenever its meaning is unambiguous, and the key
# policy (size, exponent, curve, point) decides.
# ---------------------------------------------------------------------------

HashFunction = Callable[..., Any]  # a hashlib constructor: hashlib.sha256 and its kin

# alg -> (the key type it needs, its scheme or curve, its hash): RFC 7518 3.3-3.5, RFC 8037 3.1, RFC 9864.
ALGORITHMS: dict[str, tuple[str, str, HashFunction]] = {
    "RS256": ("RSA", "pkcs1", hashlib.sha256),  # RSASSA-PKCS1-v1_5
    "RS384": ("RSA", "pkcs1", hashlib.sha384),
    "RS512": ("RSA", "pkcs1", hashlib.sha512),
    "PS256": ("RSA", "pss", hashlib.sha256),  # RSASSA-PSS
    "PS384": ("RSA", "pss", hashlib.sha384),
    "PS512": ("RSA", "pss", hashlib.sha512),
    "ES256": ("EC", "P-256", hashlib.sha256),  # ECDSA
    "ES384": ("EC", "P-384", hashlib.sha384),
    "ES512": ("EC", "P-521", hashlib.sha512),
    "EdDSA": ("OKP", "Ed25519", hashlib.sha512),  # Ed25519 hashes inside the scheme (RFC 8032 5.1)
    "Ed25519": ("OKP", "Ed25519", hashlib.sha512),  # the same, by the name RFC 9864 gives it
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})  # RFC 7518 6.2.2, 6.3.2; RFC 8037 2


@dataclass(eq=False)  # compared by identity: a key set holds each key object once
class PublicKey:
    """A public key that passed the key policy, ready to verify signatures.

    However it is built (from a JWK, from PEM, or by hand), it is checked by
    check_key_policy first: no PublicKey exists that the policy refuses, so
    both backends are handed the same keys and give the same answers.
    """

    kty: str  # "RSA", "EC" or "OKP" (RFC 7518 6, RFC 8037 2)
    public: tuple[Any, ...]  # RSA (n, e); EC (curve, x, y); OKP ("Ed25519", the 32-byte encoded point)
    kid: str | None = None  # key id the tokens name (RFC 7517 4.5)
    alg: str | None = None  # the algorithm this key is for, when its JWK says (RFC 7517 4.4); see _algorithms_for
    size: int = field(init=False)  # the length of every signature it makes, in bytes (RFC 8017 8.2.2, RFC 7518 3.4)
    native: Any = field(init=False, repr=False)  # cryptography's public key, or None without cryptography

    def __post_init__(self) -> None:
        check_key_policy(self.kty, self.public)
        if self.alg is not None and self.alg not in _algorithms_for(self.kty, self.public):
            raise ValueError(f"alg {_show(self.alg)} does not fit an {_key_kind(self.kty, self.public)} key")
        self.size = _signature_size(self.kty, self.public)
        self.native = _native_key(self.kty, self.public)


@functools.cache
def _cryptography() -> Any:
    """Return cryptography's toolkit, imported on first use, or None when it is not installed."""
    try:
        from cryptography.exceptions import InvalidSignature as BadSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    except ImportError:
        return None
    params: dict[str, Any] = {}
    for alg, (kty, scheme, hash_new) in ALGORITHMS.items():
        h = getattr(hashes, hash_new().name.upper())()  # hashlib's sha256 is cryptography's SHA256
        if kty == "EC":
            params[alg] = ec.ECDSA(h)
        elif kty == "RSA":  # RFC 7518 3.5: MGF1 with the message's hash, salt as long as the hash, never "auto"
            params[alg] = (padding.PKCS1v15() if scheme == "pkcs1" else padding.PSS(padding.MGF1(h), h.digest_size), h)
    curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
    return types.SimpleNamespace(
        rsa=rsa,
        ec=ec,
        ed25519=ed25519,
        params=params,
        curves=curves,
        der=encode_dss_signature,
        BadSignature=BadSignature,
    )


def _signature_size(kty: str, public: tuple[Any, ...]) -> int:
    """Return the length of every signature a key makes: k bytes for RSA, R || S for ECDSA, 64 for Ed25519."""
    if kty == "RSA":
        n: int = public[0]
        return (n.bit_length() + 7) // 8
    return 64 if kty == "OKP" else 2 * CURVES[public[0]].size


def _native_key(kty: str, public: tuple[Any, ...]) -> Any:
    """Return cryptography's object for a public key, or None without cryptography or for a key it refuses."""
    crypto = _cryptography()
    if crypto is None:
        return None
    try:
        if kty == "RSA":
            return crypto.rsa.RSAPublicNumbers(public[1], public[0]).public_key()
        if kty == "EC":
            return crypto.ec.EllipticCurvePublicNumbers(public[1], public[2], crypto.curves[public[0]]).public_key()
        return crypto.ed25519.Ed25519PublicKey.from_public_bytes(public[1])
    except ValueError:  # some keys it refuses outright (an even e); they then verify nothing
        return None


def check_key_policy(kty: str, public: tuple[Any, ...]) -> None:
    """Raise ValueError unless public holds a key of type kty that zjwt will trust: the gate every key passes."""
    policy = _KEY_POLICIES.get(kty) if isinstance(kty, str) else None
    if policy is None:  # RFC 7517 5: a key of a type we do not know ("oct", "rsa") is ignored
        raise ValueError(f"kty {_show(kty)} is not RSA, EC or OKP")
    policy(public)


def _public_values(public: object, kty: str, *types: type) -> tuple[Any, ...]:
    """Return public if it is a tuple of values of these types (never a bool for an int), else raise ValueError."""
    if not (
        isinstance(public, tuple)
        and len(public) == len(types)
        and all(isinstance(v, t) and type(v) is not bool for v, t in zip(public, types, strict=True))
    ):
        raise ValueError(f"not the public values of an {kty} key")
    return public


def _rsa_policy(public: tuple[Any, ...]) -> None:
    """Raise ValueError unless (n, e) is an RSA key zjwt will trust."""
    n, e = _public_values(public, "RSA", int, int)
    bits = n.bit_length()  # the integer's size: leading zero octets add nothing to a key's strength
    if bits < MIN_RSA_BITS:  # 512-bit keys are factored in hours; whoever factors n can sign anything
        raise ValueError(f"{bits}-bit modulus is below the {MIN_RSA_BITS}-bit minimum (RFC 7518 3.3)")
    if bits > MAX_RSA_BITS:  # bounds what one pure-Python pow() may cost
        raise ValueError(f"{bits}-bit modulus is above the {MAX_RSA_BITS}-bit maximum")
    if n % 2 == 0:  # a product of two odd primes is odd; cryptography builds even ones anyway
        raise ValueError("even modulus: not an RSA key")
    # e = 1 makes every signature equal its message; an even e has no inverse; e >= 2**64 OpenSSL refuses
    # above 3072 bits, and both backends must accept the same keys.  (e = 3 is fine: encode-and-compare
    # defeats Bleichenbacher's e = 3 forgery, see emsa_pkcs1_v1_5.)
    if e < 3 or e % 2 == 0 or e >= n or e >= MAX_RSA_EXPONENT:
        raise ValueError("public exponent must be odd, at least 3 and below 2**64")


def _ec_policy(public: tuple[Any, ...]) -> None:
    """Raise ValueError unless (curve, x, y) is a point of a NIST curve zjwt verifies."""
    crv, x, y = _public_values(public, "EC", str, int, int)
    if crv not in CURVES:
        raise ValueError(f"curve {_show(crv)} is not one zjwt verifies ({', '.join(CURVES)})")
    # A point off the curve lies on another, weaker curve (the invalid-curve attacks); one not reduced
    # below p is a second spelling of a point.  Either way the key is not what the issuer's would be.
    if not _on_curve(CURVES[crv], x, y):
        raise ValueError(f"the point (x, y) is not on {crv}")


def _okp_policy(public: tuple[Any, ...]) -> None:
    """Raise ValueError unless ("Ed25519", x) holds the one encoding of an Ed25519 point of large order."""
    crv, x = _public_values(public, "OKP", str, bytes)
    if crv == "X25519":  # the same curve in another form, for key agreement: one key, one purpose
        raise ValueError("an X25519 key is for key agreement, not signatures (RFC 8037 3.2)")
    if crv != "Ed25519":
        raise ValueError(f"curve {_show(crv)} is not one zjwt verifies (Ed25519)")
    point = _ed25519_decode(x) if len(x) == 32 else None
    if point is None:  # RFC 8032 5.1.3: not a point, or a second spelling of one
        raise ValueError("x is not the 32-byte encoding of an Ed25519 point")
    if _small_order(point):  # no private key makes one, and many (R, S) pairs fit it: anyone could sign
        raise ValueError("x is a point of small order, not a public key")


_KEY_POLICIES: dict[str, Callable[[tuple[Any, ...]], None]] = {"RSA": _rsa_policy, "EC": _ec_policy, "OKP": _okp_policy}


_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")


def _key_octets(jwk: dict[str, Any], name: str) -> bytes:
    """Return the octets of a base64url JWK member, also read when padded or in the standard alphabet.

    RFC 7517 asks for unpadded base64url, but some issuers publish padding or
    '+' and '/' (Battle.net): the octets are the same either way, and the key
    comes from the configured issuer, so reading them costs nothing.  Tokens
    get no such latitude (b64url_decode).
    """
    value = jwk.get(name)
    if not isinstance(value, str) or not value.isascii():
        raise ValueError(f"'{name}' is not a base64url string")
    data = value.encode().translate(_STANDARD_ALPHABET)
    padded = data.endswith(b"=")
    try:
        if padded and len(data) % 4:
            raise binascii.Error("padding that does not complete a quantum")
        raw = binascii.a2b_base64(data if padded else data + b"=" * (-len(data) % 4), strict_mode=True)
    except binascii.Error as error:
        raise ValueError(f"'{name}' is not base64url ({error})") from None
    if not raw:
        raise ValueError(f"'{name}' is empty")
    return raw


def _key_integer(jwk: dict[str, Any], name: str) -> int:
    """Return a Base64urlUInt member of a JWK (RFC 7518 2, 6.3.1) as an integer.

    Leading zero octets are read too (Java's BigInteger.toByteArray writes one):
    RFC 7518 2 asks producers for minimal octets, but the integer is the same,
    and the key policy judges the integer, not its spelling.
    """
    return int.from_bytes(_key_octets(jwk, name), "big")


def _read_jwk(jwk: object) -> tuple[str, tuple[Any, ...], str | None, str | None]:
    """Return (kty, public, kid, alg) of a JWK meant for signatures, or raise ValueError saying why not.

    This reads the JWK's members; PublicKey then applies the key policy.
    """
    if not isinstance(jwk, dict):
        raise ValueError("not a JSON object")
    kty = jwk.get("kty")
    if kty not in _KEY_READERS:  # RFC 7517 5: a key of a type we do not know ("oct", "rsa") is ignored
        raise ValueError(f"kty {_show(kty)} is not RSA, EC or OKP")
    if "use" in jwk and jwk["use"] != "sig":  # RFC 7517 4.2: an encryption key verifies nothing
        raise ValueError(f"use {_show(jwk['use'])} is not 'sig'")
    ops = jwk.get("key_ops", ["verify"])
    if not isinstance(ops, list) or "verify" not in ops:  # RFC 7517 4.3: the issuer did not mean it for this
        raise ValueError("key_ops does not include 'verify'")
    alg = jwk.get("alg")
    if "alg" in jwk and not (isinstance(alg, str) and alg in ALGORITHMS):
        raise ValueError(f"alg {_show(alg)} is not a signature algorithm zjwt verifies")
    kid = jwk.get("kid")
    if "kid" in jwk and not isinstance(kid, str):
        raise ValueError("kid is not a string")
    if not _PRIVATE_MEMBERS.isdisjoint(jwk):  # anyone can sign with a published private key; never log it
        raise ValueError("the JWK contains private key members: it was published, and anyone may sign with it")
    return kty, _KEY_READERS[kty](jwk), kid, alg


def _curve_name(jwk: dict[str, Any]) -> str:
    """Return the crv member of an EC or OKP JWK (RFC 7518 6.2.1.1, RFC 8037 2), which must be a string."""
    crv = jwk.get("crv")
    if not isinstance(crv, str):  # the policy names the curves zjwt verifies; this is not even a name
        raise ValueError(f"curve {_show(crv)} is not one zjwt verifies")
    return crv


def _rsa_public(jwk: dict[str, Any]) -> tuple[int, int]:
    """Return (n, e) of an RSA JWK (RFC 7518 6.3.1)."""
    return _key_integer(jwk, "n"), _key_integer(jwk, "e")


def _ec_public(jwk: dict[str, Any]) -> tuple[str, int, int]:
    """Return (curve, x, y) of an EC JWK (RFC 7518 6.2.1)."""
    return _curve_name(jwk), _key_integer(jwk, "x"), _key_integer(jwk, "y")


def _okp_public(jwk: dict[str, Any]) -> tuple[str, bytes]:
    """Return (curve, x) of an OKP JWK (RFC 8037 2)."""
    return _curve_name(jwk), _key_octets(jwk, "x")


_KEY_READERS: dict[str, Callable[[dict[str, Any]], tuple[Any, ...]]] = {
    "RSA": _rsa_public,
    "EC": _ec_public,
    "OKP": _okp_public,
}


def _algorithms_for(kty: str, public: tuple[Any, ...], alg: str | None = None) -> list[str]:
    """Return the algs a key may verify: those of its type and curve, or only those that mean its own alg.

    A JWK that names its alg (RFC 7517 4.4) is bound to that algorithm, not to
    the label: EdDSA and Ed25519 (RFC 9864) are one algorithm for an Ed25519
    key, so an issuer that relabels its tokens before its JWKS loses none.  A
    JWK without alg (most issuers omit it) serves every alg of its type and
    curve: an RSA key serves RS* and PS* alike.  Either way the verifier's
    allow-list decides which labels a token may carry.
    """
    if alg is not None:
        return [label for label, spec in ALGORITHMS.items() if spec == ALGORITHMS[alg]]
    return [
        label
        for label, (needs, curve, _) in ALGORITHMS.items()
        if needs == kty and (kty == "RSA" or curve == public[0])
    ]


def _key_kind(kty: str, public: tuple[Any, ...]) -> str:
    """Return what a key is, in a word or two: 'RSA', 'EC P-256', 'OKP Ed25519'."""
    return kty if kty == "RSA" else f"{kty} {public[0]}"


def key_from_jwk(jwk: object) -> PublicKey:
    """Return the PublicKey of one JWK, or raise ValueError saying why it cannot verify signatures."""
    return PublicKey(*_read_jwk(jwk))


_AMBIGUOUS = object()  # lookup marker: several keys answer to the same (kid, alg)
KeyReport = tuple[str | None, str | None, str | None, str | None, str | None]  # kid, kty, alg, size, reason or None


@dataclass(frozen=True)
class KeySet:
    """The keys of one JWKS document: the usable ones indexed, the others with why. In memory, its own key source."""

    keys: frozenset[PublicKey]
    kids: frozenset[str]  # the key ids of the usable keys
    lookup: dict[tuple[str | None, str], object]  # (kid or None, alg) -> PublicKey or _AMBIGUOUS; None: the only key
    skipped: dict[str, str]  # kid -> why that key cannot be used (RFC 7517 5: such keys are ignored)
    report: tuple[KeyReport, ...]  # one row for each JWK in the document, for operators
    source: str  # where the keys came from, for messages

    def knows(self, kid: str | None) -> bool:
        """Return True if the document names kid (usable or not), or kid is None: no refetch will help."""
        return kid is None or kid in self.kids or kid in self.skipped

    def key_set(self, kid: str | None = None, block: bool = True) -> KeySet:
        """Return self: keys held in memory never change."""
        return self

    def status(self) -> dict[str, Any]:
        """Return the state of keys held in memory: always fresh."""
        return {"state": "fresh", "jwks_uri": None, "usable_keys": len(self.keys), "total_keys": len(self.report)}


class KeySource(Protocol):
    """Anything a Verifier can take its keys from: a KeySet held in memory, a RemoteKeySet, or your own."""

    def key_set(self, kid: str | None = None, block: bool = True) -> KeySet | None:
        """Return the keys for a token naming kid; None only when block is False and they must be fetched first."""


def parse_key_set(document: object, source: str = "the configured JWKS", previous: KeySet | None = None) -> KeySet:
    """Return the keys of a JWKS (RFC 7517 5), usable or not, or raise ValueError if it is not a JWKS.

    Each key zjwt cannot use is logged at WARNING with why, once: a refresh that
    finds it again (previous) says nothing new.  Keys unchanged since previous
    keep their PublicKey object, so tokens cached as verified by them stay valid
    across refreshes.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS: expected a JSON object with a 'keys' array")
    jwks = document["keys"]
    if len(jwks) > MAX_JWKS_KEYS:  # each key costs parsing and maybe a pure-Python point check: bounded work
        raise ValueError(f"{len(jwks)} keys; at most {MAX_JWKS_KEYS} are accepted")
    if not all(isinstance(jwk, dict) for jwk in jwks):
        raise ValueError("'keys' holds something other than JSON objects")
    known = {(k.kty, k.public, k.kid, k.alg): k for k in previous.keys} if previous else {}
    reported = set(previous.report) if previous else set()
    keys: list[PublicKey] = []
    report: list[KeyReport] = []
    for jwk in jwks:
        try:
            fields = _read_jwk(jwk)
            keys.append(known.get(fields) or PublicKey(*fields))
        except ValueError as error:  # RFC 7517 5: ignore keys we cannot use, but say why
            report.append((*_describe(jwk, None), str(error)))
            if report[-1] not in reported:
                logger.warning("%s: key %s cannot be used: %s", source, _show(jwk.get("kid")), error)
            continue
        report.append((*_describe(jwk, keys[-1]), None))
    kids = frozenset(k.kid for k in keys if k.kid is not None)
    skipped = {kid: reason for kid, *_, reason in report if reason and isinstance(kid, str) and kid not in kids}
    return KeySet(frozenset(keys), kids, _index(keys, source), skipped, tuple(report), source)


def _describe(jwk: dict[str, Any], key: PublicKey | None) -> tuple[str | None, str | None, str | None, str | None]:
    """Return (kid, kty, alg, size or curve) of a JWK as text for operators; the size only for a usable key."""
    kid, kty, alg = (value if isinstance(value, str) else None for value in (jwk.get(n) for n in ("kid", "kty", "alg")))
    if key is None:
        return kid, kty, alg, None
    return kid, kty, alg, _key_size(key)


def _key_size(key: PublicKey) -> str:
    """Return a key's size as operators speak of it: "2048 bits" for RSA, the curve for EC and OKP."""
    return f"{key.public[0].bit_length()} bits" if key.kty == "RSA" else str(key.public[0])


def _index(keys: list[PublicKey], source: str) -> dict[tuple[str | None, str], object]:
    """Return the (kid, alg) -> key lookup of a key set, marking names that fit several keys."""
    lookup: dict[tuple[str | None, str], object] = {}
    for key in keys:
        for alg in _algorithms_for(key.kty, key.public, key.alg):
            for name in {key.kid, None}:  # kid None: a token without kid, served only by a lone key
                lookup[name, alg] = key if (name, alg) not in lookup else _AMBIGUOUS
    # RFC 7517 4.5: kids SHOULD be distinct.  Were the first of two keys to win, which one verifies would
    # depend on the order of the document; a name that fits several keys verifies nothing instead.
    repeated = collections.Counter(key.kid for key in keys if key.kid is not None)
    for kid, count in repeated.items():
        if count > 1:
            logger.warning(
                "%s: key id %s names %d keys; only an alg that picks one of them is accepted", source, _show(kid), count
            )
    return lookup


def find_key(key_set: KeySet, kid: str | None, alg: str, step: Step = _unobserved) -> PublicKey:
    """Return the one key in key_set for a token's (kid, alg), or raise UnknownKey saying why there is none.

    step hears "key policy" where the key's fate under the policy is known: a
    key found passed it when its JWKS was read; a kid named by a key the
    policy refused is refused here, with the policy's reason.
    """
    key = key_set.lookup.get((kid, alg))
    if isinstance(key, PublicKey):
        step("key policy", key)
        return key
    where = f"key set from {key_set.source}"  # the JWKS URL is for operators, not for clients
    if key is _AMBIGUOUS:
        named = f"key id {_show(kid)}" if kid is not None else "a token without 'kid'"
        raise UnknownKey(f"{named} matches several {alg} keys of the issuer; refusing to guess", where)
    if kid in key_set.skipped:
        step("key policy")
        raise UnknownKey(f"the issuer's key {_show(kid)} cannot be used: {key_set.skipped[kid]}", where)
    if kid in key_set.kids:  # RFC 8725 3.1: the key decides which algorithms it verifies, not the token
        fits = sorted({a for k in key_set.keys if k.kid == kid for a in _algorithms_for(k.kty, k.public, k.alg)})
        raise UnknownKey(f"the issuer's key {_show(kid)} is for {', '.join(fits)}, not for {alg}", where)
    if not key_set.keys:
        where += f", which has no usable key: {_reasons(key_set)}"
    if kid is None:
        raise UnknownKey(f"the token has no 'kid' and no key of the issuer is for {alg}", where)
    raise UnknownKey(f"no key with id {_show(kid)} in the issuer's key set{_kids(key_set)}", where)


def _kids(key_set: KeySet) -> str:
    """Return ", which has 'k1', 'k2'" for a key set's kids (a JWKS is public, and so are they), or ""."""
    kids = sorted(key_set.kids | set(key_set.skipped))
    if not kids:
        return ""
    return ", which has " + ", ".join(_show(kid) for kid in kids[:5]) + (" ..." if len(kids) > 5 else "")


def _reasons(key_set: KeySet) -> str:
    """Return why none of a key set's keys can be used, in a few words."""
    reasons = [f"key {_show(kid)}: {reason}" for kid, *_, reason in key_set.report if reason]
    return "; ".join(reasons[:3]) + (" ..." if len(reasons) > 3 else "") if reasons else "the set is empty"


# ---------------------------------------------------------------------------
# 4. Signatures.  verify_signature(alg, key, signing input, signature) -> bool:
# True only for a signature of exactly these bytes by exactly this key under
# exactly this algorithm.  With cryptography, OpenSSL does the arithmetic;
# without, RFC 8017 in a few lines of integer maths for RSA, and chapter 5 for
# ECDSA and Ed25519.  The checks before the arithmetic are the same for both.
# ---------------------------------------------------------------------------

# RFC 8017 9.2 note 1: the DER DigestInfo that precedes the hash in a PKCS#1 v1.5 signature.
_DIGEST_INFO = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


def default_backend() -> str:
    """Return "cryptography" when it is installed, else "pure"."""
    return "pure" if _cryptography() is None else "cryptography"


def verify_signature(
    alg: str, key: PublicKey, signing_input: bytes, signature: bytes, backend: str | None = None
) -> bool:
    """Return True only if signature is a valid alg signature of signing_input under key (ValueError: no such alg)."""
    if alg not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {_show(alg)}: zjwt verifies {', '.join(ALGORITHMS)}")
    kty, curve, _ = ALGORITHMS[alg]
    # RFC 8725 3.1: the key's type and curve decide what it verifies.  The alg comes from the token: were a
    # key used for whatever alg the token names, an attacker could choose the algorithm the key is read under
    # (HS256 keyed with an RSA public key is the famous case; zjwt has no HS256 at all).
    if key.kty != kty or (kty != "RSA" and key.public[0] != curve):
        return False
    # Exactly as long as the key's signatures: a trimmed, padded (RFC 8017 8.2.2 step 1) or DER-encoded
    # signature is a second spelling of one, and megabytes of "signature" never reach the arithmetic.
    if len(signature) != key.size:
        return False
    openssl = (backend or default_backend()) == "cryptography"
    if kty == "RSA":
        return _verify_rsa(alg, key, signing_input, signature, openssl)
    if kty == "EC":
        return _verify_ecdsa(alg, key, signing_input, signature, openssl)
    return _verify_ed25519(key, signing_input, signature, openssl)


def _verify_rsa(alg: str, key: PublicKey, signing_input: bytes, signature: bytes, openssl: bool) -> bool:
    """Return True if an RS* (RFC 8017 8.2.2) or PS* (8.1.2) signature verifies."""
    if openssl:
        return _openssl_accepts(key, signature, signing_input, *_cryptography().params[alg])
    _, scheme, hash_new = ALGORITHMS[alg]
    n: int = key.public[0]
    e: int = key.public[1]
    s = int.from_bytes(signature, "big")
    if s >= n:  # RFC 8017 5.2.2 step 1: s + n has the same power mod n, and must not pass for s
        return False
    m = pow(s, e, n)  # RSAVP1
    digest = hash_new(signing_input).digest()
    if scheme == "pkcs1":
        return m == emsa_pkcs1_v1_5(hash_new().name, digest, key.size)
    return _emsa_pss_verify(m, digest, n.bit_length() - 1, hash_new)


def _verify_ecdsa(alg: str, key: PublicKey, signing_input: bytes, signature: bytes, openssl: bool) -> bool:
    """Return True if an ES* signature, R || S with each half an integer (RFC 7518 3.4), verifies."""
    curve = CURVES[key.public[0]]
    half = curve.size
    r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    if not openssl:
        return ecdsa_verify(curve, key.public[1:], ALGORITHMS[alg][2](signing_input).digest(), r, s)
    if not _ecdsa_scalars_in_range(curve, r, s):  # the same rule before OpenSSL as ecdsa_verify applies
        return False
    crypto = _cryptography()  # OpenSSL wants the DER form that JOSE replaced with R || S
    return _openssl_accepts(key, crypto.der(r, s), signing_input, crypto.params[alg])


def _verify_ed25519(key: PublicKey, signing_input: bytes, signature: bytes, openssl: bool) -> bool:
    """Return True if an EdDSA signature R || S (RFC 8032 5.1.6) verifies under an Ed25519 key."""
    if not openssl:
        return ed25519_verify(key.public[1], signing_input, signature)
    if not _ed25519_s_in_range(signature):  # the same rule before OpenSSL as ed25519_verify applies
        return False
    return _openssl_accepts(key, signature, signing_input)


def _openssl_accepts(key: PublicKey, *arguments: Any) -> bool:
    """Return True if cryptography's verify(*arguments) accepts: it raises when it does not."""
    crypto = _cryptography()
    if key.native is None:  # a key cryptography refused to build verifies nothing
        return False
    try:
        key.native.verify(*arguments)
    except (crypto.BadSignature, ValueError):  # ValueError: an RSA key too small for the hash
        return False
    return True


def emsa_pkcs1_v1_5(hash_name: str, digest: bytes, k: int) -> int | None:
    """Return the RFC 8017 9.2 encoding 00 01 FF..FF 00 DigestInfo H as an integer, or None if k is too small.

    Verification builds this expected value and compares it whole with s^e mod n:
    nothing in the received signature is parsed.  A verifier that parses, reading
    00 01, skipping FF bytes to a 00, then reading the DigestInfo and the hash,
    never checks what lies after the hash (nor how long the FF run is).  With
    e = 3 an attacker then builds 00 01 FF 00 DigestInfo H(forged) followed by
    garbage, takes the integer cube root, and the cube of that root keeps the
    chosen prefix while the garbage absorbs the error: a signature forged
    without the private key (Bleichenbacher 2006).  Compared whole, there is
    nowhere for garbage to hide.  The values compared are public, so a plain
    integer comparison leaks nothing.
    """
    if hash_name not in _DIGEST_INFO or len(digest) != hashlib.new(hash_name).digest_size:
        raise ValueError(f"digest is not a {_show(hash_name)} hash (zjwt knows {', '.join(_DIGEST_INFO)})")
    prefix = _pkcs1_prefix(hash_name, k)
    return None if prefix is None else prefix | int.from_bytes(digest, "big")


@functools.lru_cache(maxsize=64)  # one entry per (hash, key size) in use
def _pkcs1_prefix(hash_name: str, k: int) -> int | None:
    """Return the PKCS#1 v1.5 encoding of an all-zero hash, so only the hash needs adding."""
    t = _DIGEST_INFO[hash_name] + bytes(hashlib.new(hash_name).digest_size)
    if k < len(t) + 11:  # RFC 8017 9.2 step 3: "intended encoded message length too short"
        return None
    return int.from_bytes(b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t, "big")


def _mgf1(seed: bytes, length: int, hash_new: HashFunction) -> bytes:
    """Return the RFC 8017 B.2.1 mask of length bytes generated from seed."""
    blocks = -(-length // hash_new().digest_size)
    return b"".join(hash_new(seed + i.to_bytes(4, "big")).digest() for i in range(blocks))[:length]


def _emsa_pss_verify(m: int, digest: bytes, em_bits: int, hash_new: HashFunction) -> bool:
    """Return True if m is a valid EMSA-PSS encoding of digest (RFC 8017 9.1.2), salt length = hash length."""
    h_len = s_len = len(digest)  # RFC 7518 3.5 fixes the salt to the hash's length: no salt length is guessed
    em_len = (em_bits + 7) // 8
    if em_len < h_len + s_len + 2 or m >> em_bits:  # steps 3 and 6: the top bits must be zero
        return False
    em = m.to_bytes(em_len, "big")
    if em[-1] != 0xBC:  # step 4
        return False
    masked_db, h = em[: em_len - h_len - 1], em[em_len - h_len - 1 : -1]  # step 5
    db = int.from_bytes(masked_db, "big") ^ int.from_bytes(_mgf1(h, len(masked_db), hash_new), "big")  # 7-8
    db &= (1 << (em_bits - 8 * (h_len + 1))) - 1  # step 9: clear the bits above em_bits
    if db >> (8 * s_len) != 1:  # step 10: zero padding, then 0x01, then the salt
        return False
    salt = (db & ((1 << (8 * s_len)) - 1)).to_bytes(s_len, "big")
    return hmac.compare_digest(h, hash_new(bytes(8) + digest + salt).digest())  # steps 12-14


# ---------------------------------------------------------------------------
# 5. Elliptic curves in pure Python: ECDSA over the NIST prime curves (SEC 1 4.1.4)
# and Ed25519 (RFC 8032 5.1.7).  A public point, a message (or its hash) and a
# signature in, True or False out.  They verify ES256/384/512 and EdDSA where
# cryptography is absent, and check every EC or OKP key's point either way; a
# reader may skip the chapter and lose nothing else.  Both verifications come
# down to one sum of two scalar multiplications, a·P + b·Q: computed with one
# chain of doublings (Shamir's trick), scalars in width-w NAF, points in
# coordinates that put off every division to the end (Jacobian for NIST,
# extended for Ed25519).  Verification only: every input is public, so nothing
# here must run in constant time, and the code can be written to be read.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """An elliptic curve over the integers mod a prime p, with a base point G of prime order n."""

    name: str
    p: int  # the field's prime: every coordinate is an integer mod p
    k: int  # the curve's constant: b in y² = x³ − 3x + b (NIST), d in −x² + y² = 1 + d·x²·y² (Ed25519)
    gx: int  # G = (gx, gy), the base point
    gy: int
    n: int  # the order of G: n·G is the neutral point (L for Ed25519)
    size: int  # bytes in a coordinate (and in a JOSE signature's R or S)


# FIPS 186-4 D.1.2 (SEC 2 2.4-2.6): y² = x³ − 3x + b.
CURVES = {
    "P-256": Curve(
        "P-256",
        2**256 - 2**224 + 2**192 + 2**96 - 1,
        0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
        0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
        0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
        0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
        32,
    ),
    "P-384": Curve(
        "P-384",
        2**384 - 2**128 - 2**96 + 2**32 - 1,
        0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
        0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7,
        0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F,
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
        48,
    ),
    "P-521": Curve(
        "P-521",
        2**521 - 1,
        0x51953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF109E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00,
        0xC6858E06B70404E9CD9E3ECB662395B4429C648139053FB521F828AF606B4D3DBAA14B5E77EFE75928FE1DC127A2FFA8DE3348B3C1856A429BF97E7E31C2E5BD66,
        0x11839296A789A3BC0045C8A5FB42C7D1BD998F54449579B446817AFBD17273E662C97EE72995EF42640C550B9013FAD0761353C7086A272C24088BE94769FD16650,
        0x1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409,
        66,
    ),
}
# RFC 8032 5.1: −x² + y² = 1 + d·x²·y² mod 2²⁵⁵ − 19, d = −121665/121666; B has y = 4/5 and an even x.
ED25519 = Curve(
    "Ed25519",
    2**255 - 19,
    37095705934669439343138083508754565189542113879843219016388785533085940283555,
    15112221349535400772501151409588531511454012693041857206046113283949847762202,
    46316835694926478169428394003475163141307993866256225615783033603165251855960,
    2**252 + 27742317777372353535851937790883648493,
    32,
)
Point = tuple[int, ...]  # affine (x, y), Jacobian (X, Y, Z), extended (X, Y, Z, T) or (y + x, y − x, 2d·x·y)
BASE_WINDOW = 7  # wNAF width for G and B: tables of 2⁶ points, built once per curve, make k·G cheap
KEY_WINDOW = 5  # wNAF width for a public key: 2⁴ points, built once per key in use


def _on_curve(curve: Curve, x: int, y: int) -> bool:
    """Return True if 0 ≤ x, y < p and y² = x³ − 3x + b: a NIST curve's point (never its point at infinity)."""
    p = curve.p
    return 0 <= x < p and 0 <= y < p and (y * y - x * x * x + 3 * x - curve.k) % p == 0


def ecdsa_verify(curve: Curve, point: tuple[int, int], digest: bytes, r: int, s: int) -> bool:
    """Return True if (r, s) is an ECDSA signature of digest by point (SEC 1 4.1.4).

    False, whatever else holds, unless r and s each lie in [1, n − 1] and
    point is a point of curve with coordinates below p: this function checks
    its own inputs.  The signer knows d with Q = d·G; it picked a secret k and
    published r = x(k·G) mod n and s = k⁻¹·(e + r·d) mod n.  Then
    k·G = (e·s⁻¹)·G + (r·s⁻¹)·Q, which anyone can compute from public values.
    """
    if not _ecdsa_scalars_in_range(curve, r, s) or not _on_curve(curve, *point):
        return False
    n, p = curve.n, curve.p
    e = int.from_bytes(digest, "big") >> max(0, 8 * len(digest) - n.bit_length())  # the hash's leftmost bits
    w = pow(s, -1, n)
    base, key = _ec_table(curve, curve.gx, curve.gy, BASE_WINDOW), _ec_table(curve, *point, KEY_WINDOW)
    x, _, z = _multiply_add(curve, e * w % n, base, r * w % n, key, _ec_double, _ec_add, _INFINITY)
    return z != 0 and x * pow(z * z, -1, p) % p % n == r  # R is not the point at infinity, and x(R) = r


def _ecdsa_scalars_in_range(curve: Curve, r: int, s: int) -> bool:
    """Return True if r and s each lie in [1, n − 1] (SEC 1 4.1.4 step 1).

    CVE-2022-21449: with s = 0 there is no s⁻¹; Java 15-18 computed with 0
    anyway, so R came out as the point at infinity, whose x it read as 0, equal
    to r = 0: the signature (0, 0) verified every message.  And r + n or s + n
    would be a second spelling of a signature.
    """
    return 0 < r < curve.n and 0 < s < curve.n


_INFINITY = (1, 1, 0)  # the neutral point, in Jacobian coordinates: any Z = 0


def _ec_double(curve: Curve, point: Point) -> Point:
    """Return 2·P, points in Jacobian coordinates: (X, Y, Z) is (X/Z², Y/Z³) (EFD dbl-2001-b, a = −3)."""
    x, y, z = point
    if z == 0 or y == 0:
        return _INFINITY
    p = curve.p
    delta, gamma = z * z % p, y * y % p
    beta = x * gamma % p
    alpha = 3 * (x - delta) * (x + delta) % p  # the tangent's slope, 3x² + a, scaled
    x3 = (alpha * alpha - 8 * beta) % p
    return x3, (alpha * (4 * beta - x3) - 8 * gamma * gamma) % p, ((y + z) ** 2 - gamma - delta) % p


def _ec_add(curve: Curve, point: Point, affine: Point) -> Point:
    """Return P + Q for P in Jacobian and Q in affine coordinates (EFD madd-2007-bl)."""
    x1, y1, z1 = point
    if z1 == 0:
        return (*affine, 1)
    p = curve.p
    z1z1 = z1 * z1 % p
    h = (affine[0] * z1z1 - x1) % p  # x2 − x1, scaled
    r = 2 * (affine[1] * z1 * z1z1 - y1) % p  # y2 − y1, scaled
    if h == 0:  # the same x: P = Q (double it) or P = −Q (their sum is the point at infinity)
        return _ec_double(curve, point) if r == 0 else _INFINITY
    hh = h * h % p
    i = 4 * hh
    j, v = h * i % p, x1 * i % p
    x3 = (r * r - j - 2 * v) % p
    return x3, (r * (v - x3) - 2 * y1 * j) % p, ((z1 + h) ** 2 - z1z1 - hh) % p


@functools.lru_cache(maxsize=128)  # one table per curve's G, one per public key in use
def _ec_table(curve: Curve, x: int, y: int, width: int) -> dict[int, Point]:
    """Return {d: d·P} in affine coordinates for the odd d with |d| < 2^(width−1): what a wNAF digit adds."""
    p = curve.p
    twice = _ec_affine(curve, _ec_double(curve, (x, y, 1)))
    table: dict[int, Point] = {1: (x, y)}
    point: Point = (x, y, 1)
    for d in range(3, 1 << (width - 1), 2):
        point = _ec_add(curve, point, twice)
        table[d] = _ec_affine(curve, point)
    return table | {-d: (px, -py % p) for d, (px, py) in table.items()}  # −(x, y) = (x, −y)


def _ec_affine(curve: Curve, point: Point) -> tuple[int, int]:
    """Return the affine (x, y) of a Jacobian point that is not the point at infinity."""
    x, y, z = point
    inverse = pow(z, -1, curve.p)
    return x * inverse * inverse % curve.p, y * pow(inverse, 3, curve.p) % curve.p


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Return True if signature = R || S is an Ed25519 signature of message by public (RFC 8032 5.1.7).

    False, whatever else holds, unless signature is 64 bytes with S < L and
    public is the one 32-byte encoding of a point not of small order: this
    function checks its own inputs.  The signer knows a with A = a·B; it
    picked a secret r, published R = r·B and S = r + k·a mod L, where
    k = SHA-512(R || A || message).  Then S·B = R + k·A: compute S·B − k·A and
    compare its encoding with R.
    """
    point = _ed25519_decode(public) if len(public) == 32 else None
    if len(signature) != 64 or not _ed25519_s_in_range(signature) or point is None or _small_order(point):
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % ED25519.n
    s = int.from_bytes(signature[32:], "little")
    base = _ed_table(ED25519.gx, ED25519.gy, BASE_WINDOW)
    minus_a = _ed_table(-point[0] % ED25519.p, point[1], KEY_WINDOW)  # −(x, y) = (−x, y)
    x, y, z, _ = _multiply_add(ED25519, s, base, k, minus_a, _ed_double, _ed_add, (0, 1, 1, 0))
    inverse = pow(z, -1, ED25519.p)
    x, y = x * inverse % ED25519.p, y * inverse % ED25519.p
    return (y | (x & 1) << 255).to_bytes(32, "little") == signature[:32]  # the encoding of 5.1.2


def _ed25519_s_in_range(signature: bytes) -> bool:
    """Return True if S, the second half of an Ed25519 signature, is below L (RFC 8032 5.1.7 step 1).

    S + L would verify as well: one signature, two spellings.
    """
    return int.from_bytes(signature[32:], "little") < ED25519.n


_SQRT_MINUS_1 = pow(2, (ED25519.p - 1) // 4, ED25519.p)


@functools.lru_cache(maxsize=128)  # decoded when the key loads, and again for each signature it verifies
def _ed25519_decode(encoded: bytes) -> tuple[int, int] | None:
    """Return the point (x, y) a 32-byte encoding names (RFC 8032 5.1.3), or None if it names none."""
    p, d = ED25519.p, ED25519.k
    y = int.from_bytes(encoded, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)  # the top bit is x's parity
    if y >= p:  # step 1: a second spelling of y would give one point two encodings
        return None
    u, v = (y * y - 1) % p, (d * y * y + 1) % p  # x² = u / v
    x = u * pow(v, 3, p) * pow(u * pow(v, 7, p), (p - 5) // 8, p) % p  # a candidate square root of u / v
    if v * x * x % p == -u % p:
        x = x * _SQRT_MINUS_1 % p
    elif v * x * x % p != u:
        return None  # u / v is not a square: no point has this y
    if x == 0 and sign:
        return None
    return (p - x if x & 1 != sign else x), y


def _small_order(point: tuple[int, int]) -> bool:
    """Return True if 8·P is the neutral point: P lies outside the group of prime order L that B makes."""
    p = ED25519.p
    q: Point = (*point, 1, point[0] * point[1] % p)
    for _ in range(3):  # the curve has 8·L points: 8·P is neutral exactly for the 8 points of small order
        q = _ed_double(ED25519, q)
    return q[0] == 0 and q[1] == q[2]


def _ed_double(curve: Curve, point: Point) -> Point:
    """Return 2·P, points in extended coordinates: (X, Y, Z, T) is (X/Z, Y/Z) with T = XY/Z (RFC 8032 5.1.4)."""
    x1, y1, z1, _ = point
    p = curve.p
    a, b, c = x1 * x1 % p, y1 * y1 % p, 2 * z1 * z1 % p
    h, g = a + b, a - b
    e, f = h - (x1 + y1) ** 2, c + g
    return e * f % p, g * h % p, f * g % p, e * h % p


def _ed_add(curve: Curve, point: Point, q: Point) -> Point:
    """Return P + Q for P extended and Q given as (y + x, y − x, 2d·x·y) (RFC 8032 5.1.4; complete: no exceptions)."""
    x1, y1, z1, t1 = point
    p = curve.p
    a, b, c, d = (y1 - x1) * q[1] % p, (y1 + x1) * q[0] % p, t1 * q[2] % p, 2 * z1
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % p, g * h % p, f * g % p, e * h % p


@functools.lru_cache(maxsize=128)  # one table for B, one per public key in use
def _ed_table(x: int, y: int, width: int) -> dict[int, Point]:
    """Return {d: d·P} as _ed_add takes them, for the odd d with |d| < 2^(width−1): what a wNAF digit adds."""
    start: Point = (x, y, 1, x * y % ED25519.p)
    twice = _ed_niels(_ed_double(ED25519, start))
    table: dict[int, Point] = {}
    point = start
    for d in range(1, 1 << (width - 1), 2):
        table[d] = _ed_niels(point)
        point = _ed_add(ED25519, point, twice)
    return table | {-d: (ymx, ypx, -t % ED25519.p) for d, (ypx, ymx, t) in table.items()}  # −(x, y) = (−x, y)


def _ed_niels(point: Point) -> tuple[int, int, int]:
    """Return an extended point as (y + x, y − x, 2d·x·y) of its affine x and y: the form _ed_add takes."""
    p = ED25519.p
    inverse = pow(point[2], -1, p)
    x, y = point[0] * inverse % p, point[1] * inverse % p
    return (y + x) % p, (y - x) % p, 2 * ED25519.k * x * y % p


def _wnaf(k: int, width: int) -> list[int]:
    """Return k's width-w non-adjacent form, lowest digit first: each digit 0 or odd with |d| < 2^(w−1)."""
    digits = []
    while k:
        d = 0
        if k & 1:
            d = k & ((1 << width) - 1)
            if d >= 1 << (width - 1):
                d -= 1 << width
            k -= d  # k is now divisible by 2^width: the next width − 1 digits are 0
        digits.append(d)
        k >>= 1
    return digits


def _multiply_add(
    curve: Curve,
    k1: int,
    table1: dict[int, Point],
    k2: int,
    table2: dict[int, Point],
    double: Callable[[Curve, Point], Point],
    add: Callable[[Curve, Point, Point], Point],
    zero: Point,
) -> Point:
    """Return k1·P1 + k2·P2 with one chain of doublings for both (Shamir's trick), each scalar in wNAF."""
    d1, d2 = _wnaf(k1, BASE_WINDOW), _wnaf(k2, KEY_WINDOW)
    length = max(len(d1), len(d2))
    d1, d2 = d1 + [0] * (length - len(d1)), d2 + [0] * (length - len(d2))
    point = zero
    for digit1, digit2 in zip(reversed(d1), reversed(d2), strict=True):
        point = double(curve, point)
        if digit1:
            point = add(curve, point, table1[digit1])
        if digit2:
            point = add(curve, point, table2[digit2])
    return point


# ---------------------------------------------------------------------------
# 6. Claims.  A verified payload's claims in, their (exp, nbf, iat) out, or the
# InvalidToken that says which claim failed (RFC 7519 4.1).  Every comparison is
# exact and nothing is coerced: a string is not a number, true is not 1, and
# "https://issuer/" is not "https://issuer".
# ---------------------------------------------------------------------------


def _iso(t: float) -> str:
    """Return a NumericDate as an ISO 8601 UTC time."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """Return claim name as seconds since the epoch, None when absent, or raise MalformedToken."""
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    # Not a bool (exp: true would be 1970-01-01T00:00:01Z), not NaN (every comparison with it is false, so it
    # would never expire), not a string, and within years 1970-9999 (10**30 overflows a date).
    if (type(value) is not int and type(value) is not float) or not 0 <= value <= MAX_NUMERIC_DATE:
        raise MalformedToken(f"the {name!r} claim must be a NumericDate (seconds since 1970), not {_show(value)}")
    return value


def check_times(
    exp: float | None,
    nbf: float | None,
    iat: float | None,
    now: float,
    leeway: float,
    max_age: float | None = None,
    step: Step = _unobserved,
) -> None:
    """Raise ExpiredToken or TokenNotYetValid unless now lies in the token's validity window (RFC 7519 4.1.4-6).

    With max_age, a token issued more than max_age seconds ago is refused too,
    whatever its exp (and one without iat is refused: its age is unknown).
    """
    step("exp")
    if exp is not None and now - leeway >= exp:  # RFC 7519 4.1.4: "on or after" exp is expired
        raise ExpiredToken(f"token expired at {_iso(exp)}, {now - exp:.0f} s ago")
    step("nbf")
    if nbf is not None and now + leeway < nbf:  # the issuer said: not before then
        raise TokenNotYetValid(f"token is not valid before {_iso(nbf)}, {nbf - now:.0f} s from now")
    step("iat")
    if iat is not None and now + leeway < iat:  # minted in the future: a clock is wrong, or the token was made ahead
        raise TokenNotYetValid(
            f"token was issued in the future ({_iso(iat)}, {iat - now:.0f} s from now): check clocks"
        )
    if max_age is not None:  # a service that refuses old tokens, however long the issuer let them live
        step("max_age")
        if iat is None:
            raise MissingClaim("the token has no 'iat' claim, so its age is unknown")
        if now - leeway > iat + max_age:
            raise ExpiredToken(f"token was issued at {_iso(iat)}, {now - iat:.0f} s ago: older than {max_age:g} s")


Times = tuple[float | None, float | None, float | None]  # a token's (exp, nbf, iat), None where absent


def _check_audience(claims: dict[str, Any], audience: frozenset[str]) -> None:
    """Raise unless aud names one of audience, or is absent when no audience is configured (RFC 7519 4.1.3).

    One issuer mints tokens for many services.  A token that names its audience
    was minted for that service; accepted anywhere else, a token stolen from (or
    given to) one service opens all of them.  So a token with an aud is refused
    by a verifier that has no audience to compare it with (RFC 8725 3.9).
    """
    if "aud" not in claims:
        if audience:  # RFC 8725 3.9: a service that has an audience accepts only tokens that name it
            raise MissingClaim("the token has no 'aud' claim", _accepted(audience))
        return
    aud = claims["aud"]
    if not audience:
        raise InvalidAudience(
            f"the token is meant for audience {_show(aud)}, and this service has none", "set Verifier(audience=...)"
        )
    if type(aud) is str and aud in audience:  # a set lookup: "api" in "api-admin" would be a substring test
        return
    if type(aud) is not str and not (type(aud) is list and all(type(v) is str for v in aud)):  # [1, "me"] too
        raise InvalidAudience("the 'aud' claim must be a string or an array of strings")
    if type(aud) is str or audience.isdisjoint(aud):
        raise InvalidAudience(f"the token is meant for {_show(aud)}, not for this service", _accepted(audience))


def _accepted(audience: frozenset[str]) -> str:
    """Return which audiences this service accepts, for operators: configuration is not for clients."""
    return f"this service accepts {sorted(audience)}"


@dataclass(frozen=True)
class ClaimRules:
    """What a verifier asks of every token's claims: made once from its options, read for each token."""

    issuer: str  # the iss tokens must carry, byte for byte (or a template with {tenantid}: see tenancy)
    audience: frozenset[str] = frozenset()  # the aud values accepted; empty: tokens must carry no aud
    required: tuple[str, ...] = ("exp",)  # claims every token must carry
    leeway: float = 0  # seconds of clock skew tolerated
    max_age: float | None = None  # seconds since iat after which a token is refused, whatever its exp
    tenancy: Tenancy | None = None  # how a multi-tenant issuer names its tenants (chapter 11)


def check_claims(claims: dict[str, Any], rules: ClaimRules, now: float, step: Step = _unobserved) -> Times:
    """Return (exp, nbf, iat) of claims that pass every rule, or raise the InvalidToken that says why not."""
    step("required")
    for name in rules.required:  # exp by default: a token without one never expires
        if name not in claims:
            raise MissingClaim(f"the token has no {_show(name)} claim, which this verifier requires")
    step("iss")
    iss = claims.get("iss")
    # RFC 7519 4.1.1, RFC 8725 3.8: byte for byte.  Normalising (case, a trailing slash) would let a
    # look-alike issuer through; the key was fetched for this issuer, and the token must say it is its.
    if rules.tenancy is not None:
        check_tenant(claims, rules.tenancy)
    elif iss != rules.issuer:
        if "iss" not in claims:
            raise MissingClaim("the token has no 'iss' claim")
        raise InvalidIssuer(
            f"the token was issued by {_show(iss, 80)}, not by this service's issuer", _show(rules.issuer, 80)
        )
    step("aud")
    _check_audience(claims, rules.audience)
    step("dates")
    times = _numeric_date(claims, "exp"), _numeric_date(claims, "nbf"), _numeric_date(claims, "iat")
    check_times(*times, now, rules.leeway, rules.max_age, step)
    return times


# ---------------------------------------------------------------------------
# 7. Key source.  An issuer (or a JWKS URL) in, its KeySet out, when a token
# needs it.  RemoteKeySet finds the JWKS by OpenID Connect Discovery, fetches
# and caches it, and refreshes it carefully: one fetch at a time, spaced by a
# cooldown, within one deadline, old keys kept through outages.  Its decision
# table (the class docstring) is the whole policy; the rest is plumbing.  The
# keys come only from here, never from the token (see read_header).
# ---------------------------------------------------------------------------


class HTTPStatusError(ValueError):
    """The server answered, but not with 200 OK."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def _is_loopback(host: str | None) -> bool:
    """Return True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_https_url(uri: str, what: str = "JWKS URL", allow_http: bool = False) -> str:
    """Return uri if keys may be fetched from it (https, http to loopback, or http when allowed), else raise ValueError.

    The keys decide what is authentic: fetched over plain http, they could be
    replaced by anyone on the network path.  Loopback never leaves the machine.
    allow_http admits other http hosts, for development issuers only.
    """
    try:
        url = urllib.parse.urlsplit(uri)
        url.port  # noqa: B018 - parsing the port validates it
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"{what} {_show(uri, 80)} is not a URL") from None
    if url.scheme == "https" and url.hostname:
        return uri
    if url.scheme == "http" and url.hostname and (allow_http or _is_loopback(url.hostname)):
        return uri
    if url.scheme == "http" and url.hostname:
        raise ValueError(
            f"{what} {_show(uri, 80)} uses http://, so anyone on the network path could replace the keys: use "
            "https://, or for a development issuer opt in with allow_http=True (http:// to loopback needs nothing)"
        )
    raise ValueError(f"{what} {_show(uri, 80)} must be an https:// URL")


@dataclass(frozen=True)
class Response:
    """What an HTTP GET brought back: the status, the headers (names in lower case), the body."""

    status: int
    headers: dict[str, str]
    body: bytes


def fetch_json(uri: str, **options: Any) -> object:
    """Return the JSON document at uri (status 200 only), or raise an exception saying why it could not be had.

    options are those of http_get.
    """
    return parse_json(http_get(uri, **options).body)


def http_get(
    uri: str,
    *,
    timeout: float = FETCH_TIMEOUT_SECONDS,
    max_bytes: int = MAX_JWKS_BYTES,
    headers: dict[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    proxy: str | Literal[False] | None = None,
    allow_http: bool = False,
    statuses: tuple[int, ...] = (200,),
) -> Response:
    """Return the response to a GET of uri, or raise an exception saying why there is none.

    HTTP rules: GET only, no redirects, a status in statuses only, a body of at
    most max_bytes, and one deadline of timeout seconds for the whole exchange,
    connecting (through the proxy, see proxy_for) included.  Only the DNS lookup
    before it cannot be interrupted (Python offers no timeout for getaddrinfo),
    so a hung resolver can exceed it.
    """
    url = urllib.parse.urlsplit(check_https_url(uri, allow_http=allow_http))
    via = proxy_for(url, proxy)
    deadline = time.monotonic() + timeout
    # Socket timeouts apply to each read, so a server dripping a byte a second
    # would never trip them: at the deadline this timer shuts the sockets down.
    sockets: list[socket.socket] = []
    watchdog = threading.Timer(max(timeout, 0), _shut_down, (sockets,))
    watchdog.daemon = True
    watchdog.start()
    response = None
    try:
        conn = _connect(url, deadline, ssl_context, via, sockets)
        response = _request(conn, url, headers or {}, max_bytes, statuses)
    except (OSError, ValueError, http.client.HTTPException):
        if time.monotonic() < deadline:
            raise
    finally:
        watchdog.cancel()
        for sock in sockets:
            sock.close()
    if response is None or time.monotonic() >= deadline:  # cut short by the watchdog, possibly without an error
        through = "" if via is None else f" through the proxy {via.hostname}:{via.port or 80}"
        raise TimeoutError(f"no complete response from {url.hostname}{through} within {timeout:.3g} s")
    return response


def _request(
    conn: http.client.HTTPConnection,
    url: urllib.parse.SplitResult,
    headers: dict[str, str],
    max_bytes: int,
    statuses: tuple[int, ...],
) -> Response:
    """Return the response to a GET of url on conn: a status in statuses only, no redirects, at most max_bytes."""
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    conn.request("GET", path, headers={"Accept": "application/json", "User-Agent": f"zjwt/{__version__}", **headers})
    with conn.getresponse() as response:
        if response.status not in statuses:  # a redirect would take the fetch to a URL that is not configuration
            moved = " (redirects are not followed)" if 300 <= response.status < 400 else ""
            raise HTTPStatusError(f"HTTP {response.status} {_show(response.reason, 80)}{moved}", response.status)
        received = {name.lower(): value for name, value in response.getheaders()}
        return Response(response.status, received, _read_at_most(response, max_bytes))


def proxy_for(
    url: urllib.parse.SplitResult, proxy: str | Literal[False] | None = None
) -> urllib.parse.SplitResult | None:
    """Return the HTTP proxy to reach an https url through, or None to connect directly.

    proxy=False: never a proxy.  A proxy URL (http://user:password@host:port):
    that proxy, for every https URL.  None: as every HTTP client does, the
    environment's HTTPS_PROXY (https_proxy), unless NO_PROXY (no_proxy) names
    the host, read by the standard library's own rules.  Plain-http URLs
    (loopback, or development issuers let in by allow_http) are fetched
    directly.  The tunnel is opened with CONNECT, and TLS then runs end to end
    with the issuer, checked against the issuer's name, not the proxy's.
    """
    if proxy is False or url.scheme != "https":
        return None
    if proxy is None:
        import urllib.request  # here: only a fetch needs the standard library's reading of the environment

        proxies = urllib.request.getproxies_environment()
        if not proxies.get("https") or urllib.request.proxy_bypass(url.netloc):  # NO_PROXY, from the same source
            return None
        proxy = proxies["https"]
    return _proxy_url(proxy)


def _proxy_url(proxy: str) -> urllib.parse.SplitResult:
    """Return a proxy's URL (host:port alone means http://host:port), or raise ValueError if it is not an http one."""
    try:
        url = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        url.port  # noqa: B018 - parsing the port validates it
    except (ValueError, TypeError, AttributeError):
        raise ValueError("the proxy is not a URL such as http://proxy.example:3128") from None
    if url.scheme != "http" or not url.hostname:  # the tunnel's TLS is the issuer's; the proxy is spoken to in clear
        raise ValueError(f"the proxy {_show(url.scheme + '://' + (url.hostname or ''), 80)} must be an http:// URL")
    return url


def _connect(
    url: urllib.parse.SplitResult,
    deadline: float,
    ssl_context: ssl.SSLContext | None,
    proxy: urllib.parse.SplitResult | None,
    sockets: list[socket.socket],
) -> http.client.HTTPConnection:
    """Return an HTTP(S) connection to url's host, through the proxy when there is one, within the deadline."""
    https = url.scheme == "https"
    host, port = url.hostname or "", url.port or (443 if https else 80)
    if proxy is None:
        sock = _open_socket(host, port, deadline, sockets, host)
    else:
        proxy_host = proxy.hostname or ""
        sock = _open_socket(proxy_host, proxy.port or 80, deadline, sockets, f"the proxy {proxy_host}")
        _tunnel(sock, host, port, proxy)
    if not https:
        conn = http.client.HTTPConnection(host, port)
    else:
        context = ssl_context or _default_tls_context()
        sock = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)  # the issuer's name
        sockets.append(sock)  # before the handshake, so the watchdog can cut a dripping one
        sock.do_handshake()
        conn = http.client.HTTPSConnection(host, port, context=context)
    conn.sock = sock  # http.client uses a socket it is given as it is
    return conn


def _open_socket(host: str, port: int, deadline: float, sockets: list[socket.socket], what: str) -> socket.socket:
    """Return a socket connected to host:port, trying its addresses in turn within the deadline."""
    addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    errors = []
    for left, (family, kind, proto, _, address) in zip(range(len(addresses), 0, -1), addresses, strict=True):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        # Each address gets its share of what is left, so a dead first address (an
        # IPv6 route that drops packets) leaves time for the next one to answer.
        sock.settimeout(remaining / left)
        try:
            sock.connect(address)
        except OSError as error:
            sock.close()
            errors.append(f"{address[0]}: {error}")
            continue
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        sockets.append(sock)  # from here on, the watchdog can cut it
        return sock
    raise ConnectionError(f"could not connect to {what} ({'; '.join(errors) or 'no time left'})")


def _tunnel(sock: socket.socket, host: str, port: int, proxy: urllib.parse.SplitResult) -> None:
    """Ask an HTTP proxy for a tunnel to host:port (RFC 9110 9.3.6), or raise ConnectionError saying why not."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
    if proxy.username is not None:  # the credentials come from the proxy URL, and go nowhere but here
        credentials = f"{urllib.parse.unquote(proxy.username)}:{urllib.parse.unquote(proxy.password or '')}"
        request += f"Proxy-Authorization: Basic {binascii.b2a_base64(credentials.encode(), newline=False).decode()}\r\n"
    sock.sendall((request + "\r\n").encode("latin-1"))
    with sock.makefile("rb") as reply:  # the socket outlives it: TLS to the issuer follows
        status_line = reply.readline(MAX_PROXY_LINE_BYTES)
        for _ in range(MAX_PROXY_HEADER_LINES):
            if reply.readline(MAX_PROXY_LINE_BYTES) in (b"\r\n", b"\n", b""):
                break
    version, _, rest = status_line.partition(b" ")
    status, _, reason = rest.partition(b" ")
    proxy_name = f"the proxy {proxy.hostname}:{proxy.port or 80}"  # never the URL: it may hold a password
    if not version.startswith(b"HTTP/") or not (status.isdigit() and len(status) == 3):
        raise ConnectionError(f"{proxy_name} did not answer the CONNECT with HTTP")
    if not 200 <= int(status) < 300:
        advice = ": check the user and password in the proxy URL" if status == b"407" else ""
        phrase = _show(reason.decode("latin-1").strip(), 60)
        raise ConnectionError(f"{proxy_name} refused a tunnel to {target}: {int(status)} {phrase}{advice}")


@functools.cache
def _default_tls_context() -> ssl.SSLContext:
    """Return the system's default TLS client context, built once: loading the CA store takes milliseconds."""
    return ssl.create_default_context()


def _shut_down(sockets: list[socket.socket]) -> None:
    """Shut down sockets, waking any read blocked on them."""
    for sock in sockets:
        with contextlib.suppress(OSError):  # not connected, or already closed
            sock.shutdown(socket.SHUT_RDWR)


def _read_at_most(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    """Return the response body, or raise ValueError once it passes max_bytes: an issuer cannot fill our memory."""
    length = response.getheader("Content-Length", "")
    declared = int(length) if length.isascii() and length.isdigit() and len(length) < 20 else None
    if declared is not None and declared > max_bytes:
        raise ValueError(f"response of {declared} bytes is larger than the {max_bytes}-byte limit")
    chunks, size = [], 0
    while chunk := response.read(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise ValueError(f"response is larger than the {max_bytes}-byte limit (stopped after {size} bytes)")
        chunks.append(chunk)
    if declared is not None and size != declared:  # the server hung up early
        raise ValueError(f"the response ended after {size} of its {declared} bytes")
    return b"".join(chunks)


def discover_jwks_uri(issuer: str, **options: Any) -> tuple[str, str]:
    """Return (jwks_uri, how it was found) from the issuer's OpenID configuration, or raise saying why not.

    OpenID Connect Discovery 1.0: the document lives at the issuer with any
    trailing slash removed plus /.well-known/openid-configuration (4.1), and it
    must name exactly that issuer (4.3), or an attacker who controls one tenant
    of a shared host could hand out another tenant's keys.  An issuer without
    the document (404) gets the conventional <issuer>/.well-known/jwks.json.
    """
    base = _discovery_base(issuer)
    url = base + "/.well-known/openid-configuration"
    try:
        document = fetch_json(url, **options)
    except HTTPStatusError as error:
        if error.status != 404:
            raise
        fallback = check_https_url(base + "/.well-known/jwks.json", allow_http=options.get("allow_http", False))
        return fallback, f"{url} answered 404, so the conventional {fallback}"
    if not isinstance(document, dict):
        raise ValueError(f"the discovery document at {url} is not a JSON object")
    named = document.get("issuer")
    if named != issuer:  # byte for byte: a trailing slash or a capital is another issuer
        raise ValueError(f"the discovery document at {url} is for issuer {_show(named, 80)}, not {_show(issuer, 80)}")
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise ValueError(f"the discovery document at {url} has no 'jwks_uri'")
    checked = check_https_url(jwks_uri, "the discovered jwks_uri", options.get("allow_http", False))
    return checked, f"the discovery document {url}"


EventHook = Callable[[str, dict[str, Any]], None]  # on_event(name, fields): what a key source reports (see there)


class RemoteKeySet:
    """The keys an issuer publishes, fetched when needed and shared by every thread.

    Give it the JWKS URL, or the issuer to find that URL by OpenID Connect
    Discovery (remembered, and looked up again once a day or when the URL stops
    answering 200).  What a caller asking for the keys of a token's kid gets:

        state of the cached keys                      action
        fresh, and the kid is known ................. use them
        a fetch is in flight, kid known ............. use them (stale but usable)
        a fetch is in flight, kid unknown ........... wait for it, at most the timeout
        stale but usable, kid known ................. use them; refresh in the background
        cooling down after a fetch, keys usable ..... use them (the verifier reports an unknown kid)
        cooling down, no usable keys ................ KeySetUnavailable (503, retry after the cooldown)
        otherwise: cold, kid unknown, too old ....... fetch now, once: then the new keys or KeySetUnavailable

    "Fresh" is younger than the issuer says (its Cache-Control max-age, or
    Expires, kept between min_cache_seconds and max_cache_seconds; without
    either, cache_seconds); "usable" younger than max_stale_seconds, so keys
    keep serving through an issuer's outage; a kid is "known" when the last
    JWKS listed it, usable or not.  A refresh asks with the response's ETag and
    Last-Modified: a 304 renews the keys without downloading or parsing them.
    A fetch that fails keeps the old keys; a JWKS that parses replaces them,
    even when it holds no usable key (the issuer withdrew them).  Times follow
    ``clock``, monotonic by default so a wall-clock step cannot keep keys alive
    or expire them.

    Why: a new kid means the issuer rotated its keys, so it is worth a fetch;
    but the kid is written by whoever sends the token, so a flood of random
    kids may cost the issuer at most one request per cooldown.  Stale keys serve
    while the refresh runs, so no request waits on the issuer, and through an
    outage, so the issuer's bad hour is not ours; but not forever, since keys
    that cannot be refreshed cannot be withdrawn either.

    For operators: status() says how it is, and on_event(name, fields), when
    given, hears "fetch_started", "fetch_succeeded", "fetch_failed",
    "revalidated" (a 304), "stale_keys_served", "key_skipped" and
    "unknown_kid" as they happen.  It is never called while a lock is held,
    and an exception it raises is logged, never raised into verification.
    """

    def __init__(
        self,
        jwks_uri: str | None = None,
        *,
        issuer: str | None = None,
        cache_seconds: float = JWKS_CACHE_SECONDS,
        min_cache_seconds: float = MIN_JWKS_CACHE_SECONDS,
        max_cache_seconds: float = MAX_JWKS_CACHE_SECONDS,
        cooldown_seconds: float = REFETCH_COOLDOWN_SECONDS,
        timeout_seconds: float = FETCH_TIMEOUT_SECONDS,
        max_bytes: int = MAX_JWKS_BYTES,
        max_stale_seconds: float = MAX_STALE_SECONDS,
        headers: dict[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | Literal[False] | None = None,
        allow_http: bool = False,
        on_event: EventHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if (jwks_uri is None) == (issuer is None):
            raise ValueError("pass either jwks_uri or issuer (to discover the JWKS URL)")
        self.issuer = issuer
        self.jwks_uri = None if jwks_uri is None else check_https_url(jwks_uri, allow_http=allow_http)
        self.jwks_uri_from = "configured" if jwks_uri else None  # how jwks_uri was learned (None until discovered)
        _check_where(issuer, proxy, allow_http)
        if not 0 < timeout_seconds <= cooldown_seconds:
            raise ValueError("timeout_seconds must be > 0 and at most cooldown_seconds, so fetches never overlap")
        lifetimes = (cache_seconds, min_cache_seconds, max_cache_seconds)
        if not (all(0 <= t <= max_stale_seconds for t in lifetimes) and min_cache_seconds <= max_cache_seconds):
            raise ValueError("need 0 <= the cache lifetimes <= max_stale_seconds, and min <= max_cache_seconds")
        if not max_bytes > 0:
            raise ValueError("max_bytes must be > 0")
        self.cache_seconds, self.min_cache_seconds, self.max_cache_seconds = lifetimes
        self.cooldown_seconds, self.timeout_seconds, self.max_bytes = cooldown_seconds, timeout_seconds, max_bytes
        self.max_stale_seconds = max_stale_seconds
        self.headers, self.ssl_context = dict(headers or {}), ssl_context
        self.proxy, self.allow_http = proxy, allow_http
        self.on_event, self.clock = on_event, clock
        self.fetch_count = self.failure_count = self.revalidation_count = 0  # attempts, failures, 304s
        self.last_error: str | None = None  # why the last failed fetch failed
        self.attempted_at: float | None = None  # clock time of the last fetch attempt
        # (keys, clock time the issuer last gave or confirmed them, seconds they stay fresh from then)
        self._cached: tuple[KeySet | None, float, float] = (None, 0.0, 0.0)
        self._response: tuple[str | None, dict[str, str]] = (None, {})  # (URL, headers) of the last 200, for 304s
        self._discovered_at: float | None = None  # clock time jwks_uri was last discovered
        self._fetching = False
        self._changed = threading.Condition()

    @property
    def age(self) -> float | None:
        """Return the seconds since the issuer last gave or confirmed the keys, or None before the first success."""
        keys, confirmed_at, _ = self._cached
        return None if keys is None else self.clock() - confirmed_at

    @property
    def fresh(self) -> bool:
        """Return True while the cached keys are younger than their lifetime."""
        keys, confirmed_at, lifetime = self._cached
        return keys is not None and self.clock() - confirmed_at < lifetime

    @property
    def fetching(self) -> bool:
        """Return True while a fetch is in flight."""
        return self._fetching

    def key_set(self, kid: str | None = None, block: bool = True) -> KeySet | None:
        """Return the keys to verify a token naming kid with, as the table above decides.

        With block=False, return None instead of fetching or waiting (the async
        verifier then does that in a worker thread).
        """
        keys, confirmed_at, lifetime = self._cached
        if keys is not None and keys.knows(kid) and self.clock() - confirmed_at < lifetime:
            return keys  # the common case, decided without the lock
        if keys is not None and not keys.knows(kid):
            self._emit("unknown_kid", kid=_show(kid, 80))
        step = self._take_step(kid, block)
        if step is None:
            return None
        if step == "fetch":
            self._fetch()  # this call's own fetch, the only one: afterwards, the keys or an error
            with self._changed:
                if not self._usable():
                    raise self._unavailable()
        keys, confirmed_at, lifetime = self._cached
        if step == "refresh in background":  # started once the stale keys are read: they serve this call, even
            self._refresh_in_background()  # should the refresh finish first (it may, on a busy machine)
        if keys is not None and self.clock() - confirmed_at >= lifetime:
            self._emit("stale_keys_served", age=round(self.clock() - confirmed_at, 3))
        return keys

    def reload(self) -> KeySet:
        """Fetch now, whatever the cache and cooldown say; return the new keys or raise KeySetUnavailable."""
        with self._changed:
            if not self._changed.wait_for(lambda: not self._fetching, self.timeout_seconds):
                raise self._unavailable(f"the fetch in flight took longer than {self.timeout_seconds:g} s")
            self._begin_fetch()
            failures = self.failure_count
        self._fetch()
        keys = self._cached[0]
        if self.failure_count > failures or keys is None:
            raise KeySetUnavailable("could not fetch the issuer's signing keys", 1, self.last_error)
        return keys

    def status(self) -> dict[str, Any]:
        """Return how the key source is, as plain data for readiness probes and metrics: cheap, and no fetch.

        state is "cold" (no keys yet, no failure), "fresh", "stale" (usable,
        a refresh due) or "unavailable" (no usable keys: requests get 503).
        """
        keys, confirmed_at, lifetime = self._cached
        now = self.clock()
        age = None if keys is None else now - confirmed_at
        cooling = 0.0 if self.attempted_at is None else self.attempted_at + self.cooldown_seconds - now
        if age is None:
            state = "unavailable" if self.failure_count else "cold"
        else:
            state = "unavailable" if age >= self.max_stale_seconds else "stale" if age >= lifetime else "fresh"
        return {
            "state": state,
            "age": None if age is None else round(age, 3),
            "next_refresh_in": round(max(0.0, cooling, 0.0 if age is None else lifetime - age), 3),
            "jwks_uri": self.jwks_uri,
            "jwks_uri_from": self.jwks_uri_from,
            "usable_keys": 0 if keys is None else len(keys.keys),
            "total_keys": 0 if keys is None else len(keys.report),
            "fetches": self.fetch_count,
            "failures": self.failure_count,
            "revalidations": self.revalidation_count,
            "last_error": self.last_error,
        }

    def _take_step(self, kid: str | None, block: bool) -> str | None:
        """Return "use", "fetch" or "refresh in background" for this caller, waiting while another fetch runs.

        A fetch this returns is marked in flight already; None means the caller
        (with block=False) would have to fetch or wait.
        """
        wait_until = time.monotonic() + self.timeout_seconds
        with self._changed:
            while True:
                step = self._next_step(kid)
                if step == "unavailable":
                    raise self._unavailable()
                if step == "use":
                    return step
                if not block and step != "refresh in background":
                    return None
                if step != "wait":
                    self._begin_fetch()
                    return step
                if not self._changed.wait(wait_until - time.monotonic()) and self._fetching:
                    raise self._unavailable(f"the fetch in flight took longer than {self.timeout_seconds:g} s")

    def _refresh_in_background(self) -> None:
        """Run the fetch already marked in flight on a thread of its own; if none can start, record the failure."""
        try:
            threading.Thread(target=self._fetch, name="zjwt-refresh", daemon=True).start()
        except RuntimeError as error:  # "can't start new thread": a pids limit, or no memory
            # Left marked in flight, no fetch would ever run again.  Recorded as a failed attempt, it is
            # retried after the cooldown, and once the keys are too old a caller fetches on its own thread.
            self._end_fetch(None, error, 0.0)

    def _next_step(self, kid: str | None) -> str:
        """Return what a caller needing kid's key should do now: a row of the class docstring's table."""
        now = self.clock()
        keys, confirmed_at, lifetime = self._cached
        usable = self._usable()
        known = usable and keys is not None and keys.knows(kid)
        cooling = self.attempted_at is not None and now - self.attempted_at < self.cooldown_seconds
        if known and now - confirmed_at < lifetime:
            return "use"
        if self._fetching:
            return "use" if known else "wait"
        if known:
            return "use" if cooling else "refresh in background"
        if cooling:
            return "use" if usable else "unavailable"
        return "fetch"

    def _usable(self) -> bool:
        """Return True if there are cached keys younger than max_stale_seconds."""
        keys, confirmed_at, _ = self._cached
        return keys is not None and self.clock() - confirmed_at < self.max_stale_seconds

    def _unavailable(self, reason: str | None = None) -> KeySetUnavailable:
        """Return the 503 error for callers that cannot have keys now, with when to retry.

        The client is told only that and when; why (hosts, addresses, errno) is for operators.
        """
        retry = self.cooldown_seconds
        if self.attempted_at is not None:
            retry = self.attempted_at + self.cooldown_seconds - self.clock()
        retry = max(1, math.ceil(retry))
        message = f"the issuer's signing keys are unavailable; retry in {retry} s"
        return KeySetUnavailable(message, retry, reason or self.last_error or "no keys yet")

    def _begin_fetch(self) -> None:
        """Mark a fetch as in flight (the caller holds the lock)."""
        self._fetching, self.attempted_at = True, self.clock()

    def _fetch(self) -> None:
        """Download (or revalidate) and parse the JWKS, then store it or record why that failed, whatever happens."""
        self._emit("fetch_started", jwks_uri=self.jwks_uri)
        started, refreshed, failure = time.monotonic(), None, None
        try:
            refreshed = self._download()
        except Exception as error:  # noqa: BLE001 - any failure is an outage: keep serving the keys we have
            failure = error
        finally:
            self._end_fetch(refreshed, failure, time.monotonic() - started)

    def _end_fetch(self, refreshed: _Refreshed | None, failure: BaseException | None, seconds: float) -> None:
        """Store what a fetch brought, or record why it failed; mark no fetch in flight; wake the waiting threads."""
        reason = None if failure is None else _reason(failure)
        if reason is not None:  # said before the fetch is marked done, and outside the lock
            logger.warning("could not fetch the keys of %s: %s", self.issuer or self.jwks_uri, reason)
        with self._changed:
            if refreshed is not None:
                keys = refreshed.keys or self._cached[0]  # None: a 304, the keys we have are current
                self._cached = (keys, self.clock(), refreshed.lifetime)
                self._response = (refreshed.uri, refreshed.headers)
                self.revalidation_count += refreshed.keys is None
            if reason is not None:
                self.failure_count += 1
                self.last_error = reason
            self.fetch_count += 1
            self._fetching = False
            self._changed.notify_all()
        timing = {"seconds": round(seconds, 3)}
        if reason is not None:
            self._emit("fetch_failed", reason=reason, **timing)
        elif refreshed is not None:
            done = {"jwks_uri": refreshed.uri, "fresh_for": refreshed.lifetime, **timing}
            if refreshed.keys is None:
                self._emit("revalidated", **done)
            else:
                self._emit("fetch_succeeded", usable_keys=len(refreshed.keys.keys), **done)

    def _download(self) -> _Refreshed:
        """Return the JWKS (or the issuer's 304), discovering its URL first when due, all within one deadline."""
        deadline = time.monotonic() + self.timeout_seconds
        if self.issuer is not None and self._discovery_due():
            self._discover(self.issuer, deadline)
        uri = self.jwks_uri
        assert uri is not None  # configured, or found by the discovery just now (which raises when it finds none)
        stored = self._response[1] if self._response[0] == uri else {}  # validators belong to one URL
        ask = {name: stored[key] for name, key in _VALIDATORS if key in stored}  # RFC 9110 13.1.2, 13.1.3
        options = self._fetch_options() | {"headers": self.headers | ask, "statuses": (200, 304) if ask else (200,)}
        try:
            response = http_get(uri, timeout=deadline - time.monotonic(), **options)
        except (OSError, HTTPStatusError, http.client.HTTPException):
            self._discovered_at = None  # the URL stopped answering 200: discover it again next time
            raise
        headers = stored | response.headers if response.status == 304 else response.headers  # RFC 9111 4.3.4
        lifetime = cache_lifetime(headers, self.cache_seconds, self.min_cache_seconds, self.max_cache_seconds)
        if response.status == 304:
            return _Refreshed(None, uri, lifetime, headers)
        previous = self._cached[0]
        keys = parse_key_set(parse_json(response.body), uri, previous=previous)
        reported = set(previous.report) if previous else set()
        for kid, *_, reason in keys.report:
            if reason is not None and (kid, *_, reason) not in reported:
                self._emit("key_skipped", kid=kid, reason=reason)
        return _Refreshed(keys, uri, lifetime, headers)

    def _discover(self, issuer: str, deadline: float) -> None:
        """Look jwks_uri up by discovery; when that fails, keep a URL found before and look again next time.

        An issuer's discovery document can fail while its keys still answer: with
        a URL to fall back on, discovery gets half the time left, so the keys get
        the other half, and an outage of discovery alone costs no refresh.
        """
        remembered = self.jwks_uri
        timeout = (deadline - time.monotonic()) / (2 if remembered else 1)
        try:
            self.jwks_uri, self.jwks_uri_from = discover_jwks_uri(issuer, timeout=timeout, **self._fetch_options())
        except Exception as error:  # whatever broke discovery (re-raised when no URL is remembered)
            if remembered is None:
                raise
            logger.warning(
                "discovery for %s failed (%s); fetching the keys from %s", issuer, _reason(error), remembered
            )
            return
        self._discovered_at = self.clock()

    def _fetch_options(self) -> dict[str, Any]:
        """Return the options every request of this key source is made with."""
        return {
            "max_bytes": self.max_bytes,
            "headers": self.headers,
            "ssl_context": self.ssl_context,
            "proxy": self.proxy,
            "allow_http": self.allow_http,
        }

    def _discovery_due(self) -> bool:
        """Return True when jwks_uri is unknown, stopped answering, or was discovered a day ago."""
        return self._discovered_at is None or self.clock() - self._discovered_at >= DISCOVERY_SECONDS

    def _emit(self, event: str, **fields: Any) -> None:
        """Tell on_event what happened (never under the lock); what it raises is logged, never raised."""
        if self.on_event is None:
            return
        try:
            self.on_event(event, fields)
        except Exception:  # a metrics hook must not break verification
            logger.exception("on_event raised on %s", event)


@dataclass(frozen=True)
class _Refreshed:
    """What one fetch brought: new keys (None for a 304: the keys held are current), and how long they stay fresh."""

    keys: KeySet | None
    uri: str  # the JWKS URL they came from
    lifetime: float  # seconds the keys stay fresh from now (cache_lifetime)
    headers: dict[str, str]  # the response's headers: its validators ask the next time


_VALIDATORS = (("If-None-Match", "etag"), ("If-Modified-Since", "last-modified"))  # (request header, response's)


def cache_lifetime(headers: dict[str, str], default: float, floor: float, ceiling: float) -> float:
    """Return how long a response stays fresh (RFC 9111 4.2.1), in seconds, kept between floor and ceiling.

    Cache-Control max-age, less the Age a cache on the way added (4.2.3),
    else Expires less Date; no-store and no-cache count as 0, and so do values
    that do not parse (5.3).  Without any of them: default.
    """
    directives = {}
    for directive in headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        directives[name.strip().lower()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        seconds = 0.0
    elif "max-age" in directives:
        seconds = _delta_seconds(directives["max-age"]) - _delta_seconds(headers.get("age", "0"))
    elif "expires" in headers:
        expires, date = _http_date(headers["expires"]), _http_date(headers.get("date", "")) or time.time()
        seconds = 0.0 if expires is None else expires - date
    else:
        return default
    return min(max(seconds, floor), ceiling)


def _delta_seconds(text: str) -> float:
    """Return an HTTP delta-seconds value (RFC 9111 1.2.2): 0 unless digits (invalid is stale, 4.2.1); huge is inf."""
    if not (text.isascii() and text.isdigit()):
        return 0.0
    return float(text) if len(text) <= 15 else math.inf


def _http_date(text: str) -> float | None:
    """Return an HTTP date (RFC 9110 5.6.7) as seconds since 1970, or None when it does not parse."""
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _check_where(issuer: str | None, proxy: object, allow_http: bool) -> None:
    """Raise ValueError for an issuer URL keys may not come from or a proxy that is not one; warn of allow_http."""
    if issuer is not None:
        check_https_url(_discovery_base(issuer) + "/.well-known/openid-configuration", "issuer", allow_http)
    if isinstance(proxy, str):
        _proxy_url(proxy)  # a bad proxy URL is a configuration error, said now rather than at the first fetch
    elif proxy not in (None, False):
        raise ValueError("proxy must be None (HTTPS_PROXY and NO_PROXY decide), False (none) or a proxy URL")
    if allow_http:
        logger.warning(
            "allow_http: keys for %s may be fetched over plain http, where anyone on the network path can "
            "replace them; use it for development issuers only",
            _printable(issuer or ""),
        )


# ---------------------------------------------------------------------------
# 8. Verifier.  A token in, its claims out, or the AuthError that says why not.
# Verifier.verify is the entry point; its steps follow RFC 8725 2 and 3: the
# size, the shape, the header and its alg, the key, the signature over the
# bytes as received, and only then the payload and its claims, so nothing an
# attacker wrote is interpreted before its signature has been checked.
# ---------------------------------------------------------------------------

# Header members that change how a token is read (RFC 7515 4.1.11 crit, RFC 7797 b64)
# or belong to encrypted tokens (RFC 7516, RFC 7518 4.6-4.8): no JWT we accept has them.
# RFC 7515 4.1.11: a recipient that does not understand a "crit" extension MUST reject,
# since the sender relies on it (b64: false, for one, changes which bytes are signed).
_UNSUPPORTED_HEADER = frozenset({"crit", "b64", "zip", "enc", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c"})


def check_size(token: str) -> None:
    """Raise MalformedToken if token is longer than MAX_TOKEN_BYTES: checked before anything is split or decoded."""
    if len(token) > MAX_TOKEN_BYTES:  # a megabyte token costs nothing
        raise MalformedToken(f"the token is longer than {MAX_TOKEN_BYTES} bytes")


def _segments(token: str | bytes) -> list[bytes]:
    """Return the three segments of a token of the size and shape verify accepts, or raise MalformedToken."""
    text = token if isinstance(token, str) else _token_text(token)
    check_size(text)
    return split_token(_ascii(text))


def split_token(token: bytes) -> list[bytes]:
    """Return the header, payload and signature segments of a compact JWS, or raise MalformedToken."""
    segments = token.split(b".")
    # RFC 7515 7.1.  Five segments would be an encrypted JWT (RFC 7516 9): decrypting is not authenticating.
    if len(segments) != 3:
        raise MalformedToken(f"a JWT has 3 dot-separated segments, this token has {len(segments)}")
    return segments


def read_header(
    segment: bytes, algorithms: frozenset[str], typ: str | None = None, step: Step = _unobserved
) -> tuple[str, str | None]:
    """Return (alg, kid) of a JOSE header the verifier accepts (RFC 7515 4.1, RFC 8725 3.1), or raise (check_header)."""
    header = check_header(segment, algorithms, typ, step)
    return header["alg"], header.get("kid")


def check_header(
    segment: bytes, algorithms: Collection[str], typ: str | None = None, step: Step = _unobserved
) -> dict[str, Any]:
    """Return a JOSE header segment's JSON object, once it passes every check of a header, or raise InvalidToken.

    The values read are alg, kid and cty; the members that change how a token
    is read (crit, b64, and JWE's) are refused by their presence alone.  The
    members that carry, point to or name a key (jwk, jku, x5u, x5c, x5t,
    x5t#S256) are never read, and that is the rule: the header is written by
    whoever sends the token, so a key it supplies (jwk, x5c) is the attacker's
    own, which of course verifies the attacker's signature, a URL it names
    (jku, x5u) would make the server fetch from wherever the attacker likes,
    and a thumbprint (x5t) would pick a key by the attacker's choice of name.
    Keys come only from the issuer's key set, by kid (RFC 8725 3.10); the
    one exception is a DPoP proof's jwk (chapter 13).  With typ (say
    "at+jwt"), the header's typ must name that type (see typ_matches).
    """
    step("header")
    header = _json_object(_decode_segment(segment, "header"), "header")
    step("alg")
    alg = header.get("alg")
    if not isinstance(alg, str):  # no default algorithm to fall back on
        raise MalformedToken("the header has no 'alg' string")
    # The allow-list is the verifier's, never the token's: "none" (no signature at all) and HS256 (an RSA
    # public key used as an HMAC secret) are how tokens get forged when the token chooses (RFC 8725 2.1).
    if alg not in algorithms:
        raise DisallowedAlgorithm(f"algorithm {_show(alg)} is not allowed (allowed: {', '.join(sorted(algorithms))})")
    step("crit")
    unsupported = _UNSUPPORTED_HEADER.intersection(header)
    if unsupported:
        raise MalformedToken(f"the header has {min(unsupported)!r}, which zjwt does not implement (RFC 7515 4.1.11)")
    cty = header.get("cty")
    if isinstance(cty, str) and cty.lower() in ("jwt", "application/jwt"):  # RFC 7519 7.2 step 8: never recurse
        raise MalformedToken("nested JWTs (cty 'JWT') are not accepted")
    step("kid")
    kid = header.get("kid")  # only ever a dictionary key: never a path, a query or a URL
    if "kid" in header and (not isinstance(kid, str) or len(kid) > MAX_KID_CHARS):
        raise MalformedToken(f"the 'kid' header must be a string of at most {MAX_KID_CHARS} characters")
    # RFC 8725 3.11, RFC 9068 2.1: explicit typing.  An OIDC ID token (aud: the client) would otherwise pass
    # for an access token wherever the audiences line up: its typ (JWT) says what it is.
    if typ is not None:
        step("typ")
    if typ is not None and not typ_matches(header.get("typ"), typ):
        raise InvalidTokenType(f"the token's typ is {_show(header.get('typ'))}, and this service accepts {typ!r} only")
    return header


def typ_matches(value: object, typ: str) -> bool:
    """Return True if a header's typ names the media type typ (RFC 7515 4.1.9, RFC 2045 5.1).

    Media types compare case-insensitively, and a typ without "/" means
    "application/" + typ: "at+jwt", "AT+JWT" and "application/at+jwt" are one
    type; "at+jwt " and ["at+jwt"] are not.
    """
    if not isinstance(value, str):
        return False
    return value.lower().removeprefix("application/") == typ.lower().removeprefix("application/")


class Verifier:
    """Verifies the JWTs of one issuer: signature by the issuer's keys, then the claims.

    Make one per issuer at start-up and share it between threads: it holds the
    key source and a cache of verified tokens.  verify (and authenticate, for an
    Authorization header) is the entry point; verify_async is the same for code
    on an event loop.

    >>> verifier = Verifier("https://issuer.example")   # keys found by OpenID Connect Discovery
    >>> verifier.key_source.issuer, verifier.key_source.jwks_uri   # looked up on first use
    ('https://issuer.example', None)
    """

    def __init__(
        self,
        issuer: str,
        *,
        jwks_uri: str | None = None,
        jwks: dict[str, Any] | None = None,
        key_source: KeySource | None = None,
        proxy: str | Literal[False] | None = None,
        allow_http: bool = False,
        on_event: EventHook | None = None,
        audience: str | list[str] | None = None,
        algorithms: tuple[str, ...] = ("RS256",),
        typ: str | None = None,
        leeway: float = 0,
        max_age: float | None = None,
        required_claims: tuple[str, ...] = ("exp",),
        tenants: Collection[str] | None = None,
        dpop: str = "allowed",
        dpop_algorithms: tuple[str, ...] | None = None,
        replay_cache: ReplayStore | None = None,
        backend: str | None = None,
        clock: Callable[[], float] = time.time,
        cache_size: int = VERIFIED_CACHE_SIZE,
    ):
        if not isinstance(issuer, str) or not issuer:
            raise ValueError("issuer must be a non-empty string (the 'iss' your tokens carry)")
        if not callable(clock):
            raise ValueError("clock must be a function returning the time in seconds since the epoch")
        if type(cache_size) is not int or cache_size < 0:
            raise ValueError("cache_size must be an integer >= 0 (0 disables the cache)")
        self.issuer, self.clock, self.cache_size = issuer, clock, cache_size
        audience_set, age = _audience_set(audience), _max_age(max_age)
        required = _required_claims(required_claims, audience_set) + (("iat",) if age is not None else ())
        self.rules = ClaimRules(issuer, audience_set, required, _leeway(leeway), age, tenancy(issuer, tenants))
        self.algorithms = _algorithm_set(algorithms)
        self.typ = _typ(typ)
        self.backend = _backend(backend)
        if dpop not in DPOP_MODES:
            raise ValueError(f"dpop must be one of {DPOP_MODES}")
        if replay_cache is not None and not callable(getattr(replay_cache, "add", None)):
            raise ValueError("replay_cache must have an add(jti, expires_at) method, as ReplayCache does")
        self.dpop, self.dpop_algorithms = dpop, _algorithm_set(dpop_algorithms or DPOP_ALGORITHMS)
        self.replay_cache: ReplayStore = replay_cache if replay_cache is not None else ReplayCache(clock=clock)
        remote = {"proxy": proxy, "allow_http": allow_http, "on_event": on_event}
        self.key_source = _key_source(issuer, jwks_uri, jwks, key_source, remote)
        self.cache_hits = self.cache_misses = 0  # verified-token cache, counted without a lock: a few may be lost
        # token -> (marshal.dumps(claims), key, kid, (exp, nbf, iat)), least recently used first.
        # marshal.loads builds an independent copy of the claims in C, faster than copy.deepcopy.
        # Each OrderedDict operation is atomic, so threads share it without a lock.
        self._verified: collections.OrderedDict[str, Verified] = collections.OrderedDict()
        self._headers: dict[
            bytes, tuple[str, str | None]
        ] = {}  # header segment -> (alg, kid): one issuer's tokens share one header

    def verify(self, token: str | bytes) -> dict[str, Any]:
        """Return the claims of a token that passes every check, or raise InvalidToken or KeySetUnavailable."""
        return self._verify(token, self.key_source.key_set)

    async def verify_async(self, token: str | bytes) -> dict[str, Any]:
        """Return what verify returns, without blocking the event loop.

        With usable keys (the common case, and every verified-token cache hit)
        it verifies inline: no thread, no task.  When the keys must be fetched
        first, the wait runs in a worker thread; it joins the key source's one
        fetch, shared with every other caller, and cancelling this call leaves
        that fetch running to completion.
        """
        try:
            return self._verify(token, lambda kid: self.key_source.key_set(kid, block=False))
        except _FetchFirst as pending:
            import asyncio  # here, so that synchronous users never pay for importing it

            try:
                keys = await asyncio.to_thread(self.key_source.key_set, pending.kid)
            except RuntimeError as error:  # the executor could not start a thread: a pids limit, or no memory
                raise KeySetUnavailable(
                    "the issuer's signing keys are unavailable; retry in 1 s", 1, str(error)
                ) from None
        return self._verify(token, lambda kid: keys)

    def authenticate(
        self,
        authorization: str | bytes | Sequence[str] | None,
        *,
        dpop: str | bytes | Sequence[str] | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """Return the claims of the token in an Authorization header, or raise AuthError.

        authorization is the header's value, or the list of every value the
        request carried (more than one is refused, as RFC 6750 3.1 asks).
        Given the request's method and URL, as the middlewares give them, a
        DPoP-bound token is taken too: 'Authorization: DPoP <token>' with its
        proof, dpop, the DPoP header's value or values (chapter 13).  A token
        bound to a key is never accepted as a bearer token.
        """
        if method is None or url is None:  # no request to check a proof against: bearer tokens only
            return _as_bearer(self.verify(bearer_token(authorization)), self)
        scheme = None
        try:
            scheme, token, proof = dpop_credentials(authorization, dpop, self.dpop == "required")
            claims = self.verify(token)
            jti, until = check_dpop_request(claims, token, proof, method, url, self)
            if jti is not None and not _spent_now(self.replay_cache.add(jti, until)):
                raise _replayed()
        except AuthError as error:
            _challenge(error, scheme, self)
            raise
        return claims

    async def authenticate_async(
        self,
        authorization: str | bytes | Sequence[str] | None,
        *,
        dpop: str | bytes | Sequence[str] | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """Return what authenticate returns, without blocking the event loop (see verify_async)."""
        if method is None or url is None:
            return _as_bearer(await self.verify_async(bearer_token(authorization)), self)
        scheme = None
        try:
            scheme, token, proof = dpop_credentials(authorization, dpop, self.dpop == "required")
            claims = await self.verify_async(token)
            jti, until = check_dpop_request(claims, token, proof, method, url, self)
            if jti is not None:
                spent: Any = self.replay_cache.add(jti, until)
                if not (await spent if inspect.isawaitable(spent) else spent):  # a shared store may answer async
                    raise _replayed()
        except AuthError as error:
            _challenge(error, scheme, self)
            raise
        return claims

    def explain(self, token: str | bytes) -> dict[str, Any]:
        """Return the report of every check the token goes through: passed, failed or not reached (chapter 12).

        It never raises for anything wrong with the token, never reads or fills
        the verified-token cache, and fetches keys only as verify would.
        """
        return _explain(token, self)

    def status(self) -> dict[str, Any]:
        """Return the key source's status (RemoteKeySet.status) and the verified-token cache's counts."""
        status = getattr(self.key_source, "status", None)
        source = status() if callable(status) else {"state": "unknown"}
        cache = {"hits": self.cache_hits, "misses": self.cache_misses, "size": len(self._verified)}
        return {"issuer": self.issuer, **source, "verified_cache": cache}

    def _verify(
        self,
        token: str | bytes,
        key_set: Callable[[str | None], KeySet | None],
        step: Step = _unobserved,
        cached: bool = True,
    ) -> dict[str, Any]:
        """Return the claims of a token that passes every check, with key_set(kid) giving the keys.

        key_set returns None when the keys must be fetched first: then _FetchFirst.
        step(name) hears each check named as it begins (see STEPS): explain
        listens, verify does not.  cached=False neither reads nor fills the
        verified-token and header caches.
        """
        if type(token) is not str:
            token = _token_text(token)
        step("size")
        check_size(token)
        hit = self._verified.get(token) if cached else None  # the same token: its times and key are checked again
        if hit is not None:
            claims = self._reuse(token, hit, key_set)
            if claims is not None:
                self.cache_hits += 1
                return claims
        step("segments")
        data = _ascii(token)
        header_b64, payload_b64, signature_b64 = split_token(data)
        alg, kid = (cached and self._headers.get(header_b64)) or self._read_header(header_b64, step, cached)
        step("key")
        key = find_key(_keys_at_once(key_set, kid), kid, alg, step)
        step("signature")
        payload = _decode_segment(payload_b64, "payload")  # its spelling is checked now, its content later
        signature = _decode_segment(signature_b64, "signature")
        # RFC 7515 5.2: the signature covers the bytes as received.  Re-serialized JSON would be other bytes.
        signing_input = data[: len(header_b64) + len(payload_b64) + 1]
        if not verify_signature(alg, key, signing_input, signature, self.backend):
            raise InvalidSignature(f"the signature does not match the token ({alg}, key {_show(key.kid)})")
        step("payload")
        claims = _json_object(payload, "payload")  # only now: the payload is the issuer's, not the sender's
        times = check_claims(claims, self.rules, self.clock(), step)
        if cached and self.cache_size:  # only tokens that passed every check: rejections are never cached
            self.cache_misses += 1
            self._remember(token, (marshal.dumps(claims), key, kid, times))
        return claims

    def _read_header(self, header_b64: bytes, step: Step, cached: bool) -> tuple[str, str | None]:
        """Return (alg, kid) of a header segment, remembering it (when cached) for the issuer's next tokens."""
        alg_kid = read_header(header_b64, self.algorithms, self.typ, step)
        if cached:
            if len(self._headers) >= 64:  # bounded: attackers can send any number of distinct headers
                self._headers.clear()
            self._headers[header_b64] = alg_kid
        return alg_kid

    def _reuse(
        self, token: str, hit: Verified, key_set: Callable[[str | None], KeySet | None]
    ) -> dict[str, Any] | None:
        """Return fresh claims of a token verified before, if its key is still published and its times hold."""
        data, key, kid, times = hit
        if key not in _keys_at_once(key_set, kid).keys:  # the key left the set: check again
            self._forget(token)
            return None
        try:
            check_times(*times, self.clock(), self.rules.leeway, self.rules.max_age)
        except InvalidToken:
            self._forget(token)
            raise
        try:  # noqa: SIM105 - on this hot path try costs nothing, contextlib.suppress makes an object
            self._verified.move_to_end(token)
        except KeyError:  # another thread evicted it meanwhile
            pass
        claims: dict[str, Any] = marshal.loads(data)  # a new dict each call: callers may change theirs freely
        return claims

    def _remember(self, token: str, verified: Verified) -> None:
        """Cache a verified token, evicting the least recently used beyond cache_size."""
        self._verified[token] = verified
        if len(self._verified) > self.cache_size:
            try:  # noqa: SIM105 - as in _reuse
                self._verified.popitem(last=False)
            except KeyError:  # another thread emptied it meanwhile
                pass

    def _forget(self, token: str) -> None:
        """Drop a token from the verified cache."""
        self._verified.pop(token, None)


# A verified token's cache entry: marshal.dumps(claims), the key that verified it, its kid, its (exp, nbf, iat).
Verified = tuple[bytes, PublicKey, str | None, Times]


def _keys_at_once(key_set: Callable[[str | None], KeySet | None], kid: str | None) -> KeySet:
    """Return key_set(kid), or raise _FetchFirst when the keys must be fetched first (key_set gave None)."""
    keys = key_set(kid)
    if keys is None:
        raise _FetchFirst(kid)
    return keys


class _FetchFirst(Exception):  # not an error: a signal that never leaves verify_async
    """The keys for kid must be fetched before the token can be verified."""

    def __init__(self, kid: str | None):
        super().__init__(kid)
        self.kid = kid


def _ascii(token: str) -> bytes:
    """Return the token's bytes, or raise MalformedToken: a compact JWS is ASCII only (RFC 7515 7.1)."""
    try:
        return token.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedToken("the token contains non-ASCII characters") from None


def _token_text(token: object) -> str:
    """Return a bytes token as text, or raise MalformedToken for anything that is not a token."""
    if isinstance(token, (bytes, bytearray)):
        try:
            return bytes(token).decode("ascii")
        except UnicodeDecodeError:
            raise MalformedToken("the token contains non-ASCII bytes") from None
    raise MalformedToken(f"a token is a string, not {type(token).__name__}")


def _audience_set(audience: object) -> frozenset[str]:
    """Return the configured audience as a set of strings, or raise ValueError."""
    if audience is None:
        return frozenset()
    values = [audience] if isinstance(audience, str) else audience
    if not _is_list(values) or not all(isinstance(v, str) and v for v in values):
        raise ValueError("audience must be a non-empty string or a list of them")
    if not values:
        raise ValueError("audience must name at least one audience (or be None)")
    return frozenset(str(v) for v in values)


def _is_list(value: object) -> TypeGuard[list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any]]:
    """Return True for a list, tuple or set: what options that name several things accept (never a bare string)."""
    return isinstance(value, (list, tuple, set, frozenset))


def _algorithm_set(algorithms: object) -> frozenset[str]:
    """Return the allow-list as a set, or raise ValueError for anything but the signature algorithms zjwt verifies."""
    if not _is_list(algorithms) or not algorithms:
        raise ValueError("algorithms must be a non-empty list, such as ('RS256',)")
    unknown = [a for a in algorithms if not (isinstance(a, str) and a in ALGORITHMS)]
    if unknown:
        raise ValueError(f"unsupported algorithms {unknown}: zjwt verifies only {', '.join(ALGORITHMS)}")
    return frozenset(str(a) for a in algorithms)


def _leeway(leeway: object) -> float:
    """Return the clock-skew allowance, or raise ValueError: more than an hour would stretch every token."""
    if (type(leeway) is not int and type(leeway) is not float) or not 0 <= leeway <= 3600:
        raise ValueError("leeway must be a number of seconds between 0 and 3600")
    return leeway


def _required_claims(required: object, audience: frozenset[str]) -> tuple[str, ...]:
    """Return the claims every token must carry, or raise ValueError."""
    if not _is_list(required) or not all(isinstance(c, str) for c in required):
        raise ValueError("required_claims must be a list of claim names")
    if "aud" in required and not audience:
        raise ValueError("requiring 'aud' needs audience=...: tokens with an audience are refused without one")
    return tuple(str(c) for c in required)


def _max_age(max_age: object) -> float | None:
    """Return the oldest a token may be, in seconds since its iat, or None; raise ValueError for anything else."""
    if max_age is None:
        return None
    if (type(max_age) is not int and type(max_age) is not float) or not 0 < max_age < math.inf:
        raise ValueError("max_age must be a number of seconds above 0, or None")
    return max_age


def _typ(typ: object) -> str | None:
    """Return the token type a verifier requires ("at+jwt"), or None; raise ValueError for anything else."""
    if typ is not None and (not isinstance(typ, str) or not typ or any(c.isspace() for c in typ)):
        raise ValueError("typ must be a media type such as 'at+jwt', or None")
    return typ


def _backend(backend: object) -> str:
    """Return the signature backend to use: the one asked for, or cryptography when it is installed."""
    if backend not in (None, "pure", "cryptography"):
        raise ValueError("backend must be None, 'pure' or 'cryptography'")
    if backend == "cryptography" and _cryptography() is None:
        raise ValueError("backend 'cryptography' needs the package: pip install cryptography")
    return backend or default_backend()


def _key_source(
    issuer: str, jwks_uri: str | None, jwks: dict[str, Any] | None, key_source: KeySource | None, remote: dict[str, Any]
) -> KeySource:
    """Return where the verifier's keys come from: a shared source, a JWKS in memory, a URL, or the issuer.

    remote holds the options (proxy, allow_http) of a RemoteKeySet the verifier builds itself.
    """
    if sum(x is not None for x in (jwks_uri, jwks, key_source)) > 1:
        raise ValueError("pass at most one of jwks_uri, jwks and key_source")
    if (key_source is not None or jwks is not None) and (remote["proxy"] is not None or remote["allow_http"]):
        raise ValueError("proxy and allow_http configure a key source the verifier builds: give them to yours")
    if key_source is not None:
        if not callable(getattr(key_source, "key_set", None)):
            raise ValueError("key_source must have a key_set(kid, block) method, as RemoteKeySet does")
        return key_source
    if jwks is not None:
        key_set = parse_key_set(jwks)
        if not key_set.keys:
            raise ValueError(f"the JWKS has no usable key ({_reasons(key_set)})")
        return key_set
    if jwks_uri is not None:
        return RemoteKeySet(jwks_uri, **remote)
    return RemoteKeySet(issuer=issuer, **remote)  # OpenID Connect Discovery finds the JWKS URL


# ---------------------------------------------------------------------------
# 9. Integrations.  An HTTP request in, its claims or its answer out: the
# Authorization header (RFC 6750 2.1), error responses (RFC 6750 3), and
# middleware for WSGI apps (Flask, Django, bottle) and ASGI apps (FastAPI,
# Starlette), which answer every failure themselves: the app never sees it.
# ---------------------------------------------------------------------------


def bearer_token(authorization: str | bytes | Sequence[str] | None) -> str:
    """Return the token of an 'Authorization: Bearer <token>' value, or raise MissingToken or InvalidRequest.

    authorization may also be the list of every Authorization value a request carried.
    """
    return credentials(authorization)[1]


def credentials(
    authorization: str | bytes | Sequence[str] | None, schemes: tuple[str, ...] = ("Bearer",)
) -> tuple[str, str]:
    """Return (scheme, token) of an Authorization value in one of schemes, or raise MissingToken or InvalidRequest.

    RFC 6750 2.1 for Bearer, RFC 9449 7.1 for DPoP: "<scheme> <token>".
    """
    wanted = " or ".join(f"'Authorization: {scheme} <token>'" for scheme in schemes)
    if isinstance(authorization, (list, tuple)):
        # Proxies and frameworks disagree on which of two headers counts: the one verified need not be the one
        # the application reads.  RFC 6750 3.1: invalid_request.
        if len(authorization) > 1:
            raise InvalidRequest("the request has several Authorization headers")
        authorization = authorization[0] if authorization else None
    if not authorization:
        raise MissingToken(f"no token: send {wanted}")
    if isinstance(authorization, bytes):
        authorization = authorization.decode("latin-1")
    if not isinstance(authorization, str):
        raise InvalidRequest("the Authorization header is not text")
    given, _, token = authorization.partition(" ")
    scheme = next((scheme for scheme in schemes if scheme.lower() == given.lower()), None)  # RFC 9110 11.1
    if scheme is None:
        raise MissingToken(f"the Authorization header uses the {_show(given, 20)} scheme: send {wanted}")
    token = token.lstrip(" ")  # RFC 6750 2.1: "Bearer" 1*SP b64token
    if not token:
        raise InvalidRequest(f"the Authorization header says {scheme!r} but carries no token")
    return scheme, token


class Authenticator(Protocol):
    """What the middlewares take: a Verifier, an Issuers, or anything that authenticates a request the same way."""

    def authenticate(
        self,
        authorization: str | bytes | Sequence[str] | None,
        *,
        dpop: str | bytes | Sequence[str] | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """Return the claims of the token in an Authorization header (and DPoP proof), or raise AuthError."""

    async def authenticate_async(
        self,
        authorization: str | bytes | Sequence[str] | None,
        *,
        dpop: str | bytes | Sequence[str] | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """Return what authenticate returns, without blocking the event loop."""


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]  # PEP 3333
ASGIReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]  # ASGI 3
ASGISend = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], ASGIReceive, ASGISend], Awaitable[None]]

# Dot segments ("/./", "/../", a final "/." or "/..") and empty segments ("//"): a router or a file server may
# normalise them away, so "/static/../admin" would be served as "/admin".
_UNNORMALISED_PATH = re.compile(r"/\.\.?(/|$)|//")


def public_rule(public_paths: Collection[str] | Callable[[str, str], bool]) -> Callable[[str, str], bool]:
    """Return is_public(method, path) -> bool for the middlewares' public_paths, or raise ValueError.

    public_paths is a collection of exact paths ("/health") and of prefixes
    ending in "/*" ("/static/*" is every path below /static/, not /static
    itself), or a callable (method, path) -> bool that decides alone.  The path
    is matched as the app's router will see it: after percent-decoding (WSGI's
    PATH_INFO, ASGI's path), so "%2F" is already "/".  It is matched before any
    normalising, and a path with dot segments or an empty segment never matches
    a prefix: the app might normalise "/static/../admin" into "/admin", so
    such a path needs a token.  A bare string is refused: it would be read as a
    set of one-character paths.
    """
    if callable(public_paths):
        return public_paths
    if not _is_list(public_paths) or not all(isinstance(p, str) and p.startswith("/") for p in public_paths):
        raise ValueError("public_paths must be a list of paths such as ['/public', '/static/*'], or a function")
    exact = frozenset(p for p in public_paths if not p.endswith("/*"))
    prefixes = tuple(p[:-1] for p in public_paths if p.endswith("/*"))  # "/static/*" -> "/static/"

    def is_public(method: str, path: str) -> bool:
        return path in exact or (path.startswith(prefixes) and not _UNNORMALISED_PATH.search(path))

    return is_public


def is_preflight(method: str, origin: str | bytes | None, request_method: str | bytes | None) -> bool:
    """Return True for a genuine CORS preflight: OPTIONS with Origin and Access-Control-Request-Method (Fetch 3.2.2).

    A browser sends no credentials on a preflight, so a middleware that asks
    one for a token breaks every browser client.  A plain OPTIONS is no
    preflight, and still needs a token.
    """
    return method == "OPTIONS" and origin is not None and request_method is not None


DETAILS = ("message", "code")  # what error_response tells the client: see there
ErrorResponse = tuple[int, list[tuple[str, str]], bytes]  # (status, headers, body)


def error_response(error: AuthError, realm: str = DEFAULT_REALM, detail: str = "message") -> ErrorResponse:
    """Return (status, headers, JSON body) that a server should send for an AuthError.

    detail="message" (the default) sends error.message, in the body and as the
    RFC 6750 error_description: what was wrong with the client's own request
    or token ("token expired at ..."), which is what a client's developer needs
    to fix it.  It never holds configuration, internal URLs, hosts or
    exception text: those are error.internal, for the log.  detail="code" sends
    only the status and the RFC 6750 error code, for services that say nothing
    more to anonymous clients.
    """
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {DETAILS}")
    described = detail == "message"
    payload = {"error": http.HTTPStatus(error.status).phrase} | ({"message": error.message} if described else {})
    body = json.dumps(payload).encode()
    # no-store: a refusal must not be cached and replayed to a later request that carries a good token.
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    challenge = error.www_authenticate(realm, described)
    if challenge:
        headers.append(("WWW-Authenticate", challenge))
    if error.retry_after is not None:
        headers.append(("Retry-After", str(error.retry_after)))
    return error.status, headers, body


def wsgi_middleware(
    app: WSGIApp,
    verifier: Authenticator,
    public_paths: Collection[str] | Callable[[str, str], bool] = ("/public",),
    realm: str = DEFAULT_REALM,
    *,
    preflight: bool = False,
    detail: str = "message",
    public_origin: str | None = None,
) -> WSGIApp:
    """Return a WSGI app that requires a valid bearer token except on public_paths (see public_rule).

    The claims are put in ``environ["zjwt.claims"]``; failures are answered
    here with error_response(error, realm, detail) (401, 400 or 503), logged
    at DEBUG with their internal detail, and app never sees them.
    preflight=True lets a genuine CORS preflight (is_preflight) through to app
    without a token.  It is off by default: with it on, app's routes receive
    OPTIONS requests no one authenticated, and not every app answers those
    without running the route (a Django function view that ignores the method
    runs in full).  Turn it on when a CORS layer inside app answers
    preflights, as flask-cors does; better still, put the CORS layer outside
    this middleware, where preflights never reach it (see the README).

    DPoP-bound tokens (chapter 13) are checked against the URL the client
    asked for: public_origin ("https://api.example.com") where a proxy in
    front changes scheme, host or port, else the request's scheme and Host.
    """
    is_public = public_rule(public_paths)
    error_response(AuthError(""), realm, detail)  # a bad realm or detail is refused now, not at the first refusal
    origin = _origin(public_origin)

    def protected_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO") or "/"
        if not is_public(method, path) and not (preflight and _wsgi_preflight(environ)):
            try:
                environ["zjwt.claims"] = verifier.authenticate(
                    environ.get("HTTP_AUTHORIZATION"),
                    dpop=environ.get("HTTP_DPOP"),
                    method=method,
                    url=_wsgi_url(environ, origin),
                )
            except AuthError as error:
                logger.debug("%s %s refused: %s", method, _printable(path), error)
                status, headers, body = error_response(error, realm, detail)
                start_response(f"{status} {http.HTTPStatus(status).phrase}", headers)
                return [body]
        return app(environ, start_response)

    return protected_app


def asgi_middleware(
    app: ASGIApp,
    verifier: Authenticator,
    public_paths: Collection[str] | Callable[[str, str], bool] = ("/public",),
    realm: str = DEFAULT_REALM,
    *,
    preflight: bool = False,
    detail: str = "message",
    public_origin: str | None = None,
) -> ASGIApp:
    """Return an ASGI 3 app that requires a valid bearer token except on public_paths (see public_rule).

    HTTP and WebSocket requests are authenticated before app sees them, without
    blocking the event loop: the claims go in ``scope["zjwt.claims"]``, and a
    failure is answered here (HTTP: error_response; a WebSocket is refused
    before it is accepted) and logged at DEBUG.  preflight, detail and
    public_origin are as for wsgi_middleware.  Lifespan events pass through.
    Any other scope type, which a later ASGI version or a server extension
    might add, is refused with ValueError (the ASGI spec's answer to a scope
    an app does not understand): what zjwt cannot authenticate never reaches app.
    """
    is_public = public_rule(public_paths)
    error_response(AuthError(""), realm, detail)  # a bad realm or detail is refused now, not at the first refusal
    origin = _origin(public_origin)

    async def protected_app(scope: MutableMapping[str, Any], receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] == "lifespan":
            return await app(scope, receive, send)
        if scope["type"] not in ("http", "websocket"):
            raise ValueError(
                f"asgi_middleware refuses ASGI scope type {_show(scope['type'])}: it authenticates http and websocket"
            )
        method, path = scope.get("method", "GET"), scope["path"]
        if is_public(method, path) or (preflight and _asgi_preflight(scope)):
            return await app(scope, receive, send)
        authorization = [value.decode("latin-1") for name, value in scope["headers"] if name == b"authorization"]
        dpop = [value.decode("latin-1") for name, value in scope["headers"] if name == b"dpop"]
        try:
            url = _asgi_url(scope, origin)
            claims = await verifier.authenticate_async(authorization, dpop=dpop, method=method, url=url)
        except AuthError as error:
            logger.debug("%s %s refused: %s", method, _printable(path), error)
            refuse = _refuse_http if scope["type"] == "http" else _refuse_websocket
            return await refuse(scope, receive, send, error_response(error, realm, detail))
        return await app({**scope, "zjwt.claims": claims}, receive, send)

    return protected_app


def _origin(public_origin: str | None) -> str | None:
    """Return a public origin, "https://host[:port]", without a final slash, or raise ValueError for anything else."""
    if public_origin is None:
        return None
    url = normal_url(public_origin)
    if url is None or not url.endswith("/") or url.count("/") != 3 or "?" in public_origin or "#" in public_origin:
        raise ValueError(
            "public_origin must be the scheme, host and port clients use, such as 'https://api.example.com'"
        )
    return url[:-1]


def _wsgi_url(environ: dict[str, Any], origin: str | None) -> str:
    """Return the URL a WSGI request was made to, as its client named it: the origin, and the path as sent."""
    if origin is None:
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
        origin = f"{environ.get('wsgi.url_scheme', 'http')}://{host}"
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""  # gunicorn, uWSGI: the target as sent
    if not target.startswith("/"):  # PEP 3333 decodes the path; quoted again, it is spelled as a client would
        target = urllib.parse.quote((environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1"))
    return origin + target.partition("?")[0]


def _asgi_url(scope: MutableMapping[str, Any], origin: str | None) -> str:
    """Return the URL an ASGI request was made to, as its client named it: the origin, and the path as sent."""
    if origin is None:
        host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
        if host is None:
            server_host, server_port = scope.get("server") or ("", "")
            host = f"{server_host}:{server_port}"
        scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
        origin = f"{scheme}://{host}"
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else urllib.parse.quote(scope.get("root_path", "") + scope["path"])
    return origin + path.partition("?")[0]


def _wsgi_preflight(environ: dict[str, Any]) -> bool:
    """Return True for a WSGI request that is a genuine CORS preflight (is_preflight)."""
    return is_preflight(
        environ.get("REQUEST_METHOD", ""), environ.get("HTTP_ORIGIN"), environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
    )


def _asgi_preflight(scope: MutableMapping[str, Any]) -> bool:
    """Return True for an ASGI request that is a genuine CORS preflight (is_preflight)."""
    names = {name for name, _ in scope["headers"]}
    origin = "" if b"origin" in names else None
    asked = "" if b"access-control-request-method" in names else None
    return is_preflight(scope.get("method", ""), origin, asked)


def _asgi_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Return headers as ASGI sends them: lower-case names, names and values as bytes."""
    return [(name.lower().encode(), value.encode("latin-1")) for name, value in headers]


async def _refuse_http(
    scope: MutableMapping[str, Any], receive: ASGIReceive, send: ASGISend, response: ErrorResponse
) -> None:
    """Send an error_response over ASGI HTTP."""
    status, headers, body = response
    await send({"type": "http.response.start", "status": status, "headers": _asgi_headers(headers)})
    await send({"type": "http.response.body", "body": body})


async def _refuse_websocket(
    scope: MutableMapping[str, Any], receive: ASGIReceive, send: ASGISend, response: ErrorResponse
) -> None:
    """Refuse a WebSocket before accepting it: the HTTP answer where the server can send one, else close 1008."""
    if (await receive())["type"] != "websocket.connect":
        return  # the client went away first
    status, headers, body = response
    if "websocket.http.response" in (scope.get("extensions") or {}):  # ASGI's WebSocket Denial Response extension
        await send({"type": "websocket.http.response.start", "status": status, "headers": _asgi_headers(headers)})
        await send({"type": "websocket.http.response.body", "body": body})
    else:  # closing before accepting: the server answers the handshake with 403
        await send({"type": "websocket.close", "code": 1008, "reason": http.HTTPStatus(status).phrase})


# ---------------------------------------------------------------------------
# 10. Coming from PyJWT.  A PEM public key or certificate in, its JWK out, for
# a JWKS in memory; and a token's header or claims read WITHOUT verifying
# them, for routing and debugging.  The DER inside PEM is read by hand, as
# strictly as tokens are: definite lengths in their shortest form, no bytes
# left over, integers in their one spelling (X.690 10.1, 8.3.2).
# ---------------------------------------------------------------------------

_PEM_LABELS = ("PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE")  # RFC 7468 13, 6; PKCS#1 (RFC 8017 A.1.1)
# The DER of the object identifiers a public key names (RFC 8017 A.1, RFC 5480 2.1.1, RFC 8410 3), as they appear.
_OID_RSA = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1 rsaEncryption
_OID_EC = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1 id-ecPublicKey
_OID_ED25519 = bytes.fromhex("2b6570")  # 1.3.101.112 id-Ed25519
_OID_CURVES = {
    bytes.fromhex("2a8648ce3d030107"): "P-256",  # 1.2.840.10045.3.1.7 secp256r1
    bytes.fromhex("2b81040022"): "P-384",  # 1.3.132.0.34 secp384r1
    bytes.fromhex("2b81040023"): "P-521",  # 1.3.132.0.35 secp521r1
}
_SEQUENCE, _INTEGER, _BIT_STRING, _NULL, _OID, _VERSION = 0x30, 0x02, 0x03, 0x05, 0x06, 0xA0  # DER tags


def jwk_from_pem(pem: str | bytes, kid: str | None = None, alg: str | None = None) -> dict[str, str]:
    """Return the public JWK of a PEM public key or certificate, checked by the key policy, or raise ValueError.

    It reads "PUBLIC KEY" (SubjectPublicKeyInfo: RSA, EC P-256/384/521,
    Ed25519), "RSA PUBLIC KEY" (PKCS#1) and "CERTIFICATE" (X.509: only the key
    is taken out; the certificate itself, its signature, dates, names and
    chain, is not validated, so it says nothing about whom the key belongs
    to).  Give the kid your tokens name (a key without kid serves only tokens
    without one) and, if you like, the alg it is for:

        Verifier(issuer, jwks={"keys": [jwk_from_pem(pem, kid="k1", alg="RS256")]})
    """
    label, der = _pem_block(pem)
    if label == "RSA PUBLIC KEY":
        jwk = _rsa_jwk(der)
    elif label == "CERTIFICATE":
        jwk = _spki_jwk(_certificate_spki(_der_elements(_der_one(der, _SEQUENCE), "the certificate")))
    else:
        jwk = _spki_jwk(_der_one(der, _SEQUENCE))
    jwk |= {name: value for name, value in (("kid", kid), ("alg", alg)) if value is not None}
    key_from_jwk(jwk)  # the same policy as any JWK: size, exponent, curve, point
    return jwk


def _pem_block(pem: str | bytes) -> tuple[str, bytes]:
    """Return (label, DER bytes) of the one PEM block in pem (RFC 7468 2), or raise ValueError."""
    text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
    blocks = re.findall(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", text, re.S)
    if len(blocks) != 1:
        raise ValueError(f"expected one PEM block (-----BEGIN ...-----), found {len(blocks)}")
    label, body = blocks[0]
    if "PRIVATE" in label:  # a private key where a public one belongs: say so, never read it
        raise ValueError(f"this is a {label.lower()}: give its public key (openssl pkey -pubout) or certificate")
    if label not in _PEM_LABELS:
        raise ValueError(f"a PEM {label!r} is not a public key; zjwt reads {', '.join(_PEM_LABELS)}")
    try:
        return label, binascii.a2b_base64("".join(body.split()).encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise ValueError(f"the PEM body is not base64 ({error})") from None


def _der(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """Return (tag, contents, end) of the DER element at data[offset:], or raise ValueError (X.690 8.1, 10.1)."""
    if offset + 2 > len(data):
        raise ValueError("DER: the data ends inside an element")
    tag, length, start = data[offset], data[offset + 1], offset + 2
    if tag & 0x1F == 0x1F:
        raise ValueError("DER: tag numbers above 30 are not used in keys")
    if length == 0x80:
        raise ValueError("DER: an indefinite length (BER, not DER)")
    if length > 0x80:  # long form: the next (length - 0x80) bytes hold the length, in as few as it takes
        count = length - 0x80
        if count > 4 or start + count > len(data):
            raise ValueError("DER: a length longer than the data")
        length, start = int.from_bytes(data[start : start + count], "big"), start + count
        if length < 0x80 or data[start - count] == 0:
            raise ValueError("DER: a length not in its shortest form")
    if start + length > len(data):
        raise ValueError("DER: an element longer than the data")
    return tag, data[start : start + length], start + length


def _der_one(data: bytes, tag: int) -> bytes:
    """Return the contents of data when it is exactly one DER element with this tag, or raise ValueError."""
    found, contents, end = _der(data, 0)
    if found != tag or end != len(data):
        raise ValueError(f"DER: expected one element of tag {tag:#04x} and nothing after it")
    return contents


def _der_elements(contents: bytes, what: str) -> list[tuple[int, bytes]]:
    """Return the (tag, contents) of the elements a SEQUENCE's contents hold, in order."""
    elements, offset = [], 0
    while offset < len(contents):
        tag, value, offset = _der(contents, offset)
        elements.append((tag, value))
    if not elements:
        raise ValueError(f"DER: {what} is empty")
    return elements


def _der_integer(contents: bytes) -> int:
    """Return a positive DER INTEGER's value (X.690 8.3), or raise ValueError: one spelling, no sign games."""
    if not contents or contents[0] & 0x80:
        raise ValueError("DER: an integer that is empty or negative")
    if len(contents) > 1 and contents[0] == 0 and not contents[1] & 0x80:
        raise ValueError("DER: an integer with a needless leading zero")
    return int.from_bytes(contents, "big")


def _certificate_spki(certificate: list[tuple[int, bytes]]) -> bytes:
    """Return the contents of the SubjectPublicKeyInfo in a certificate's elements (RFC 5280 4.1), unvalidated."""
    if len(certificate) != 3 or certificate[0][0] != _SEQUENCE:
        raise ValueError("DER: a certificate is a SEQUENCE of tbsCertificate, algorithm and signature")
    tbs = _der_elements(certificate[0][1], "tbsCertificate")
    fields = tbs[1:] if tbs[0][0] == _VERSION else tbs  # version [0] is optional (v1)
    if len(fields) < 6 or [tag for tag, _ in fields[:6]] != [_INTEGER] + [_SEQUENCE] * 5:
        raise ValueError("DER: tbsCertificate lacks serialNumber .. subjectPublicKeyInfo")
    return fields[5][1]


def _spki_jwk(spki: bytes) -> dict[str, str]:
    """Return the JWK of the contents of a SubjectPublicKeyInfo (RFC 5280 4.1.2.7): an RSA, EC or Ed25519 key."""
    elements = _der_elements(spki, "SubjectPublicKeyInfo")
    if [tag for tag, _ in elements] != [_SEQUENCE, _BIT_STRING]:
        raise ValueError("DER: SubjectPublicKeyInfo is a SEQUENCE of algorithm and subjectPublicKey")
    algorithm = _der_elements(elements[0][1], "AlgorithmIdentifier")
    bits = elements[1][1]
    if not bits or bits[0] != 0:  # X.690 8.6.2: the first octet counts the unused bits of the last
        raise ValueError("DER: a key's BIT STRING must use every bit")
    oid, params, key = algorithm[0], algorithm[1:], bits[1:]
    if oid == (_OID, _OID_RSA) and params == [(_NULL, b"")]:  # RFC 8017 A.1: parameters NULL
        return _rsa_jwk(key)
    if oid == (_OID, _OID_EC) and len(params) == 1 and params[0][0] == _OID:
        return _ec_jwk(params[0][1], key)
    if oid == (_OID, _OID_ED25519) and not params:  # RFC 8410 3: parameters absent
        if len(key) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(key)}
    raise ValueError("the key is not RSA, EC on a named curve, or Ed25519 (or its parameters are not the usual)")


def _rsa_jwk(der: bytes) -> dict[str, str]:
    """Return the JWK of a DER RSAPublicKey, SEQUENCE {n, e} (RFC 8017 A.1.1)."""
    elements = _der_elements(_der_one(der, _SEQUENCE), "RSAPublicKey")
    if [tag for tag, _ in elements] != [_INTEGER, _INTEGER]:
        raise ValueError("DER: RSAPublicKey is a SEQUENCE of two INTEGERs, n and e")
    n, e = (_der_integer(value) for _, value in elements)
    return {"kty": "RSA", "n": _b64url_uint(n), "e": _b64url_uint(e)}


def _ec_jwk(curve_oid: bytes, point: bytes) -> dict[str, str]:
    """Return the JWK of an EC point, uncompressed 04 || X || Y (SEC 1 2.3.3), on a named curve."""
    crv = _OID_CURVES.get(curve_oid)
    if crv is None:
        raise ValueError("the EC key's curve is not P-256, P-384 or P-521")
    size = CURVES[crv].size
    if len(point) != 1 + 2 * size or point[0] != 0x04:  # compressed points (02, 03) would need a square root
        raise ValueError(f"the {crv} point is not in uncompressed form (04 || X || Y, {1 + 2 * size} bytes)")
    return {"kty": "EC", "crv": crv, "x": b64url_encode(point[1 : 1 + size]), "y": b64url_encode(point[1 + size :])}


def _b64url_uint(value: int) -> str:
    """Return a positive integer as a JWK Base64urlUInt: big-endian, minimum octets (RFC 7518 2)."""
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def unverified_header(token: str | bytes) -> dict[str, Any]:
    """Return a token's JOSE header WITHOUT verifying anything, parsed as strictly as verify parses it.

    For routing and debugging only (which issuer's verifier to try, what to
    log).  Never decide anything with it: anyone can write any header, so its
    alg, kid, jku or x5c are claims by the sender, not facts.  PyJWT calls this
    get_unverified_header.
    """
    return _unverified(token)[0]


def unverified_claims(token: str | bytes) -> dict[str, Any]:
    """Return a token's claims WITHOUT verifying its signature or any claim, parsed as strictly as verify does.

    For debugging and logging only.  Never use them as the caller's identity,
    to authorise anything, or to decide which keys to trust: until the
    signature is checked they are what the sender chose to write.
    """
    return _unverified(token)[1]


def _unverified(token: str | bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (header, claims) of a token in the one shape and spelling verify accepts, checking nothing else."""
    header_b64, payload_b64, signature_b64 = _segments(token)
    header = _json_object(_decode_segment(header_b64, "header"), "header")
    payload = _decode_segment(payload_b64, "payload")
    _decode_segment(signature_b64, "signature")  # its spelling: a token verify refuses as malformed is refused here
    return header, _json_object(payload, "payload")


# ---------------------------------------------------------------------------
# 11. Several issuers and tenants.  Verifiers in, one object out that verifies
# each token by the verifier of the issuer it names (Issuers); and issuers
# with {tenantid} in them, such as Microsoft Entra's, whose tokens' iss names
# one tenant of many (Tenancy).  A token never names a key source that was not
# configured: its iss only chooses among the verifiers given, and the chosen
# one checks everything, iss included.
# ---------------------------------------------------------------------------

TENANT = "{tenantid}"  # the placeholder for the tenant in a multi-tenant issuer: one whole path segment
COMMON_TENANT = "common"  # Entra publishes the discovery document its tenants share under .../common/...
# Microsoft's issuer hosts, where a tenant is a GUID; elsewhere, one segment of a safe alphabet (no "/", "%",
# ".." or empty segment, so an iss can never climb out of its segment).
GUID_TENANT_HOSTS = frozenset({"login.microsoftonline.com", "login.microsoftonline.us", "sts.windows.net"})
_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"


@dataclass(frozen=True)
class Tenancy:
    """How a multi-tenant issuer names a tenant: its template, as a pattern of iss, and the tenants accepted."""

    template: str  # the issuer, with {tenantid} where the tenant goes
    pattern: re.Pattern[str]  # the iss of one tenant; its one group is the tenant
    tenants: frozenset[str] | None  # the tenants accepted; None: any


def tenancy(issuer: str, tenants: Collection[str] | None = None) -> Tenancy | None:
    """Return the Tenancy of an issuer with {tenantid} in it, None for a plain issuer, or raise ValueError.

    >>> entra = tenancy("https://login.microsoftonline.com/{tenantid}/v2.0")
    >>> entra.pattern.fullmatch("https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0")[1]
    '9188040d-6c67-4c5b-b112-36a304b66dad'
    """
    if TENANT not in issuer:
        if tenants is not None:
            raise ValueError(f"tenants= needs an issuer with {TENANT} in it")
        return None
    before, _, after = issuer.partition(TENANT)
    if TENANT in after or not before.endswith("/") or after[:1] not in ("", "/"):
        raise ValueError(f"{TENANT} must be one whole path segment of the issuer, and only one")
    if tenants is not None and (not _is_list(tenants) or not all(isinstance(t, str) and t for t in tenants)):
        raise ValueError("tenants must be a list of tenant ids")
    segment = _GUID if urllib.parse.urlsplit(issuer).hostname in GUID_TENANT_HOSTS else _SEGMENT
    pattern = re.compile(re.escape(before) + f"({segment})" + re.escape(after))
    return Tenancy(issuer, pattern, None if tenants is None else frozenset(tenants))


def check_tenant(claims: dict[str, Any], tenancy: Tenancy) -> None:
    """Raise unless iss is the template around one tenant, tid names that tenant, and the tenant is accepted.

    The keys of a multi-tenant issuer are shared by all its tenants, so the
    signature alone cannot say which tenant a token is for: the iss and the
    tid the issuer wrote must agree, and name a tenant this service serves.
    """
    if "iss" not in claims:
        raise MissingClaim("the token has no 'iss' claim")
    iss = claims["iss"]
    match = tenancy.pattern.fullmatch(iss) if isinstance(iss, str) else None
    if match is None:
        raise InvalidIssuer(
            f"the token was issued by {_show(iss, 80)}, not by a tenant of this issuer", tenancy.template
        )
    tenant = match.group(1)
    if "tid" not in claims:
        raise MissingClaim("the token has no 'tid' claim naming its tenant")
    if claims["tid"] != tenant:
        raise InvalidIssuer(f"the token's tid {_show(claims['tid'])} is not the tenant its iss names, {_show(tenant)}")
    if tenancy.tenants is not None and tenant not in tenancy.tenants:
        raise InvalidIssuer(f"tenant {_show(tenant)} is not one this service accepts")


def _discovery_base(issuer: str) -> str:
    """Return the URL the issuer's discovery document hangs from: a template's is its common tenant's (Entra)."""
    return issuer.replace(TENANT, COMMON_TENANT).rstrip("/")


class Issuers:
    """Several issuers as one: a token's iss chooses among the Verifiers given, and the chosen one checks it all.

    It offers what a Verifier offers (verify, verify_async, authenticate,
    authenticate_async, status), so the middlewares and the demo take either.
    Each verifier keeps its own key source, cooldown and caches: a flood of
    unknown kids aimed at one issuer costs the others nothing.

    >>> Issuers(Verifier("https://a.example"), Verifier("https://login.microsoftonline.com/{tenantid}/v2.0"))
    Issuers('https://a.example', 'https://login.microsoftonline.com/{tenantid}/v2.0')
    """

    def __init__(self, *verifiers: Verifier):
        if not verifiers or not all(isinstance(v, Verifier) for v in verifiers):
            raise ValueError("Issuers takes one Verifier per issuer, at least one")
        self.verifiers = verifiers
        self._by_issuer: dict[str, Verifier] = {}
        self._tenanted: list[tuple[re.Pattern[str], Verifier]] = []
        for verifier in verifiers:
            if verifier.rules.tenancy is not None:
                self._tenanted.append((verifier.rules.tenancy.pattern, verifier))
            elif verifier.issuer in self._by_issuer:
                raise ValueError(f"two verifiers for the issuer {_show(verifier.issuer, 80)}")
            else:
                self._by_issuer[verifier.issuer] = verifier

    def __repr__(self) -> str:
        return f"Issuers({', '.join(repr(v.issuer) for v in self.verifiers)})"

    def verify(self, token: str | bytes) -> dict[str, Any]:
        """Return the claims of a token that the verifier of its issuer accepts, or raise AuthError."""
        return self.choose(token).verify(token)

    async def verify_async(self, token: str | bytes) -> dict[str, Any]:
        """Return what verify returns, without blocking the event loop (see Verifier.verify_async)."""
        return await self.choose(token).verify_async(token)

    def authenticate(
        self,
        authorization: str | bytes | Sequence[str] | None,
        *,
        dpop: str | bytes | Sequence[str] | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """Return what the chosen verifier's authenticate returns (Verifier.authenticate), or raise AuthError."""
        verifier = self._chosen(authorization)
        return verifier.authenticate(authorization, dpop=dpop, method=method, url=url)

    async def authenticate_async(
        self,
        authorization: str | bytes | Sequence[str] | None,
        *,
        dpop: str | bytes | Sequence[str] | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """Return what authenticate returns, without blocking the event loop."""
        verifier = self._chosen(authorization)
        return await verifier.authenticate_async(authorization, dpop=dpop, method=method, url=url)

    def explain(self, token: str | bytes) -> dict[str, Any]:
        """Return Verifier.explain's report, with first the step that chose the verifier (chapter 12)."""
        return _explain(token, self)

    def status(self) -> dict[str, Any]:
        """Return each issuer's status() and, as state, the worst of theirs."""
        each = {verifier.issuer: verifier.status() for verifier in self.verifiers}
        worst = max((status["state"] for status in each.values()), key=_STATES.index)
        return {"state": worst, "issuers": each}

    def _chosen(self, authorization: str | bytes | Sequence[str] | None) -> Verifier:
        """Return the verifier for the token in an Authorization header; the first when it holds none (it refuses)."""
        try:
            token = credentials(authorization, ("Bearer", "DPoP"))[1]
        except AuthError:
            return self.verifiers[0]
        return self.choose(token)

    def choose(self, token: str | bytes) -> Verifier:
        """Return the verifier of the issuer a token names, or raise MalformedToken or InvalidIssuer: no fetch.

        This reads the payload before its signature, which nothing else in
        zjwt does, and it is safe because it decides nothing: iss only picks
        which configured verifier checks the token.  The keys come only from
        that verifier's issuer, and it checks the signature, then iss again,
        then every other claim: a forged iss can only send a token to an issuer
        whose keys did not sign it.  The payload is parsed as strictly as
        verify parses it; the rest of the token is left to the verifier.
        """
        for verifier in self.verifiers:  # a token one of them verified before: no payload to read
            if isinstance(token, str) and token in verifier._verified:
                return verifier
        iss = _json_object(_decode_segment(_segments(token)[1], "payload"), "payload").get("iss")
        if isinstance(iss, str):
            chosen = self._by_issuer.get(iss) or next((v for p, v in self._tenanted if p.fullmatch(iss)), None)
            if chosen is not None:
                return chosen
        configured = ", ".join(_show(v.issuer, 80) for v in self.verifiers)
        raise InvalidIssuer(
            f"the token was issued by {_show(iss, 80)}, not by an issuer this service accepts", configured
        )


_STATES = ("fresh", "stale", "cold", "unavailable", "unknown")  # a key source's states, from best to worst


# ---------------------------------------------------------------------------
# 12. Explaining a token.  A token in, a report out: each check of chapter 8
# in order, passed, failed or not reached, with what it found, why the rule
# exists and the RFC that asks for it; the header and claims decoded; where
# the keys came from.  The report is not a second verifier: explain runs
# Verifier._verify, the code verify runs, and listens as each step begins, so
# the step that fails is the one whose error verify raises.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StepText:
    """One step of verification in words: its title, why the rule exists, the RFC, and a passed step's detail."""

    title: str
    why: str  # what the rule prevents, as the comment beside the check says
    rfc: str  # the section that asks for it; "" for a limit that is zjwt's own
    passed: str  # the detail of a passed step: a template over the names _facts gives


# Every step, in the order Verifier._verify announces them; "issuer" only for Issuers, typ and max_age only when set.
STEPS = {
    "issuer": StepText(
        "The issuer is one this service accepts",
        "iss only chooses which configured verifier checks the token: a token never names its own key source",
        "RFC 8725 3.8",
        "{iss}, one of the issuers configured",
    ),
    "size": StepText(
        "At most 8 KiB",
        "bounds the work anyone can cause before the signature is checked; real tokens are about 1 KiB",
        "",
        "{size} characters, at most {max_size}",
    ),
    "segments": StepText(
        "Three segments, ASCII only",
        "a signed token is header.payload.signature; five segments are an encrypted token (JWE), not read here",
        "RFC 7515 7.1",
        "header.payload.signature",
    ),
    "header": StepText(
        "The header is strict JSON",
        "one token has one meaning: base64url in its one spelling, JSON without duplicate names, read alike by all",
        "RFC 7515 5.2",
        "a JSON object: {header_names}",
    ),
    "alg": StepText(
        "The algorithm is on the allow-list",
        "the verifier chooses the algorithms, never the token: 'none', or HS256 keyed with the public key, forges",
        "RFC 8725 3.1",
        "{alg}, allowed ({allowed})",
    ),
    "crit": StepText(
        "No extension zjwt does not implement",
        "crit, b64, zip and JWE members change how a token is read: a recipient that cannot honour them must refuse",
        "RFC 7515 4.1.11",
        "none of crit, b64, zip or the encryption members; not a nested JWT",
    ),
    "kid": StepText(
        "The key id is a plain name",
        "kid is only a dictionary key into the issuer's own keys; jwk, jku, x5u and x5c are never read",
        "RFC 8725 3.10",
        "{kid}",
    ),
    "typ": StepText(
        "The token type is the one this service accepts",
        "explicit typing: another kind of JWT from the same issuer, such as an ID token, must not pass for this one",
        "RFC 8725 3.11",
        "{typ_found}, as required",
    ),
    "key": StepText(
        "One key of the issuer fits kid and alg",
        "keys come only from the issuer's published JWKS, and a name that fits several keys verifies nothing",
        "RFC 7517 4.5",
        "{key}",
    ),
    "key policy": StepText(
        "The key passes the key policy",
        "RSA of at least 2048 bits with a sane exponent, EC and Ed25519 points on their curves: weak keys forge",
        "RFC 7518 3.3",
        "{key_policy}",
    ),
    "signature": StepText(
        "The signature matches",
        "checked over the bytes as received, with the one algorithm the key is for: re-encoded JSON is other bytes",
        "RFC 7515 5.2",
        "{alg} signature by {key}",
    ),
    "payload": StepText(
        "The claims are strict JSON",
        "read only after the signature: nothing the sender wrote is interpreted before it is known to be the issuer's",
        "RFC 8725 2.3",
        "a JSON object of {claim_count} claims",
    ),
    "required": StepText(
        "The required claims are present",
        "a token without exp would never expire",
        "RFC 7519 4",
        "{required}",
    ),
    "iss": StepText(
        "The issuer is this verifier's",
        "byte for byte: the keys were fetched for this issuer, and the token must say it is its",
        "RFC 7519 4.1.1",
        "{iss}, {iss_rule}",
    ),
    "aud": StepText(
        "The audience is this service",
        "a token minted for another service must not be spent here",
        "RFC 7519 4.1.3",
        "{aud}",
    ),
    "dates": StepText(
        "The dates are numbers",
        "exp, nbf and iat are NumericDates: a string or true is not a date, and a date read two ways is two tokens",
        "RFC 7519 2",
        "exp, nbf and iat are numbers, or absent",
    ),
    "exp": StepText(
        "Not expired",
        "a stolen token stops working when it expires: on or after exp it is refused",
        "RFC 7519 4.1.4",
        "{exp}",
    ),
    "nbf": StepText(
        "Valid already",
        "the issuer said when the token starts to be valid",
        "RFC 7519 4.1.5",
        "{nbf}",
    ),
    "iat": StepText(
        "Not issued in the future",
        "a token minted ahead of time means a wrong clock, or a token made to be used later",
        "RFC 7519 4.1.6",
        "{iat}",
    ),
    "max_age": StepText(
        "Not too old for this service",
        "this service refuses tokens issued longer ago than max_age, however long their exp lets them live",
        "RFC 7519 4.1.6",
        "{age}",
    ),
}


def _explain(token: str | bytes, chooser: Verifier | Issuers) -> dict[str, Any]:
    """Return the report of one token's path through verification; the token's faults are reported, not raised."""
    heard: dict[str, object] = {}  # step name -> what the step found, in the order the steps began

    def listen(name: str, found: object = None) -> None:
        heard[name] = found

    error = None
    try:
        if isinstance(chooser, Issuers):
            listen("issuer")
            chooser = chooser.choose(token)
        chooser._verify(token, chooser.key_source.key_set, listen, cached=False)
    except AuthError as caught:
        error = caught
    verifier = chooser if isinstance(chooser, Verifier) else None  # None: no issuer of the token's was configured
    names = [name for name in STEPS if name in heard or _configured(name, verifier)]
    failed = next(reversed(heard), names[0]) if error is not None else None  # the step the error was raised in
    header, claims = _decoded(token, unverified_header), _decoded(token, unverified_claims)
    key = heard.get("key policy")  # the key found, when the lookup found one
    dates = _dates(claims, time.time() if verifier is None else verifier.clock())
    facts = {} if verifier is None else _facts(token, verifier, header or {}, claims or {}, key, dates)
    steps = []
    for name in names:
        text = STEPS[name]
        if name == failed:
            result, detail = "failed", str(error)
        elif name in heard:
            result, detail = "passed", text.passed.format_map(facts)
        else:
            result, detail = "not reached", ""
        steps.append(
            {"name": name, "result": result, "detail": detail, "title": text.title, "why": text.why, "rfc": text.rfc}
        )
    return {
        "verified": error is None,
        "issuer": None if verifier is None else verifier.issuer,
        "error": None if error is None else _error_report(error),
        "steps": steps,
        "header": header,
        "claims": claims,
        "claims_verified": "payload" in heard,  # the payload step begins only once the signature has matched
        "dates": dates,
        "keys": _keys(verifier, key),
    }


def _error_report(error: AuthError) -> dict[str, Any]:
    """Return an error as the report gives it: its kind, message for clients, details for operators, HTTP status."""
    return {"kind": type(error).__name__, "message": error.message, "internal": error.internal, "status": error.status}


def _configured(name: str, verifier: Verifier | None) -> bool:
    """Return True if a verifier runs the step: every step but issuer (Issuers only), typ and max_age (when set)."""
    if name == "typ":
        return verifier is not None and verifier.typ is not None
    if name == "max_age":
        return verifier is not None and verifier.rules.max_age is not None
    return name != "issuer"


def _decoded(token: str | bytes, read: Callable[[str | bytes], dict[str, Any]]) -> dict[str, Any] | None:
    """Return the header or claims read(token) decodes WITHOUT verifying them, or None where they do not decode."""
    try:
        return read(token)
    except AuthError:
        return None


def _facts(
    token: str | bytes,
    verifier: Verifier,
    header: dict[str, Any],
    claims: dict[str, Any],
    key: object,
    dates: dict[str, dict[str, Any]],
) -> dict[str, str]:
    """Return the words of passed steps' details (see StepText.passed); what comes from the token is escaped."""
    rules = verifier.rules
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    named = [a for a in auds if isinstance(a, str) and a in rules.audience]  # aud may be anything where it failed
    return {
        "size": str(len(token)) if isinstance(token, (str, bytes)) else "",
        "max_size": str(MAX_TOKEN_BYTES),
        "header_names": ", ".join(_show(name, 20) for name in sorted(header)),
        "alg": _show(header.get("alg")),
        "allowed": ", ".join(sorted(verifier.algorithms)),
        "kid": f"kid {_show(header['kid'])}" if "kid" in header else "no kid: the issuer's one key for the algorithm",
        "typ_found": _show(header.get("typ")),
        "key": _key_words(key) if isinstance(key, PublicKey) else "",
        "key_policy": _policy_words(key) if isinstance(key, PublicKey) else "",
        "claim_count": str(len(claims)),
        "required": f"{', '.join(rules.required)}: present" if rules.required else "none required",
        "iss": _show(claims.get("iss"), 80),
        "iss_rule": "this verifier's issuer" if rules.tenancy is None else f"a tenant of {verifier.issuer}",
        "aud": f"names {_show(named[0])}" if named else "no audience configured, and the token names none",
        "exp": f"expires {dates['exp']['utc']}, {dates['exp']['relative']}" if "exp" in dates else "no exp claim",
        "nbf": f"valid since {dates['nbf']['utc']}, {dates['nbf']['relative']}" if "nbf" in dates else "no nbf claim",
        "iat": f"issued {dates['iat']['utc']}, {dates['iat']['relative']}" if "iat" in dates else "no iat claim",
        "age": f"issued {dates['iat']['relative']}; at most {rules.max_age:g} s"
        if "iat" in dates and rules.max_age
        else "",
    }


def _key_words(key: PublicKey) -> str:
    """Return which key it is, in words: "kid 'k1': RSA 2048 bits, for RS256"."""
    named = f"kid {_show(key.kid)}" if key.kid is not None else "the key without a kid"
    return f"{named}: {key.kty} {_key_size(key)}" + (f", for {key.alg}" if key.alg else "")


def _policy_words(key: PublicKey) -> str:
    """Return what the key policy found of a key that passed it."""
    if key.kty == "RSA":
        return f"{_key_size(key)} (at least {MIN_RSA_BITS}), exponent {key.public[1]}"
    if key.kty == "EC":
        return f"a point on {key.public[0]}"
    return f"an {key.public[0]} point of large order"


def _dates(claims: dict[str, Any] | None, now: float) -> dict[str, dict[str, Any]]:
    """Return the claims that are dates (exp, nbf, iat, auth_time) as UTC times and in words, where plausible."""
    dates = {}
    for name in ("exp", "nbf", "iat", "auth_time"):
        value = (claims or {}).get(name)
        if (type(value) is int or type(value) is float) and 0 <= value <= MAX_NUMERIC_DATE:
            dates[name] = {"value": value, "utc": _iso(value), "relative": _relative(value - now)}
    return dates


def _keys(verifier: Verifier | None, key: object) -> dict[str, Any]:
    """Return where the verifier's keys come from (its key source's status) and the key that verified, if any."""
    if verifier is None:
        return {"state": "unknown", "key": None}
    status = {name: value for name, value in verifier.status().items() if name not in ("issuer", "verified_cache")}
    used = None
    if isinstance(key, PublicKey):
        used = {"kid": key.kid, "kty": key.kty, "alg": key.alg, "size": _key_size(key), "described": _key_words(key)}
    return {**status, "key": used}


def _relative(seconds: float) -> str:
    """Return a time difference in words: "in 5 min", "3 h ago", "now"."""
    amount = abs(seconds)
    if amount < 1:
        return "now"
    count, unit = next((amount // size, unit) for size, unit in _UNITS if amount >= size)
    return f"in {count:.0f} {unit}" if seconds > 0 else f"{count:.0f} {unit} ago"


_UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))  # seconds in each unit _relative speaks of


# ---------------------------------------------------------------------------
# 13. DPoP: tokens bound to the client's key (RFC 9449).  A request in (its
# Authorization: DPoP token, its DPoP proof, its method and URL), the token's
# claims out, or the error that says why not.  A bearer token works for
# whoever holds it; a DPoP-bound one names, in cnf.jkt, the thumbprint of a
# key the client holds, and each request carries a fresh proof, a small JWT
# signed with that key for this method, this URL and this token.  The proof is
# read by the same parts as tokens (chapters 2 to 4); Verifier.authenticate
# calls check_dpop_request when it is given the request.
# ---------------------------------------------------------------------------

DPOP_ALGORITHMS = tuple(ALGORITHMS)  # every asymmetric algorithm zjwt verifies: never none, never HS* (RFC 9449 4.3)
# A proof is made for one request, just before it is sent: a minute covers a slow link, and is how long each jti
# must be remembered to refuse its replay (RFC 9449 4.3 step 11, 11.1).  Clients' clocks run a little ahead.
DPOP_PROOF_SECONDS = 60  # seconds after its iat a proof is accepted
DPOP_CLOCK_SKEW_SECONDS = 10  # seconds its iat may lie in the future
DPOP_REPLAY_CACHE_SIZE = 100_000  # jtis remembered at once per process: 1,600 proofs a second through the window
MAX_JTI_CHARS = 128  # characters; a jti is a random id (RFC 9449 11.1: 96 bits suffice), a long one only costs memory
DPOP_MODES = ("allowed", "required")  # Verifier(dpop=...): DPoP-bound and bearer tokens, or DPoP-bound only
# RFC 7638 3.2: the members a thumbprint hashes, for each key type (RFC 8037 2 adds OKP's).
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")  # RFC 3986 2.3


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """Return the RFC 7638 SHA-256 thumbprint of a public JWK, base64url, or raise ValueError.

    The required members only, in lexicographic order, as JSON without
    whitespace: one key, one thumbprint, whatever else its JWK says (kid,
    alg, use).  It is what a DPoP-bound token's cnf.jkt names (RFC 9449 6.1).
    """
    kty = jwk.get("kty") if isinstance(jwk, dict) else None
    members = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise ValueError("a thumbprint needs a JWK object of kty RSA, EC or OKP")
    if not all(isinstance(jwk.get(name), str) for name in members):
        raise ValueError(f"a {jwk['kty']} JWK's thumbprint needs the string members {', '.join(members)}")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), ensure_ascii=False)
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


def access_token_hash(token: str) -> str:
    """Return the ath of a proof made for token: base64url of SHA-256 of its ASCII (RFC 9449 4.2)."""
    return b64url_encode(hashlib.sha256(token.encode("ascii")).digest())


def check_dpop_request(
    claims: dict[str, Any], token: str, proof: str | None, method: str, url: str, verifier: Verifier
) -> tuple[str | None, float]:
    """Return (jti, until) of the proof that binds a verified token to this request; (None, 0) for a bearer token.

    proof is None when the token came as Bearer.  Raise InvalidToken when the
    token's binding does not fit how it came (RFC 9449 7.1, 7.2), or
    InvalidDPoPProof when the proof is not one for this request, this token
    and the key the token names.  The caller spends the jti (ReplayStore).
    """
    if proof is None:
        _as_bearer(claims, verifier)
        return None, 0.0
    jkt = _confirmation(claims)
    if jkt is None:  # RFC 9449 7.1: the DPoP scheme is for bound tokens; a proof for a bearer token proves nothing
        raise InvalidToken("the token is not bound to a key (no cnf.jkt): send it as 'Authorization: Bearer'")
    proof_jkt, jti, iat = check_dpop_proof(
        proof, method, url, token, verifier.clock(), verifier.dpop_algorithms, verifier.backend
    )
    if proof_jkt != jkt:  # RFC 9449 6.1, 7.1: the proof must be signed by the very key the issuer bound the token to
        raise InvalidToken("the DPoP proof is signed by another key than the one the token is bound to (cnf.jkt)")
    return jti, iat + DPOP_PROOF_SECONDS


def _as_bearer(claims: dict[str, Any], verifier: Verifier) -> dict[str, Any]:
    """Return the claims of a token presented as Bearer, or raise InvalidToken when it is bound to a key."""
    if verifier.dpop == "required":
        raise InvalidToken("this service accepts DPoP-bound tokens only: send 'Authorization: DPoP' with a proof")
    if _confirmation(claims) is not None:  # RFC 9449 7.2: a stolen DPoP-bound token must not work as a bearer token
        raise InvalidToken("the token is bound to a key (cnf.jkt): send it as 'Authorization: DPoP' with a proof")
    return claims


def dpop_credentials(
    authorization: str | bytes | Sequence[str] | None, dpop: str | bytes | Sequence[str] | None, required: bool = False
) -> tuple[str, str, str | None]:
    """Return (scheme, token, proof): ("Bearer", token, None), or ("DPoP", token, its one proof); or raise AuthError."""
    scheme, token = credentials(authorization, ("DPoP",) if required else ("Bearer", "DPoP"))
    if scheme == "Bearer":  # a DPoP header beside a bearer token proves nothing: it is not read
        return scheme, token, None
    proofs = [dpop] if isinstance(dpop, (str, bytes)) else list(dpop or ())
    proofs = [p.decode("latin-1") if isinstance(p, bytes) else p for p in proofs]
    # RFC 9449 4.3 step 1: exactly one DPoP header.  With two, the proof checked need not be the one another layer
    # reads; a WSGI server joins two headers into one value with a comma, which no proof contains.
    if len(proofs) != 1 or not isinstance(proofs[0], str) or not proofs[0] or "," in proofs[0]:
        raise InvalidDPoPProof(f"send exactly one DPoP header with the proof (this request has {len(proofs)})")
    return scheme, token, proofs[0]


def _spent_now(added: object) -> bool:
    """Return what a synchronous ReplayStore.add returned; an awaitable one is a store for authenticate_async."""
    if inspect.isawaitable(added):  # a coroutine is true: taken as True, it would accept every replay
        getattr(added, "close", lambda: None)()
        raise TypeError("replay_cache.add returned an awaitable: call authenticate_async, or give a synchronous store")
    return bool(added)


def _replayed() -> InvalidDPoPProof:
    """Return the error for a proof whose jti was spent: a replay, or one no store could remember (RFC 9449 11.1)."""
    return InvalidDPoPProof("the DPoP proof was used before: make a new proof for each request")


def _challenge(error: AuthError, scheme: str | None, verifier: Verifier) -> None:
    """Make error answer with the challenges of a verifier that takes DPoP: the scheme the request used first."""
    if scheme == "DPoP" or isinstance(error, InvalidDPoPProof) or verifier.dpop == "required":
        error.challenges = ("DPoP",)
    else:
        error.challenges = ("Bearer", "DPoP")
    error.dpop_algs = " ".join(sorted(verifier.dpop_algorithms))


def _confirmation(claims: dict[str, Any]) -> str | None:
    """Return the key thumbprint a token is bound to (cnf.jkt), None for an unbound token; raise for another binding."""
    if "cnf" not in claims:
        return None
    cnf = claims["cnf"]
    # RFC 7800 3.1: cnf says how the presenter proves it may use the token.  Any other method (an mTLS
    # certificate's x5t#S256, RFC 8705 3.1) is one zjwt cannot check, so such a token is refused, not taken
    # as a bearer token: accepting it would drop the very check its issuer asked for.
    if not (isinstance(cnf, dict) and set(cnf) == {"jkt"} and isinstance(cnf["jkt"], str)):
        raise InvalidToken("the token is bound (cnf) by a method zjwt does not check; only cnf.jkt (DPoP) is")
    jkt: str = cnf["jkt"]
    return jkt


def check_dpop_proof(
    proof: str,
    method: str,
    url: str,
    access_token: str | None,
    now: float,
    algorithms: Collection[str] = DPOP_ALGORITHMS,
    backend: str | None = None,
) -> tuple[str, str, float]:
    """Return (the thumbprint of its key, jti, iat) of a DPoP proof valid for this request (RFC 9449 4.3).

    Raise InvalidDPoPProof saying which rule it breaks.  access_token is the
    token the proof is presented with (its ath must match), or None where
    there is none (an authorization server's token request).
    """
    try:
        check_size(proof)
        data = _ascii(proof)
        header_b64, payload_b64, signature_b64 = split_token(data)  # step 2: a JWS, as strictly parsed as tokens
        alg, key, thumbprint = _proof_key(header_b64, frozenset(algorithms))
        signature = _decode_segment(signature_b64, "signature")
        claims = _json_object(_decode_segment(payload_b64, "payload"), "payload")
    except InvalidDPoPProof:
        raise
    except InvalidToken as error:
        raise InvalidDPoPProof(f"the DPoP proof: {error.message}") from None
    if not verify_signature(alg, key, data[: len(header_b64) + len(payload_b64) + 1], signature, backend):
        raise InvalidDPoPProof(
            f"the DPoP proof's signature does not match its jwk ({alg}, {_key_kind(key.kty, key.public)})"
        )
    jti, iat = _proof_claims(claims, method, url, now)
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):  # RFC 9449 4.3 step 12
        raise InvalidDPoPProof("the DPoP proof's ath is not the hash of this access token: make one for this token")
    return thumbprint, jti, iat


@functools.lru_cache(maxsize=1024)  # a client sends one header with all its proofs; failures are not cached
def _proof_key(header_b64: bytes, algorithms: frozenset[str]) -> tuple[str, PublicKey, str]:
    """Return (alg, key, thumbprint) of a proof's header, or raise InvalidToken (InvalidDPoPProof for its jwk)."""
    # Steps 4 and 5: typ dpop+jwt (so no other JWT passes for a proof), alg on the DPoP allow-list; crit refused.
    header = check_header(header_b64, algorithms, "dpop+jwt")
    # Steps 6 and 7: the one place zjwt uses a key from a header, and it is safe here.  The proof shows only that
    # the client holds the private half of this key; what makes it count is that the token, whose own key comes
    # from the issuer alone (chapter 8), names this key's thumbprint in cnf.jkt (check_dpop_request).
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise InvalidDPoPProof("the DPoP proof has no 'jwk' header: the public key it is signed with")
    if not _PRIVATE_MEMBERS.isdisjoint(jwk):  # a private key sent in the clear is a key anyone may now sign with
        raise InvalidDPoPProof("the DPoP proof's jwk holds private key members: send the public key only")
    try:
        return header["alg"], key_from_jwk(jwk), jwk_thumbprint(jwk)  # the key policy of every key applies
    except ValueError as error:
        raise InvalidDPoPProof(f"the DPoP proof's jwk cannot be used: {error}") from None


def _proof_claims(claims: dict[str, Any], method: str, url: str, now: float) -> tuple[str, float]:
    """Return (jti, iat) of a proof's claims made for this method and URL, now; raise InvalidDPoPProof otherwise."""
    jti, htm, htu, iat = (claims.get(name) for name in ("jti", "htm", "htu", "iat"))
    if not (isinstance(jti, str) and 0 < len(jti) <= MAX_JTI_CHARS):  # step 3: what the replay cache remembers
        raise InvalidDPoPProof(f"the DPoP proof needs a 'jti' string of at most {MAX_JTI_CHARS} characters")
    # Step 8: RFC 9110 9.1, methods are case-sensitive.  A proof for GET must not authorise a DELETE.
    if htm != method:
        raise InvalidDPoPProof(f"the DPoP proof is for the method {_show(htm)}, and this request is {_show(method)}")
    # Step 9: the URL it was made for, query and fragment aside, compared after RFC 3986 6.2.2 and 6.2.3
    # normalisation (case, percent-encoding, dot segments, default port), which both sides may spell differently.
    wanted = normal_url(url)
    if not isinstance(htu, str) or wanted is None or normal_url(htu) != wanted:
        raise InvalidDPoPProof(f"the DPoP proof is for the URL {_show(htu, 80)}, not for this request's")
    if (type(iat) is not int and type(iat) is not float) or not 0 <= iat <= MAX_NUMERIC_DATE:
        raise InvalidDPoPProof("the DPoP proof's 'iat' must be a NumericDate")
    if not now - DPOP_PROOF_SECONDS <= iat <= now + DPOP_CLOCK_SKEW_SECONDS:  # step 11: fresh, made for now
        raise InvalidDPoPProof(f"the DPoP proof was made at {_iso(iat)}: proofs are accepted {DPOP_PROOF_SECONDS} s")
    return jti, iat


def normal_url(url: str) -> str | None:
    """Return url as an htu compares (RFC 9449 4.3 step 9), or None for anything but an absolute http(s) URL.

    Query and fragment dropped; scheme and host in lower case, the default
    port dropped, an empty path made "/" (RFC 3986 6.2.3); percent-escapes in
    upper case and unreserved characters decoded, dot segments removed (6.2.2).
    """
    if not (url.isascii() and url.isprintable()) or " " in url:  # urlsplit would quietly drop some of those
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number, a bracket that does not close
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host or "@" in parts.netloc:  # userinfo has no place in an htu
        return None
    host = f"[{host}]" if ":" in host else host
    netloc = host if port in (None, {"http": 80, "https": 443}[scheme]) else f"{host}:{port}"
    path = _normal_escapes(parts.path)
    return None if path is None else f"{scheme}://{netloc}{_without_dot_segments(path) or '/'}"


def _normal_escapes(path: str) -> str | None:
    """Return path with escapes of unreserved characters decoded and the others in upper case; None if malformed."""
    pieces = path.split("%")
    normal = [pieces[0]]
    for piece in pieces[1:]:
        if len(piece) < 2 or not all(c in "0123456789abcdefABCDEF" for c in piece[:2]):
            return None
        character = chr(int(piece[:2], 16))
        normal.append((character if character in _UNRESERVED else "%" + piece[:2].upper()) + piece[2:])
    return "".join(normal)


def _without_dot_segments(path: str) -> str:
    """Return an absolute path with its "." and ".." segments resolved (RFC 3986 5.2.4)."""
    segments = path.split("/")
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if len(kept) > 1:  # never above the root: kept[0] is the empty segment before the first "/"
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if segments[-1] in (".", ".."):  # "/a/b/.." is "/a/": the last segment was a directory
        kept.append("")
    return "/".join(kept)


class ReplayStore(Protocol):
    """Where the jtis of spent proofs are remembered: ReplayCache in this process, or yours, shared (a Redis)."""

    def add(self, jti: str, expires_at: float) -> bool:
        """Remember jti until expires_at (seconds since 1970); return False if it was there already.

        Returning False also refuses a proof that cannot be remembered: a
        proof is never accepted unremembered.  authenticate_async awaits what
        add returns when it is awaitable (an asyncio Redis client's answer).
        """


class ReplayCache:
    """The jtis of the DPoP proofs this process accepted, each until its proof expires: at most max_size at once.

    Memory stays bounded under any flood: only proofs that pass every other
    check (signed, fresh, for this request and a valid token bound to their
    key) are remembered, each for DPOP_PROOF_SECONDS, and when max_size
    unexpired jtis are held, new proofs are refused until some expire: a
    replay is never let through to make room.
    """

    def __init__(self, max_size: int = DPOP_REPLAY_CACHE_SIZE, clock: Callable[[], float] = time.time):
        self.max_size, self.clock = max_size, clock
        self._expiry: collections.OrderedDict[str, float] = collections.OrderedDict()  # jti -> until, oldest first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, jti: str, expires_at: float) -> bool:
        """Remember jti until expires_at; return False if it was seen, or the cache is full of unexpired jtis."""
        now = self.clock()
        with self._lock:
            while self._expiry and next(iter(self._expiry.values())) <= now:  # expired ones leave, oldest first
                self._expiry.popitem(last=False)
            if self._expiry.get(jti, 0) > now:
                return False
            if len(self._expiry) >= self.max_size:
                logger.warning("DPoP replay cache full (%d jtis): proofs are refused until some expire", self.max_size)
                return False
            self._expiry[jti] = expires_at
            self._expiry.move_to_end(jti)
            return True


# ---------------------------------------------------------------------------
# 14. Command line: zjwt verify | explain TOKEN --issuer ISS, inspect TOKEN, keys --issuer ISS.
# The same verifier from a shell (installed as the zjwt command; python -m zjwt
# and python zjwt.py run it too): exit 0 on success, 1 for a rejection or no
# usable key, 2 for bad input, with one line on stderr saying why and what next.
# ---------------------------------------------------------------------------

EXIT_STATUS = """exit status:
  0  the token verifies (keys: at least one of the issuer's keys is usable)
  1  the token is refused, or the keys cannot be had (keys: none is usable)
  2  bad input: a usage error, a file that cannot be read, a token pasted wrong"""

# What the library's messages call an option, and what the command line calls it.
_CLI_WORDS = {"set Verifier(audience=...)": "pass --audience", "allow_http=True": "--allow-http"}

# The next step after each kind of refusal, for a person at a terminal.
_NEXT_STEPS = {
    ExpiredToken: "get a fresh token",
    TokenNotYetValid: "check this machine's clock, or allow skew with --leeway",
    InvalidSignature: "the token was changed, or signed by a key that is not this issuer's",
    InvalidIssuer: "pass the issuer the token names with --issuer, if you trust it",
    UnknownKey: "list the issuer's keys with: zjwt keys --issuer ...",
    DisallowedAlgorithm: "allow its algorithm with --algorithm, if you expect it",
}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 done, 1 refused or no usable key, 2 bad input)."""
    args = _arguments(argv)
    commands = {
        "verify": _verify_command,
        "explain": _explain_command,
        "inspect": _inspect_command,
        "keys": _keys_command,
    }
    quiet, logger.disabled = logger.disabled, True  # every failure is told below, once, in one line
    try:
        return commands[args.command](args)
    except KeySetUnavailable as error:
        _say(f"keys unavailable: {error.internal or error.message}; check --issuer, or give --jwks-uri or --jwks-file")
        return 1
    except AuthError as error:
        step = next((step for kind, step in _NEXT_STEPS.items() if isinstance(error, kind)), None)
        _say(f"rejected: {error}" + (f"; {step}" if step else ""))
        return 1
    except (OSError, ValueError) as error:
        _say(f"error: {error}")
        return 2
    finally:
        logger.disabled = quiet


def _program_name() -> str:
    """Return how this command was run, for its usage line: zjwt, python -m zjwt or python zjwt.py."""
    main_module = sys.modules.get("__main__")
    if getattr(getattr(main_module, "__spec__", None), "name", None) == "zjwt":
        return "python -m zjwt"
    return "python zjwt.py" if sys.argv[0].endswith("zjwt.py") else "zjwt"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    """Return the parsed command line (argparse exits 2 on a usage error)."""
    parser = _parser(
        None,
        _program_name(),
        "Verify or inspect a JWT, or list an issuer's keys, on this machine: the token goes nowhere.",
    )
    parser.add_argument("--version", action="version", version=f"zjwt {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _verifier_options(_parser(commands, "verify", "verify a token and print its claims as JSON"))
    explain = _parser(commands, "explain", "verify a token and show every check it passes or fails, and why")
    _verifier_options(explain)
    explain.add_argument(
        "--why", action="store_true", help="give each step's reason and RFC, not only the failed one's"
    )
    inspect = _parser(commands, "inspect", "print a token's header and claims WITHOUT verifying them")
    inspect.add_argument("token", help="the token, or - to read it from standard input")
    listing = _parser(commands, "keys", "say where an issuer's keys are and which of them zjwt can use")
    where = listing.add_mutually_exclusive_group(required=True)
    where.add_argument("--issuer", help="find the keys by OpenID Connect Discovery")
    where.add_argument("--jwks-uri", help="fetch the keys from this URL")
    where.add_argument("--jwks-file", help="read the keys from this file")
    listing.add_argument("--allow-http", action="store_true", help="let a development issuer use plain http://")
    return parser.parse_args(argv)


def _parser(commands: Any, name: str, description: str) -> argparse.ArgumentParser:
    """Return the top-level parser (commands None) or a subcommand's, each ending with the exit statuses."""
    options: dict[str, Any] = {"description": description, "epilog": EXIT_STATUS}
    options["formatter_class"] = argparse.RawDescriptionHelpFormatter
    if commands is None:
        return argparse.ArgumentParser(prog=name, **options)
    parser: argparse.ArgumentParser = commands.add_parser(name, help=description, **options)
    return parser


def _verifier_options(parser: argparse.ArgumentParser) -> None:
    """Add the token and the options of the Verifier that checks it: verify's and explain's."""
    parser.add_argument("token", help="the token, or - to read it from standard input (out of your shell history)")
    parser.add_argument("--issuer", required=True, help="the 'iss' the token must carry")
    parser.add_argument("--audience", action="append", help="an 'aud' to accept; repeat the flag for several")
    parser.add_argument(
        "--algorithm", action="append", choices=list(ALGORITHMS), help="an alg to allow (default RS256); repeatable"
    )
    parser.add_argument("--leeway", type=float, default=0, help="seconds of clock skew to tolerate (default 0)")
    parser.add_argument("--allow-http", action="store_true", help="let a development issuer use plain http://")
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--jwks-uri", help="where to fetch the keys (default: found from --issuer by OIDC discovery)")
    keys.add_argument("--jwks-file", help="a JWKS file, or a PEM public key or certificate, holding the key")


def _say(line: str) -> None:
    """Write one line to stderr, with the library's option names as the command line spells them."""
    for library, cli in _CLI_WORDS.items():
        line = line.replace(library, cli)
    print(line, file=sys.stderr)


def _token_argument(token: str) -> str:
    """Return the token given on the command line (or on stdin for '-'), or raise ValueError naming a paste mistake."""
    if token == "-":
        try:
            token = sys.stdin.buffer.read(MAX_TOKEN_BYTES + 1).decode("ascii").strip()
        except UnicodeDecodeError:
            raise ValueError("standard input holds bytes that are not ASCII: a token is ASCII text") from None
    mistake = _paste_mistake(token)
    if mistake:
        raise ValueError(mistake)
    return token


def _paste_mistake(token: str) -> str | None:
    """Return what looks wrong with a pasted token, in words a person at a terminal knows, or None."""
    text = token.strip()
    if not text:
        return "the token is empty"
    if text.lower().startswith("authorization:"):
        return "this looks like a full Authorization header: pass only the token after 'Bearer '"
    if text.lower().startswith("bearer"):
        return "this starts with 'Bearer': pass only the token after it"
    if text[0] in "'\"" or text[-1] in "'\"":
        return "the token is wrapped in quotes: pass it without them"
    if "://" in text:
        return "this is a URL, not a token"
    if text != token or any(c.isspace() for c in text):
        return (
            "the token has spaces or line breaks in it: pass it as one unbroken line (a terminal may have wrapped it)"
        )
    if text.count(".") == 4:
        return "this is an encrypted token (JWE, 5 segments): zjwt verifies signed tokens (JWS, 3 segments)"
    return None


def _key_file(path: str, kid: object) -> dict[str, Any]:
    """Return the JWKS in a file: a JWKS, or a PEM key or certificate given kid, or raise ValueError naming the file."""
    with open(path, "rb") as file:
        data = file.read(MAX_JWKS_BYTES + 1)
    if b"-----BEGIN " in data:
        try:
            return {"keys": [jwk_from_pem(data, kid=kid if isinstance(kid, str) else None)]}
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    try:
        document = parse_json(data)
    except ValueError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a JWKS: expected a JSON object with a 'keys' array")
    return document


def _verify_command(args: argparse.Namespace) -> int:
    """Print the claims of a token that verifies; rejections raise."""
    token = _token_argument(args.token)
    print(json.dumps(_verifier(args, token).verify(token), indent=2))
    return 0


def _verifier(args: argparse.Namespace, token: str) -> Verifier:
    """Return the Verifier the command line describes, with no cache: it checks one token."""
    return Verifier(
        args.issuer,
        audience=args.audience,
        algorithms=tuple(args.algorithm or ("RS256",)),
        leeway=args.leeway,
        jwks_uri=args.jwks_uri,
        # A PEM file holds one key, with no kid: it is taken as the key the token names.
        jwks=_key_file(args.jwks_file, unverified_header(token).get("kid")) if args.jwks_file else None,
        allow_http=args.allow_http,
        cache_size=0,
    )


def _explain_command(args: argparse.Namespace) -> int:
    """Print every step of the token's verification as a table; return 0 if it verifies, 1 if not."""
    token = _token_argument(args.token)
    report = _verifier(args, token).explain(token)
    marks = _MARKS if _can_print("".join(_MARKS.values())) else _ASCII_MARKS
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")  # https://no-color.org
    error = report["error"]
    print("VERIFIED" if error is None else f"REFUSED  {error['kind']}", f"(issuer {_show(report['issuer'], 80)})")
    for step in report["steps"]:
        mark, sgr = marks[step["result"]], _COLOURS[step["result"]]
        line = f"  {mark} {step['name']:<11} {step['detail'] or step['result']}"
        print(f"\033[{sgr}m{line}\033[0m" if colour else line)
        if args.why or step["result"] == "failed":
            print(f"{'':16}why: {step['why']}" + (f" ({step['rfc']})" if step["rfc"] else ""))
    print("header:", json.dumps(report["header"]))
    verified = (
        "verified: the signature matched" if report["claims_verified"] else "UNVERIFIED: not signed by the issuer"
    )
    print(f"claims ({verified}):", json.dumps(report["claims"], indent=2))
    for name, date in report["dates"].items():
        print(f"{name:>9}  {date['utc']}  ({date['relative']})")
    keys = report["keys"]
    print(f"keys: {keys['state']}, {keys.get('usable_keys', 0)} of {keys.get('total_keys', 0)} usable", end="")
    print(f", from {keys['jwks_uri']} (found by {keys['jwks_uri_from']})" if keys.get("jwks_uri") else "")
    if keys["key"]:
        print(f"  checked with {keys['key']['described']}")
    return 0 if report["verified"] else 1


_MARKS = {"passed": "✓", "failed": "✗", "not reached": "·"}
_ASCII_MARKS = {"passed": "+", "failed": "x", "not reached": "."}  # for terminals that cannot show the marks
_COLOURS = {"passed": "32", "failed": "31", "not reached": "2"}  # ANSI SGR: green, red, faint


def _can_print(text: str) -> bool:
    """Return True if standard output's encoding can show text (a Windows console or LANG=C may not)."""
    try:
        text.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _inspect_command(args: argparse.Namespace) -> int:
    """Print a token's decoded, UNVERIFIED header and claims, and its dates in words."""
    token = _token_argument(args.token)
    claims = unverified_claims(token)
    print("UNVERIFIED: the signature and claims have NOT been checked")
    print(json.dumps({"header": unverified_header(token), "claims": claims}, indent=2))
    for name, date in _dates(claims, time.time()).items():
        print(f"{name:>9}  {date['utc']}  ({date['relative']})")
    return 0


def _keys_command(args: argparse.Namespace) -> int:
    """Print where the keys are and what zjwt makes of each; return 0 when at least one is usable."""
    if args.jwks_file:
        key_set = parse_key_set(_key_file(args.jwks_file, None), args.jwks_file)
        print(f"keys from the file {args.jwks_file}")
    else:
        source = RemoteKeySet(args.jwks_uri, issuer=args.issuer, allow_http=args.allow_http)
        key_set = source.reload()
        print(f"keys from {source.jwks_uri}\n  found by: {source.jwks_uri_from}")
    usable, total = len(key_set.keys), len(key_set.report)
    print(f"{total} key{'s' if total != 1 else ''}, {usable} usable")
    for kid, kty, alg, size, reason in key_set.report:
        described = " ".join(text for text in (kty, alg or "(no alg)", size) if text)
        print(f"  kid {_show(kid, 60)}: {described}: {'usable' if reason is None else 'skipped, ' + reason}")
    return 0 if usable else 1


if __name__ == "__main__":
    sys.exit(main())
