"""Tests for zjwt and its demo server, in the order of zjwt.py's chapters.

Everything runs without network access from a clone of the repository: the
Wycheproof and RFC vectors are in vectors/, the attack checklist's case ids are
listed here, and tests that need an optional package (cryptography, PyJWT,
joserfc, a framework or server) or a program (openssl, chromium, redis-server)
skip, naming it, when it is absent.  HTTP is always real: servers on
127.0.0.1, port 0, started and stopped here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import http.client
import importlib.metadata
import importlib.util
import io
import json
import logging
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import tomllib
import wsgiref.simple_server
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import server
import zjwt

HERE = Path(__file__).resolve().parent
VECTORS = HERE / "vectors"  # Wycheproof and RFC examples, with their sources and licences (vectors/README.md)
needs_vectors = pytest.mark.skipif(not VECTORS.is_dir(), reason="vectors/ is missing from this checkout")
ATTACKS_MD = HERE.parent / "shared" / "vectors" / "ATTACKS.md"  # the checklist, kept beside the repository
HAS_CRYPTOGRAPHY = importlib.util.find_spec("cryptography") is not None
needs_cryptography = pytest.mark.skipif(not HAS_CRYPTOGRAPHY, reason="cryptography is not installed")
BACKENDS = ["pure", pytest.param("cryptography", marks=needs_cryptography)]
# Timing and end-to-end tests that the README's test command leaves to .ci/run (pytest -m slow): each feature
# they exercise has a quicker test in the default run as well.
slow = pytest.mark.slow

ISSUER = "https://my-api-a32f34.zuplo.api/__zuplo/issuer"
# What a verifier that takes DPoP (the default, wherever the request's method and URL are known) adds to a 401.
DPOP_CHALLENGE = 'DPoP realm="api", algs="' + " ".join(sorted(zjwt.DPOP_ALGORITHMS)) + '"'
NOW = 1_800_000_000  # 2027-01-15T08:00:00Z: every test that verifies claims uses this fixed clock
HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
DIGEST_INFO = {  # RFC 8017 9.2 note 1, written out here independently of zjwt
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


# ---------------------------------------------------------------------------
# Helpers: a clock, keys, a pure-Python signer of our own, tokens, verifiers.
# ---------------------------------------------------------------------------


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def key() -> dict:
    return server.generate_rsa_key()


@pytest.fixture(scope="session")
def other_key() -> dict:
    return server.generate_rsa_key()


def b64(data: bytes | str) -> str:
    """Return unpadded base64url of data."""
    return base64.urlsafe_b64encode(data.encode() if isinstance(data, str) else data).rstrip(b"=").decode()


def jwk(key: dict, kid: str | None = "k1", **members) -> dict:
    """Return the public JWK of an RSA, EC or Ed25519 test key, with no alg or use unless given."""
    if key.get("crv") == "Ed25519":
        public = {"kty": "OKP", "crv": "Ed25519", "x": b64(key["x"])}
    elif "crv" in key:
        width = zjwt.CURVES[key["crv"]].size
        public = {"kty": "EC", "crv": key["crv"], "x": b64(key["x"].to_bytes(width, "big"))}
        public["y"] = b64(key["y"].to_bytes(width, "big"))
    else:
        public = {"kty": "RSA", "n": server.b64url_uint(key["n"]), "e": server.b64url_uint(key["e"])}
    if kid is not None:
        public["kid"] = kid
    return {**public, **members}


def size(key: dict) -> int:
    return (key["n"].bit_length() + 7) // 8


def raw_sign(key: dict, em: bytes | int) -> bytes:
    """Return the RSA signature primitive applied to an encoded message: no padding logic at all."""
    m = em if isinstance(em, int) else int.from_bytes(em, "big")
    return server.rsa_private(key, m).to_bytes(size(key), "big")


def pkcs1_em(
    hash_name: str, data: bytes, k: int, *, digest_info=None, ps=None, trailer=b"", block=b"\x00\x01"
) -> bytes:
    """Return an EMSA-PKCS1-v1_5 block for data, optionally wrong in one place."""
    t = (
        (DIGEST_INFO[hash_name] if digest_info is None else digest_info)
        + hashlib.new(hash_name, data).digest()
        + trailer
    )
    ps = b"\xff" * (k - len(t) - 3) if ps is None else ps  # by default the padding fills what is left
    em = block + ps + b"\x00" + t
    assert len(em) == k, "a test encoding must fill the modulus exactly"
    return em


def signer_mgf1(seed: bytes, length: int, hash_new) -> bytes:
    """MGF1 written out for the signer (RFC 8017 B.2.1)."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hash_new(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def pss_em(data: bytes, em_bits: int, hash_new, salt_len: int, mgf_hash=None) -> bytes:
    """Return an EMSA-PSS encoding of data (RFC 8017 9.1.1), with any salt length and MGF hash."""
    digest = hash_new(data).digest()
    salt = os.urandom(salt_len)
    h = hash_new(bytes(8) + digest + salt).digest()
    em_len = (em_bits + 7) // 8
    db = bytes(em_len - salt_len - len(h) - 2) + b"\x01" + salt
    masked = bytes(a ^ b for a, b in zip(db, signer_mgf1(h, len(db), mgf_hash or hash_new), strict=True))
    masked = bytes([masked[0] & (0xFF >> (8 * em_len - em_bits))]) + masked[1:]
    return masked + h + b"\xbc"


def sign(key: dict, alg: str, data: bytes, *, salt_len: int | None = None, mgf_hash=None) -> bytes:
    """Return an alg signature of data made with key, by our own test signer."""
    if alg in ("EdDSA", "Ed25519"):
        return ed25519_sign(key, data)
    hash_new = HASHES[alg[2:]]
    if alg.startswith("ES"):
        return ecdsa_sign(key, hash_new, data)
    if alg.startswith("RS"):
        return raw_sign(key, pkcs1_em(hash_new().name, data, size(key)))
    salt = hash_new().digest_size if salt_len is None else salt_len
    return raw_sign(key, pss_em(data, key["n"].bit_length() - 1, hash_new, salt, mgf_hash))


# Elliptic curves, written out for the signer in affine coordinates, independently of zjwt's
# projective arithmetic: a token this code signs and zjwt verifies checks one against the other.


def ec_add(curve: zjwt.Curve, a: tuple | None, b: tuple | None) -> tuple | None:
    """Return a + b on y² = x³ − 3x + b (None is the point at infinity)."""
    p = curve.p
    if a is None or b is None:
        return a or b
    if a[0] == b[0] and (a[1] + b[1]) % p == 0:
        return None
    rise, run = (3 * a[0] * a[0] - 3, 2 * a[1]) if a == b else (b[1] - a[1], b[0] - a[0])  # tangent or chord
    slope = rise * pow(run, -1, p) % p
    x = (slope * slope - a[0] - b[0]) % p
    return x, (slope * (a[0] - x) - a[1]) % p


def ec_multiply(curve: zjwt.Curve, k: int, point: tuple) -> tuple | None:
    """Return k·point by double-and-add."""
    result = None
    for bit in bin(k)[2:]:
        result = ec_add(curve, result, result)
        if bit == "1":
            result = ec_add(curve, result, point)
    return result


def ec_key(crv: str, d: int | None = None) -> dict:
    """Return an EC test key: its private scalar d and public point (x, y)."""
    curve = zjwt.CURVES[crv]
    d = d or secrets.randbelow(curve.n - 1) + 1
    x, y = ec_multiply(curve, d, (curve.gx, curve.gy))
    return {"crv": crv, "d": d, "x": x, "y": y}


def ecdsa_sign(key: dict, hash_new, data: bytes) -> bytes:
    """Return the JOSE R || S ECDSA signature of data (SEC 1 4.1.3) with a random nonce."""
    curve = zjwt.CURVES[key["crv"]]
    n = curve.n
    e = int.from_bytes(hash_new(data).digest(), "big") >> max(0, 8 * hash_new().digest_size - n.bit_length())
    while True:
        k = secrets.randbelow(n - 1) + 1
        r = ec_multiply(curve, k, (curve.gx, curve.gy))[0] % n
        s = pow(k, -1, n) * (e + r * key["d"]) % n
        if r and s:
            return r.to_bytes(curve.size, "big") + s.to_bytes(curve.size, "big")


def ed_add(a: tuple, b: tuple) -> tuple:
    """Return a + b on −x² + y² = 1 + d·x²·y² (the formula is complete: no special cases)."""
    p, d = zjwt.ED25519.p, zjwt.ED25519.k
    t = d * a[0] * b[0] * a[1] * b[1] % p
    return (a[0] * b[1] + b[0] * a[1]) * pow(1 + t, -1, p) % p, (a[1] * b[1] + a[0] * b[0]) * pow(1 - t, -1, p) % p


def ed_multiply(k: int, point: tuple) -> tuple:
    result = (0, 1)
    for bit in bin(k)[2:]:
        result = ed_add(result, result)
        if bit == "1":
            result = ed_add(result, point)
    return result


def ed_encode(point: tuple) -> bytes:
    return (point[1] | (point[0] & 1) << 255).to_bytes(32, "little")


def ed25519_key(seed: bytes | None = None) -> dict:
    """Return an Ed25519 test key (RFC 8032 5.1.5): its 32-byte seed and encoded public key."""
    seed = seed or os.urandom(32)
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    return {"crv": "Ed25519", "seed": seed, "x": ed_encode(ed_multiply(a, (zjwt.ED25519.gx, zjwt.ED25519.gy)))}


def ed25519_sign(key: dict, data: bytes) -> bytes:
    """Return the Ed25519 signature of data (RFC 8032 5.1.6)."""
    h = hashlib.sha512(key["seed"]).digest()
    a = int.from_bytes(h[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    base, order = (zjwt.ED25519.gx, zjwt.ED25519.gy), zjwt.ED25519.n
    r = int.from_bytes(hashlib.sha512(h[32:] + data).digest(), "little") % order
    big_r = ed_encode(ed_multiply(r, base))
    k = int.from_bytes(hashlib.sha512(big_r + key["x"] + data).digest(), "little") % order
    return big_r + ((r + k * a) % order).to_bytes(32, "little")


@pytest.fixture(scope="session")
def ec_keys() -> dict:
    """Return an EC test key per curve and an Ed25519 one, by the name of the alg each signs."""
    return {
        "ES256": ec_key("P-256"),
        "ES384": ec_key("P-384"),
        "ES512": ec_key("P-521"),
        "EdDSA": ed25519_key(),
        "Ed25519": ed25519_key(),
    }


def claims(**changes) -> dict:
    """Return valid claims for ISSUER at NOW, with changes (a value of ... removes the claim)."""
    base = {"iss": ISSUER, "sub": "user-1", "exp": NOW + 600, "iat": NOW - 10}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def make_token(
    key: dict, payload: dict | bytes | None = None, header: dict | bytes | None = None, alg="RS256", kid="k1"
) -> str:
    """Return a token with the given header and payload (JSON objects, or raw bytes), signed by key."""
    if header is None:
        header = {"alg": alg, **({"kid": kid} if kid is not None else {})}
    payload = claims() if payload is None else payload
    raw = [part if isinstance(part, bytes) else json.dumps(part).encode() for part in (header, payload)]
    signing_input = b64(raw[0]) + "." + b64(raw[1])
    return signing_input + "." + b64(sign(key, alg, signing_input.encode()))


def make_verifier(key: dict | None = None, jwks: dict | None = None, **options) -> zjwt.Verifier:
    """Return a Verifier for ISSUER holding key's JWK (kid k1) in memory, at the fixed clock."""
    options.setdefault("clock", Clock())
    return zjwt.Verifier(ISSUER, jwks=jwks or {"keys": [jwk(key)]}, **options)


def replace_segment(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


ATTACK_TEST = re.compile(r"test_[a-m]\d+b?_")  # one per row of ATTACKS.md


def pytest_generate_tests(metafunc):
    """Run every attack test twice: through verify, and through verify_async on an event loop."""
    if ATTACK_TEST.match(metafunc.function.__name__):
        metafunc.parametrize("verify_mode", ["sync", "async"], indirect=True)


@pytest.fixture(autouse=True)
def verify_mode(request, monkeypatch) -> str:
    """Make Verifier.verify go through verify_async when the test runs in async mode.

    In sync mode, every verify of an attack test is explained as well, and the
    two must agree (issue 19): the same outcome, the same error, reported in
    the step whose check raises it.
    """
    mode = getattr(request, "param", "sync")
    if mode == "async":
        monkeypatch.setattr(zjwt.Verifier, "verify", lambda self, token: asyncio.run(self.verify_async(token)))
    elif ATTACK_TEST.match(request.function.__name__):
        monkeypatch.setattr(zjwt.Verifier, "verify", verify_and_explain)
    return mode


VERIFY = zjwt.Verifier.verify
# The steps in which each error can be raised: where explain must report a failure verify raised.
RAISED_IN = {
    zjwt.MalformedToken: {
        "issuer",
        "size",
        "segments",
        "header",
        "alg",
        "crit",
        "kid",
        "signature",
        "payload",
        "dates",
    },
    zjwt.DisallowedAlgorithm: {"alg"},
    zjwt.InvalidTokenType: {"typ"},
    zjwt.UnknownKey: {"key", "key policy"},
    zjwt.KeySetUnavailable: {"key"},
    zjwt.InvalidSignature: {"signature"},
    zjwt.MissingClaim: {"required", "iss", "aud", "max_age"},
    zjwt.InvalidIssuer: {"issuer", "iss"},
    zjwt.InvalidAudience: {"aud"},
    zjwt.ExpiredToken: {"exp", "max_age"},
    zjwt.TokenNotYetValid: {"nbf", "iat"},
}


def verify_and_explain(verifier: zjwt.Verifier, token):
    """Return verify's claims, or raise its error, once explain has reported the same outcome for the token."""
    try:
        claims = VERIFY(verifier, token)
    except zjwt.AuthError as error:
        assert_explained(verifier.explain(token), error)
        raise
    report = verifier.explain(token)
    assert report["verified"] and report["error"] is None, report["error"]
    assert {step["result"] for step in report["steps"]} == {"passed"} and report["claims"] == claims
    return claims


def assert_explained(report: dict, error: zjwt.AuthError) -> None:
    """Assert that an explain report failed with error, in a step that raises its kind, and reached no step after."""
    assert not report["verified"] and report["error"]["kind"] == type(error).__name__, (report["error"], error)
    if not isinstance(error, zjwt.KeySetUnavailable):  # its message counts down to the next fetch
        assert report["error"]["message"] == error.message
    results = [step["result"] for step in report["steps"]]
    failed = report["steps"][results.index("failed")]
    assert failed["name"] in RAISED_IN[type(error)], (failed["name"], error)
    assert results == ["passed"] * results.index("failed") + ["failed"] + ["not reached"] * results[::-1].index(
        "failed"
    )


# ---------------------------------------------------------------------------
# Errors: status, RFC 6750 code and challenge, readable messages.
# ---------------------------------------------------------------------------


def test_invalid_token_errors_carry_401_and_an_rfc6750_challenge():
    error = zjwt.ExpiredToken('token expired at 2026-11-28T10:00:00Z, 63 s ago "quoted" \\ é')
    assert isinstance(error, zjwt.InvalidToken) and isinstance(error, zjwt.AuthError)
    assert error.status == 401 and error.error == "invalid_token"
    assert error.www_authenticate() == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="token expired at 2026-11-28T10:00:00Z, 63 s ago ?quoted? ? ?"'
    )


def test_missing_token_has_a_challenge_without_error_code():
    error = zjwt.MissingToken("no bearer token")
    assert error.status == 401 and error.error is None
    assert error.www_authenticate(realm="shop") == 'Bearer realm="shop"'


def test_key_set_unavailable_is_503_with_retry_after_and_no_challenge():
    error = zjwt.KeySetUnavailable("keys unavailable", retry_after=30)
    assert error.status == 503 and error.retry_after == 30 and error.www_authenticate() is None


@pytest.mark.parametrize(
    "cls",
    [
        zjwt.MalformedToken,
        zjwt.DisallowedAlgorithm,
        zjwt.UnknownKey,
        zjwt.InvalidSignature,
        zjwt.ExpiredToken,
        zjwt.TokenNotYetValid,
        zjwt.InvalidIssuer,
        zjwt.InvalidAudience,
        zjwt.MissingClaim,
    ],
)
def test_every_token_rejection_is_an_invalid_token(cls):
    assert issubclass(cls, zjwt.InvalidToken) and cls("x").status == 401


# ---------------------------------------------------------------------------
# Encoding: strict base64url and strict JSON.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [("QQ", b"A"), ("QUI", b"AB"), ("QUJD", b"ABC"), ("-_-_", b"\xfb\xff\xbf")])
def test_b64url_decode_accepts_canonical_unpadded_base64url(text, expected):
    assert zjwt.b64url_decode(text) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty"),
        ("QQ==", "Only base64 data"),
        ("QR", "non-canonical"),
        ("QUJ", "non-canonical"),
        ("QUJDR", "impossible length"),
        ("+/+/", "Only base64 data"),
        ("QQ Q", "Only base64 data"),
        ("QQ!!", "Only base64 data"),
        ("QUé", "'ascii' codec"),
        ("QQ\nQ", "Only base64 data"),
    ],
)
def test_b64url_decode_rejects_everything_else(text, reason):
    with pytest.raises(ValueError, match=reason):
        zjwt.b64url_decode(text)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b'{"a":1,"a":2}', "duplicate"),
        (b'{"a":NaN}', "NaN"),
        (b'{"a":-Infinity}', "Infinity"),
        (b'{"a":1e999}', "out of range"),
        (b"\xef\xbb\xbf{}", "Expecting value"),  # a UTF-8 BOM is not JSON text
        ('{"a":1}'.encode("utf-16"), "utf-8"),
        (b'{"a":"\\ud800"}', "surrogate"),
        (b"[" * 5000 + b"]" * 5000, "nested"),
        (b"[" * 33 + b"]" * 33, "nested more than 32 levels"),
        (b'{"a":' + b"9" * 5000 + b"}", "digits"),
    ],
)
def test_parse_json_rejects_what_parsers_disagree_on(data, reason):
    with pytest.raises(ValueError, match=reason):
        zjwt.parse_json(data)


def test_parse_json_keeps_escaped_surrogate_pairs():
    assert zjwt.parse_json(b'{"e":"\\ud83d\\ude00"}') == {"e": "\U0001f600"}


# ---------------------------------------------------------------------------
# Keys: JWK to key, key policy, key sets.
# ---------------------------------------------------------------------------


def test_key_from_jwk_reads_n_and_e(key):
    public = zjwt.key_from_jwk(jwk(key, alg="RS256", use="sig", key_ops=["verify"]))
    assert (public.kty, public.public, public.kid, public.alg, public.size) == (
        "RSA",
        (key["n"], 65537),
        "k1",
        "RS256",
        256,
    )
    assert (public.native is not None) == HAS_CRYPTOGRAPHY


def test_docstring_examples_run():
    import doctest

    assert doctest.testmod(zjwt).failed == 0


def test_emsa_pkcs1_v1_5_has_no_encoding_for_a_modulus_too_small_for_the_hash_and_refuses_a_wrong_digest():
    assert zjwt.emsa_pkcs1_v1_5("sha512", bytes(64), 64) is None  # 64 bytes cannot hold a SHA-512 encoding
    for hash_name, digest in [("sha512", bytes(32)), ("md5", bytes(16)), ("sha256", b"")]:
        with pytest.raises(ValueError, match="digest is not a"):
            zjwt.emsa_pkcs1_v1_5(hash_name, digest, 256)


def test_public_exponent_3_is_allowed_by_policy(key):
    zjwt.check_key_policy("RSA", (key["n"], 3))  # Wycheproof marks e = 3 valid; encode-and-compare defeats forgeries


def test_key_set_parses_each_key_once_and_keeps_unchanged_keys_across_refreshes(key, other_key):
    first = zjwt.parse_key_set({"keys": [jwk(key), jwk(other_key, "k2")]})
    second = zjwt.parse_key_set({"keys": [jwk(key), jwk(other_key, "k3")]}, previous=first)
    assert first.lookup["k1", "RS256"] is second.lookup["k1", "RS256"]  # same object: cached tokens stay valid
    assert first.lookup["k2", "RS256"] not in second.keys
    assert second.kids == {"k1", "k3"}


def test_a_jwks_without_usable_keys_is_an_empty_key_set_that_says_why(key):
    key_set = zjwt.parse_key_set({"keys": [{"kty": "oct", "kid": "hmac"}]})
    assert key_set.keys == frozenset() and key_set.skipped["hmac"].startswith("kty 'oct' is not")
    with pytest.raises(ValueError, match=r"the JWKS has no usable key \(key 'hmac': kty 'oct' is not"):
        make_verifier(jwks={"keys": [{"kty": "oct", "kid": "hmac"}]})  # in memory, that is a configuration error


def test_each_unusable_key_is_logged_once_at_warning_with_its_kid_and_reason(key, caplog):
    with caplog.at_level(logging.WARNING, logger="zjwt"):
        key_set = zjwt.parse_key_set({"keys": [jwk(key), jwk(key, "enc", use="enc")]}, "https://i.example/jwks")
    assert key_set.kids == {"k1"} and key_set.skipped == {"enc": "use 'enc' is not 'sig'"}
    assert [r.getMessage() for r in caplog.records] == [
        "https://i.example/jwks: key 'enc' cannot be used: use 'enc' is not 'sig'"
    ]
    assert [row[0] for row in key_set.report] == ["k1", "enc"] and key_set.report[1][-1] == "use 'enc' is not 'sig'"


def test_hardening_9_an_unusable_key_is_logged_once_not_at_every_refresh(key, caplog):
    document = {"keys": [jwk(key), jwk(key, "enc", use="enc")]}
    with caplog.at_level(logging.WARNING, logger="zjwt"):
        first = zjwt.parse_key_set(document, "https://i.example/jwks")
        second = zjwt.parse_key_set(document, "https://i.example/jwks", previous=first)
        zjwt.parse_key_set({"keys": [jwk(key), jwk(key, "enc", use="wrap")]}, "https://i.example/jwks", previous=second)
    assert [r.getMessage().rsplit(": ", 1)[1] for r in caplog.records] == [
        "use 'enc' is not 'sig'",
        "use 'wrap' is not 'sig'",
    ]


def test_token_without_kid_uses_the_only_key_for_its_alg(key, other_key):
    key_set = zjwt.parse_key_set({"keys": [jwk(key, alg="RS256"), jwk(other_key, "k2", alg="PS256")]})
    assert zjwt.find_key(key_set, None, "RS256").kid == "k1"
    assert zjwt.find_key(key_set, None, "PS256").kid == "k2"


# ---------------------------------------------------------------------------
# Signatures: Wycheproof, RFC examples, malformed encodings, both backends agree.
# ---------------------------------------------------------------------------


def wycheproof_files() -> list:
    if not VECTORS.is_dir():
        return [pytest.param(None, marks=needs_vectors, id="absent")]
    return [pytest.param(path, id=path.stem) for path in sorted((VECTORS / "wycheproof").glob("*.json"))]


@functools.cache  # each file and backend is checked once, whichever tests ask
def wycheproof_results(path: Path, backend: str) -> list[tuple[int, str, bool, list]]:
    """Return (tcId, expected result, verified?, flags) for every test in a Wycheproof file."""
    document = json.loads(path.read_text())
    results = []
    for group in document["testGroups"]:
        public = zjwt.key_from_jwk(group.get("keyJwk") or group["publicKeyJwk"])  # the real path: JWK, policy
        alg = (group.get("keyJwk") or group["publicKeyJwk"])["alg"]
        for case in group["tests"]:
            ok = zjwt.verify_signature(alg, public, bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"]), backend)
            results.append((case["tcId"], case["result"], ok, case["flags"]))
    return results


@pytest.mark.parametrize("path", wycheproof_files())
@pytest.mark.parametrize("backend", BACKENDS)
def test_b12_wycheproof_valid_accepted_invalid_and_acceptable_rejected(path, backend):
    results = wycheproof_results(path, backend)
    disagreements = [(tc, expected, flags) for tc, expected, ok, flags in results if ok != (expected == "valid")]
    assert not disagreements, f"{len(disagreements)} of {len(results)} disagree: {disagreements[:5]}"
    acceptable = [flags for _, expected, _, flags in results if expected == "acceptable"]
    assert all(flags == ["MissingNull"] for flags in acceptable), "only MissingNull is acceptable, and we reject it"


@needs_cryptography
@pytest.mark.parametrize("path", wycheproof_files())
def test_both_backends_give_the_same_answer_on_every_wycheproof_vector(path):
    pure = [ok for _, _, ok, _ in wycheproof_results(path, "pure")]
    assert pure == [ok for _, _, ok, _ in wycheproof_results(path, "cryptography")]


def rfc_vector(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


@needs_vectors
@pytest.mark.parametrize("backend", BACKENDS)
def test_rfc7515_a2_example_verifies_with_the_clock_before_its_expiry(backend):
    vector = rfc_vector("rfc7515_a2.json")
    verifier = zjwt.Verifier("joe", jwks={"keys": [vector["jwk"]]}, backend=backend, clock=Clock(1300819379))
    assert verifier.verify(vector["token"]) == vector["payload"]
    with pytest.raises(zjwt.ExpiredToken, match="expired at 2011-03-22T18:43:00Z, 1 s ago"):
        zjwt.Verifier("joe", jwks={"keys": [vector["jwk"]]}, backend=backend, clock=Clock(1300819381)).verify(
            vector["token"]
        )


@needs_vectors
@pytest.mark.parametrize("name, alg", [("rfc7520_4_1.json", "RS256"), ("rfc7520_4_2.json", "PS384")])
@pytest.mark.parametrize("backend", BACKENDS)
def test_rfc7520_examples_have_valid_signatures_but_are_not_jwts(name, alg, backend):
    vector = rfc_vector(name)
    header, payload, signature = vector["token"].split(".")
    public = zjwt.key_from_jwk(vector["jwk"])
    signing_input = f"{header}.{payload}".encode()
    assert zjwt.verify_signature(alg, public, signing_input, zjwt.b64url_decode(signature), backend)
    verifier = zjwt.Verifier("joe", jwks={"keys": [vector["jwk"]]}, algorithms=(alg,), backend=backend)
    with pytest.raises(zjwt.MalformedToken, match="payload is not JSON"):
        verifier.verify(vector["token"])


@pytest.mark.parametrize("alg", RSA_ALGORITHMS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_algorithm_verifies_our_signer_and_rejects_a_flipped_bit(key, alg, backend):
    public = zjwt.key_from_jwk(jwk(key))
    signature = sign(key, alg, b"message")
    assert zjwt.verify_signature(alg, public, b"message", signature, backend)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not zjwt.verify_signature(alg, public, b"message", flipped, backend)
    assert not zjwt.verify_signature(alg, public, b"messagE", signature, backend)


EC_ALGORITHMS = ("ES256", "ES384", "ES512", "EdDSA", "Ed25519")  # Ed25519: EdDSA's name since RFC 9864
EC_WYCHEPROOF = {
    "ecdsa_secp256r1_sha256_p1363_test": "ES256",
    "ecdsa_secp384r1_sha384_p1363_test": "ES384",
    "ecdsa_secp521r1_sha512_p1363_test": "ES512",
    "ed25519_test": "EdDSA",
}


@functools.cache  # as wycheproof_results
def ec_wycheproof_results(name: str, backend: str) -> list[tuple[int, str, bool]]:
    """Return (tcId, expected result, verified?) for every test of a Wycheproof EC or Ed25519 file."""
    document = json.loads((VECTORS / "wycheproof" / "ec" / f"{name}.json").read_text())
    curves = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
    results = []
    for group in document["testGroups"]:
        key = group["publicKey"]  # nine groups of edge-case points carry no JWK: make it from wx, wy
        public = group.get("publicKeyJwk") or {
            "kty": "EC",
            "crv": curves[key["curve"]],
            "x": b64(bytes.fromhex(key["wx"])),  # with a leading 00 at times: read as the same integer
            "y": b64(bytes.fromhex(key["wy"])),
        }
        verifying_key = zjwt.key_from_jwk(public)  # the real path: JWK, then the point is checked
        for case in group["tests"]:
            message, signature = bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"])
            ok = zjwt.verify_signature(EC_WYCHEPROOF[name], verifying_key, message, signature, backend)
            results.append((case["tcId"], case["result"], ok))
    return results


@needs_vectors
@pytest.mark.parametrize("name", list(EC_WYCHEPROOF))
@pytest.mark.parametrize("backend", BACKENDS)
def test_wycheproof_ecdsa_and_ed25519_vectors_give_the_expected_result(name, backend):
    results = ec_wycheproof_results(name, backend)
    disagreements = [(tc, expected) for tc, expected, ok in results if ok != (expected == "valid")]
    assert not disagreements, f"{len(disagreements)} of {len(results)} disagree: {disagreements[:5]}"
    assert {expected for _, expected, _ in results} == {"valid", "invalid"} and len(results) > 150


@needs_vectors
@needs_cryptography
@pytest.mark.parametrize("name", list(EC_WYCHEPROOF))
def test_both_backends_give_the_same_answer_on_every_ec_wycheproof_vector(name):
    assert ec_wycheproof_results(name, "pure") == ec_wycheproof_results(name, "cryptography")


@needs_vectors
@pytest.mark.parametrize("backend", BACKENDS)
def test_rfc7515_a3_es256_example_verifies_with_the_clock_before_its_expiry(backend):
    vector = rfc_vector("rfc7515_a3.json")
    verifier = zjwt.Verifier(
        "joe", jwks={"keys": [vector["jwk"]]}, algorithms=("ES256",), backend=backend, clock=Clock(1300819379)
    )
    assert verifier.verify(vector["token"]) == json.loads(vector["payload_raw"])
    rfc_key = ec_key("P-256", zjwt._key_integer(vector["private_jwk_for_test_minting"], "d"))
    assert (rfc_key["x"], rfc_key["y"]) == zjwt.key_from_jwk(vector["jwk"]).public[1:], "the RFC's d makes its point"
    ours = make_token(rfc_key, claims(iss="joe", exp=1300819380, iat=...), alg="ES256", kid=None)
    assert verifier.verify(ours)["iss"] == "joe", "a token of our signer, with the RFC's key"


@needs_vectors
@pytest.mark.parametrize("backend", BACKENDS)
def test_rfc8037_a4_ed25519_example_verifies_and_our_signer_reproduces_it(backend):
    vector = rfc_vector("rfc8037_a4.json")
    header, payload, signature = vector["token"].split(".")
    public = zjwt.key_from_jwk(vector["jwk"])
    signing_input = f"{header}.{payload}".encode()
    assert zjwt.verify_signature("EdDSA", public, signing_input, zjwt.b64url_decode(signature), backend)
    seed = zjwt._key_octets(vector["private_jwk_for_test_minting"], "d")
    assert b64(ed25519_sign(ed25519_key(seed), signing_input)) == signature, "Ed25519 is deterministic"
    verifier = zjwt.Verifier("joe", jwks={"keys": [vector["jwk"]]}, algorithms=("EdDSA",), backend=backend)
    with pytest.raises(zjwt.MalformedToken, match="payload is not JSON"):  # prose, not a claims set
        verifier.verify(vector["token"])


@pytest.mark.parametrize("alg", EC_ALGORITHMS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_ec_algorithm_verifies_our_signer_and_rejects_a_flipped_bit(ec_keys, alg, backend):
    public = zjwt.key_from_jwk(jwk(ec_keys[alg]))
    signature = sign(ec_keys[alg], alg, b"message")
    assert zjwt.verify_signature(alg, public, b"message", signature, backend)
    for flipped in (bytes([signature[0] ^ 1]) + signature[1:], signature[:-1] + bytes([signature[-1] ^ 1])):
        assert not zjwt.verify_signature(alg, public, b"message", flipped, backend)
    assert not zjwt.verify_signature(alg, public, b"messagE", signature, backend)


@pytest.mark.parametrize("alg", EC_ALGORITHMS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_valid_ec_token_returns_its_claims_and_only_when_its_alg_is_allowed(ec_keys, alg, backend):
    token = make_token(ec_keys[alg], alg=alg)
    verifier = make_verifier(jwks={"keys": [jwk(ec_keys[alg])]}, algorithms=(alg,), backend=backend)
    assert verifier.verify(token) == claims() and verifier.verify(token) == claims()
    with pytest.raises(zjwt.DisallowedAlgorithm, match=f"{alg!r} is not allowed \\(allowed: RS256\\)"):
        make_verifier(jwks={"keys": [jwk(ec_keys[alg])]}).verify(token)  # the default stays RS256


def test_ec_and_okp_keys_say_their_curve_and_size(ec_keys):
    key_set = zjwt.parse_key_set({"keys": [jwk(ec_keys[alg], alg) for alg in EC_ALGORITHMS]})
    assert [(row[1], row[3]) for row in key_set.report] == [
        ("EC", "P-256"),
        ("EC", "P-384"),
        ("EC", "P-521"),
        ("OKP", "Ed25519"),
        ("OKP", "Ed25519"),
    ]
    assert [zjwt.key_from_jwk(jwk(ec_keys[alg])).size for alg in EC_ALGORITHMS] == [64, 96, 132, 64, 64]
    assert {(kid, alg) for kid, alg in key_set.lookup if kid is not None} == {
        ("ES256", "ES256"),
        ("ES384", "ES384"),
        ("ES512", "ES512"),
        ("EdDSA", "EdDSA"),  # an OKP key verifies EdDSA and Ed25519: one operation, two names (RFC 9864)
        ("EdDSA", "Ed25519"),
        ("Ed25519", "EdDSA"),
        ("Ed25519", "Ed25519"),
    }, "each curve, its one algorithm"


def malformed_pkcs1_encodings(k: int, data: bytes) -> dict[str, bytes]:
    """Return RS256 encodings of data that are each wrong in exactly one place."""
    t_len = 19 + 32  # DigestInfo and SHA-256 hash
    info = bytes.fromhex
    return {
        "SHA-1 OID with SHA-256 lengths": pkcs1_em(
            "sha256", data, k, digest_info=info("302d300906052b0e03021a05000420")
        ),
        "wrong OID arc": pkcs1_em(
            "sha256", data, k, digest_info=DIGEST_INFO["sha256"].replace(b"\x04\x02\x01", b"\x04\x02\x02")
        ),
        "missing NULL": pkcs1_em("sha256", data, k, digest_info=info("302f300b0609608648016503040201") + b"\x04\x20"),
        "BER long-form length": pkcs1_em(
            "sha256", data, k, digest_info=info("308131300d060960864801650304020105000420")
        ),
        "NULL as 05 81 00": pkcs1_em("sha256", data, k, digest_info=info("3032300e06096086480165030402010581000420")),
        "short padding": pkcs1_em("sha256", data, k, ps=b"\xff" * 7, trailer=bytes(k - 3 - 7 - t_len)),
        "bytes after the hash": pkcs1_em("sha256", data, k, trailer=b"\x00\x00\x00\x00"),
        "block type 02": pkcs1_em("sha256", data, k, block=b"\x00\x02"),
        "non-FF padding byte": pkcs1_em(
            "sha256", data, k, ps=b"\xff" * 100 + b"\xfe" + b"\xff" * (k - 3 - t_len - 101)
        ),
        "no DigestInfo (bare hash)": pkcs1_em("sha256", data, k, digest_info=b""),
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_malformed_pkcs1_encodings_signed_with_the_private_key_are_rejected(key, backend):
    public = zjwt.key_from_jwk(jwk(key))
    encodings = malformed_pkcs1_encodings(size(key), b"payload")
    for name, em in encodings.items():
        assert not zjwt.verify_signature("RS256", public, b"payload", raw_sign(key, em), backend), name
    # The same signer with the correct encoding passes: the rejections above are the encodings' fault.
    assert zjwt.verify_signature(
        "RS256", public, b"payload", raw_sign(key, pkcs1_em("sha256", b"payload", size(key))), backend
    )


# ---------------------------------------------------------------------------
# Verifier: configuration, the happy path, messages.
# ---------------------------------------------------------------------------


@pytest.fixture
def verifier(key) -> zjwt.Verifier:
    return make_verifier(key, algorithms=RSA_ALGORITHMS)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("alg", RSA_ALGORITHMS)
def test_a_valid_token_returns_its_claims(key, alg, backend):
    verifier = make_verifier(key, algorithms=(alg,), backend=backend)
    assert verifier.verify(make_token(key, alg=alg)) == claims()
    assert verifier.verify(make_token(key, alg=alg).encode()) == claims()  # bytes too


@pytest.mark.parametrize(
    "options, message",
    [
        ({"issuer": ""}, "issuer must be a non-empty string"),
        ({"algorithms": ("RS256", "HS256")}, "unsupported algorithms"),
        ({"algorithms": ("none",)}, "unsupported algorithms"),
        ({"algorithms": "RS256"}, "non-empty list"),
        ({"algorithms": 5}, "non-empty list"),
        ({"algorithms": ()}, "non-empty list"),
        ({"audience": ""}, "audience must be"),
        ({"audience": []}, "at least one audience"),
        ({"leeway": -1}, "leeway"),
        ({"leeway": float("nan")}, "leeway"),
        ({"required_claims": "exp"}, "required_claims"),
        ({"required_claims": None}, "required_claims"),
        ({"clock": 5}, "clock must be a function"),
        ({"required_claims": ("aud",)}, "requiring 'aud' needs audience"),
        ({"backend": "openssl"}, "backend must be"),
        ({"jwks_uri": "http://issuer.example/jwks.json"}, "uses http://, so anyone on the network path"),
        ({"jwks_uri": "ftp://127.0.0.1/jwks.json"}, "must be an https:// URL"),
        ({"jwks_uri": "https://a.example/j", "jwks": {"keys": []}}, "at most one of"),
        ({"issuer": "joe"}, "issuer 'joe/.well-known/openid-configuration' must be an https:// URL"),
        ({"issuer": "http://keycloak:8080/realms/demo"}, "opt in with allow_http=True"),
        ({"proxy": "socks5://proxy.example:1080"}, "must be an http:// URL"),
        ({"proxy": True}, "proxy must be None"),
        ({"jwks": {"keys": []}, "allow_http": True}, "give them to yours"),
        ({"jwks": {"keys": []}}, r"the JWKS has no usable key \(the set is empty\)"),
        ({"cache_size": -1}, "cache_size"),
    ],
)
def test_bad_configuration_is_a_value_error_at_construction(options, message):
    options = {"issuer": ISSUER, **options}
    with pytest.raises(ValueError, match=message):
        zjwt.Verifier(options.pop("issuer"), **options)


def test_cryptography_backend_without_the_package_is_a_value_error():
    if HAS_CRYPTOGRAPHY:
        assert zjwt.Verifier(ISSUER, backend="cryptography").backend == "cryptography"
    else:
        with pytest.raises(ValueError, match="pip install cryptography"):
            zjwt.Verifier(ISSUER, backend="cryptography")


def test_without_jwks_uri_the_verifier_discovers_the_keys_of_its_issuer():
    source = zjwt.Verifier(ISSUER).key_source
    assert (source.issuer, source.jwks_uri, source.jwks_uri_from) == (ISSUER, None, None)  # found on first use
    configured = zjwt.Verifier(ISSUER, jwks_uri="http://[::1]:8080/k").key_source
    assert (configured.issuer, configured.jwks_uri, configured.jwks_uri_from) == (
        None,
        "http://[::1]:8080/k",
        "configured",
    )


def test_default_backend_is_cryptography_when_installed():
    assert zjwt.Verifier(ISSUER).backend == ("cryptography" if HAS_CRYPTOGRAPHY else "pure")


def test_leeway_accepts_recently_expired_and_almost_valid_tokens(key):
    verifier = make_verifier(key, leeway=30)
    assert verifier.verify(make_token(key, claims(exp=NOW - 29)))["exp"] == NOW - 29
    assert verifier.verify(make_token(key, claims(nbf=NOW + 29, iat=NOW + 29)))["nbf"] == NOW + 29
    with pytest.raises(zjwt.ExpiredToken):
        verifier.verify(make_token(key, claims(exp=NOW - 30)))


def test_authenticate_reads_the_bearer_scheme_case_insensitively(key, verifier):
    token = make_token(key)
    assert verifier.authenticate("Bearer " + token) == claims()
    assert verifier.authenticate("bearer   " + token) == claims()


@pytest.mark.parametrize(
    "header, error, code",
    [
        (None, zjwt.MissingToken, None),
        ("", zjwt.MissingToken, None),
        ("Basic dXNlcjpwYXNz", zjwt.MissingToken, None),
        ("Bearer", zjwt.InvalidRequest, "invalid_request"),
        ("Bearer ", zjwt.InvalidRequest, "invalid_request"),
        ("Bearer not-a-jwt", zjwt.MalformedToken, "invalid_token"),
        ("Bearer a.b.c d", zjwt.MalformedToken, "invalid_token"),
    ],
)
def test_authenticate_rejects_missing_and_malformed_credentials(verifier, header, error, code):
    with pytest.raises(error) as raised:
        verifier.authenticate(header)
    assert raised.value.error == code


def test_messages_say_what_and_when(key, verifier):
    with pytest.raises(zjwt.ExpiredToken) as raised:
        verifier.verify(make_token(key, claims(exp=NOW - 63)))
    assert raised.value.message == "token expired at 2027-01-15T07:58:57Z, 63 s ago"
    with pytest.raises(zjwt.TokenNotYetValid, match=r"not valid before 2027-01-15T08:01:40Z, 100 s from now"):
        verifier.verify(make_token(key, claims(nbf=NOW + 100)))
    with pytest.raises(zjwt.InvalidAudience, match=r"set Verifier\(audience=\.\.\.\)"):
        verifier.verify(make_token(key, claims(aud="orders-api")))


# ---------------------------------------------------------------------------
# ATTACKS.md, one named test per case (test_<id>_...). Each asserts the specific
# error, so removing the check that stops the attack makes the test fail.
# ---------------------------------------------------------------------------

# A. Algorithm handling


def test_a1_alg_none_with_empty_signature_is_rejected(key, verifier):
    token = b64('{"alg":"none"}') + "." + b64(json.dumps(claims())) + "."
    with pytest.raises(zjwt.DisallowedAlgorithm, match="'none' is not allowed"):
        verifier.verify(token)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("with_signature", [False, True])
def test_a2_alg_none_in_any_case_is_rejected(key, verifier, alg, with_signature):
    token = b64(json.dumps({"alg": alg})) + "." + b64(json.dumps(claims())) + "." + ("c2ln" if with_signature else "")
    with pytest.raises(zjwt.DisallowedAlgorithm):
        verifier.verify(token)


def test_a3_alg_none_with_a_valid_rs256_signature_is_rejected(key, verifier):
    signing_input = b64('{"alg":"none","kid":"k1"}') + "." + b64(json.dumps(claims()))
    token = signing_input + "." + b64(sign(key, "RS256", signing_input.encode()))
    with pytest.raises(zjwt.DisallowedAlgorithm):
        verifier.verify(token)


def test_a4_hs256_signed_with_the_public_key_as_secret_is_rejected(key, verifier):
    public = jwk(key)
    secrets_tried = [json.dumps(public).encode(), key["n"].to_bytes(size(key), "big"), b"", b"0"]
    if HAS_CRYPTOGRAPHY:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        pub = rsa.RSAPublicNumbers(key["e"], key["n"]).public_key()
        for encoding, fmt in [
            (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
            (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
            (serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        ]:
            secrets_tried.append(pub.public_bytes(encoding, fmt))
    for secret in secrets_tried:
        signing_input = b64('{"alg":"HS256","kid":"k1"}') + "." + b64(json.dumps(claims()))
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(zjwt.DisallowedAlgorithm, match="'HS256' is not allowed"):
            verifier.verify(signing_input + "." + b64(mac))
    with pytest.raises(ValueError, match="unsupported algorithms"):
        make_verifier(key, algorithms=("HS256",))


@pytest.mark.parametrize("alg", ["HS512", "ES256", "EdDSA", "RSA1_5", "dir", "RSA-OAEP"])
def test_a5_algorithms_zjwt_does_not_implement_are_rejected(key, verifier, alg):
    token = make_token(key, header={"alg": alg, "kid": "k1"}, alg="RS256")
    with pytest.raises(zjwt.DisallowedAlgorithm):
        verifier.verify(token)


def test_a6_header_without_alg_is_rejected_without_falling_back(key, verifier):
    with pytest.raises(zjwt.MalformedToken, match="no 'alg'"):
        verifier.verify(make_token(key, header={"typ": "JWT", "kid": "k1"}))


@pytest.mark.parametrize("alg", [None, ["RS256"], {"RS256": 1}, 256, True])
def test_a7_alg_that_is_not_a_string_is_rejected(key, verifier, alg):
    with pytest.raises(zjwt.MalformedToken, match="no 'alg' string"):
        verifier.verify(make_token(key, header={"alg": alg, "kid": "k1"}))


@pytest.mark.parametrize("alg", ["RS256 ", "rs256", "RS256\u0000", "RS2566", "RSA256", " RS256"])
def test_a8_alg_is_matched_exactly_and_case_sensitively(key, verifier, alg):
    with pytest.raises(zjwt.DisallowedAlgorithm):
        verifier.verify(make_token(key, header={"alg": alg, "kid": "k1"}))


@pytest.mark.parametrize("key_alg, token_alg", [("RS256", "RS384"), ("PS256", "RS256"), ("RS256", "PS256")])
def test_a9_an_allowed_alg_that_the_key_is_not_for_is_rejected(key, key_alg, token_alg):
    verifier = make_verifier(jwks={"keys": [jwk(key, alg=key_alg)]}, algorithms=RSA_ALGORITHMS)
    with pytest.raises(zjwt.UnknownKey, match=f"the issuer's key 'k1' is for {key_alg}, not for {token_alg}"):
        verifier.verify(make_token(key, alg=token_alg))
    assert verifier.verify(make_token(key, alg=key_alg)) == claims()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a10_signature_of_the_other_rsa_scheme_is_rejected(key, backend):
    verifier = make_verifier(key, algorithms=("RS256", "PS256"), backend=backend)
    for header_alg, signing_alg in [("RS256", "PS256"), ("PS256", "RS256")]:
        signing_input = b64(json.dumps({"alg": header_alg, "kid": "k1"})) + "." + b64(json.dumps(claims()))
        token = signing_input + "." + b64(sign(key, signing_alg, signing_input.encode()))
        with pytest.raises(zjwt.InvalidSignature):
            verifier.verify(token)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "salt_len, mgf_hash", [(0, None), (20, None), (64, None), (32, hashlib.sha1), (32, hashlib.sha512)]
)
def test_a11_pss_with_another_salt_length_or_mgf_hash_is_rejected(key, backend, salt_len, mgf_hash):
    public = zjwt.key_from_jwk(jwk(key))
    signature = sign(key, "PS256", b"message", salt_len=salt_len, mgf_hash=mgf_hash)
    assert not zjwt.verify_signature("PS256", public, b"message", signature, backend)
    assert zjwt.verify_signature("PS256", public, b"message", sign(key, "PS256", b"message"), backend)


def test_a12_an_algorithm_the_application_did_not_allow_is_rejected(key):
    verifier = make_verifier(key)  # RS256 only, the default
    with pytest.raises(zjwt.DisallowedAlgorithm, match=r"'PS512' is not allowed \(allowed: RS256\)"):
        verifier.verify(make_token(key, alg="PS512"))


# B. Signature bytes


def test_b1_empty_signature_segment_is_rejected(key, verifier):
    with pytest.raises(zjwt.MalformedToken, match="signature is not base64url"):
        verifier.verify(replace_segment(make_token(key), 2, ""))


def test_b2_two_segments_are_rejected(key, verifier):
    with pytest.raises(zjwt.MalformedToken, match="this token has 2"):
        verifier.verify(make_token(key).rsplit(".", 1)[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_b3_truncated_signatures_are_rejected(key, backend):
    verifier = make_verifier(key, backend=backend)
    token = make_token(key)
    signature = zjwt.b64url_decode(token.split(".")[2])
    for cut in [signature[:-1], signature[:6], signature[1:]]:
        with pytest.raises(zjwt.InvalidSignature):
            verifier.verify(replace_segment(token, 2, b64(cut)))


@pytest.fixture(scope="session")
def signature_with_leading_zero(key) -> tuple[bytes, bytes]:
    """Return (signing input, valid RS256 signature whose first byte is 0)."""
    for i in range(5000):
        data = f"message {i}".encode()
        signature = sign(key, "RS256", data)
        if signature[0] == 0:
            return data, signature
    pytest.fail("no signature with a leading zero byte in 5000 tries")


@pytest.mark.parametrize("backend", BACKENDS)
def test_b4_valid_signature_with_its_leading_zero_removed_is_rejected(key, signature_with_leading_zero, backend):
    data, signature = signature_with_leading_zero
    public = zjwt.key_from_jwk(jwk(key))
    assert zjwt.verify_signature("RS256", public, data, signature, backend)
    assert not zjwt.verify_signature("RS256", public, data, signature[1:], backend)  # same integer, k-1 bytes


@pytest.mark.parametrize("backend", BACKENDS)
def test_b5_valid_signature_with_an_extra_leading_zero_is_rejected(key, backend):
    public = zjwt.key_from_jwk(jwk(key))
    signature = sign(key, "RS256", b"message")
    assert not zjwt.verify_signature("RS256", public, b"message", b"\x00" + signature, backend)  # same integer


def test_b6_megabytes_of_signature_are_rejected_before_any_arithmetic(key, verifier):
    token = make_token(key)
    started = time.perf_counter()
    with pytest.raises(zjwt.MalformedToken, match="longer than 8192 bytes"):
        verifier.verify(replace_segment(token, 2, "A" * 4_000_000))
    assert time.perf_counter() - started < 0.5
    public = zjwt.key_from_jwk(jwk(key))
    assert not zjwt.verify_signature("RS256", public, b"x", b"\x01" * 1_000_000, "pure")  # length check first


@pytest.mark.parametrize("backend", BACKENDS)
def test_b7_signature_values_out_of_range_or_trivial_are_rejected(key, backend):
    public = zjwt.key_from_jwk(jwk(key))
    n, k = key["n"], size(key)
    for s in [0, 1, n - 1, n, n + 1, 2 ** (8 * k) - 1]:
        assert not zjwt.verify_signature("RS256", public, b"message", s.to_bytes(k, "big"), backend), s


@pytest.mark.parametrize("backend", BACKENDS)
def test_b8_signature_plus_modulus_is_rejected(key, backend):
    public = zjwt.key_from_jwk(jwk(key))
    n, k = key["n"], size(key)
    for i in range(200):  # find a valid s for which s + n still fits in k bytes
        data = f"message {i}".encode()
        s = int.from_bytes(sign(key, "RS256", data), "big")
        if s + n < 2 ** (8 * k):
            break
    assert zjwt.verify_signature("RS256", public, data, s.to_bytes(k, "big"), backend)
    assert not zjwt.verify_signature("RS256", public, data, (s + n).to_bytes(k, "big"), backend)


def test_b9_valid_signature_over_another_header_or_payload_is_rejected(key, verifier):
    token = make_token(key)
    other = make_token(key, claims(sub="admin"))
    with pytest.raises(zjwt.InvalidSignature):
        verifier.verify(replace_segment(token, 1, other.split(".")[1]))
    other_header = make_token(key, header={"alg": "RS256", "kid": "k1", "typ": "JWT"})
    with pytest.raises(zjwt.InvalidSignature):
        verifier.verify(replace_segment(token, 0, other_header.split(".")[0]))


def test_b10_payload_reencoded_with_the_same_json_is_rejected(key, verifier):
    token = make_token(key, claims())
    for same_json in [
        json.dumps(claims(), indent=1),
        json.dumps(claims(), separators=(",", ":")),
        json.dumps(dict(reversed(claims().items()))),
    ]:
        with pytest.raises(zjwt.InvalidSignature):
            verifier.verify(replace_segment(token, 1, b64(same_json)))


def test_b11_signature_by_another_issuers_key_is_rejected(key, other_key, verifier):
    with pytest.raises(zjwt.InvalidSignature):
        verifier.verify(make_token(other_key))  # same kid, same claims, other key


# (B12, the Wycheproof corpus, is test_b12_wycheproof_... in the signature section.)

# C. PKCS#1 v1.5 forgeries


def bleichenbacher_forgery(n: int, data: bytes) -> bytes:
    """Return a signature made WITHOUT the private key for an e = 3 key: a cube root with garbage at the end."""
    k = (n.bit_length() + 7) // 8
    prefix = b"\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\x00" + DIGEST_INFO["sha256"] + hashlib.sha256(data).digest()
    target = int.from_bytes(prefix + b"\xff" * (k - len(prefix)), "big")  # the garbage may be anything
    root = _integer_cube_root(target)
    assert (root**3).to_bytes(k, "big").startswith(prefix), (
        "the forgery is real: its cube starts with a valid-looking prefix"
    )
    return root.to_bytes(k, "big")


def _integer_cube_root(x: int) -> int:
    lo, hi = 0, 1 << ((x.bit_length() + 2) // 3 + 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if mid**3 <= x else (lo, mid - 1)
    return lo


@pytest.mark.parametrize("backend", BACKENDS)
def test_c1_bleichenbacher_forgery_on_an_e3_key_is_rejected(backend):
    n = secrets.randbits(2048) | (1 << 2047) | 1  # any odd 2048-bit modulus: the forger needs no factors
    e3_jwks = {"keys": [{"kty": "RSA", "kid": "k1", "n": server.b64url_uint(n), "e": "Aw"}]}
    verifier = make_verifier(jwks=e3_jwks, backend=backend)  # e = 3 passes the key policy, as Wycheproof says
    signing_input = b64('{"alg":"RS256","kid":"k1"}') + "." + b64(json.dumps(claims()))
    forged = bleichenbacher_forgery(n, signing_input.encode())
    with pytest.raises(zjwt.InvalidSignature):
        verifier.verify(signing_input + "." + b64(forged))
    raw_key = zjwt.PublicKey("RSA", (n, 3))  # the primitive, below any verifier: e = 3 passes the policy
    assert not zjwt.verify_signature("RS256", raw_key, signing_input.encode(), forged, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "variant", ["SHA-1 OID with SHA-256 lengths", "wrong OID arc", "BER long-form length", "NULL as 05 81 00"]
)
def test_c2_garbage_or_ber_inside_the_digestinfo_is_rejected(key, backend, variant):
    em = malformed_pkcs1_encodings(size(key), b"data")[variant]
    assert not zjwt.verify_signature("RS256", zjwt.key_from_jwk(jwk(key)), b"data", raw_sign(key, em), backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "variant", ["short padding", "non-FF padding byte", "block type 02", "missing NULL", "bytes after the hash"]
)
def test_c3_bad_padding_block_type_or_missing_null_is_rejected(key, backend, variant):
    em = malformed_pkcs1_encodings(size(key), b"data")[variant]
    assert not zjwt.verify_signature("RS256", zjwt.key_from_jwk(jwk(key)), b"data", raw_sign(key, em), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_c4_digestinfo_of_another_hash_or_a_bare_hash_is_rejected(key, backend):
    public, k = zjwt.key_from_jwk(jwk(key)), size(key)
    for em in [
        pkcs1_em("sha1", b"data", k),
        pkcs1_em("sha512", b"data", k),
        malformed_pkcs1_encodings(k, b"data")["no DigestInfo (bare hash)"],
    ]:
        assert not zjwt.verify_signature("RS256", public, b"data", raw_sign(key, em), backend)
    assert zjwt.verify_signature("RS512", public, b"data", raw_sign(key, pkcs1_em("sha512", b"data", k)), backend)


# D. JWKS and key selection


@pytest.mark.parametrize("kty", ["EC", "oct", "OKP", "rsa", None])
def test_d1_keys_of_another_type_are_ignored(key, kty):
    other = {k: v for k, v in jwk(key, "k2", kty=kty).items() if v is not None}
    verifier = make_verifier(jwks={"keys": [jwk(key), other]})
    with pytest.raises(
        zjwt.UnknownKey, match=r"key 'k2' cannot be used: (kty|curve None).*\(key set from the configured JWKS\)"
    ):
        verifier.verify(make_token(key, kid="k2"))


@pytest.mark.parametrize("members", [{"use": "enc"}, {"key_ops": ["encrypt"]}, {"key_ops": "verify"}, {"use": None}])
def test_d2_keys_not_for_signatures_are_ignored(key, members):
    verifier = make_verifier(jwks={"keys": [jwk(key), jwk(key, "k2", **members)]})
    with pytest.raises(
        zjwt.UnknownKey, match=r"key 'k2' cannot be used: (use|key_ops).*\(key set from the configured JWKS\)"
    ):
        verifier.verify(make_token(key, kid="k2"))
    assert make_verifier(jwks={"keys": [jwk(key, "k2", use="sig", key_ops=["verify"])]}).verify(
        make_token(key, kid="k2")
    )


def test_d3_a_key_for_another_alg_is_not_used(key):
    verifier = make_verifier(jwks={"keys": [jwk(key, alg="RS512")]}, algorithms=("RS256", "RS512"))
    with pytest.raises(zjwt.UnknownKey, match="is for RS512, not for RS256"):
        verifier.verify(make_token(key, alg="RS256"))


@pytest.mark.parametrize("bits", [512, 1024, 2047])
def test_d4_moduli_under_2048_bits_are_ignored(bits):
    n = secrets.randbits(bits) | (1 << (bits - 1)) | 1  # measured in bits, not in bytes
    with pytest.raises(ValueError, match=f"{bits}-bit modulus is below the 2048-bit minimum"):
        zjwt.key_from_jwk({"kty": "RSA", "n": server.b64url_uint(n), "e": "AQAB"})


def test_d4_token_signed_by_a_1024_bit_key_in_the_jwks_is_rejected(key):
    small = server.generate_rsa_key(1024)
    verifier = make_verifier(jwks={"keys": [jwk(small, "small"), jwk(key)]})
    with pytest.raises(zjwt.UnknownKey, match=r"key 'small' cannot be used: 1024-bit modulus is below the 2048"):
        verifier.verify(make_token(small, kid="small"))


@pytest.mark.parametrize("e", [1, 2, 4, 65536, 2**64 + 1, 2**256 + 1, "n", "n+2"])
def test_d5_unsafe_public_exponents_are_ignored(key, e):
    e = {"n": key["n"], "n+2": key["n"] + 2}.get(e, e)
    with pytest.raises(ValueError, match="public exponent must be odd"):
        zjwt.key_from_jwk(jwk(key, e=server.b64url_uint(e)))
    for allowed in (3, 5, 17, 65537):  # Issue 2: odd e >= 3 is legal (Wycheproof marks e = 3 valid)
        assert zjwt.key_from_jwk(jwk(key, e=server.b64url_uint(allowed))).public == (key["n"], allowed)


@pytest.mark.parametrize(
    "n, reason",
    [
        ("even", "even modulus"),
        ("AA", "below the 2048-bit minimum"),
        ("AQ", "below the 2048-bit minimum"),
        ("AAAAAQ", "1-bit modulus is below the 2048-bit minimum"),
    ],
)
def test_d6_impossible_moduli_are_ignored(key, n, reason):
    n = {"even": server.b64url_uint(key["n"] + 1)}.get(n, n)
    with pytest.raises(ValueError, match=reason):
        zjwt.key_from_jwk(jwk(key, n=n))


def padded_standard_base64(value: int, leading_zeros: int = 0) -> str:
    """Return value in the spellings some issuers publish: leading zero octets, '=' padding, '+' and '/'."""
    return base64.b64encode(bytes(leading_zeros) + value.to_bytes((value.bit_length() + 7) // 8, "big")).decode()


def test_d6_leading_zero_octets_padding_and_the_standard_alphabet_are_read_as_the_same_integer(key):
    k = size(key)
    paypal = {"n": b64(b"\x00" + key["n"].to_bytes(k, "big"))}  # Java's BigInteger.toByteArray
    azure = {"e": "AAEAAQ"}  # 65537 in three octets
    battle_net = {"n": padded_standard_base64(key["n"]), "e": "AQAB"}
    assert "=" in battle_net["n"] or len(battle_net["n"]) % 4 == 0
    for members in (paypal, azure, battle_net, {"n": padded_standard_base64(key["n"], 2), "e": "AAEAAQ=="}):
        public = zjwt.key_from_jwk(jwk(key, **members))
        assert (public.public, public.size) == ((key["n"], 65537), k)
        assert make_verifier(jwks={"keys": [jwk(key, **members)]}).verify(make_token(key)) == claims()


def test_d6_a_small_key_spelled_with_leading_zeros_is_refused_for_its_size(key):
    small = server.generate_rsa_key(1024)
    spelled = b64(bytes(129) + small["n"].to_bytes(128, "big"))  # 257 octets, the integer still has 1024 bits
    with pytest.raises(ValueError, match=r"^1024-bit modulus is below the 2048-bit minimum"):
        zjwt.key_from_jwk(jwk(small, n=spelled))


@pytest.mark.parametrize("member", ["n", "e"])
@pytest.mark.parametrize("bad", [65537, None, "", "AQAB=", "A", "AQ AB", " AQAB", "AQ!B", "AQ\u00e9B", ["AQAB"]])
def test_d7_n_and_e_must_be_base64_strings_with_one_meaning(key, member, bad):
    with pytest.raises(ValueError, match=f"'{member}' is (not|empty)"):
        zjwt.key_from_jwk(jwk(key, **{member: bad}))


def test_d8_two_keys_with_the_same_kid_are_never_first_one_wins(key, other_key, caplog):
    with caplog.at_level(logging.WARNING, logger="zjwt"):
        verifier = make_verifier(jwks={"keys": [jwk(other_key), jwk(key)]})
    assert "key id 'k1' names 2 keys" in caplog.text
    for signer in (key, other_key):
        with pytest.raises(zjwt.UnknownKey, match="matches several RS256 keys"):
            verifier.verify(make_token(signer))
    # Same kid with distinct algs: the token's alg picks exactly one key.
    split = make_verifier(
        jwks={"keys": [jwk(other_key, alg="PS256"), jwk(key, alg="RS256")]}, algorithms=("RS256", "PS256")
    )
    assert split.verify(make_token(key, alg="RS256")) == claims()
    assert split.verify(make_token(other_key, alg="PS256")) == claims()


def test_d9_jwk_with_private_members_is_ignored_and_never_logged(key, caplog):
    leaked = jwk(key, "leaked", d="SECRET-PRIVATE-EXPONENT", p="SECRET-P")
    with caplog.at_level(logging.DEBUG, logger="zjwt"):
        verifier = make_verifier(jwks={"keys": [jwk(key), leaked]})
    with pytest.raises(zjwt.UnknownKey):
        verifier.verify(make_token(key, kid="leaked"))
    assert "private key members" in caplog.text and "SECRET" not in caplog.text


@pytest.mark.parametrize(
    "document, reason",
    [
        ([], "not a JWKS"),
        ({}, "not a JWKS"),
        ({"keys": "x"}, "not a JWKS"),
        ({"keys": [1]}, "something other than JSON objects"),
        ({"keys": [{}] * 101}, "at most 100"),
    ],
)
def test_d10_documents_that_are_not_usable_key_sets_are_refused(document, reason):
    with pytest.raises(ValueError, match=reason):
        zjwt.parse_key_set(document)
    # Fetched remotely, the same documents keep the previous keys: see test_invalid_documents_fail_the_fetch...


@pytest.mark.parametrize(
    "uri",
    [
        "http://issuer.example/jwks.json",
        "http://10.0.0.1/jwks",
        "http://127.0.0.1.evil.example/j",
        "file:///etc/passwd",
        "jwks.json",
    ],
)
def test_d11_jwks_only_over_https_or_loopback_http(uri):
    with pytest.raises(ValueError):
        zjwt.RemoteKeySet(uri)
    for allowed in [
        "https://issuer.example/j",
        "http://127.0.0.1:8000/j",
        "http://127.5.6.7/j",
        "http://localhost/j",
        "http://[::1]/j",
    ]:
        assert zjwt.RemoteKeySet(allowed).jwks_uri == allowed


@pytest.mark.parametrize(
    "withdrawn, reason",
    [
        (
            "empty",
            "no key with id 'k1' in the issuer's key set"
            " (key set from {url}, which has no usable key: the set is empty)",
        ),
        ("enc only", "the issuer's key 'k1' cannot be used: use 'enc' is not 'sig' (key set from {url})"),
        (
            "small only",
            "the issuer's key 'k1' cannot be used: 1024-bit modulus is below the 2048-bit minimum (RFC 7518 3.3)"
            " (key set from {url})",
        ),
    ],
)
def test_d12_a_well_formed_jwks_without_usable_keys_replaces_the_cache(key, jwks_server, withdrawn, reason):
    verifier, source, clock = remote_verifier(jwks_server)
    token = lasting_token(key)
    verifier.verify(token)  # cached as verified, too
    jwks_server.document = {
        "empty": {"keys": []},
        "enc only": {"keys": [jwk(key, use="enc")]},
        "small only": {"keys": [jwk(server.generate_rsa_key(1024), "k1")]},
    }[withdrawn]
    source.reload()  # the issuer withdrew its keys: a 200 that parses is authoritative
    clock.advance(3600)  # an hour later, as in the review's reproduction: the old keys stay withdrawn
    with pytest.raises(zjwt.UnknownKey) as raised:
        verifier.verify(token)
    assert raised.value.status == 401 and str(raised.value) == reason.format(url=jwks_server.url)
    assert jwks_server.url not in raised.value.message, "the JWKS URL is for operators, not for clients"
    assert source.failure_count == 0 and source.key_set().keys == frozenset()


def test_d13_a_kid_naming_a_skipped_key_says_the_key_exists_and_why_it_cannot_be_used(key, jwks_server, caplog):
    jwks_server.document = {"keys": [jwk(key), jwk(key, "enc-key", use="enc")]}
    verifier, _, _ = remote_verifier(jwks_server)
    with caplog.at_level(logging.WARNING, logger="zjwt"):
        with pytest.raises(zjwt.UnknownKey) as raised:
            verifier.verify(lasting_token(key, "enc-key"))
        for _ in range(3):  # known, though unusable: no refetch, no new warning
            with pytest.raises(zjwt.UnknownKey):
                verifier.verify(lasting_token(key, "enc-key"))
    assert (
        str(raised.value)
        == f"the issuer's key 'enc-key' cannot be used: use 'enc' is not 'sig' (key set from {jwks_server.url})"
    )
    assert raised.value.message == "the issuer's key 'enc-key' cannot be used: use 'enc' is not 'sig'"
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith(jwks_server.url)]
    assert jwks_server.requests == 1 and warnings == [
        f"{jwks_server.url}: key 'enc-key' cannot be used: use 'enc' is not 'sig'"
    ]


# E. Header members never trusted


def test_e1_embedded_jwk_header_is_ignored(key, other_key, verifier):
    header = {"alg": "RS256", "jwk": jwk(other_key, kid=None)}
    with pytest.raises(zjwt.InvalidSignature):  # checked against the JWKS key, not the attacker's
        verifier.verify(make_token(other_key, header=header))
    with pytest.raises(zjwt.InvalidSignature):
        verifier.verify(make_token(other_key, header={**header, "kid": "k1"}))


@pytest.fixture
def counting_server():
    """A real HTTP server on loopback that counts requests: proof that nothing was fetched."""
    jwks_server = JwksServer({"keys": []})
    yield jwks_server
    jwks_server.stop()


def test_e2_jku_header_is_never_fetched(key, other_key, verifier, counting_server):
    header = {"alg": "RS256", "kid": "attacker", "jku": counting_server.url}
    counting_server.document = {"keys": [jwk(other_key, "attacker")]}
    with pytest.raises(zjwt.UnknownKey, match="no key with id 'attacker'"):
        verifier.verify(make_token(other_key, header=header))
    assert counting_server.requests == 0


@pytest.mark.parametrize("member", ["x5u", "x5c", "x5t", "x5t#S256"])
def test_e3_x509_header_members_are_ignored(key, other_key, verifier, counting_server, member):
    value = counting_server.url if member == "x5u" else ["MIIBIjAN"] if member == "x5c" else "dGh1bWI"
    with pytest.raises(zjwt.InvalidSignature):
        verifier.verify(make_token(other_key, header={"alg": "RS256", "kid": "k1", member: value}))
    assert counting_server.requests == 0
    assert verifier.verify(make_token(key, header={"alg": "RS256", "kid": "k1", member: value})) == claims()


def test_e4_token_without_kid_is_rejected_when_several_keys_fit(key, other_key):
    verifier = make_verifier(jwks={"keys": [jwk(key), jwk(other_key, "k2")]})
    with pytest.raises(zjwt.UnknownKey, match="a token without 'kid' matches several RS256 keys"):
        verifier.verify(make_token(key, kid=None))
    assert make_verifier(key).verify(make_token(key, kid=None)) == claims()  # a lone key is fine


def test_e5_unknown_kid_is_rejected(key, verifier):
    with pytest.raises(
        zjwt.UnknownKey,
        match=r"no key with id 'does-not-exist' in the issuer's key set, which has 'k1' \(key set from the configured",
    ):
        verifier.verify(make_token(key, kid="does-not-exist"))


@pytest.mark.parametrize("kid", ["../../../../dev/null", "/proc/sys/kernel/randomize_va_space", "", "0", "\n"])
def test_e6_kid_path_traversal_is_only_a_dictionary_miss(key, verifier, kid):
    with pytest.raises(zjwt.UnknownKey, match="no key with id"):
        verifier.verify(make_token(key, kid=kid))
    hs_input = b64(json.dumps({"alg": "HS256", "kid": kid})) + "." + b64(json.dumps(claims()))
    with pytest.raises(zjwt.DisallowedAlgorithm):
        verifier.verify(hs_input + "." + b64(hmac.new(b"", hs_input.encode(), hashlib.sha256).digest()))


@pytest.mark.parametrize(
    "kid", ["x' UNION SELECT 'secret'--", "; id", "$(curl evil.example)", "*)(uid=*", "\u0000", 'k1"']
)
def test_e7_kid_injection_is_an_exact_lookup_and_escaped_in_messages(key, verifier, kid):
    with pytest.raises(zjwt.UnknownKey) as raised:
        verifier.verify(make_token(key, kid=kid))
    assert ascii(kid) in raised.value.message
    assert '"' not in raised.value.www_authenticate().split("error_description=")[1][1:-1]


@pytest.mark.parametrize("kid", [{"$ne": None}, [], 1, None, "k" * 257])
def test_e7_kid_that_is_not_a_short_string_is_rejected(key, verifier, kid):
    with pytest.raises(zjwt.MalformedToken, match="'kid' header must be a string of at most 256"):
        verifier.verify(make_token(key, header={"alg": "RS256", "kid": kid}))


@pytest.mark.parametrize("crit", [["exp"], ["foo"]])
def test_e8_crit_naming_an_extension_is_rejected(key, verifier, crit):
    with pytest.raises(zjwt.MalformedToken, match="'crit'"):
        verifier.verify(make_token(key, header={"alg": "RS256", "kid": "k1", "crit": crit, "exp": 1}))


@pytest.mark.parametrize("crit", [[], "b64", ["missing"], ["alg"], None])
def test_e9_malformed_crit_is_rejected(key, verifier, crit):
    with pytest.raises(zjwt.MalformedToken, match="'crit'"):
        verifier.verify(make_token(key, header={"alg": "RS256", "kid": "k1", "crit": crit}))


@pytest.mark.parametrize("header", [{"b64": False, "crit": ["b64"]}, {"b64": False}, {"b64": True}])
def test_e10_unencoded_payload_option_is_rejected(key, verifier, header):
    with pytest.raises(zjwt.MalformedToken, match=r"'b64'|'crit'"):
        verifier.verify(make_token(key, header={"alg": "RS256", "kid": "k1", **header}))


@pytest.mark.parametrize("cty", ["JWT", "jwt", "application/jwt"])
def test_e11_nested_jwt_is_rejected(key, verifier, cty):
    with pytest.raises(zjwt.MalformedToken, match="nested JWTs"):
        verifier.verify(make_token(key, header={"alg": "RS256", "kid": "k1", "cty": cty}))
    assert verifier.verify(make_token(key, header={"alg": "RS256", "kid": "k1", "typ": "at+jwt"})) == claims()


@pytest.mark.parametrize(
    "member, value", [("zip", "DEF"), ("p2c", 10**9), ("enc", "A128GCM"), ("epk", {}), ("p2s", "c2FsdA")]
)
def test_e12_jwe_header_members_are_rejected(key, verifier, member, value):
    with pytest.raises(zjwt.MalformedToken, match=f"'{member}'"):
        verifier.verify(make_token(key, header={"alg": "RS256", "kid": "k1", member: value}))


# F. Structure and base64url


@pytest.mark.parametrize("shape", ["H", "H.P", "H.P.S.X", "..", ".", "", "H.P.S.X.Y.Z"])
def test_f1_wrong_number_of_segments_is_rejected(key, verifier, shape):
    header, payload, signature = make_token(key).split(".")
    token = (
        shape.replace("H", header)
        .replace("P", payload)
        .replace("S", signature)
        .replace("X", "eA")
        .replace("Y", "eQ")
        .replace("Z", "eg")
    )
    with pytest.raises(zjwt.MalformedToken):
        verifier.verify(token)


def test_f2_jwe_compact_tokens_are_rejected(key, verifier):
    jwe = b64('{"alg":"RS256","enc":"A256GCM"}') + ".ZWs.aXY.Y3Q.dGFn"
    with pytest.raises(zjwt.MalformedToken, match="this token has 5"):
        verifier.verify(jwe)


def test_f3_json_serialization_and_polyglots_are_rejected(key, verifier):
    header, payload, signature = make_token(key).split(".")
    general = json.dumps({"payload": payload, "signatures": [{"protected": header, "signature": signature}]})
    flattened = json.dumps({"payload": payload, "protected": header, "signature": signature})
    polyglot = json.dumps({f"{header}.{payload}.{signature}": 1})
    for token in (general, flattened, polyglot):
        with pytest.raises(zjwt.MalformedToken):
            verifier.verify(token)


@pytest.mark.parametrize("segment", [0, 1, 2])
def test_f4_padding_is_rejected(key, verifier, segment):
    token = make_token(key)
    parts = token.split(".")
    with pytest.raises(zjwt.MalformedToken):
        verifier.verify(replace_segment(token, segment, parts[segment] + "="))


def test_f5_standard_base64_alphabet_is_rejected(key, verifier):
    token = make_token(key, claims(sub="~~~???>>>"))  # guarantees '-' or '_' in the encoding
    assert "-" in token or "_" in token
    with pytest.raises(zjwt.MalformedToken, match="not base64url"):
        verifier.verify(token.replace("-", "+").replace("_", "/"))


@pytest.mark.parametrize("mangle", [" {}", "{} ", "{}\n", "\t{}", "{h}.\n{p}.{s}", "{h}%2E{p}%2E{s}", "Bearer {}"])
def test_f6_whitespace_or_encoded_dots_are_rejected(key, verifier, mangle):
    token = make_token(key)
    h, p, s = token.split(".")
    with pytest.raises(zjwt.MalformedToken):
        verifier.verify(mangle.format(token, h=h, p=p, s=s))


@pytest.mark.parametrize("char", ["!", "*", "\u00e9", "\x00", "~", "'"])
def test_f7_characters_outside_the_alphabet_are_rejected(key, verifier, char):
    token = make_token(key)
    for segment in range(3):
        parts = token.split(".")
        with pytest.raises(zjwt.MalformedToken):
            verifier.verify(replace_segment(token, segment, parts[segment][:8] + char + parts[segment][8:]))


def test_f8_impossible_segment_length_is_rejected(key, verifier):
    token = make_token(key)
    signature = token.split(".")[2]
    with pytest.raises(zjwt.MalformedToken, match="impossible length"):
        verifier.verify(replace_segment(token, 2, signature + "AAA"))  # 342 + 3 = 345 = 1 (mod 4)


def test_f9_noncanonical_trailing_bits_in_the_header_are_rejected(key, verifier):
    canonical = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0"
    assert zjwt.b64url_decode(canonical) == b'{"alg":"RS256","kid":"k1"}'
    assert base64.urlsafe_b64decode(canonical[:-1] + "1=") == b'{"alg":"RS256","kid":"k1"}'  # lenient: same bytes
    token = make_token(key, header=b'{"alg":"RS256","kid":"k1"}')
    with pytest.raises(zjwt.MalformedToken, match="non-canonical"):
        verifier.verify(replace_segment(token, 0, canonical[:-1] + "1"))


def test_f9b_noncanonical_trailing_bits_in_the_signature_are_rejected(key, verifier):
    token = make_token(key)
    signature = token.split(".")[2]
    assert len(signature) % 4 == 2  # 256 bytes leave 4 spare bits in the last character
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    for spare in range(1, 16):
        variant = signature[:-1] + alphabet[last | spare]
        assert base64.urlsafe_b64decode(variant + "==") == zjwt.b64url_decode(signature)  # a lenient decoder agrees
        with pytest.raises(zjwt.MalformedToken, match="non-canonical"):
            verifier.verify(replace_segment(token, 2, variant))


@pytest.mark.parametrize("segment", [0, 1])
def test_f10_empty_header_or_payload_is_rejected(key, verifier, segment):
    with pytest.raises(zjwt.MalformedToken, match="empty"):
        verifier.verify(replace_segment(make_token(key), segment, ""))


@pytest.mark.parametrize("megabytes", [1, 100])
def test_f11_huge_tokens_are_rejected_before_decoding(key, verifier, megabytes):
    huge = make_token(key) + "A" * (megabytes * 1_000_000)
    started = time.perf_counter()
    with pytest.raises(zjwt.MalformedToken, match="longer than 8192 bytes"):
        verifier.verify(huge)
    assert time.perf_counter() - started < 0.5, "rejected by length, without decoding"
    header = b64(json.dumps({"alg": "RS256", "kid": "k1", "x": "y" * 9000}))
    with pytest.raises(zjwt.MalformedToken, match="longer than 8192 bytes"):
        verifier.verify(header + ".e30.c2ln")


@pytest.mark.parametrize("char", ["\u00e9", "\u2024", "\uff0e", "\U0001f600"])
def test_f12_non_ascii_anywhere_is_rejected(key, verifier, char):
    token = make_token(key)
    for position in (0, len(token) // 2, len(token)):
        with pytest.raises(zjwt.MalformedToken):
            verifier.verify(token[:position] + char + token[position:])
    with pytest.raises(zjwt.MalformedToken, match="non-ASCII"):
        verifier.verify((token + char).encode())


# G. JSON parsing


@pytest.mark.parametrize("text", [b"not json", b'{"alg":"RS256"', b"{'alg':'RS256'}", b"{}{}"])
def test_g1_header_or_payload_that_is_not_json_is_rejected(key, verifier, text):
    with pytest.raises(zjwt.MalformedToken, match="header is not JSON"):
        verifier.verify(make_token(key, header=text))
    with pytest.raises(zjwt.MalformedToken, match="payload is not JSON"):
        verifier.verify(make_token(key, payload=text))


@pytest.mark.parametrize("text", [b'"RS256"', b"[]", b'["alg","RS256"]', b"null", b"42", b"true"])
def test_g2_header_or_claims_that_are_not_objects_are_rejected(key, verifier, text):
    with pytest.raises(zjwt.MalformedToken, match="header is not a JSON object"):
        verifier.verify(make_token(key, header=text))
    with pytest.raises(zjwt.MalformedToken, match="payload is not a JSON object"):
        verifier.verify(make_token(key, payload=text))


def test_g3_a_signed_text_payload_is_a_jws_but_not_a_jwt(key, verifier):
    text = "It\u2019s a dangerous business, Frodo, going out your door.".encode()
    with pytest.raises(zjwt.MalformedToken, match="payload is not JSON"):
        verifier.verify(make_token(key, payload=text))
    # The RFC 7520 4.1 token itself: test_rfc7520_examples_have_valid_signatures_but_are_not_jwts.


@pytest.mark.parametrize(
    "part, text",
    [
        ("header", b'{"alg":"none","alg":"RS256","kid":"k1"}'),
        ("payload", b'{"iss":"evil","iss":"' + ISSUER.encode() + b'","exp":1800000600}'),
        ("payload", b'{"iss":"' + ISSUER.encode() + b'","exp":1,"exp":99999999999}'),
    ],
)
def test_g4_duplicate_member_names_are_rejected(key, verifier, part, text):
    token = make_token(key, header=text) if part == "header" else make_token(key, payload=text)
    with pytest.raises(zjwt.MalformedToken, match="duplicate member name"):
        verifier.verify(token)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"iss":"\xff"}',
        json.dumps(claims()).encode("utf-16"),
        json.dumps(claims()).encode("utf-32"),
        b"\xef\xbb\xbf" + json.dumps(claims()).encode(),
        json.dumps(claims(sub="\ud800")).encode(),  # escaped as \ud800 by json.dumps
        b'{"iss":"\xed\xa0\x80"}',  # a surrogate encoded in UTF-8 bytes
    ],
)
def test_g5_payloads_that_are_not_utf8_text_are_rejected(key, verifier, payload):
    with pytest.raises(zjwt.MalformedToken, match="payload is not JSON"):
        verifier.verify(make_token(key, payload=payload))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_g6_nan_and_infinity_literals_are_rejected(key, verifier, literal):
    payload = json.dumps(claims()).replace(str(NOW + 600), literal).encode()
    with pytest.raises(zjwt.MalformedToken, match="is not a JSON number"):
        verifier.verify(make_token(key, payload=payload))


@pytest.mark.parametrize(
    "number, error",
    [
        ("1e999", zjwt.MalformedToken),
        ("-1e999", zjwt.MalformedToken),
        ("1e-999", zjwt.ExpiredToken),
        ("9" * 5000, zjwt.MalformedToken),
    ],
)
def test_g7_numbers_beyond_float_or_int_limits_are_rejected(key, verifier, number, error):
    payload = json.dumps(claims()).replace(str(NOW + 600), number).encode()
    with pytest.raises(error):
        verifier.verify(make_token(key, payload=payload))


def test_g8_deep_nesting_is_rejected_without_recursion_error(key, verifier):
    deep = b"[" * 2500 + b"]" * 2500
    with pytest.raises(zjwt.MalformedToken, match="nested"):
        verifier.verify(make_token(key, header=b'{"alg":"RS256","kid":"k1","x":' + deep + b"}"))
    with pytest.raises(zjwt.MalformedToken, match="nested more than 32 levels"):
        verifier.verify(make_token(key, payload=b'{"x":' + b'{"a":' * 100 + b"1" + b"}" * 100 + b"}"))
    with pytest.raises(zjwt.MalformedToken, match="longer than"):
        verifier.verify(make_token(key, payload=b"[" * 100_000 + b"]" * 100_000))


def test_g9_very_large_claims_are_bounded_by_the_size_cap(key, verifier):
    many = {f"c{i}": i for i in range(100_000)}
    with pytest.raises(zjwt.MalformedToken, match="longer than"):
        verifier.verify(make_token(key, claims(**many)))


def test_g10_control_characters_make_exact_comparison_fail(key, verifier):
    with pytest.raises(zjwt.InvalidIssuer, match=r"\\x00evil"):
        verifier.verify(make_token(key, claims(iss=ISSUER + "\u0000evil")))


# H. Claims


def test_h1_expired_and_exp_equal_to_now_are_rejected(key, verifier):
    for exp in (NOW - 1, NOW):
        with pytest.raises(zjwt.ExpiredToken, match="token expired at"):
            verifier.verify(make_token(key, claims(exp=exp)))
    assert verifier.verify(make_token(key, claims(exp=NOW + 1)))["exp"] == NOW + 1


def test_h2_missing_exp_is_rejected_because_required_by_default(key, verifier):
    with pytest.raises(zjwt.MissingClaim, match="no 'exp' claim"):
        verifier.verify(make_token(key, claims(exp=...)))
    assert make_verifier(key, required_claims=()).verify(make_token(key, claims(exp=...)))["sub"] == "user-1"


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["9999999999", "1e10", ""])
def test_h3_times_as_strings_are_rejected(key, verifier, name, value):
    with pytest.raises(zjwt.MalformedToken, match=f"the '{name}' claim must be a NumericDate"):
        verifier.verify(make_token(key, claims(**{name: value})))


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [True, False, None, [NOW], {"t": NOW}])
def test_h4_times_as_booleans_or_other_types_are_rejected(key, verifier, name, value):
    with pytest.raises(zjwt.MalformedToken, match=f"the '{name}' claim must be a NumericDate"):
        verifier.verify(make_token(key, claims(**{name: value})))


def test_h5_fractional_times_compare_numerically(key, verifier):
    assert verifier.verify(make_token(key, claims(exp=NOW + 0.5, nbf=NOW - 0.5, iat=1.7e9)))["exp"] == NOW + 0.5
    with pytest.raises(zjwt.ExpiredToken):
        verifier.verify(make_token(key, claims(exp=NOW - 0.5)))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_h6_nan_and_infinite_times_fail_closed_even_past_the_parser(value):
    for name in ("exp", "nbf", "iat"):
        with pytest.raises(zjwt.MalformedToken, match="NumericDate"):
            zjwt.check_claims({"iss": ISSUER, "exp": NOW + 1, name: value}, zjwt.ClaimRules(ISSUER), NOW)


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [10**30, 2**63, -1, 253402300800])
def test_h7_implausible_times_are_rejected_without_overflow(key, verifier, name, value):
    with pytest.raises(zjwt.MalformedToken, match=f"the '{name}' claim must be a NumericDate"):
        verifier.verify(make_token(key, claims(**{name: value})))


def test_h8_nbf_in_the_future_is_rejected(key, verifier):
    with pytest.raises(zjwt.TokenNotYetValid, match="not valid before"):
        verifier.verify(make_token(key, claims(nbf=NOW + 1)))
    assert verifier.verify(make_token(key, claims(nbf=NOW)))["nbf"] == NOW


def test_h9_iat_in_the_future_is_rejected(key, verifier):
    with pytest.raises(zjwt.TokenNotYetValid, match="issued in the future"):
        verifier.verify(make_token(key, claims(iat=NOW + 5)))


@pytest.mark.parametrize(
    "iss",
    [
        ISSUER + "/",
        ISSUER.upper(),
        "https://my-api-a32f34.zuplo.api.evil.tld/__zuplo/issuer",
        "https://evil.tld/" + ISSUER,
        ISSUER + "%2F",
        " " + ISSUER,
        ISSUER + " ",
    ],
)
def test_h10_issuer_must_match_exactly(key, verifier, iss):
    with pytest.raises(zjwt.InvalidIssuer, match="the token was issued by"):
        verifier.verify(make_token(key, claims(iss=iss)))


@pytest.mark.parametrize("iss", [..., None, [ISSUER], 42])
def test_h11_missing_or_non_string_issuer_is_rejected(key, verifier, iss):
    expected = zjwt.MissingClaim if iss is ... else zjwt.InvalidIssuer
    with pytest.raises(expected):
        verifier.verify(make_token(key, claims(iss=iss)))


def test_h12_valid_iss_signed_by_another_issuers_key_is_rejected(key, other_key):
    verifier = make_verifier(key)
    with pytest.raises(zjwt.UnknownKey):
        verifier.verify(make_token(other_key, kid="their-key"))  # the other issuer's kid is not in our JWKS
    with pytest.raises(zjwt.InvalidSignature):
        verifier.verify(make_token(other_key, kid="k1"))


@pytest.mark.parametrize("aud", ["me", ["other", "me"], ["me"]])
def test_h13_audience_as_string_or_array_is_accepted(key, aud):
    assert make_verifier(key, audience="me").verify(make_token(key, claims(aud=aud)))["aud"] == aud
    assert make_verifier(key, audience=["x", "me"]).verify(make_token(key, claims(aud=aud)))["aud"] == aud


@pytest.mark.parametrize("aud", ["other", ["other"], [], "", "me ", "ME", [["me"]], {"me": 1}, [1, "me"], None, 1])
def test_h14_wrong_or_malformed_audience_is_rejected(key, aud):
    with pytest.raises(zjwt.InvalidAudience):
        make_verifier(key, audience="me").verify(make_token(key, claims(aud=aud)))


def test_h15_missing_audience_is_rejected_when_one_is_configured(key):
    with pytest.raises(zjwt.MissingClaim, match="no 'aud' claim"):
        make_verifier(key, audience="me").verify(make_token(key))


@pytest.mark.parametrize("aud, expected", [("api-admin", "api"), ("xmex", "me"), (["xmex"], "me"), ("m", "me")])
def test_h16_substrings_and_prefixes_of_the_audience_are_rejected(key, aud, expected):
    with pytest.raises(zjwt.InvalidAudience):
        make_verifier(key, audience=expected).verify(make_token(key, claims(aud=aud)))


def test_h17_token_minted_for_another_service_is_rejected_by_audience(key):
    id_token = make_token(key, claims(aud="web-client", nonce="n-0S6_WzA2Mj"))
    with pytest.raises(zjwt.InvalidAudience, match="meant for 'web-client'"):
        make_verifier(key, audience="orders-api").verify(id_token)


# J. Elliptic curves and EdDSA


def es_token(key: dict, alg: str, signature: bytes, kid: str = "k1") -> str:
    """Return a token for key's issuer whose signature segment is the given bytes."""
    signing_input = b64(json.dumps({"alg": alg, "kid": kid})) + "." + b64(json.dumps(claims()))
    return signing_input + "." + b64(signature)


def ec_verifier(key: dict, alg: str, backend: str | None = None) -> zjwt.Verifier:
    return make_verifier(jwks={"keys": [jwk(key)]}, algorithms=(alg,), backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("r, s", [(0, 0), (0, 1), (1, 0)], ids=["r=s=0", "r=0", "s=0"])
def test_j1_the_psychic_signature_r_s_zero_is_rejected(ec_keys, backend, r, s):
    key = ec_keys["ES256"]
    with pytest.raises(zjwt.InvalidSignature):
        ec_verifier(key, "ES256", backend).verify(es_token(key, "ES256", r.to_bytes(32, "big") + s.to_bytes(32, "big")))


@pytest.mark.parametrize("backend", BACKENDS)
def test_j2_r_or_s_out_of_range_or_plus_n_is_rejected(ec_keys, backend):
    key, n = ec_keys["ES512"], zjwt.CURVES["P-521"].n  # 66-byte halves hold r + n and s + n
    signing_input = b64(json.dumps({"alg": "ES512", "kid": "k1"})) + "." + b64(json.dumps(claims()))
    signature = ecdsa_sign(key, hashlib.sha512, signing_input.encode())
    r, s = int.from_bytes(signature[:66], "big"), int.from_bytes(signature[66:], "big")
    verifier = ec_verifier(key, "ES512", backend)
    assert verifier.verify(signing_input + "." + b64(signature)) == claims()
    for bad_r, bad_s in [(r + n, s), (r, s + n), (n, s), (r, n), (2**528 - 1, s)]:
        with pytest.raises(zjwt.InvalidSignature):
            verifier.verify(signing_input + "." + b64(bad_r.to_bytes(66, "big") + bad_s.to_bytes(66, "big")))


def der_signature(signature: bytes) -> bytes:
    """Return an R || S signature in the DER form (SEQUENCE of two INTEGERs) that JOSE does not use."""

    def integer(value: bytes) -> bytes:
        value = value.lstrip(b"\0")
        value = b"\0" + value if value[0] & 0x80 else value
        return b"\x02" + bytes([len(value)]) + value

    body = integer(signature[: len(signature) // 2]) + integer(signature[len(signature) // 2 :])
    return b"\x30" + bytes([len(body)]) + body


@pytest.mark.parametrize("backend", BACKENDS)
def test_j3_der_encoded_and_wrongly_sized_signatures_are_rejected(ec_keys, backend):
    key = ec_keys["ES256"]
    signing_input = b64(json.dumps({"alg": "ES256", "kid": "k1"})) + "." + b64(json.dumps(claims()))
    signature = ecdsa_sign(key, hashlib.sha256, signing_input.encode())
    verifier = ec_verifier(key, "ES256", backend)
    for wrong in (der_signature(signature), signature[:63], b"\0" + signature, signature + signature[:32]):
        with pytest.raises(zjwt.InvalidSignature):
            verifier.verify(signing_input + "." + b64(wrong))
    assert verifier.verify(signing_input + "." + b64(signature)) == claims()


@pytest.mark.parametrize(
    "token_alg, key_alg",
    [("ES256", "ES384"), ("ES384", "ES256"), ("ES512", "ES256"), ("EdDSA", "ES256"), ("ES256", "RS256")],
)
def test_j4_the_alg_fixes_the_curve_and_the_key_type(key, ec_keys, token_alg, key_alg):
    signer = key if key_alg == "RS256" else ec_keys[key_alg]
    token = make_token(signer, alg=key_alg)
    forged = es_token(signer, token_alg, zjwt.b64url_decode(token.split(".")[2]))  # the key's own signature
    verifier = make_verifier(jwks={"keys": [jwk(signer)]}, algorithms=(token_alg, key_alg))
    with pytest.raises(zjwt.UnknownKey, match=f"the issuer's key 'k1' is for .*, not for {token_alg}"):
        verifier.verify(forged)
    public = zjwt.key_from_jwk(jwk(signer))
    assert not zjwt.verify_signature(token_alg, public, forged.rsplit(".", 1)[0].encode(), bytes(public.size))
    with pytest.raises(ValueError, match=f"alg '{token_alg}' does not fit an"):  # a JWK naming the wrong alg
        zjwt.key_from_jwk(jwk(signer, alg=token_alg))


@pytest.mark.parametrize("point", ["y + 1", "infinity", "x + p", "y + p"])
def test_j5_ec_points_off_the_curve_or_unreduced_are_refused(ec_keys, point):
    key, curve = ec_keys["ES256"], zjwt.CURVES["P-256"]
    x, y = {
        "y + 1": (key["x"], key["y"] + 1),
        "infinity": (0, 0),
        "x + p": (key["x"] + curve.p, key["y"]),
        "y + p": (key["x"], key["y"] + curve.p),
    }[point]
    spelled = jwk(key) | {"x": server.b64url_uint(x) if x else "AA", "y": server.b64url_uint(y) if y else "AA"}
    with pytest.raises(ValueError, match="the point \\(x, y\\) is not on P-256"):
        zjwt.key_from_jwk(spelled)


@pytest.mark.parametrize(
    "members, reason",
    [
        ({"kty": "EC", "crv": "secp256k1"}, "curve 'secp256k1' is not one zjwt verifies"),
        ({"kty": "EC", "crv": "P-192"}, "curve 'P-192' is not one zjwt verifies"),
        ({"kty": "EC", "crv": None}, "curve None is not one zjwt verifies"),
        ({"kty": "OKP", "crv": "X25519"}, "an X25519 key is for key agreement, not signatures"),
        ({"kty": "OKP", "crv": "Ed448"}, "curve 'Ed448' is not one zjwt verifies"),
    ],
)
def test_j6_curves_zjwt_does_not_verify_are_skipped_and_a_token_naming_them_says_why(ec_keys, members, reason):
    other = {k: v for k, v in (jwk(ec_keys["ES256"], "other") | members).items() if v is not None}
    verifier = make_verifier(jwks={"keys": [jwk(ec_keys["ES256"]), other]}, algorithms=("ES256", "EdDSA"))
    with pytest.raises(zjwt.UnknownKey, match=f"the issuer's key 'other' cannot be used: {reason}"):
        verifier.verify(make_token(ec_keys["ES256"], alg="ES256", kid="other"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_j7_ed25519_s_plus_l_is_rejected(ec_keys, backend):
    key = ec_keys["EdDSA"]
    token = make_token(key, alg="EdDSA")
    signature = zjwt.b64url_decode(token.split(".")[2])
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + zjwt.ED25519.n).to_bytes(32, "little")  # the same S mod L
    verifier = ec_verifier(key, "EdDSA", backend)
    assert verifier.verify(token) == claims()
    with pytest.raises(zjwt.InvalidSignature):
        verifier.verify(token.rsplit(".", 1)[0] + "." + b64(malleated))


@pytest.mark.parametrize(
    "encoded, reason",
    [
        ((2**255 - 19).to_bytes(32, "little"), "not the 32-byte encoding"),  # y = p: a second spelling of 0
        ((2).to_bytes(32, "little"), "not the 32-byte encoding"),  # y = 2: no x fits
        ((1).to_bytes(32, "little"), "point of small order"),  # the neutral point
        ((2**255 - 20).to_bytes(32, "little"), "point of small order"),  # (0, −1), of order 2
        (bytes(31), "not the 32-byte encoding"),
    ],
    ids=["y = p", "no square root", "neutral", "order 2", "31 bytes"],
)
def test_j8_ed25519_keys_that_do_not_decode_or_have_small_order_are_refused(encoded, reason):
    with pytest.raises(ValueError, match=reason):
        zjwt.key_from_jwk({"kty": "OKP", "crv": "Ed25519", "x": b64(encoded)})
    # The rest of J8, R that does not decode and the like, is Wycheproof's ed25519 file, on both backends:
    # test_wycheproof_ecdsa_and_ed25519_vectors_give_the_expected_result.


@pytest.mark.parametrize("backend", BACKENDS)
def test_j9_high_s_ecdsa_is_accepted(ec_keys, backend):
    key, n = ec_keys["ES256"], zjwt.CURVES["P-256"].n
    signing_input = b64(json.dumps({"alg": "ES256", "kid": "k1"})) + "." + b64(json.dumps(claims()))
    signature = ecdsa_sign(key, hashlib.sha256, signing_input.encode())
    other_s = (n - int.from_bytes(signature[32:], "big")).to_bytes(32, "big")  # (r, n − s) verifies too
    verifier = ec_verifier(key, "ES256", backend)
    for valid in (signature, signature[:32] + other_s):
        assert verifier.verify(signing_input + "." + b64(valid)) == claims()


def test_j10_ec_and_okp_jwks_with_a_private_member_are_ignored(ec_keys):
    for alg in ("ES256", "EdDSA"):
        with pytest.raises(ValueError, match="private key members"):
            zjwt.key_from_jwk(jwk(ec_keys[alg], d="SECRET"))


# Hardening, third pass (issue 15), items 6 and 7: one algorithm under two names, primitives that check themselves.


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("key_alg, token_alg", [("EdDSA", "Ed25519"), ("Ed25519", "EdDSA")])
def test_hardening_6_eddsa_and_ed25519_are_one_algorithm_for_an_ed25519_key(ec_keys, backend, key_alg, token_alg):
    signer = ec_keys["EdDSA"]
    both = make_verifier(jwks={"keys": [jwk(signer, alg=key_alg)]}, algorithms=("EdDSA", "Ed25519"), backend=backend)
    assert both.verify(make_token(signer, alg=token_alg)) == claims(), (
        "the key is bound to the algorithm, not the label"
    )
    only_key_label = make_verifier(jwks={"keys": [jwk(signer, alg=key_alg)]}, algorithms=(key_alg,), backend=backend)
    with pytest.raises(zjwt.DisallowedAlgorithm):  # the allow-list still decides which labels a token may carry
        only_key_label.verify(make_token(signer, alg=token_alg))
    with pytest.raises(zjwt.UnknownKey, match="is for Ed25519, EdDSA, not for ES256"):  # other algorithms stay out
        make_verifier(jwks={"keys": [jwk(signer, alg=key_alg)]}, algorithms=("ES256",)).verify(
            make_token(ec_keys["ES256"], alg="ES256")
        )


def test_hardening_7_ecdsa_verify_checks_the_ranges_and_the_point_itself(ec_keys):
    signer, curve = ec_keys["ES256"], zjwt.CURVES["P-256"]
    digest = hashlib.sha256(b"message").digest()
    signature = ecdsa_sign(signer, hashlib.sha256, b"message")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    point = (signer["x"], signer["y"])
    assert zjwt.ecdsa_verify(curve, point, digest, r, s)
    for bad_r, bad_s in [(r, s + curve.n), (r + curve.n, s), (0, 0), (r, 0), (r, -s % curve.n - curve.n)]:
        assert not zjwt.ecdsa_verify(curve, point, digest, bad_r, bad_s), (bad_r, bad_s)
    for bad_point in [(signer["x"], signer["y"] + 1), (signer["x"] + curve.p, signer["y"])]:  # off the curve, unreduced
        assert not zjwt.ecdsa_verify(curve, bad_point, digest, r, s)


def test_hardening_7_ed25519_verify_checks_s_the_length_and_the_key_itself(ec_keys):
    signer = ec_keys["EdDSA"]
    signature = ed25519_sign(signer, b"message")
    s = int.from_bytes(signature[32:], "little")
    assert zjwt.ed25519_verify(signer["x"], b"message", signature)
    malleated = signature[:32] + (s + zjwt.ED25519.n).to_bytes(32, "little")
    assert not zjwt.ed25519_verify(signer["x"], b"message", malleated), "S + L is a second spelling"
    assert not zjwt.ed25519_verify(signer["x"], b"message", signature[:63])
    assert not zjwt.ed25519_verify(signer["x"][:31], b"message", signature)


# y = p: the non-canonical spelling of y = 0, whose points (±√−1, 0) have order 4; (0, 1) is the neutral point.
ORDER_4_NON_CANONICAL = (2**255 - 19 | 1 << 255).to_bytes(32, "little")
ORDER_4_CANONICAL = (1 << 255).to_bytes(32, "little")
NEUTRAL_R_ZERO_S = (1).to_bytes(32, "little") + bytes(32)  # R = the neutral point, S = 0: the forgery they admit


@pytest.mark.parametrize("encoded", [ORDER_4_NON_CANONICAL, ORDER_4_CANONICAL], ids=["non-canonical", "canonical"])
def test_hardening_7_every_way_of_building_a_key_applies_the_policy_so_both_backends_agree(encoded):
    with pytest.raises(ValueError, match=r"not the 32-byte encoding|small order"):
        zjwt.PublicKey("OKP", ("Ed25519", encoded))
    with pytest.raises(ValueError, match=r"not the 32-byte encoding|small order"):
        zjwt.key_from_jwk({"kty": "OKP", "crv": "Ed25519", "x": b64(encoded)})
    for message in (b"m%d" % i for i in range(40)):  # the primitive refuses the key on its own, too
        assert not zjwt.ed25519_verify(encoded, message, NEUTRAL_R_ZERO_S)


@pytest.mark.parametrize(
    "kty, public, reason",
    [
        ("RSA", ((1 << 1023) | 1, 65537), "1024-bit modulus"),
        ("RSA", (2**2048 + 1, True), "not the public values of an RSA key"),
        ("EC", ("P-256", 1, 2), "not on P-256"),
        ("EC", ("P-192", 1, 2), "curve 'P-192' is not one zjwt verifies"),
        ("OKP", ("X25519", bytes(32)), "X25519 key is for key agreement"),
        ("oct", (b"secret",), "kty 'oct' is not RSA, EC or OKP"),
        ("RSA", [2**2048 + 1, 65537], "not the public values of an RSA key"),
    ],
)
def test_hardening_7_a_public_key_built_by_hand_passes_the_same_policy_as_a_jwk(kty, public, reason):
    with pytest.raises(ValueError, match=reason):
        zjwt.PublicKey(kty, public)


def test_hardening_7_verify_signature_refuses_an_algorithm_it_does_not_know(key):
    public = zjwt.key_from_jwk(jwk(key))
    with pytest.raises(ValueError, match="unknown algorithm 'HS256'"):
        zjwt.verify_signature("HS256", public, b"data", bytes(256))


# ---------------------------------------------------------------------------
# Key source: RemoteKeySet against real HTTP servers on 127.0.0.1.
# ---------------------------------------------------------------------------


class JwksServer:
    """A real JWKS endpoint on 127.0.0.1 with switchable behaviour, counting the requests it gets.

    behaviour: "ok" (the document), "status" (self.status), "close" (hang up),
    "drip" (the whole response one byte per drip_seconds), "huge" (an endless
    body), "redirect" (302 to redirect_to), "raw" (self.body as a 200).  Paths
    in routes get their own (status, document) instead: an issuer's discovery
    document, say.
    """

    def __init__(self, document: object, tls: zjwt.ssl.SSLContext | None = None):
        self.document = document
        self.behaviour = "ok"
        self.status, self.body, self.redirect_to = 500, b"", ""
        self.delay = 0.0  # seconds before answering
        self.drip_seconds = 0.1
        self.response_headers: dict = {}
        self.declared_length: int | None = None  # a Content-Length that lies, when set
        self.routes: dict = {}  # path -> (status, JSON document), answered before any behaviour
        self.reason = ""  # the reason phrase of "status" answers, when set
        self.etag: str | None = None  # sent when set, and a request that names it gets 304
        self.last_modified: str | None = None  # the same, for If-Modified-Since
        self.requests = 0
        self.paths: list = []  # the path of every request, in order
        self.request_headers: list = []
        self.body_bytes_sent = 0
        self.finished = threading.Event()  # set when a "huge" or "drip" answer ends
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.answer(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def url(self) -> str:
        return self.base + "/.well-known/jwks.json"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        self.paths.append(handler.path)
        self.request_headers.append(dict(handler.headers))
        time.sleep(self.delay)
        if handler.path in self.routes:
            status, document = self.routes[handler.path]
            body = json.dumps(document).encode()
            handler.send_response(status)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        behaviour = self.behaviour
        if behaviour == "close":
            handler.close_connection = True
            return
        if behaviour in ("drip", "drip body"):
            body = json.dumps(self.document).encode()
            head = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
            try:
                if behaviour == "drip body":
                    handler.wfile.write(head)
                for byte in body if behaviour == "drip body" else head + body:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(self.drip_seconds)
            except OSError:
                pass
            self.finished.set()
            return
        if behaviour == "huge":
            handler.send_response(200)
            handler.end_headers()
            chunk = b" " * 65536
            try:
                while self.body_bytes_sent < 64 * 1024 * 1024:
                    handler.wfile.write(chunk)
                    self.body_bytes_sent += len(chunk)
            except OSError:
                pass
            self.finished.set()
            return
        status, body = 200, json.dumps(self.document).encode()
        if behaviour == "status":
            status, body = self.status, b'{"error":"down"}'
        elif behaviour == "raw":
            body = self.body
        elif self.etag is not None and handler.headers.get("If-None-Match") == self.etag:
            status, body = 304, b""  # RFC 9110 15.4.5: not modified, no body
        elif self.last_modified is not None and handler.headers.get("If-Modified-Since") == self.last_modified:
            status, body = 304, b""
        handler.send_response(302 if behaviour == "redirect" else status, self.reason or None)
        if behaviour == "redirect":
            handler.send_header("Location", self.redirect_to)
        for name, value in self.response_headers.items():
            handler.send_header(name, value)
        if self.etag is not None:
            handler.send_header("ETag", self.etag)
        if self.last_modified is not None:
            handler.send_header("Last-Modified", self.last_modified)
        handler.send_header("Content-Length", str(self.declared_length or len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture
def jwks_server(key):
    jwks_server = JwksServer({"keys": [jwk(key)]})
    yield jwks_server
    jwks_server.stop()


def lasting_token(signer: dict, kid: str = "k1") -> str:
    """Return a token valid for 30 days from NOW, so the tests can move the clock past cache lifetimes."""
    return make_token(signer, claims(exp=NOW + 30 * 86400), kid=kid)


def remote_verifier(jwks_server: JwksServer, **options) -> tuple[zjwt.Verifier, zjwt.RemoteKeySet, Clock]:
    clock = Clock()
    source = zjwt.RemoteKeySet(jwks_server.url, clock=clock, **options)
    return zjwt.Verifier(ISSUER, key_source=source, clock=clock), source, clock


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def settle(source: zjwt.RemoteKeySet) -> None:
    """Wait until the key source has no fetch in flight (a background refresh has finished)."""
    deadline = time.monotonic() + 10
    while source.fetching and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not source.fetching, "the fetch in flight did not end"


def timed(function, *args, **kwargs):
    """Return (result or exception, seconds taken)."""
    started = time.perf_counter()
    try:
        result = function(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - the caller inspects it
        result = error
    return result, time.perf_counter() - started


def test_defaults_are_the_named_constants():
    source = zjwt.RemoteKeySet("https://issuer.example/jwks.json")
    assert (source.cache_seconds, source.cooldown_seconds, source.timeout_seconds) == (600, 30, 5)
    assert (source.max_bytes, source.max_stale_seconds) == (1024 * 1024, 24 * 3600)


def test_cold_burst_of_50_threads_makes_exactly_one_request(key, jwks_server):
    verifier, source, _ = remote_verifier(jwks_server)
    jwks_server.delay = 0.3  # every thread arrives while the fetch is in flight
    token = lasting_token(key)
    start = threading.Barrier(50)
    results = []

    def client():
        start.wait()
        results.append(timed(verifier.verify, token)[0])

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [claims(exp=NOW + 30 * 86400)] * 50
    assert jwks_server.requests == 1 and source.fetch_count == 1


def test_keys_serve_for_the_cache_lifetime_then_one_refetch(key, jwks_server):
    verifier, source, clock = remote_verifier(jwks_server)
    token = lasting_token(key)
    verifier.verify(token)
    clock.advance(599)
    verifier.verify(token)
    assert jwks_server.requests == 1 and source.fresh and source.age == 599
    clock.advance(2)
    assert not source.fresh
    verifier.verify(token)
    verifier.verify(token)
    settle(source)
    assert jwks_server.requests == 2 and source.age == 0 and source.fresh


def test_after_the_lifetime_stale_keys_serve_at_once_while_one_background_refresh_runs(key, jwks_server):
    verifier, source, clock = remote_verifier(jwks_server)
    token = lasting_token(key)
    verifier.verify(token)
    clock.advance(601)
    jwks_server.delay = 1.0
    for _ in range(5):
        result, seconds = timed(verifier.verify, lasting_token(key))
        assert result["sub"] == "user-1" and seconds < 0.3, "no request waits for the refresh"
    assert source.fetching and not source.fresh
    settle(source)
    assert jwks_server.requests == 2 and source.fresh


def test_rotation_new_kid_is_accepted_after_one_refetch(key, other_key, jwks_server):
    verifier, _, clock = remote_verifier(jwks_server)
    verifier.verify(lasting_token(key))
    jwks_server.document = {"keys": [jwk(key), jwk(other_key, "k2")]}
    clock.advance(31)  # past the cooldown since the first fetch
    assert verifier.verify(lasting_token(other_key, "k2"))["sub"] == "user-1"
    assert jwks_server.requests == 2


def unsigned_token(kid: str) -> str:
    """Return a token naming kid; its signature is never reached, so it need not be real."""
    return b64(json.dumps({"alg": "RS256", "kid": kid})) + "." + b64(json.dumps(claims())) + ".c2ln"


def test_i1_flood_of_unknown_kids_makes_at_most_one_fetch_per_cooldown(key, jwks_server):
    verifier, source, clock = remote_verifier(jwks_server)
    verifier.verify(lasting_token(key))
    clock.advance(31)  # past the cooldown since the first fetch
    tokens = [unsigned_token(secrets.token_hex(8)) for _ in range(1000)]

    def flood(batch):
        for token in batch:
            with pytest.raises(zjwt.UnknownKey, match="no key with id"):
                verifier.verify(token)

    threads = [threading.Thread(target=flood, args=(tokens[i::10],)) for i in range(10)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.perf_counter() - started < 5
    assert jwks_server.requests == 2, "one refetch for the whole flood"
    clock.advance(29)
    flood(tokens[:100])
    assert jwks_server.requests == 2
    clock.advance(2)
    flood(tokens[:100])
    assert jwks_server.requests == 3 and source.fetch_count == 3


def test_unknown_kid_waits_for_the_refresh_in_flight(key, other_key, jwks_server):
    verifier, _, clock = remote_verifier(jwks_server)
    verifier.verify(lasting_token(key))
    clock.advance(601)
    jwks_server.delay = 0.5
    jwks_server.document = {"keys": [jwk(key), jwk(other_key, "k2")]}
    refresher = threading.Thread(target=verifier.verify, args=(lasting_token(key),))
    refresher.start()
    while jwks_server.requests < 2:
        time.sleep(0.01)
    assert verifier.verify(lasting_token(other_key, "k2"))["sub"] == "user-1"  # waited, then found
    refresher.join()
    assert jwks_server.requests == 2


@pytest.mark.parametrize("outage", ["status", "close", "stopped"])
def test_i2_outage_keeps_cached_keys_fast_spaces_attempts_then_fails_closed(key, jwks_server, outage, caplog):
    verifier, source, clock = remote_verifier(jwks_server)
    token = lasting_token(key)
    verifier.verify(token)
    if outage == "stopped":
        jwks_server.stop()
    else:
        jwks_server.behaviour = outage
    clock.advance(601)
    with caplog.at_level(logging.WARNING, logger="zjwt"):
        result, seconds = timed(verifier.verify, token)
        settle(source)
    assert result["sub"] == "user-1" and seconds < 0.1
    assert source.failure_count == 1 and "could not fetch the keys of http://127.0.0.1" in caplog.text
    for _ in range(3):  # within the cooldown: no new attempt, no waiting
        clock.advance(9)
        result, seconds = timed(verifier.verify, token)
        assert result["sub"] == "user-1" and seconds < 0.1
    assert source.fetch_count == 2 and not source.fetching
    clock.advance(4)  # 31 s after the failed attempt
    verifier.verify(token)
    settle(source)
    assert source.fetch_count == 3 and source.failure_count == 2
    clock.now = NOW + 24 * 3600  # cached keys are now a day old: no longer trusted
    error, seconds = timed(verifier.verify, token)
    assert isinstance(error, zjwt.KeySetUnavailable) and error.status == 503 and seconds < 1


def test_a_slow_issuer_slows_no_request_that_has_usable_keys(key, jwks_server):
    verifier, source, clock = remote_verifier(jwks_server, timeout_seconds=0.5)
    token = lasting_token(key)
    verifier.verify(token)
    jwks_server.delay = 3
    clock.advance(601)
    result, seconds = timed(verifier.verify, token)
    assert result["sub"] == "user-1" and seconds < 0.1
    _, seconds = timed(settle, source)
    assert 0.3 < seconds < 1.0 and "TimeoutError" in source.last_error and jwks_server.requests == 2


def test_cold_outage_is_unavailable_quickly_and_not_retried_before_the_cooldown(key):
    clock = Clock()
    source = zjwt.RemoteKeySet(f"http://127.0.0.1:{unused_port()}/jwks.json", clock=clock)
    verifier = zjwt.Verifier(ISSUER, key_source=source, clock=clock)
    error, seconds = timed(verifier.verify, lasting_token(key))
    assert isinstance(error, zjwt.KeySetUnavailable) and seconds < 1
    assert error.retry_after == 30 and source.fetch_count == 1
    clock.advance(10)
    error, seconds = timed(verifier.verify, lasting_token(key))
    assert isinstance(error, zjwt.KeySetUnavailable) and error.retry_after == 20 and source.fetch_count == 1


def test_cold_slow_issuer_is_unavailable_within_the_timeout(key, jwks_server):
    verifier, _, _ = remote_verifier(jwks_server, timeout_seconds=0.5)
    jwks_server.delay = 3
    error, seconds = timed(verifier.verify, lasting_token(key))
    assert isinstance(error, zjwt.KeySetUnavailable) and seconds < 1.5


def test_item1_a_cooldown_shorter_than_the_timeout_is_refused():
    with pytest.raises(ValueError, match="at most cooldown_seconds"):
        zjwt.RemoteKeySet("https://issuer.example/jwks", cooldown_seconds=0)
    with pytest.raises(ValueError, match="at most cooldown_seconds"):
        zjwt.RemoteKeySet("https://issuer.example/jwks", cooldown_seconds=1, timeout_seconds=1.5)


@slow
def test_item1_one_call_makes_at_most_one_fetch_of_its_own_even_when_the_cooldown_has_passed(key, jwks_server):
    # Real time throughout: a 0.3 s cooldown has passed by the time a 0.6 s answer arrives.
    source = zjwt.RemoteKeySet(jwks_server.url, timeout_seconds=0.3, cooldown_seconds=0.3)
    verifier = zjwt.Verifier(ISSUER, key_source=source, clock=Clock())
    jwks_server.delay = 0.6
    error, seconds = timed(verifier.verify, lasting_token(key))
    assert isinstance(error, zjwt.KeySetUnavailable) and seconds < 0.6
    time.sleep(0.8)  # the server has answered the first request by now
    assert jwks_server.requests == 1 and source.fetch_count == 1
    jwks_server.delay = 0
    verifier.verify(lasting_token(key))
    jwks_server.delay = 0.6
    time.sleep(0.35)  # past the cooldown: the unknown kid below may fetch, once
    error, seconds = timed(verifier.verify, lasting_token(key, "unknown"))
    assert isinstance(error, zjwt.UnknownKey) and seconds < 0.6
    time.sleep(0.8)
    assert jwks_server.requests == 3 and source.fetch_count == 3


@pytest.fixture
def hung_resolver(monkeypatch):
    """Make getaddrinfo take 1.5 s for the host 'localhost': a resolver that hangs, which no timeout can cut."""
    real = socket.getaddrinfo

    def slow(host, *args, **kwargs):
        if host == "localhost":
            time.sleep(1.5)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(zjwt.socket, "getaddrinfo", slow)


@slow
def test_item1_a_thread_waiting_for_anothers_fetch_waits_at_most_the_timeout(key, jwks_server, hung_resolver):
    url = jwks_server.url.replace("127.0.0.1", "localhost")
    source = zjwt.RemoteKeySet(url, timeout_seconds=0.4, cooldown_seconds=30)
    verifier = zjwt.Verifier(ISSUER, key_source=source, clock=Clock())
    first = threading.Thread(target=timed, args=(verifier.verify, lasting_token(key)))
    first.start()
    while not source.fetching:
        time.sleep(0.005)
    error, seconds = timed(verifier.verify, lasting_token(key))  # a second, cold request joins the first fetch
    assert isinstance(error, zjwt.KeySetUnavailable) and "took longer than 0.4 s" in str(error)
    assert 0.35 < seconds < 0.8
    first.join()


@pytest.fixture
def blackhole():
    """Yield a loopback address whose connects hang: a listening socket with a full backlog drops SYNs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname())  # fills the backlog of one
    yield listener.getsockname()
    filler.close()
    listener.close()


def addresses_for(monkeypatch, name: str, *addresses):
    """Make name resolve to the given (host, port) addresses, in order, as a dual-stack name does."""
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", address) for address in addresses]

    monkeypatch.setattr(zjwt.socket, "getaddrinfo", resolve)


def test_item3_a_dead_first_address_leaves_time_for_the_second(key, jwks_server, blackhole, monkeypatch):
    addresses_for(monkeypatch, "localhost", blackhole, ("127.0.0.1", jwks_server.httpd.server_address[1]))
    (document, seconds) = timed(zjwt.fetch_json, "http://localhost/.well-known/jwks.json", timeout=2.0)
    assert document == {"keys": [jwk(key)]} and 0.9 < seconds < 1.5, "the first address had half the time"


@slow
def test_item3_the_deadline_is_total_across_every_address(blackhole, monkeypatch):
    addresses_for(monkeypatch, "localhost", blackhole, blackhole, blackhole)
    error, seconds = timed(zjwt.fetch_json, "http://localhost/.well-known/jwks.json", timeout=1.0)
    assert isinstance(error, TimeoutError) and 0.9 < seconds < 1.4


@pytest.mark.parametrize("backend", BACKENDS)
def test_item5_both_backends_accept_exponents_below_2_64_and_the_policy_refuses_the_rest(big_e_key, backend):
    n, e = big_e_key["n"], big_e_key["e"]
    public = zjwt.key_from_jwk(jwk(big_e_key))
    assert public.public == (n, e) and e.bit_length() == 64 and n.bit_length() == (4096 if HAS_CRYPTOGRAPHY else 2048)
    token = make_token(big_e_key)
    assert make_verifier(big_e_key, backend=backend).verify(token) == claims()
    with pytest.raises(ValueError, match="below 2\\*\\*64"):
        zjwt.key_from_jwk(jwk(big_e_key, e=server.b64url_uint(2**64 + 1)))


@pytest.fixture(scope="session")
def big_e_key(key) -> dict:
    """A key whose e is the largest prime below 2**64: 4096 bits with cryptography, where OpenSSL's limit bites."""
    import math

    base = server.generate_rsa_key(4096) if HAS_CRYPTOGRAPHY else key  # pure Python makes 4096-bit keys slowly
    p, q, e = base["p"], base["q"], 2**64 - 59
    assert math.gcd(e, (p - 1) * (q - 1)) == 1  # e is prime: it divides p - 1 with odds of 1 in 2**64
    d = pow(e, -1, math.lcm(p - 1, q - 1))
    return {"n": p * q, "e": e, "d": d, "p": p, "q": q, "dp": d % (p - 1), "dq": d % (q - 1), "qi": pow(q, -1, p)}


def test_item10_the_reason_phrase_of_a_jwks_server_is_escaped_in_errors_and_logs(key, jwks_server, caplog):
    jwks_server.behaviour, jwks_server.status, jwks_server.reason = "status", 500, "Oops\r\x1b[31mFAKE LOG LINE"
    source = zjwt.RemoteKeySet(jwks_server.url)
    with caplog.at_level(logging.WARNING, logger="zjwt"), pytest.raises(zjwt.KeySetUnavailable) as raised:
        source.key_set()
    for text in (caplog.text, str(raised.value), source.last_error):
        assert "\x1b" not in text and "\r" not in text and "\\r\\x1b[31mFAKE" in text
    assert "FAKE" not in raised.value.message, "why a fetch failed is for operators, not for clients"


@pytest.mark.parametrize("behaviour", ["drip", pytest.param("drip body", marks=slow)])
def test_a_dripping_server_fails_by_the_total_deadline_not_per_read(key, jwks_server, behaviour):
    jwks_server.document = {"keys": [jwk(key)] * 3}  # long enough to drip for many seconds
    jwks_server.behaviour, jwks_server.drip_seconds = behaviour, 0.1  # every read succeeds within 0.1 s
    error, seconds = timed(lambda: zjwt.fetch_json(jwks_server.url, timeout=1.0))
    assert isinstance(error, TimeoutError) and "no complete response from 127.0.0.1 within 1 s" in str(error)
    assert 0.9 < seconds < 1.8


def test_a_dripping_server_fails_the_key_source_which_keeps_its_keys(key, jwks_server):
    verifier, source, clock = remote_verifier(jwks_server, timeout_seconds=1.0)
    verifier.verify(lasting_token(key))
    jwks_server.behaviour = "drip"
    clock.advance(601)
    result, seconds = timed(verifier.verify, lasting_token(key))
    settle(source)
    assert result["sub"] == "user-1" and seconds < 0.1 and "TimeoutError" in source.last_error


def test_oversized_body_fails_having_read_at_most_the_cap_plus_one_chunk(jwks_server):
    jwks_server.behaviour = "huge"  # no Content-Length: an endless body
    error, _ = timed(zjwt.fetch_json, jwks_server.url)
    assert isinstance(error, ValueError) and "larger than the 1048576-byte limit" in str(error)
    read = int(re.search(r"stopped after (\d+) bytes", str(error)).group(1))
    assert zjwt.MAX_JWKS_BYTES < read <= zjwt.MAX_JWKS_BYTES + zjwt.READ_CHUNK_BYTES
    assert jwks_server.finished.wait(10)
    assert jwks_server.body_bytes_sent < 32 * 1024 * 1024, "the client hung up instead of reading on"


def test_declared_oversized_body_fails_before_reading(jwks_server):
    jwks_server.behaviour, jwks_server.body = "raw", b" " * (2 * 1024 * 1024)
    with pytest.raises(ValueError, match="response of 2097152 bytes is larger than the 1048576-byte limit"):
        zjwt.fetch_json(jwks_server.url)


def test_a_server_that_sends_less_than_its_content_length_fails_the_fetch(key, jwks_server):
    verifier, source, clock = remote_verifier(jwks_server)
    verifier.verify(lasting_token(key))
    jwks_server.document = {"keys": [jwk(key, "k2")]}
    jwks_server.declared_length = len(json.dumps(jwks_server.document)) + 100  # complete JSON, but a lying length
    clock.advance(601)
    assert verifier.verify(lasting_token(key))["sub"] == "user-1"
    settle(source)
    assert "ended after" in source.last_error and source.key_set().kids == {"k1"}, "the old keys stay"


def test_redirect_is_not_followed_and_the_error_names_the_status(jwks_server, counting_server):
    jwks_server.behaviour, jwks_server.redirect_to = "redirect", counting_server.url
    with pytest.raises(ValueError, match=r"HTTP 302 'Found' \(redirects are not followed\)"):
        zjwt.fetch_json(jwks_server.url)
    assert counting_server.requests == 0


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"not json", "JSONDecodeError"),
        (b"[]", "not a JWKS"),
        (b'{"keys": "x"}', "not a JWKS"),
        (b'{"keys": [1, 2]}', "something other than JSON objects"),
        (b"", "JSONDecodeError"),
    ],
)
def test_invalid_documents_fail_the_fetch_and_keep_the_previous_keys(key, jwks_server, body, reason):
    verifier, source, clock = remote_verifier(jwks_server)
    verifier.verify(lasting_token(key))
    jwks_server.behaviour, jwks_server.body = "raw", body
    clock.advance(601)
    assert verifier.verify(lasting_token(key))["sub"] == "user-1"
    settle(source)
    assert source.failure_count == 1 and reason in source.last_error
    fresh_token = make_token(key, claims(exp=NOW + 86400, jti="not cached"))
    assert verifier.verify(fresh_token)["jti"] == "not cached", "the old keys still verify"


def test_fetch_sends_accept_user_agent_and_configured_headers(key, jwks_server):
    zjwt.fetch_json(jwks_server.url, headers={"X-Api-Key": "k-123"})
    sent = jwks_server.request_headers[0]
    assert sent["Accept"] == "application/json"
    assert sent["User-Agent"] == f"zjwt/{zjwt.__version__}" and sent["X-Api-Key"] == "k-123"
    source = zjwt.RemoteKeySet(jwks_server.url, headers={"Authorization": "Bearer gateway"})
    source.key_set()
    assert jwks_server.request_headers[1]["Authorization"] == "Bearer gateway"


def self_signed_certificate(directory: Path, names: tuple[str, ...] = ("127.0.0.1",)) -> tuple[Path, Path]:
    """Write a self-signed certificate for names (IP addresses or host names) and its key; return their paths."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])

    def alternative(host: str) -> x509.GeneralName:
        try:
            return x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            return x509.DNSName(host)

    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([alternative(host) for host in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@needs_cryptography
def test_https_fetch_checks_the_certificate_with_the_given_ssl_context(key, tmp_path):
    cert_path, key_path = self_signed_certificate(tmp_path)
    server_context = zjwt.ssl.SSLContext(zjwt.ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    https_server = JwksServer({"keys": [jwk(key)]}, tls=server_context)
    try:
        url = https_server.url.replace("http://", "https://")
        with pytest.raises(zjwt.ssl.SSLCertVerificationError):  # the system's trust store does not know it
            zjwt.fetch_json(url)
        trusting = zjwt.ssl.create_default_context(cafile=str(cert_path))
        assert zjwt.fetch_json(url, ssl_context=trusting) == {"keys": [jwk(key)]}
        source = zjwt.RemoteKeySet(url, ssl_context=trusting)
        assert zjwt.Verifier(ISSUER, key_source=source, clock=Clock()).verify(make_token(key))["sub"] == "user-1"
    finally:
        https_server.stop()


class ConnectProxy:
    """A real HTTP CONNECT proxy on 127.0.0.1 (RFC 9110 9.3.6) that tunnels every host it is asked for to 127.0.0.1.

    mode: "ok"; "502" (refuses every tunnel); with credentials ("user:password") set, a CONNECT without them
    gets 407.  delay: seconds before it answers a CONNECT.  connects: (target, Proxy-Authorization) of each.
    """

    def __init__(self, credentials: str | None = None):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.mode, self.delay, self.credentials = "ok", 0.0, credentials
        self.connects: list[tuple[str, str | None]] = []
        threading.Thread(target=self.serve, daemon=True).start()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.listener.getsockname()[1]}"

    def stop(self) -> None:
        self.listener.close()

    def serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                threading.Thread(target=self.tunnel, args=(self.listener.accept()[0],), daemon=True).start()

    def tunnel(self, client: socket.socket) -> None:
        with client, contextlib.suppress(OSError):
            head = b""
            while b"\r\n\r\n" not in head and (chunk := client.recv(4096)):
                head += chunk
            lines = head.decode("latin-1").split("\r\n")
            target = lines[0].split(" ")[1]
            authorization = next(
                (line.split(": ", 1)[1] for line in lines if line.startswith("Proxy-Authorization")), None
            )
            self.connects.append((target, authorization))
            time.sleep(self.delay)
            if self.mode == "502":
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            if self.credentials and authorization != "Basic " + base64.b64encode(self.credentials.encode()).decode():
                client.sendall(
                    b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="p"\r\n\r\n'
                )
                return
            upstream = socket.create_connection(("127.0.0.1", int(target.rsplit(":", 1)[1])), timeout=10)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=self.pump, args=(upstream, client), daemon=True).start()
            self.pump(client, upstream)

    @staticmethod
    def pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def proxy_environment(monkeypatch):
    """Clear every proxy variable; yield a function that sets some (the standard library reads them at each fetch)."""
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    return lambda **variables: [monkeypatch.setenv(name, value) for name, value in variables.items()]


@pytest.fixture
def tls_issuer(key, tmp_path):
    """Yield a function: names -> (a JwksServer over TLS with a certificate for names, an ssl_context trusting it)."""
    servers = []

    def start(*names: str) -> tuple[JwksServer, zjwt.ssl.SSLContext]:
        directory = tmp_path / str(len(servers))
        directory.mkdir()
        cert_path, key_path = self_signed_certificate(directory, names)
        server_context = zjwt.ssl.SSLContext(zjwt.ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(cert_path, key_path)
        servers.append(JwksServer({"keys": [jwk(key)]}, tls=server_context))
        return servers[-1], zjwt.ssl.create_default_context(cafile=str(cert_path))

    yield start
    for https_server in servers:
        https_server.stop()


@pytest.fixture
def connect_proxy():
    proxy = ConnectProxy(credentials="alice:s3cret:with colon")
    yield proxy
    proxy.stop()


def issuer_test_url(https_server: JwksServer) -> str:
    """Return the JWKS URL under the name issuer.test, which only the proxy resolves (to 127.0.0.1)."""
    return f"https://issuer.test:{https_server.httpd.server_address[1]}/.well-known/jwks.json"


@needs_cryptography
def test_https_proxy_from_the_environment_tunnels_to_the_issuer_checked_by_its_own_name(
    key, tls_issuer, connect_proxy, proxy_environment, caplog
):
    https_server, trusting = tls_issuer("issuer.test")  # the issuer's name only: the proxy is 127.0.0.1
    proxy_environment(HTTPS_PROXY=connect_proxy.url("alice:s3cret%3Awith%20colon@"))
    source = zjwt.RemoteKeySet(issuer_test_url(https_server), ssl_context=trusting)
    verifier = zjwt.Verifier(ISSUER, key_source=source, clock=Clock())
    assert verifier.verify(make_token(key))["sub"] == "user-1"
    port = https_server.httpd.server_address[1]
    assert connect_proxy.connects == [(f"issuer.test:{port}", "Basic YWxpY2U6czNjcmV0OndpdGggY29sb24=")]
    # A certificate for the proxy's name (127.0.0.1) behind the same tunnel is refused: TLS checks the issuer's.
    impostor, trusting_impostor = tls_issuer("127.0.0.1")
    with caplog.at_level(logging.WARNING, logger="zjwt"), pytest.raises(zjwt.KeySetUnavailable):
        zjwt.RemoteKeySet(issuer_test_url(impostor), ssl_context=trusting_impostor).key_set()
    assert "Hostname mismatch, certificate is not valid for 'issuer.test'" in caplog.text
    assert "s3cret" not in caplog.text


@needs_cryptography
def test_an_explicit_proxy_overrides_the_environment_and_false_disables_it(
    key, tls_issuer, connect_proxy, proxy_environment
):
    https_server, trusting = tls_issuer("issuer.test", "127.0.0.1")
    proxy_environment(HTTPS_PROXY=f"http://127.0.0.1:{unused_port()}")  # dead: using it would fail
    via = connect_proxy.url("alice:s3cret%3Awith%20colon@")
    assert zjwt.fetch_json(issuer_test_url(https_server), ssl_context=trusting, proxy=via) == {"keys": [jwk(key)]}
    direct = https_server.url.replace("http://", "https://")  # 127.0.0.1: reachable without a proxy
    assert zjwt.fetch_json(direct, ssl_context=trusting, proxy=False) == {"keys": [jwk(key)]}
    assert len(connect_proxy.connects) == 1


@needs_cryptography
def test_no_proxy_sends_its_hosts_around_the_proxy(key, tls_issuer, connect_proxy, proxy_environment):
    https_server, trusting = tls_issuer("127.0.0.1")
    proxy_environment(https_proxy=connect_proxy.url(), no_proxy="localhost,127.0.0.1")
    direct = https_server.url.replace("http://", "https://")
    assert zjwt.fetch_json(direct, ssl_context=trusting) == {"keys": [jwk(key)]}
    assert connect_proxy.connects == [], "NO_PROXY named the host"


@needs_cryptography
@pytest.mark.parametrize(
    "mode, userinfo, reason",
    [
        ("ok", "alice:wrong@", "407 'Proxy Authentication Required': check the user and password in the proxy URL"),
        ("ok", "", "407 'Proxy Authentication Required'"),
        ("502", "alice:s3cret%3Awith%20colon@", "502 'Bad Gateway'"),
    ],
)
def test_a_proxy_that_refuses_the_tunnel_is_a_fetch_failure_that_says_so(
    key, tls_issuer, connect_proxy, proxy_environment, caplog, mode, userinfo, reason
):
    https_server, trusting = tls_issuer("issuer.test")
    connect_proxy.mode = mode
    proxy_environment(HTTPS_PROXY=connect_proxy.url(userinfo))
    source = zjwt.RemoteKeySet(issuer_test_url(https_server), ssl_context=trusting)
    with caplog.at_level(logging.WARNING, logger="zjwt"), pytest.raises(zjwt.KeySetUnavailable) as raised:
        zjwt.Verifier(ISSUER, key_source=source, clock=Clock()).verify(make_token(key))
    port = connect_proxy.listener.getsockname()[1]
    assert f"the proxy 127.0.0.1:{port} refused a tunnel to issuer.test:" in source.last_error
    assert reason in source.last_error and raised.value.status == 503
    for text in (source.last_error, caplog.text, str(raised.value)):
        assert "wrong" not in text and "s3cret" not in text and "alice" not in text, "credentials are never shown"


@pytest.mark.parametrize("proxy", ["dead", pytest.param("blackhole", marks=slow), pytest.param("slow", marks=slow)])
def test_a_dead_or_slow_proxy_gives_503_within_the_deadline(key, proxy_environment, blackhole, proxy):
    slow = ConnectProxy()
    slow.delay = 3
    address = {
        "dead": f"127.0.0.1:{unused_port()}",
        "blackhole": f"{blackhole[0]}:{blackhole[1]}",
        "slow": slow.url()[7:],
    }[proxy]
    proxy_environment(HTTPS_PROXY=f"http://{address}")
    source = zjwt.RemoteKeySet("https://issuer.test/.well-known/jwks.json", timeout_seconds=1.0)
    try:
        error, seconds = timed(zjwt.Verifier(ISSUER, key_source=source, clock=Clock()).verify, make_token(key))
    finally:
        slow.stop()
    assert isinstance(error, zjwt.KeySetUnavailable) and error.status == 503
    assert seconds < (0.5 if proxy == "dead" else 1.5), f"{proxy}: {seconds:.2f} s"
    expected = "could not connect to the proxy 127.0.0.1" if proxy == "dead" else f"through the proxy {address}"
    assert expected in source.last_error


def test_a_development_issuer_over_http_needs_the_opt_in_which_warns_once(key, jwks_server, monkeypatch, caplog):
    port = jwks_server.httpd.server_address[1]
    addresses_for(monkeypatch, "keycloak", ("127.0.0.1", port))  # the usual docker-compose name
    issuer, certs = f"http://keycloak:{port}/realms/demo", f"http://keycloak:{port}/realms/demo/certs"
    jwks_server.routes["/realms/demo/.well-known/openid-configuration"] = (200, {"issuer": issuer, "jwks_uri": certs})
    with pytest.raises(ValueError) as refused:
        zjwt.Verifier(issuer)
    assert "use https://, or for a development issuer opt in with allow_http=True" in str(refused.value)
    assert refused.value.__suppress_context__ is False and refused.value.__cause__ is None  # nothing hidden
    with caplog.at_level(logging.WARNING, logger="zjwt"):
        verifier = zjwt.Verifier(issuer, allow_http=True, clock=Clock())
        assert verifier.verify(make_token(key, claims(iss=issuer)))["iss"] == issuer
        verifier.key_source.reload()
    assert verifier.key_source.jwks_uri == certs and jwks_server.paths[-1] == "/realms/demo/certs"
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "anyone on the network path can replace them" in warnings[0]


def test_state_is_observable_and_reload_fetches_now(key, jwks_server):
    _, source, clock = remote_verifier(jwks_server)
    assert (source.age, source.fresh, source.fetching, source.fetch_count, source.failure_count) == (
        None,
        False,
        False,
        0,
        0,
    )
    source.key_set()
    assert (source.age, source.fresh, source.fetch_count, source.attempted_at) == (0, True, 1, NOW)
    clock.advance(5)
    assert source.reload().kids == {"k1"} and source.fetch_count == 2 and source.age == 0
    jwks_server.behaviour = "status"
    with pytest.raises(zjwt.KeySetUnavailable, match="HTTP 500"):
        source.reload()
    assert source.failure_count == 1 and source.key_set().kids == {"k1"}, "the old keys stay"


def test_item4_the_key_source_runs_on_monotonic_time_not_the_verifiers_wall_clock(key, jwks_server):
    verifier = zjwt.Verifier(ISSUER, jwks_uri=jwks_server.url, clock=Clock())  # the wall clock says 2027
    assert verifier.key_source.clock is time.monotonic and zjwt.Verifier(ISSUER).key_source.clock is time.monotonic
    assert verifier.verify(lasting_token(key))["sub"] == "user-1"
    assert 0 <= verifier.key_source.age < 5, "the cache ages in monotonic seconds, whatever the wall clock says"


def test_verifiers_can_share_one_key_source(key, jwks_server):
    source = zjwt.RemoteKeySet(jwks_server.url, clock=Clock())
    first = zjwt.Verifier(ISSUER, key_source=source, clock=Clock())
    second = zjwt.Verifier(ISSUER, key_source=source, audience="orders", clock=Clock())
    first.verify(lasting_token(key))
    second.verify(make_token(key, claims(aud="orders")))
    assert jwks_server.requests == 1


def test_i3_key_rotated_out_rejects_its_tokens_after_the_next_refresh(key, other_key, jwks_server):
    verifier, _, clock = remote_verifier(jwks_server)
    old = lasting_token(key)
    verifier.verify(old)  # now in the verified-token cache too
    jwks_server.document = {"keys": [jwk(other_key, "k2")]}
    clock.advance(601)
    assert verifier.verify(old)["sub"] == "user-1", "stale keys serve until the refresh brings the new set"
    settle(verifier.key_source)
    with pytest.raises(zjwt.UnknownKey, match="no key with id 'k1'"):
        verifier.verify(old)
    assert verifier.verify(lasting_token(other_key, "k2"))["sub"] == "user-1"


def test_stale_keys_serve_the_call_that_starts_their_refresh_even_when_it_finishes_first(key, other_key, jwks_server):
    """Found by CI on a busy machine: the refresh thread fetched before the call that started it returned."""
    verifier, source, clock = remote_verifier(jwks_server)
    verifier.verify(lasting_token(key))
    jwks_server.document = {"keys": [jwk(other_key, "k2")]}
    clock.advance(601)
    source._refresh_in_background = source._fetch  # the slowest case for the caller: the refresh is over at once
    assert verifier.verify(lasting_token(key))["sub"] == "user-1", "the stale keys this call decided on"
    assert jwks_server.requests == 2 and source.key_set("k2").kids == {"k2"}


CACHE_HEADERS = [  # (the JWKS response's headers, how long its keys stay fresh: zjwt's floor is 60 s, its ceiling 3600)
    ({"Cache-Control": "max-age=120"}, 120),
    ({"Cache-Control": "public, max-age=900, must-revalidate", "Age": "300"}, 600),  # RFC 9111 4.2.3
    ({"Cache-Control": "max-age=0"}, 60),
    ({"Cache-Control": "no-store"}, 60),
    ({"Cache-Control": "no-cache"}, 60),
    ({"Cache-Control": "max-age=31536000"}, 3600),
    ({"Cache-Control": "max-age=" + "9" * 40}, 3600),
    ({"Cache-Control": "max-age=soon"}, 60),  # RFC 9111 4.2.1: an invalid max-age is stale
    ({"Expires": "Wed, 02 Dec 2026 10:05:00 GMT", "Date": "Wed, 02 Dec 2026 10:00:00 GMT"}, 300),
    ({"Expires": "0"}, 60),  # RFC 9111 5.3: an invalid Expires is in the past
    ({}, 600),  # the issuer says nothing: ten minutes, as the seed did
]


@pytest.mark.parametrize("headers, lifetime", CACHE_HEADERS, ids=[str(h) for h, _ in CACHE_HEADERS])
def test_i4_the_issuers_cache_rules_decide_freshness_within_a_floor_and_a_ceiling(key, jwks_server, headers, lifetime):
    jwks_server.response_headers = headers
    verifier, source, clock = remote_verifier(jwks_server)
    verifier.verify(lasting_token(key))
    assert source.status()["next_refresh_in"] == lifetime
    clock.advance(lifetime - 1)
    verifier.verify(lasting_token(key))
    assert jwks_server.requests == 1 and source.fresh
    clock.advance(2)
    verifier.verify(lasting_token(key))
    settle(source)
    assert jwks_server.requests == 2 and source.fresh and source.age == 0


def parse_counter(monkeypatch) -> list:
    """Count the JWKS documents zjwt parses (a spy on parse_key_set: the real function still runs)."""
    parsed = []
    real = zjwt.parse_key_set

    def spy(*args, **kwargs):
        parsed.append(args[1] if len(args) > 1 else kwargs.get("source"))
        return real(*args, **kwargs)

    monkeypatch.setattr(zjwt, "parse_key_set", spy)
    return parsed


@pytest.mark.parametrize("validator", ["etag", "last_modified"])
def test_a_304_renews_the_keys_without_downloading_or_parsing_them(key, other_key, jwks_server, monkeypatch, validator):
    parsed = parse_counter(monkeypatch)
    setattr(jwks_server, validator, '"v1"' if validator == "etag" else "Wed, 02 Dec 2026 09:00:00 GMT")
    verifier, source, clock = remote_verifier(jwks_server)
    verifier.verify(lasting_token(key))
    clock.advance(601)
    verifier.verify(lasting_token(key))
    settle(source)
    sent = jwks_server.request_headers[1]
    assert sent.get("If-None-Match" if validator == "etag" else "If-Modified-Since") == getattr(jwks_server, validator)
    assert len(parsed) == 1 and source.revalidation_count == 1 and source.age == 0 and source.fresh
    assert source.status()["revalidations"] == 1 and source.failure_count == 0
    jwks_server.document = {"keys": [jwk(key), jwk(other_key, "k2")]}  # the issuer rotates: a new validator
    setattr(jwks_server, validator, '"v2"' if validator == "etag" else "Wed, 02 Dec 2026 10:00:00 GMT")
    clock.advance(601)
    verifier.verify(lasting_token(key))
    settle(source)
    assert len(parsed) == 2 and source.revalidation_count == 1 and source.key_set().kids == {"k1", "k2"}


def test_an_unknown_kid_revalidates_too_and_a_304_leaves_it_unknown(key, jwks_server, monkeypatch):
    parsed = parse_counter(monkeypatch)
    jwks_server.etag = '"same"'
    verifier, source, clock = remote_verifier(jwks_server)
    verifier.verify(lasting_token(key))
    clock.advance(31)  # past the cooldown
    with pytest.raises(zjwt.UnknownKey, match="no key with id 'k9'"):
        verifier.verify(lasting_token(key, "k9"))
    assert jwks_server.requests == 2 and jwks_server.request_headers[1]["If-None-Match"] == '"same"'
    assert len(parsed) == 1 and source.revalidation_count == 1


def test_status_says_cold_fresh_stale_and_unavailable(key, jwks_server):
    verifier, source, clock = remote_verifier(jwks_server)
    assert source.status() == {
        "state": "cold", "age": None, "next_refresh_in": 0.0, "jwks_uri": jwks_server.url,
        "jwks_uri_from": "configured", "usable_keys": 0, "total_keys": 0, "fetches": 0, "failures": 0,
        "revalidations": 0, "last_error": None,
    }  # fmt: skip
    verifier.verify(lasting_token(key))
    verifier.verify(lasting_token(key))
    status = verifier.status()
    assert (status["state"], status["usable_keys"], status["next_refresh_in"]) == ("fresh", 1, 600)
    assert status["issuer"] == ISSUER and status["verified_cache"] == {"hits": 1, "misses": 1, "size": 1}
    jwks_server.behaviour = "status"
    clock.advance(601)
    assert source.status()["state"] == "stale"
    verifier.verify(lasting_token(key))
    settle(source)
    failed = source.status()
    assert failed["state"] == "stale" and failed["failures"] == 1 and "HTTP 500" in failed["last_error"]
    assert failed["next_refresh_in"] == 30, "the cooldown"
    clock.advance(zjwt.MAX_STALE_SECONDS)
    assert source.status()["state"] == "unavailable"
    assert zjwt.Verifier(ISSUER, jwks={"keys": [jwk(key)]}).status()["state"] == "fresh"


def test_on_event_hears_each_fetch_and_never_runs_under_the_lock(key, jwks_server, caplog):
    events, held = [], []

    def hook(name, fields):
        events.append((name, fields))
        probe = threading.Thread(
            target=lambda: held.append(not source._changed.acquire(timeout=1) or source._changed.release())
        )
        probe.start()
        probe.join()
        if name == "unknown_kid":
            raise RuntimeError("a broken metrics hook")

    jwks_server.document = {"keys": [jwk(key), jwk(key, "enc", use="enc")]}
    jwks_server.etag = '"v1"'
    clock = Clock()
    source = zjwt.RemoteKeySet(jwks_server.url, clock=clock, on_event=hook)
    verifier = zjwt.Verifier(ISSUER, key_source=source, clock=clock)
    verifier.verify(lasting_token(key))
    clock.advance(601)
    verifier.verify(lasting_token(key))  # stale: served, and revalidated in the background
    settle(source)
    clock.advance(31)
    with caplog.at_level(logging.ERROR, logger="zjwt"), pytest.raises(zjwt.UnknownKey):
        verifier.verify(lasting_token(key, "k9"))  # the hook raises: logged, and verification goes on
    jwks_server.behaviour = "status"
    clock.advance(601)
    source.key_set()
    settle(source)
    names = [name for name, _ in events]
    assert names[:3] == ["fetch_started", "key_skipped", "fetch_succeeded"]
    assert events[1][1] == {"kid": "enc", "reason": "use 'enc' is not 'sig'"}
    assert events[2][1]["usable_keys"] == 1 and events[2][1]["fresh_for"] == 600
    assert "stale_keys_served" in names and "revalidated" in names and "unknown_kid" in names
    failed = [fields for name, fields in events if name == "fetch_failed"]
    assert len(failed) == 1 and "HTTP 500" in failed[0]["reason"] and failed[0]["seconds"] < 1
    assert held and not any(held), "on_event was called while the key source's lock was held"
    assert "on_event raised on unknown_kid" in caplog.text


def test_i5_messages_and_logs_never_echo_the_token_claims_or_private_keys(key, caplog):
    verifier = make_verifier(key, audience="orders")
    token = make_token(key, claims(aud="payments", email="secret@example.com"))
    with pytest.raises(zjwt.InvalidAudience) as raised:
        verifier.verify(token)
    for text in (raised.value.message, raised.value.www_authenticate(), zjwt.error_response(raised.value)[2].decode()):
        assert token.split(".")[1] not in text and token.split(".")[2] not in text and "secret@example.com" not in text
    long_kid = "x" * 200
    with pytest.raises(zjwt.UnknownKey) as raised:
        verifier.verify(make_token(key, kid=long_kid))
    assert long_kid not in raised.value.message and "x'..." in raised.value.message
    with caplog.at_level(logging.DEBUG, logger="zjwt"):
        zjwt.parse_key_set({"keys": [jwk(key), jwk(key, "p", d="PRIVATE-D", qi="PRIVATE-QI")]})
    assert "PRIVATE" not in caplog.text


# Hardening, third pass (issue 15), items 1 and 3: a key source that cannot get stuck, and what it tells whom.


def refuse_to_start(thread: threading.Thread) -> None:
    raise RuntimeError("can't start new thread")  # as under a container's pids limit


def test_hardening_1_a_refresh_thread_that_cannot_start_leaves_no_fetch_in_flight(key, jwks_server, monkeypatch):
    verifier, source, clock = remote_verifier(jwks_server)
    verifier.verify(lasting_token(key))
    clock.advance(601)  # stale: the next request starts a background refresh
    with monkeypatch.context() as patched:
        patched.setattr(threading.Thread, "start", refuse_to_start)
        assert verifier.verify(make_token(key, claims(exp=NOW + 86400, jti="1")))["jti"] == "1", "keys, not an error"
        assert not source.fetching and source.failure_count == 1
        assert source.last_error == "RuntimeError: can't start new thread"
        clock.advance(31)  # past the cooldown: tried again, failed again, and again no fetch is left in flight
        verifier.verify(make_token(key, claims(exp=NOW + 86400, jti="2")))
        assert not source.fetching and source.failure_count == 2
        with pytest.raises(zjwt.KeySetUnavailable, match="can't start new thread"):  # the fetch's own deadline
            source.reload()  # needs a watchdog thread too: an AuthError, not a RuntimeError
        clock.advance(zjwt.MAX_STALE_SECONDS)  # too old to serve
        with pytest.raises(zjwt.KeySetUnavailable):
            verifier.verify(make_token(key, claims(exp=NOW + 3 * 86400, jti="3")))
        assert not source.fetching
    clock.advance(31)  # threads start again: so does everything else, with no restart
    assert verifier.verify(make_token(key, claims(exp=NOW + 3 * 86400, jti="4")))["jti"] == "4"
    assert source.age == 0 and source.reload().kids == {"k1"}


def test_hardening_1_verify_async_that_cannot_start_a_thread_gets_503_not_runtime_error(key, jwks_server, monkeypatch):
    verifier, source, _ = remote_verifier(jwks_server)  # cold: the keys must be fetched in a worker thread

    async def cold_call():
        with monkeypatch.context() as patched:  # undone before asyncio.run needs a thread to shut down
            patched.setattr(threading.Thread, "start", refuse_to_start)
            return await verifier.verify_async(lasting_token(key))

    with pytest.raises(zjwt.KeySetUnavailable) as raised:
        asyncio.run(cold_call())
    assert raised.value.status == 503 and "can't start new thread" in str(raised.value)
    assert "thread" not in raised.value.message and not source.fetching
    assert asyncio.run(verifier.verify_async(lasting_token(key)))["sub"] == "user-1"


@pytest.fixture
def raw_http_server():
    """Yield a function that starts a server on 127.0.0.1 answering every request with the given bytes; its URL."""
    listeners = []

    def start(answer: bytes) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def serve():
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = listener.accept()
                    with conn:
                        conn.settimeout(5)
                        data = b""
                        while b"\r\n\r\n" not in data and (chunk := conn.recv(4096)):
                            data += chunk
                        conn.sendall(answer)

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/jwks.json"

    yield start
    for listener in listeners:
        listener.close()


def test_hardening_3_control_text_in_a_key_servers_status_line_is_escaped_everywhere(raw_http_server, caplog):
    url = raw_http_server(b"HTTP/1.1 2OO \r2026-12-02 INFO all is well\x1b[2K\r\n\r\n")
    source = zjwt.RemoteKeySet(url)
    with caplog.at_level(logging.WARNING, logger="zjwt"), pytest.raises(zjwt.KeySetUnavailable) as raised:
        source.key_set()
    for text in (caplog.text, source.last_error, str(raised.value)):
        assert "\x1b" not in text and "\r" not in text and "\\x1b[2K" in text, text
    assert raised.value.message == "the issuer's signing keys are unavailable; retry in 30 s"


def test_hardening_3_a_503_tells_the_client_when_to_retry_and_the_operator_why(key, caplog):
    port = unused_port()
    source = zjwt.RemoteKeySet(f"http://localhost:{port}/jwks.json")
    with caplog.at_level(logging.WARNING, logger="zjwt"), pytest.raises(zjwt.KeySetUnavailable) as raised:
        zjwt.Verifier(ISSUER, key_source=source, clock=Clock()).verify(lasting_token(key))
    status, headers, body = zjwt.error_response(raised.value)
    sent = body.decode() + json.dumps(headers)
    assert status == 503 and dict(headers)["Retry-After"] == "30"
    assert json.loads(body)["message"] == "the issuer's signing keys are unavailable; retry in 30 s"
    for internal in ("localhost", "127.0.0.1", str(port), "Errno", "refused"):
        assert internal not in sent, f"{internal!r} reached the client"
    for where in (source.last_error, str(raised.value), caplog.text):  # the operator's full reason
        assert "could not connect to localhost" in where and "Connection refused" in where


# ---------------------------------------------------------------------------
# Finding the keys: OpenID Connect Discovery, against issuers laid out like real ones.
# ---------------------------------------------------------------------------


def lay_out_issuer(jwks_server: JwksServer, issuer_path: str, jwks_path: str, discovery: bool = True) -> str:
    """Make jwks_server an issuer at issuer_path whose keys are at jwks_path; return the issuer.

    Every path the server has no route for answers the JWKS, so jwks_server.paths
    shows which URLs zjwt really asked for.
    """
    issuer = jwks_server.base + issuer_path
    document = {"issuer": issuer, "jwks_uri": jwks_server.base + jwks_path, "response_types_supported": ["code"]}
    jwks_server.routes[discovery_path(issuer_path)] = (200, document) if discovery else (404, {"error": "not found"})
    return issuer


def discovery_path(issuer_path: str) -> str:
    return issuer_path.rstrip("/") + "/.well-known/openid-configuration"


def entra_jwk(key: dict, kid: str, tenant: str) -> dict:
    """Return a JWK as Microsoft Entra publishes it: x5c, x5t and issuer members, and no alg."""
    return {
        **jwk(key, kid, use="sig", x5t=kid),
        "x5c": ["MIIC8TCCAdmgAwIBAgIQbzpx"],
        "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
    }


ISSUER_LAYOUTS = {  # issuer path, JWKS path: where each issuer really keeps them
    "Keycloak": ("/realms/acme", "/realms/acme/protocol/openid-connect/certs"),
    "GitHub Actions": ("", "/.well-known/jwks"),
    "Google": ("", "/oauth2/v3/certs"),
    "Okta": ("/oauth2/default", "/oauth2/default/v1/keys"),
    "Auth0 (issuer ends in /)": ("/", "/.well-known/jwks.json"),
    "Entra": (
        "/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
        "/9188040d-6c67-4c5b-b112-36a304b66dad/discovery/v2.0/keys",
    ),
    "GitLab": ("", "/oauth/discovery/keys"),
    "Amazon Cognito": ("/us-east-1_AbCdEf123", "/us-east-1_AbCdEf123/.well-known/jwks.json"),
}


@pytest.mark.parametrize("layout", list(ISSUER_LAYOUTS))
def test_the_verifier_finds_the_keys_of_real_issuer_layouts_by_discovery(key, jwks_server, layout):
    issuer_path, jwks_path = ISSUER_LAYOUTS[layout]
    issuer = lay_out_issuer(jwks_server, issuer_path, jwks_path)
    if layout == "Entra":
        jwks_server.document = {"keys": [entra_jwk(key, "k1", "9188040d")]}
    verifier = zjwt.Verifier(issuer, clock=Clock())
    assert verifier.verify(make_token(key, claims(iss=issuer)))["iss"] == issuer
    assert jwks_server.paths == [discovery_path(issuer_path), jwks_path]
    source = verifier.key_source
    assert source.jwks_uri == jwks_server.base + jwks_path
    assert source.jwks_uri_from == f"the discovery document {jwks_server.base}{discovery_path(issuer_path)}"


def test_an_issuer_without_a_discovery_document_gets_the_conventional_jwks_path(key, jwks_server):
    issuer = lay_out_issuer(jwks_server, "/__zuplo/issuer", "", discovery=False)  # Zuplo: a JWKS, no discovery
    verifier = zjwt.Verifier(issuer, clock=Clock())
    assert verifier.verify(make_token(key, claims(iss=issuer)))["iss"] == issuer
    assert jwks_server.paths == [
        "/__zuplo/issuer/.well-known/openid-configuration",
        "/__zuplo/issuer/.well-known/jwks.json",
    ]
    assert verifier.key_source.jwks_uri_from.endswith(
        f"answered 404, so the conventional {issuer}/.well-known/jwks.json"
    )


def discovering_verifier(jwks_server: JwksServer, **options) -> tuple[zjwt.Verifier, zjwt.RemoteKeySet, Clock, str]:
    """Return a verifier of a Keycloak-like issuer on jwks_server that finds its keys by discovery, at a test clock."""
    issuer = lay_out_issuer(jwks_server, *ISSUER_LAYOUTS["Keycloak"])
    clock = Clock()
    source = zjwt.RemoteKeySet(issuer=issuer, clock=clock, **options)
    return zjwt.Verifier(issuer, key_source=source, clock=clock), source, clock, issuer


def test_discovery_happens_once_a_day_and_a_refresh_is_one_request(key, jwks_server):
    verifier, source, clock, issuer = discovering_verifier(jwks_server)
    token = make_token(key, claims(iss=issuer, exp=NOW + 3 * 86400))
    verifier.verify(token)
    for _ in range(3):  # three refresh periods: the JWKS only
        clock.advance(601)
        verifier.verify(token)
        settle(source)
    jwks = "/realms/acme/protocol/openid-connect/certs"
    assert jwks_server.paths == ["/realms/acme/.well-known/openid-configuration"] + [jwks] * 4
    clock.advance(86400)  # a day after the discovery: ask the issuer again
    verifier.verify(token)
    settle(source)
    assert jwks_server.paths[-2:] == ["/realms/acme/.well-known/openid-configuration", jwks]


def test_a_jwks_url_that_stops_answering_is_rediscovered(key, jwks_server):
    verifier, source, clock, issuer = discovering_verifier(jwks_server)
    token = make_token(key, claims(iss=issuer, exp=NOW + 86400))
    verifier.verify(token)
    old, new = jwks_server.base + "/realms/acme/protocol/openid-connect/certs", jwks_server.base + "/keys/v2"
    jwks_server.routes["/realms/acme/protocol/openid-connect/certs"] = (404, {"error": "moved"})
    jwks_server.routes["/realms/acme/.well-known/openid-configuration"] = (200, {"issuer": issuer, "jwks_uri": new})
    clock.advance(601)
    verifier.verify(token)  # stale keys serve while the refresh fails
    settle(source)
    assert "HTTP 404" in source.last_error and source.jwks_uri == old
    clock.advance(31)
    verifier.verify(token)
    settle(source)
    assert (
        source.jwks_uri == new
        and source.fresh
        and jwks_server.paths[-2:]
        == [
            "/realms/acme/.well-known/openid-configuration",
            "/keys/v2",
        ]
    )


@pytest.mark.parametrize(
    "named", ["{issuer}/", "{upper}", "{base}/realms/other", "{base}/realms/acme ", None, 42], ids=repr
)
def test_k1_a_discovery_document_for_another_issuer_is_refused(key, jwks_server, named):
    verifier, source, _, issuer = discovering_verifier(jwks_server)
    wrong = named and str(named).format(issuer=issuer, upper=issuer.upper(), base=jwks_server.base)
    document = {"jwks_uri": jwks_server.url, **({"issuer": wrong} if named is not None else {})}
    jwks_server.routes["/realms/acme/.well-known/openid-configuration"] = (200, document)
    with pytest.raises(zjwt.KeySetUnavailable, match="is for issuer .*, not '" + re.escape(issuer)) as raised:
        verifier.verify(make_token(key, claims(iss=issuer)))
    assert raised.value.status == 503 and jwks_server.paths == ["/realms/acme/.well-known/openid-configuration"]
    assert source.jwks_uri is None, "no keys from it"


@pytest.mark.parametrize(
    "jwks_uri", ["http://issuer.example/certs", "http://10.0.0.1/certs", "/relative/certs", "file:///etc/passwd", 7]
)
def test_k2_a_discovered_jwks_uri_must_be_https_or_loopback(key, jwks_server, jwks_uri):
    verifier, _, _, issuer = discovering_verifier(jwks_server)
    jwks_server.routes["/realms/acme/.well-known/openid-configuration"] = (
        200,
        {"issuer": issuer, "jwks_uri": jwks_uri},
    )
    with pytest.raises(zjwt.KeySetUnavailable, match="jwks_uri"):
        verifier.verify(make_token(key, claims(iss=issuer)))
    assert len(jwks_server.paths) == 1


def test_k3_a_redirected_discovery_document_is_not_followed(key, jwks_server, counting_server):
    jwks_server.behaviour, jwks_server.redirect_to = (
        "redirect",
        counting_server.base + "/.well-known/openid-configuration",
    )
    source = zjwt.RemoteKeySet(issuer=jwks_server.base + "/realms/acme", clock=Clock())
    with pytest.raises(zjwt.KeySetUnavailable, match="HTTP 302 'Found' \\(redirects are not followed\\)"):
        source.key_set()
    assert counting_server.requests == 0


@pytest.mark.parametrize("behaviour", ["huge", pytest.param("drip", marks=slow), "not json", "no jwks_uri"])
def test_k4_a_broken_discovery_document_fails_within_the_deadline_and_old_keys_keep_serving(
    key, jwks_server, behaviour, caplog
):
    verifier, source, clock, issuer = discovering_verifier(jwks_server, timeout_seconds=1.0)
    token = make_token(key, claims(iss=issuer, exp=NOW + 3 * 86400))
    verifier.verify(token)
    clock.advance(86400 - 300)  # a refresh of the JWKS alone, 5 minutes before discovery is due again
    verifier.verify(token)
    settle(source)
    discovery, certs = "/realms/acme/.well-known/openid-configuration", "/realms/acme/protocol/openid-connect/certs"
    jwks_server.routes[certs] = (200, jwks_server.document)  # the keys answer throughout
    if behaviour == "no jwks_uri":
        jwks_server.routes[discovery] = (200, {"issuer": issuer})
    else:  # the discovery path now gets the server's behaviour: a 20 MB body and more, a drip, or text
        del jwks_server.routes[discovery]
        jwks_server.behaviour, jwks_server.body = {"not json": ("raw", b"<html>")}.get(behaviour, (behaviour, b""))
    clock.advance(601)  # the day is over: discovery is due with the next refresh
    with caplog.at_level(logging.WARNING, logger="zjwt"):
        result, seconds = timed(verifier.verify, token)
        assert result["iss"] == issuer and seconds < 0.1
        _, seconds = timed(settle, source)
    expected = {"huge": "larger than the 1048576-byte limit", "drip": "TimeoutError", "not json": "JSONDecodeError"}
    assert seconds < 1.3 and expected.get(behaviour, "has no 'jwks_uri'") in caplog.text
    # Discovery had half the deadline; the remembered JWKS URL still answered, so the refresh succeeded.
    assert jwks_server.paths.count(certs) == 3 and source.failure_count == 0
    assert source.age == 0 and verifier.verify(token)["iss"] == issuer


def test_k5_a_token_naming_another_issuer_makes_zjwt_fetch_nothing_from_it(key, jwks_server, counting_server):
    verifier, _, _, _ = discovering_verifier(jwks_server)
    foreign = make_token(key, claims(iss=counting_server.base, jku=counting_server.url))
    with pytest.raises(zjwt.InvalidIssuer):
        verifier.verify(foreign)
    assert counting_server.requests == 0


def test_k6_a_flood_of_unknown_kids_makes_one_discovery_and_one_jwks_fetch_per_cooldown(key, jwks_server):
    verifier, source, clock, _ = discovering_verifier(jwks_server)
    tokens = [unsigned_token(secrets.token_hex(8)) for _ in range(300)]  # refused before any signature

    def flood(batch):
        for token in batch:
            with contextlib.suppress(zjwt.UnknownKey):
                verifier.verify(token)

    threads = [threading.Thread(target=flood, args=(tokens[i::10],)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert jwks_server.paths == [
        "/realms/acme/.well-known/openid-configuration",
        "/realms/acme/protocol/openid-connect/certs",
    ]
    clock.advance(31)
    flood(tokens)
    assert len(jwks_server.paths) == 3 and source.fetch_count == 2


def test_hardening_2_a_discovery_outage_does_not_block_key_refreshes(key, jwks_server):
    verifier, source, clock, issuer = discovering_verifier(jwks_server)
    discovery, certs = "/realms/acme/.well-known/openid-configuration", "/realms/acme/protocol/openid-connect/certs"
    jwks_server.routes[certs] = (200, jwks_server.document)  # the keys answer throughout
    token = make_token(key, claims(iss=issuer, exp=NOW + 4 * 86400))
    verifier.verify(token)  # hour 0: discovery, then the keys
    timeline = []
    for hour in range(1, 73):  # three days, a request every hour: each finds stale keys and refreshes them
        if hour == 23:
            jwks_server.routes[discovery] = (500, {"error": "discovery is down"})
        if hour == 60:
            jwks_server.routes[discovery] = (200, {"issuer": issuer, "jwks_uri": jwks_server.base + certs})
        clock.advance(3600)
        result = timed(verifier.verify, token)[0]
        settle(source)
        timeline.append((hour, isinstance(result, dict), source.age, jwks_server.paths.count(discovery)))
    assert all(ok for _, ok, _, _ in timeline), [row for row in timeline if not row[1]][:1]
    assert all(age == 0 for _, _, age, _ in timeline), "every hourly refresh succeeded"
    discoveries = {hour: count for hour, _, _, count in timeline}
    assert discoveries[23] == 1 and discoveries[24] == 2, "discovery was due after a day, and failed"
    assert discoveries[59] == 2 + 35, "then it was tried with every refresh (hours 25-59), until it answered"
    assert discoveries[60] == discoveries[72] == 38, "once it answered, it was not asked again for a day"
    assert jwks_server.paths.count(certs) == 73 and source.failure_count == 0


def test_the_demo_with_a_real_issuer_needs_only_its_issuer_and_audience(key, jwks_server):
    issuer = lay_out_issuer(jwks_server, *ISSUER_LAYOUTS["Google"])
    command = [sys.executable, "server.py", "--issuer", issuer, "--audience", "orders", "--port", "0", "--quiet"]
    process = subprocess.Popen(command, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        assert lines[0] == f"Verifying tokens from {issuer}\n"
        assert lines[1] == f"  1 of 1 keys usable, from {jwks_server.base}/oauth2/v3/certs\n"
        assert lines[2] == f"  found by: the discovery document {issuer}/.well-known/openid-configuration\n"
        base = re.search(r"Serving on (http://\S+):", lines[3]).group(1)
        token = real_time_token(key, iss=issuer, aud="orders")
        assert call(base, "GET", "/protected", bearer(token))[2]["user"]["aud"] == "orders"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_keys_command_says_where_the_keys_are_and_why_each_is_usable_or_not(key, jwks_server, capsys):
    issuer = lay_out_issuer(jwks_server, *ISSUER_LAYOUTS["Entra"])
    small = server.generate_rsa_key(1024)
    jwks_server.document = {
        "keys": [entra_jwk(key, "good", "t"), jwk(small, "old", alg="RS256"), jwk(key, "enc", use="enc")]
    }
    assert zjwt.main(["keys", "--issuer", issuer]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        f"keys from {jwks_server.base}/9188040d-6c67-4c5b-b112-36a304b66dad/discovery/v2.0/keys",
        f"  found by: the discovery document {issuer}/.well-known/openid-configuration",
        "3 keys, 1 usable",
    ]
    assert lines[3:] == [
        "  kid 'good': RSA (no alg) 2048 bits: usable",
        "  kid 'old': RSA RS256: skipped, 1024-bit modulus is below the 2048-bit minimum (RFC 7518 3.3)",
        "  kid 'enc': RSA (no alg): skipped, use 'enc' is not 'sig'",
    ]


def test_keys_command_exits_1_without_a_usable_key_and_2_on_bad_input(key, tmp_path, capsys):
    only_skipped = tmp_path / "jwks.json"
    only_skipped.write_text(json.dumps({"keys": [jwk(key, "enc", use="enc")]}))

    def run(*args):
        return subprocess.run([sys.executable, "zjwt.py", *args], cwd=HERE, capture_output=True, text=True, timeout=60)

    result = run("keys", "--jwks-file", str(only_skipped))
    assert result.returncode == 1 and result.stdout.endswith(
        "  kid 'enc': RSA (no alg): skipped, use 'enc' is not 'sig'\n"
    )
    assert "1 key, 0 usable" in result.stdout and result.stderr == ""
    down = run("keys", "--jwks-uri", f"http://127.0.0.1:{unused_port()}/jwks")
    assert down.returncode == 1 and down.stderr.startswith("keys unavailable: ") and down.stderr.count("\n") == 1
    assert run("keys", "--issuer", "http://issuer.example").returncode == 2
    assert run("keys").returncode == 2


# ---------------------------------------------------------------------------
# Verified-token cache: a hit skips the signature, and only the signature.
# ---------------------------------------------------------------------------


@pytest.fixture
def signature_checks(monkeypatch) -> list:
    """Record each call of zjwt.verify_signature (a spy: the real function still runs)."""
    calls = []
    real = zjwt.verify_signature

    def spy(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(zjwt, "verify_signature", spy)
    return calls


def test_a_repeated_token_is_verified_once_and_returns_independent_dicts(key, signature_checks):
    verifier = make_verifier(key)
    token = make_token(key, claims(roles={"admin": ["read", "write"]}))
    first = verifier.verify(token)
    first["roles"]["admin"].append("delete")
    first["sub"] = "mallory"
    second = verifier.verify(token)
    third = verifier.verify(token)
    assert len(signature_checks) == 1
    assert second == claims(roles={"admin": ["read", "write"]}) and second is not third
    assert second["roles"] is not third["roles"] and second["roles"]["admin"] is not third["roles"]["admin"]


def test_a_cache_hit_still_checks_expiry_and_forgets_expired_tokens(key, signature_checks):
    clock = Clock()
    verifier = make_verifier(key, clock=clock)
    token = make_token(key, claims(exp=NOW + 60))
    verifier.verify(token)
    clock.advance(60)
    with pytest.raises(zjwt.ExpiredToken):
        verifier.verify(token)
    assert len(verifier._verified) == 0
    clock.now = NOW  # even with the clock back, the token is checked in full again
    verifier.verify(token)
    assert len(signature_checks) == 2


def test_a_cache_hit_checks_nbf_against_the_clock(key):
    clock = Clock(NOW + 100)
    verifier = make_verifier(key, clock=clock)
    token = make_token(key, claims(nbf=NOW + 50, iat=NOW))
    verifier.verify(token)
    clock.now = NOW
    with pytest.raises(zjwt.TokenNotYetValid):
        verifier.verify(token)


def test_a_cache_hit_consults_the_key_source_and_keeps_keys_unchanged_by_a_refresh(key, jwks_server, signature_checks):
    verifier, source, clock = remote_verifier(jwks_server)
    token = lasting_token(key)
    verifier.verify(token)
    clock.advance(601)
    verifier.verify(token)  # a hit: the lifetime refresh still happens, the key object survives it
    settle(source)
    verifier.verify(token)
    assert jwks_server.requests == 2 and len(signature_checks) == 1


def test_rejections_are_never_cached(key, signature_checks):
    verifier = make_verifier(key, audience="orders")
    token = make_token(key, claims(aud="payments"))
    for _ in range(3):
        with pytest.raises(zjwt.InvalidAudience):
            verifier.verify(token)
    assert len(signature_checks) == 3 and len(verifier._verified) == 0


def test_the_cache_is_a_bounded_lru(key):
    verifier = make_verifier(key, cache_size=10)
    tokens = [make_token(key, claims(jti=str(i))) for i in range(12)]
    for token in tokens[:10]:
        verifier.verify(token)
    verifier.verify(tokens[0])  # most recently used now
    for token in tokens[10:]:
        verifier.verify(token)
    assert len(verifier._verified) == 10
    assert (
        tokens[0] in verifier._verified and tokens[1] not in verifier._verified and tokens[2] not in verifier._verified
    )


def test_cache_size_zero_disables_the_cache(key, signature_checks):
    verifier = make_verifier(key, cache_size=0)
    token = make_token(key)
    verifier.verify(token)
    verifier.verify(token)
    assert len(signature_checks) == 2 and len(verifier._verified) == 0


# ---------------------------------------------------------------------------
# Integrations: error responses and the WSGI middleware, served by wsgiref.
# ---------------------------------------------------------------------------


def test_error_response_for_401_400_and_503():
    status, headers, body = zjwt.error_response(zjwt.ExpiredToken("token expired at X, 3 s ago"))
    assert status == 401 and json.loads(body) == {"error": "Unauthorized", "message": "token expired at X, 3 s ago"}
    assert dict(headers)["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert dict(headers)["Content-Length"] == str(len(body)) and dict(headers)["Content-Type"] == "application/json"
    status, headers, body = zjwt.error_response(zjwt.InvalidRequest("empty"), realm="shop")
    assert (
        status == 400
        and dict(headers)["WWW-Authenticate"]
        == 'Bearer realm="shop", error="invalid_request", error_description="empty"'
    )
    status, headers, body = zjwt.error_response(zjwt.KeySetUnavailable("keys unavailable", 17))
    assert status == 503 and dict(headers)["Retry-After"] == "17" and "WWW-Authenticate" not in dict(headers)
    assert json.loads(body)["error"] == "Service Unavailable"


class QuietWSGIHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def wsgi_app(key):
    """Serve a tiny WSGI app behind wsgi_middleware with wsgiref; yield a request function."""

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"path": environ["PATH_INFO"], "claims": environ.get("zjwt.claims")}).encode()]

    verifiers = {
        "/": make_verifier(key),
        "/down": zjwt.Verifier(ISSUER, jwks_uri=f"http://127.0.0.1:{unused_port()}/j"),
    }

    def choose(environ, start_response):
        verifier = verifiers["/down" if environ["PATH_INFO"].startswith("/down") else "/"]
        return zjwt.wsgi_middleware(app, verifier, public_paths=["/health"])(environ, start_response)

    httpd = wsgiref.simple_server.make_server("127.0.0.1", 0, choose, handler_class=QuietWSGIHandler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()

    def request(path, authorization=None):
        conn = http.client.HTTPConnection("127.0.0.1", httpd.server_address[1], timeout=10)
        conn.request("GET", path, headers={"Authorization": authorization} if authorization else {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())

    yield request
    httpd.shutdown()
    httpd.server_close()


def test_wsgi_middleware_lets_public_paths_through_and_puts_claims_in_environ(key, wsgi_app):
    status, _, body = wsgi_app("/health")
    assert status == 200 and body == {"path": "/health", "claims": None}
    status, _, body = wsgi_app("/orders", "Bearer " + make_token(key))
    assert status == 200 and body == {"path": "/orders", "claims": claims()}


def test_wsgi_middleware_answers_401_and_503_itself(key, wsgi_app):
    status, headers, body = wsgi_app("/orders")
    assert (
        status == 401
        and headers["WWW-Authenticate"] == 'Bearer realm="api", ' + DPOP_CHALLENGE
        and body["error"] == "Unauthorized"
    )
    status, headers, body = wsgi_app("/orders", "Bearer " + make_token(key, claims(exp=NOW - 5)))
    assert status == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"] and "expired" in body["message"]
    status, headers, body = wsgi_app("/down/orders", "Bearer " + make_token(key))
    assert status == 503 and headers["Retry-After"] == "30" and body["error"] == "Service Unavailable"


@contextlib.contextmanager
def served_by_wsgiref(app):
    """Serve a WSGI app with wsgiref on 127.0.0.1, port 0, in a thread; yield its base URL."""
    httpd = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=QuietWSGIHandler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def echo_wsgi(environ, start_response):
    """A bare WSGI app: answers its path and the claims it was given."""
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"path": environ["PATH_INFO"], "claims": environ.get("zjwt.claims")}).encode()]


def test_public_paths_are_exact_unless_they_end_in_slash_star():
    is_public = zjwt.public_rule(["/health", "/static/*"])
    for path in ["/health", "/static/app.js", "/static/css/site.css", "/static/"]:
        assert is_public("GET", path), path
    for path in ["/health/", "/healthz", "/static", "/staticx/app.js", "/Static/app.js", "/"]:
        assert not is_public("GET", path), path
    rule = lambda method, path: method == "GET" and path.startswith("/docs")  # noqa: E731 - a rule is a function
    assert zjwt.public_rule(rule) is rule


UNNORMALISED = [
    "/static/../admin",
    "/static/./admin",
    "/static//admin",
    "/static/..",
    "/static%2F..%2Fadmin",
    "/static/%2e%2e/admin",
    "/static/sub/../../admin",
]


@pytest.mark.parametrize("server_kind", ["wsgi", "asgi"])
def test_a_prefix_never_matches_dot_or_empty_segments_after_the_server_decodes_the_path(key, server_kind):
    verifier = make_verifier(key)
    if server_kind == "wsgi":
        serving = served_by_wsgiref(zjwt.wsgi_middleware(echo_wsgi, verifier, public_paths=["/static/*"]))
    else:
        serving = served_by_uvicorn(zjwt.asgi_middleware(echo_app, verifier, public_paths=["/static/*"]))
    with serving as base:
        assert call(base, "GET", "/static/app.js")[2] == {"path": "/static/app.js", "claims": None}
        for path in UNNORMALISED:
            status, _, body = call(base, "GET", path)
            assert status == 401, f"{path} reached the app without a token: {body}"
        assert call(base, "GET", "/static/../admin", bearer(make_token(key)))[0] == 200, "with a token, it may pass"


@pytest.mark.parametrize("server_kind", ["wsgi", "asgi"])
def test_a_function_decides_which_requests_are_public(key, server_kind):
    rule = lambda method, path: method == "GET" and path == "/docs"  # noqa: E731
    verifier = make_verifier(key)
    if server_kind == "wsgi":
        serving = served_by_wsgiref(zjwt.wsgi_middleware(echo_wsgi, verifier, public_paths=rule))
    else:
        serving = served_by_uvicorn(zjwt.asgi_middleware(echo_app, verifier, public_paths=rule))
    with serving as base:
        assert call(base, "GET", "/docs")[0] == 200
        assert call(base, "POST", "/docs", body=b"")[0] == 401 and call(base, "GET", "/docs/x")[0] == 401


PREFLIGHT = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}


@pytest.mark.parametrize("server_kind", ["wsgi", "asgi"])
def test_a_genuine_cors_preflight_passes_only_when_enabled_and_a_plain_options_never(key, server_kind):
    verifier = make_verifier(key)
    for preflight in (False, True):
        if server_kind == "wsgi":
            app = zjwt.wsgi_middleware(echo_wsgi, verifier, preflight=preflight)
            serving = served_by_wsgiref(app)
        else:
            serving = served_by_uvicorn(zjwt.asgi_middleware(echo_app, verifier, preflight=preflight))
        with serving as base:
            assert call(base, "OPTIONS", "/orders", PREFLIGHT)[0] == (200 if preflight else 401)
            assert call(base, "OPTIONS", "/orders")[0] == 401, "no Origin: not a preflight"
            assert call(base, "OPTIONS", "/orders", {"Origin": "https://app.example.com"})[0] == 401
            assert call(base, "GET", "/orders", PREFLIGHT)[0] == 401, "not OPTIONS: not a preflight"
    assert zjwt.is_preflight("OPTIONS", "https://a", "GET") and not zjwt.is_preflight("options", "https://a", "GET")


ERRORS_WITH_INTERNALS = [
    (zjwt.UnknownKey, "no key with id 'k9' in the issuer's key set", "key set from https://idp.internal/jwks"),
    (
        zjwt.InvalidAudience,
        "the token is meant for 'payments', not for this service",
        "this service accepts ['orders']",
    ),
    (
        zjwt.KeySetUnavailable,
        "the issuer's signing keys are unavailable; retry in 30 s",
        "ConnectionError: could not connect to idp.internal (10.0.0.7: [Errno 111] Connection refused)",
    ),
]


@pytest.mark.parametrize("cls, message, internal", ERRORS_WITH_INTERNALS)
def test_error_response_describes_the_clients_token_or_sends_bare_codes_and_never_internals(cls, message, internal):
    error = cls(message, 30, internal) if cls is zjwt.KeySetUnavailable else cls(message, internal)
    assert str(error) == f"{message} ({internal})", "the log and the CLI get everything"
    for detail in zjwt.DETAILS:
        _, headers, body = zjwt.error_response(error, detail=detail)
        sent = body.decode() + json.dumps(headers)
        assert "idp.internal" not in sent and "orders" not in sent and "Errno" not in sent
        assert (message in sent) == (detail == "message")
        if cls is not zjwt.KeySetUnavailable:
            challenge = dict(headers)["WWW-Authenticate"]
            assert challenge.startswith('Bearer realm="api", error="invalid_token"')
            assert ("error_description" in challenge) == (detail == "message")
    assert json.loads(zjwt.error_response(error, detail="code")[2]) == {"error": http.HTTPStatus(error.status).phrase}
    with pytest.raises(ValueError, match="detail must be one of"):
        zjwt.error_response(error, detail="none")


@pytest.mark.parametrize("server_kind", ["wsgi", "asgi"])
def test_the_middlewares_take_the_detail_option(key, server_kind):
    verifier = make_verifier(key, audience="orders")
    token = make_token(key, claims(aud="payments"))
    if server_kind == "wsgi":
        serving = served_by_wsgiref(zjwt.wsgi_middleware(echo_wsgi, verifier, detail="code"))
    else:
        serving = served_by_uvicorn(zjwt.asgi_middleware(echo_app, verifier, detail="code"))
    with serving as base:
        status, headers, body = call(base, "GET", "/orders", bearer(token))
    challenge = {k.lower(): v for k, v in headers.items()}["www-authenticate"]
    assert (
        status == 401
        and body == {"error": "Unauthorized"}
        and challenge == 'Bearer realm="api", error="invalid_token", ' + DPOP_CHALLENGE
    )
    with pytest.raises(ValueError, match="detail must be one of"):
        zjwt.wsgi_middleware(echo_wsgi, verifier, detail="verbose")


# ---------------------------------------------------------------------------
# Async: verify_async on an event loop, and the ASGI middleware under uvicorn.
# ---------------------------------------------------------------------------


def test_verify_async_returns_what_verify_returns_and_raises_what_it_raises(key):
    verifier = make_verifier(key, audience="orders")
    token = make_token(key, claims(aud="orders"))
    assert asyncio.run(verifier.verify_async(token)) == verifier.verify(token) == claims(aud="orders")
    assert asyncio.run(verifier.authenticate_async(["Bearer " + token])) == claims(aud="orders")
    with pytest.raises(zjwt.InvalidAudience):
        asyncio.run(verifier.verify_async(make_token(key, claims(aud="payments"))))
    with pytest.raises(zjwt.InvalidRequest, match="several Authorization headers"):
        asyncio.run(verifier.authenticate_async(["Bearer " + token, "Bearer " + token]))


@pytest.fixture
def thread_hops(monkeypatch) -> list:
    """Record each asyncio.to_thread call (a spy: the real function still runs)."""
    calls = []
    real = asyncio.to_thread

    def spy(function, *args):
        calls.append(args)
        return real(function, *args)

    monkeypatch.setattr(asyncio, "to_thread", spy)
    return calls


def test_verify_async_with_usable_keys_runs_inline_without_a_thread(key, jwks_server, thread_hops):
    verifier, source, clock = remote_verifier(jwks_server)
    token = lasting_token(key)
    assert asyncio.run(verifier.verify_async(token))["sub"] == "user-1"
    assert thread_hops == [("k1",)], "cold: one wait in a worker thread"
    for other in (token, make_token(key, claims(exp=NOW + 86400, jti="new"))):  # a cache hit, then a new token
        assert asyncio.run(verifier.verify_async(other))["sub"] == "user-1"
    clock.advance(601)  # stale: served at once, refreshed in the background
    assert asyncio.run(verifier.verify_async(token))["sub"] == "user-1" and source.fetching
    settle(source)
    assert len(thread_hops) == 1 and jwks_server.requests == 2


@slow
def test_50_concurrent_verify_async_on_a_cold_verifier_share_one_fetch_and_never_block_the_loop(key, jwks_server):
    jwks_server.delay = 1  # the issuer answers after 1 s
    verifier = zjwt.Verifier(ISSUER, key_source=zjwt.RemoteKeySet(jwks_server.url), clock=Clock())
    token = lasting_token(key)

    async def main():
        gaps, running = [], True

        async def ticker():
            last = time.perf_counter()
            while running:
                await asyncio.sleep(0.005)
                gaps.append(time.perf_counter() - last)
                last = time.perf_counter()

        ticking = asyncio.create_task(ticker())
        results = await asyncio.gather(*(verifier.verify_async(token) for _ in range(50)))
        running = False
        await ticking
        return results, max(gaps)

    (results, worst_gap), seconds = timed(asyncio.run, main())
    assert results == [claims(exp=NOW + 30 * 86400)] * 50 and jwks_server.requests == 1
    assert worst_gap < 0.1, f"the loop stalled for {worst_gap * 1000:.0f} ms (the fetch takes 1000)"
    assert 0.9 < seconds < 2.5


def test_cancelling_a_verify_async_leaves_the_shared_fetch_running(key, jwks_server):
    jwks_server.delay = 0.5
    source = zjwt.RemoteKeySet(jwks_server.url)
    verifier = zjwt.Verifier(ISSUER, key_source=source, clock=Clock())
    token = lasting_token(key)

    async def main():
        waiting = asyncio.create_task(verifier.verify_async(token))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return await verifier.verify_async(token)  # joins the fetch the cancelled call started

    assert asyncio.run(main())["sub"] == "user-1"
    assert jwks_server.requests == 1 and source.fetch_count == 1 and source.failure_count == 0


@contextlib.contextmanager
def served_by_uvicorn(app, ws: str = "wsproto", **options):
    """Serve an ASGI app with uvicorn on 127.0.0.1, port 0, in a thread; yield its base URL (options: uvicorn's)."""
    uvicorn = pytest.importorskip("uvicorn", reason="uvicorn is not installed (test extras)")
    pytest.importorskip(ws.split("-")[0], reason=f"{ws.split('-')[0]} is not installed (test extras)")
    config = uvicorn.Config(app, host="127.0.0.1", port=0, ws=ws, log_level="error", lifespan="auto", **options)
    userver = uvicorn.Server(config)
    thread = threading.Thread(target=userver.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not userver.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{userver.servers[0].sockets[0].getsockname()[1]}"
    finally:
        userver.should_exit = True
        thread.join(10)


LIFESPAN: list = []  # the lifespan events echo_app saw


async def echo_app(scope, receive, send):
    """A bare ASGI app: answers the claims it was given, accepts WebSockets, records lifespan events."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            LIFESPAN.append(message["type"])
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
    elif scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(scope["zjwt.claims"])})
        await send({"type": "websocket.close", "code": 1000})
    else:
        body = json.dumps({"path": scope["path"], "claims": scope.get("zjwt.claims")}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


def test_asgi_middleware_authenticates_http_under_uvicorn(key):
    app = zjwt.asgi_middleware(echo_app, make_verifier(key), public_paths=["/public"])
    LIFESPAN.clear()
    with served_by_uvicorn(app) as base:
        assert call(base, "GET", "/public")[2] == {"path": "/public", "claims": None}
        assert call(base, "GET", "/orders", bearer(make_token(key)))[2] == {"path": "/orders", "claims": claims()}
        status, headers, body = call(base, "GET", "/orders")
        assert (
            status == 401
            and headers["www-authenticate"] == 'Bearer realm="api", ' + DPOP_CHALLENGE
            and body["error"] == "Unauthorized"
        )
        status, headers, body = call(base, "GET", "/orders", bearer(make_token(key, claims(exp=NOW - 5))))
        assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"] and "expired" in body["message"]
        assert call(base, "GET", "/orders", bearer(make_token(key)) | {"X-Other": "1"})[0] == 200
        twice = raw_request(
            base, b"GET /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n"
        )
        assert twice.startswith(b"HTTP/1.1 400 ") and b"several Authorization headers" in twice
    assert LIFESPAN == ["lifespan.startup"], "lifespan passes through untouched"


def read_answer(conn: socket.socket) -> tuple[bytes, bytes]:
    """Return the head of an HTTP answer and its body: Content-Length bytes, or after a 101 the first frame."""
    data = b""
    while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")

    def complete() -> bool:
        if head.startswith(b"HTTP/1.1 101 "):
            return len(body) >= 2 and len(body) >= 2 + body[1]  # a short frame: its length is in its second byte
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        return len(body) >= (int(length.group(1)) if length else 0)

    while not complete() and (chunk := conn.recv(65536)):
        body += chunk
    return head, body


def raw_request(base: str, data: bytes) -> bytes:
    """Send raw bytes to base; return the answer's head and body."""
    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10) as conn:
        conn.sendall(data)
        head, body = read_answer(conn)
    return head + b"\r\n\r\n" + body


def test_asgi_middleware_answers_503_with_retry_after_when_the_keys_are_down(key):
    down = zjwt.Verifier(ISSUER, jwks_uri=f"http://127.0.0.1:{unused_port()}/jwks")
    with served_by_uvicorn(zjwt.asgi_middleware(echo_app, down)) as base:
        status, headers, body = call(base, "GET", "/orders", bearer(make_token(key)))
    assert status == 503 and headers["retry-after"] == "30" and body["error"] == "Service Unavailable"


def websocket_handshake(base: str, authorization: str | None) -> tuple[bytes, bytes]:
    """Open a WebSocket to base/ws over a raw socket; return the answer's head and its body or first frame."""
    lines = [
        "GET /ws HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *([f"Authorization: {authorization}"] if authorization else []),
    ]
    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return read_answer(conn)


def without_extensions(app):
    """Return app as a server without ASGI extensions would call it."""

    async def stripped(scope, receive, send):
        return await app({k: v for k, v in scope.items() if k != "extensions"}, receive, send)

    return stripped


@pytest.mark.parametrize(
    "ws, extension, refused",
    [("wsproto", True, b"401"), ("websockets-sansio", True, b"401"), ("wsproto", False, b"403")],
    ids=["wsproto", "websockets", "no denial extension"],
)
def test_asgi_middleware_refuses_a_websocket_before_accepting_it(key, ws, extension, refused):
    app = zjwt.asgi_middleware(echo_app, make_verifier(key))
    with served_by_uvicorn(app if extension else without_extensions(app), ws=ws) as base:
        head, frame = websocket_handshake(base, "Bearer " + make_token(key))
        assert head.startswith(b"HTTP/1.1 101 ") and frame[0] == 0x81  # accepted, then a text frame
        assert json.loads(frame[2 : 2 + frame[1]]) == claims()
        head, body = websocket_handshake(base, None)
        assert head.split(b" ")[1] == refused, head
        if extension:  # the denial-response extension carries zjwt's own answer, challenge included
            assert b'www-authenticate: Bearer realm="api"' in head.lower().replace(b"bearer", b"Bearer")
            assert json.loads(body)["error"] == "Unauthorized"


def test_asgi_middleware_refuses_a_bare_string_for_public_paths(key):
    with pytest.raises(ValueError, match="public_paths must be a list"):
        zjwt.asgi_middleware(echo_app, make_verifier(key), public_paths="/public")


def test_hardening_8_asgi_scopes_other_than_http_websocket_and_lifespan_are_refused(key):
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    protected = zjwt.asgi_middleware(app, make_verifier(key), public_paths=["/public"])
    for scope_type in ("webtransport", "background", "HTTP"):
        with pytest.raises(ValueError, match=f"refuses ASGI scope type '{scope_type}'"):
            asyncio.run(protected({"type": scope_type, "path": "/public", "headers": []}, None, None))
    asyncio.run(protected({"type": "lifespan"}, None, None))
    assert seen == ["lifespan"], "nothing zjwt cannot authenticate reached the app"


def test_the_loop_keeps_serving_public_and_cached_tokens_while_a_refresh_hangs(key, jwks_server):
    clock = Clock()
    source = zjwt.RemoteKeySet(jwks_server.url, clock=clock)
    app = zjwt.asgi_middleware(echo_app, zjwt.Verifier(ISSUER, key_source=source, clock=clock))
    cached = bearer(lasting_token(key))
    with served_by_uvicorn(app) as base:
        assert call(base, "GET", "/orders", cached)[0] == 200
        jwks_server.delay = 1
        clock.advance(31)  # past the cooldown: an unknown kid refetches, and the issuer hangs
        hanging = threading.Thread(target=call, args=(base, "GET", "/orders", bearer(lasting_token(key, "new"))))
        hanging.start()
        while not source.fetching:
            time.sleep(0.005)
        for headers, path in [({}, "/public"), (cached, "/orders")] * 5:
            (status, _, _), seconds = timed(call, base, "GET", path, headers)
            assert status == 200 and seconds < 0.2, f"{path} took {seconds:.2f} s"
        assert source.fetching, "the refresh was still hanging all along"
        hanging.join()


def readme_python_block(marker: str) -> str:
    """Return the README's python code block that contains marker."""
    return next(b for b in re.findall(r"```python\n(.*?)```", (HERE / "README.md").read_text(), re.S) if marker in b)


def test_the_readmes_snippet_verifies_a_real_issuers_token_word_for_word(key, jwks_server):
    issuer = lay_out_issuer(jwks_server, *ISSUER_LAYOUTS["Okta"])
    code = readme_python_block("zjwt.Verifier(").replace("https://my-api-a32f34.zuplo.api/__zuplo/issuer", issuer)
    namespace: dict = {}
    exec(code, namespace)

    class Request:  # what the snippet reads of a request: its headers
        def __init__(self, authorization):
            self.headers = {"Authorization": authorization} if authorization else {}

    token = real_time_token(key, iss=issuer, aud="orders-api")
    assert namespace["handle"](Request("Bearer " + token)) == (200, [], b"hello user-1")
    status, headers, body = namespace["handle"](Request(None))
    assert status == 401 and dict(headers)["WWW-Authenticate"] == 'Bearer realm="api"' and json.loads(body)["message"]


def docs_python_block(name: str, marker: str) -> str:
    """Return the python code block of docs/<name> that contains marker."""
    blocks = re.findall(r"```python\n(.*?)```", (HERE / "docs" / name).read_text(), re.S)
    return next(block for block in blocks if marker in block)


def test_the_prometheus_adapter_in_the_docs_counts_what_the_key_source_does(key, jwks_server):
    prometheus_client = pytest.importorskip(
        "prometheus_client", reason="prometheus_client is not installed (test extras)"
    )
    registry = prometheus_client.CollectorRegistry()
    code = docs_python_block("operations.md", "prometheus_client").replace(
        "https://issuer.example", lay_out_issuer(jwks_server, "/i", "/i/certs")
    )
    code = code.replace('["event"])', '["event"], registry=registry)').replace('took")', 'took", registry=registry)')
    namespace = {"zjwt": zjwt, "registry": registry}
    exec(code, namespace)
    namespace["verifier"].key_source.reload()
    jwks_server.behaviour = "status"
    with pytest.raises(zjwt.KeySetUnavailable):
        namespace["verifier"].key_source.reload()
    text = prometheus_client.generate_latest(registry).decode()
    for event, count in [("fetch_started", 2), ("fetch_succeeded", 1), ("fetch_failed", 1)]:
        assert f'zjwt_key_source_events_total{{event="{event}"}} {count}.0' in text
    assert "zjwt_fetch_seconds_count 2.0" in text


def test_the_readme_is_short_and_names_every_example_and_every_doc():
    readme = (HERE / "README.md").read_text()
    assert len(readme.splitlines()) <= 205, "a README a newcomer reads in one go: about 200 lines"
    examples = sorted(path.name for path in (HERE / "examples").glob("*.py"))
    assert examples and all(f"(examples/{name})" in readme for name in examples), "an example the README does not name"
    for link in re.findall(r"\]\(((?:docs|examples|vectors)/[^)]+)\)", readme):
        assert (HERE / link).is_file(), f"the README links to {link}, which is missing"


# ---------------------------------------------------------------------------
# examples/: every file runs under its real server (gunicorn, uvicorn), started by the command at its top.
# ---------------------------------------------------------------------------

EXAMPLES = ["flask_app", "django_app", "fastapi_app", "starlette_app"]
BROWSER_ORIGIN = "https://app.example.com"  # the origin the examples' CORS layers allow


def example_command(name: str) -> tuple[dict[str, str], list[str]]:
    """Return (environment, argv) of the one-line command at the top of examples/<name>.py."""
    line = re.search(r"^Run:  (.+)$", (HERE / "examples" / f"{name}.py").read_text(), re.M).group(1)
    words = line.split()
    environment = dict(word.split("=", 1) for word in words if "=" in word and not word.startswith("-"))
    return environment, [word for word in words if word not in {f"{k}={v}" for k, v in environment.items()}]


@contextlib.contextmanager
def served_example(name: str, issuer: str):
    """Run an example as its top line says (on port 0, with issuer and the audience "orders"); yield its base URL."""
    environment, argv = example_command(name)
    assert set(environment) == {"ZJWT_ISSUER", "ZJWT_AUDIENCE"} and argv[0] in ("gunicorn", "uvicorn")
    pytest.importorskip(argv[0], reason=f"{argv[0]} is not installed (test extras)")
    bind = ["--bind", "127.0.0.1:0"] if argv[0] == "gunicorn" else ["--port", "0"]
    env = {**os.environ, "ZJWT_ISSUER": issuer, "ZJWT_AUDIENCE": "orders", "PYTHONPATH": str(HERE)}
    process = subprocess.Popen(
        [sys.executable, "-m", *argv, *bind], cwd=HERE, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline, lines = time.monotonic() + 30, []
        while time.monotonic() < deadline and not (
            lines and re.search(r"(?:Listening at|running on):? (http://\S+)", lines[-1])
        ):
            lines.append(process.stderr.readline())
            assert lines[-1] or process.poll() is None, "".join(lines)
        yield re.search(r"(http://127\.0\.0\.1:\d+)", lines[-1]).group(1)
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_runs_under_its_real_server_with_a_token_from_a_local_issuer(key, jwks_server, name):
    pytest.importorskip(name.split("_")[0], reason=f"{name.split('_')[0]} is not installed (test extras)")
    issuer = lay_out_issuer(jwks_server, *ISSUER_LAYOUTS["Keycloak"])
    token = real_time_token(key, iss=issuer, aud="orders")
    with served_example(name, issuer) as base:
        assert call(base, "GET", "/public")[0] == 200
        status, headers, body = call(base, "GET", "/protected")
        challenge = {k.lower(): v for k, v in headers.items()}["www-authenticate"]
        # The middlewares take DPoP as well; the FastAPI dependency passes no method and URL: bearer tokens only.
        assert status == 401 and challenge == 'Bearer realm="api"' + (
            "" if name == "fastapi_app" else ", " + DPOP_CHALLENGE
        )
        status, _, body = call(base, "GET", "/protected", bearer(token))
        assert status == 200 and body["user"]["sub"] == "user-1" and body["user"]["aud"] == "orders"
        status, _, body = call(base, "GET", "/protected", bearer(real_time_token(key, iss=issuer, aud="payments")))
        assert status == 401 and body["message"] == "the token is meant for 'payments', not for this service"
        if name != "django_app":  # the three with a CORS layer
            preflight = {
                "Origin": BROWSER_ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            }
            status, headers, _ = call(base, "OPTIONS", "/protected", preflight)
            lowered = {k.lower(): v for k, v in headers.items()}
            assert status in (200, 204) and lowered["access-control-allow-origin"] == BROWSER_ORIGIN
            assert "authorization" in lowered["access-control-allow-headers"].lower()
            status, headers, _ = call(base, "GET", "/protected", {"Origin": BROWSER_ORIGIN})
            assert status == 401, "the real request still needs a token"
            if name != "flask_app":  # CORS outside zjwt: the 401 is readable by the browser script
                assert {k.lower(): v for k, v in headers.items()}["access-control-allow-origin"] == BROWSER_ORIGIN
            assert call(base, "OPTIONS", "/protected")[0] in (401, 405), "a plain OPTIONS is no preflight"
        if name == "fastapi_app":
            schemes = call(base, "GET", "/openapi.json")[2]["components"]["securitySchemes"]
            assert schemes == {"HTTPBearer": {"type": "http", "scheme": "bearer"}}, "/docs shows an Authorize button"


# ---------------------------------------------------------------------------
# Coming from PyJWT: PEM keys and certificates, and reading a token without verifying it.
# ---------------------------------------------------------------------------


def der(tag: int, contents: bytes) -> bytes:
    """Return one DER element, written out here independently of zjwt's reader (X.690 8.1)."""
    length = len(contents)
    octets = bytes([length]) if length < 0x80 else bytes([0x80 | ((length.bit_length() + 7) // 8)])
    if length >= 0x80:
        octets += length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag]) + octets + contents


def der_uint(value: int) -> bytes:
    return der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))  # one more byte: the sign bit stays 0


def pem(label: str, data: bytes) -> str:
    body = base64.b64encode(data).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


RSA_ALGORITHM_ID = der(0x30, der(0x06, bytes.fromhex("2a864886f70d010101")) + der(0x05, b""))


def spki_rsa(n: int, e: int, algorithm: bytes = RSA_ALGORITHM_ID, unused_bits: int = 0) -> bytes:
    return der(0x30, algorithm + der(0x03, bytes([unused_bits]) + der(0x30, der_uint(n) + der_uint(e))))


def pem_of(public_jwk: dict) -> str:
    """Return an RSA JWK as a PEM public key, built here from the DER rules alone."""
    n, e = (int.from_bytes(zjwt.b64url_decode(public_jwk[m]), "big") for m in ("n", "e"))
    return pem("PUBLIC KEY", spki_rsa(n, e))


def test_jwk_from_pem_reads_public_key_pkcs1_and_certificate_and_applies_the_policy(key):
    expected = {"kty": "RSA", "n": server.b64url_uint(key["n"]), "e": "AQAB"}
    assert zjwt.jwk_from_pem(pem_of(jwk(key))) == expected
    pkcs1 = pem("RSA PUBLIC KEY", der(0x30, der_uint(key["n"]) + der_uint(key["e"])))
    assert zjwt.jwk_from_pem(pkcs1, kid="k1", alg="RS256") == expected | {"kid": "k1", "alg": "RS256"}
    small = server.generate_rsa_key(1024)
    with pytest.raises(ValueError, match="1024-bit modulus is below the 2048-bit minimum"):
        zjwt.jwk_from_pem(pem("PUBLIC KEY", spki_rsa(small["n"], 65537)))
    with pytest.raises(ValueError, match="alg 'ES256' does not fit an RSA key"):
        zjwt.jwk_from_pem(pem_of(jwk(key)), alg="ES256")


@pytest.mark.parametrize(
    "pem_text, reason",
    [
        ("no PEM here", "expected one PEM block"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n" * 2, "found 2"),
        ("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----", "this is a rsa private key"),
        ("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----", "is not a public key"),
        ("-----BEGIN PUBLIC KEY-----\nAA!A\n-----END PUBLIC KEY-----", "not base64"),
    ],
)
def test_jwk_from_pem_refuses_what_is_not_one_public_key(pem_text, reason):
    with pytest.raises(ValueError, match=reason):
        zjwt.jwk_from_pem(pem_text)


def strict_der_cases(key: dict) -> dict[str, bytes]:
    """Return SubjectPublicKeyInfo encodings of key, each breaking one DER or key-format rule."""
    n, e = key["n"], key["e"]
    good = spki_rsa(n, e)
    return {
        "trailing byte": good + b"\x00",
        "indefinite length": b"\x30\x80" + good[4:] + b"\x00\x00",
        "long form for a short length": spki_rsa(n, e, b"\x30\x81" + RSA_ALGORITHM_ID[1:]),
        "leading zero in an integer": der(
            0x30, RSA_ALGORITHM_ID + der(0x03, b"\x00" + der(0x30, der_uint(n) + der(0x02, b"\x00\x01\x00\x01")))
        ),
        "negative modulus": der(
            0x30, RSA_ALGORITHM_ID + der(0x03, b"\x00" + der(0x30, der(0x02, b"\x80" + bytes(255)) + der_uint(e)))
        ),
        "unused bits": spki_rsa(n, e, unused_bits=1),
        "parameters absent": spki_rsa(n, e, der(0x30, der(0x06, bytes.fromhex("2a864886f70d010101")))),
        "RSA-PSS key": spki_rsa(n, e, der(0x30, der(0x06, bytes.fromhex("2a864886f70d01010a")))),
        "compressed EC point": der(
            0x30,
            der(0x30, der(0x06, bytes.fromhex("2a8648ce3d0201")) + der(0x06, bytes.fromhex("2a8648ce3d030107")))
            + der(0x03, b"\x00\x02" + bytes(32)),
        ),
        "secp256k1": der(
            0x30,
            der(0x30, der(0x06, bytes.fromhex("2a8648ce3d0201")) + der(0x06, bytes.fromhex("2b8104000a")))
            + der(0x03, b"\x00\x04" + bytes(64)),
        ),
        "Ed25519 of 31 bytes": der(
            0x30, der(0x30, der(0x06, bytes.fromhex("2b6570"))) + der(0x03, b"\x00" + bytes(31))
        ),
    }


@pytest.mark.parametrize(
    "case, reason",
    [
        ("trailing byte", "nothing after it"),
        ("indefinite length", "indefinite length"),
        ("long form for a short length", "shortest form"),
        ("leading zero in an integer", "needless leading zero"),
        ("negative modulus", "empty or negative"),
        ("unused bits", "must use every bit"),
        ("parameters absent", "not RSA, EC on a named curve, or Ed25519"),
        ("RSA-PSS key", "not RSA, EC on a named curve, or Ed25519"),
        ("compressed EC point", "not in uncompressed form"),
        ("secp256k1", "not P-256, P-384 or P-521"),
        ("Ed25519 of 31 bytes", "32 bytes"),
    ],
)
def test_jwk_from_pem_reads_der_strictly(key, case, reason):
    with pytest.raises(ValueError, match=reason):
        zjwt.jwk_from_pem(pem("PUBLIC KEY", strict_der_cases(key)[case]))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_malformed_der_gives_value_error_and_nothing_else(key, data):
    kind = data.draw(st.sampled_from(["mutated", "random"]))
    good = spki_rsa(key["n"], key["e"])
    if kind == "random":
        blob = data.draw(st.binary(max_size=300))
    else:
        position = data.draw(st.integers(0, len(good) - 1))
        blob = data.draw(
            st.sampled_from(
                [
                    good[:position],
                    good[:position] + bytes([data.draw(st.integers(0, 255))]) + good[position + 1 :],
                    good[:position] + bytes([data.draw(st.integers(0, 255))]) + good[position:],
                ]
            )
        )
    label = data.draw(st.sampled_from(["PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE"]))
    try:
        result = zjwt.jwk_from_pem(pem(label, blob))
    except ValueError:
        return
    assert result["kty"] in ("RSA", "EC", "OKP") and zjwt.key_from_jwk(result)


@pytest.fixture(scope="module")
def openssl(tmp_path_factory):
    """Return a function that runs the openssl command in a temporary directory; skip where there is none."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    directory = tmp_path_factory.mktemp("openssl")

    def run(*args: str, data: bytes | None = None) -> bytes:
        return subprocess.run(["openssl", *args], cwd=directory, input=data, capture_output=True, check=True).stdout

    run.directory = directory
    return run


OPENSSL_KEYS = {
    "RS256": ("RSA", ["-pkeyopt", "rsa_keygen_bits:2048"]),
    "ES256": ("EC", ["-pkeyopt", "ec_paramgen_curve:P-256"]),
    "ES384": ("EC", ["-pkeyopt", "ec_paramgen_curve:P-384"]),
    "ES512": ("EC", ["-pkeyopt", "ec_paramgen_curve:P-521"]),
    "EdDSA": ("ED25519", []),
}


@pytest.mark.parametrize(
    "alg, form",
    [(alg, form) for alg in OPENSSL_KEYS for form in ("PUBLIC KEY", "CERTIFICATE")] + [("RS256", "RSA PUBLIC KEY")],
)
def test_keys_and_certificates_made_by_openssl_verify_tokens_openssl_signed(openssl, alg, form):
    algorithm, options = OPENSSL_KEYS[alg]
    private = f"{alg}.pem"
    if not (openssl.directory / private).exists():
        openssl("genpkey", "-algorithm", algorithm, *options, "-out", private)
    public = {
        "PUBLIC KEY": lambda: openssl("pkey", "-in", private, "-pubout"),
        "RSA PUBLIC KEY": lambda: openssl("rsa", "-in", private, "-RSAPublicKey_out"),
        "CERTIFICATE": lambda: openssl("req", "-x509", "-new", "-key", private, "-subj", "/CN=issuer", "-days", "1"),
    }[form]()
    assert f"-----BEGIN {form}-----".encode() in public
    signing_input = (b64(json.dumps({"alg": alg, "kid": "k1"})) + "." + b64(json.dumps(claims()))).encode()
    if alg == "EdDSA":  # OpenSSL 3.0 signs Ed25519 only from a file, whole
        (openssl.directory / "input").write_bytes(signing_input)
        signature = openssl("pkeyutl", "-sign", "-inkey", private, "-rawin", "-in", "input")
    else:
        signature = openssl(
            "dgst",
            "-sha" + {"RS256": "256", "ES256": "256", "ES384": "384", "ES512": "512"}[alg],
            "-sign",
            private,
            data=signing_input,
        )
        if alg.startswith("ES"):  # OpenSSL writes ECDSA signatures in DER; JOSE wants R || S
            signature = jose_signature(
                signature, zjwt.CURVES[{"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]].size
            )
    verifier = make_verifier(jwks={"keys": [zjwt.jwk_from_pem(public, kid="k1")]}, algorithms=(alg,))
    token = signing_input.decode() + "." + b64(signature)
    assert verifier.verify(token) == claims()
    with pytest.raises(zjwt.InvalidSignature):
        verifier.verify(token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB"))


def jose_signature(der_signature: bytes, size: int) -> bytes:
    """Return the R || S form of a DER ECDSA signature, SEQUENCE {r, s}."""
    body = der_signature[2:] if der_signature[1] < 0x80 else der_signature[3:]
    r_length = body[1]
    r, rest = int.from_bytes(body[2 : 2 + r_length], "big"), body[2 + r_length :]
    s = int.from_bytes(rest[2 : 2 + rest[1]], "big")
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


@needs_cryptography
@pytest.mark.parametrize("alg", ["RS256", "ES256", "ES384", "ES512", "EdDSA"])
def test_keys_made_by_cryptography_read_back_as_the_same_jwk(key, ec_keys, alg):
    from cryptography.hazmat.primitives import serialization

    signer = ec_keys.get(alg, key)
    private = serialization.load_pem_private_key(private_pem(signer), None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert zjwt.jwk_from_pem(public_pem, kid="k1") == jwk(signer)


def test_unverified_header_and_claims_read_strictly_and_verify_nothing(key):
    token = make_token(key, claims(sub="someone"))
    forged = replace_segment(token, 2, b64(b"not a signature"))
    assert zjwt.unverified_header(forged) == {"alg": "RS256", "kid": "k1"}
    assert zjwt.unverified_claims(forged.encode()) == claims(sub="someone")
    for bad in (token + "=", replace_segment(token, 1, b64("[]")), token.replace(".", "..", 1), "x" * 9000):
        with pytest.raises(zjwt.MalformedToken):
            zjwt.unverified_claims(bad)
    assert "Never" in zjwt.unverified_header.__doc__ and "Never" in zjwt.unverified_claims.__doc__


# ---------------------------------------------------------------------------
# Several issuers and tenants, explicit types and ages (section L of the attack checklist).
# ---------------------------------------------------------------------------


@pytest.fixture
def two_issuers(key, other_key):
    """Yield (Issuers, server of A, server of B, clock): two issuers on 127.0.0.1, each with its own key."""
    servers = [JwksServer({"keys": [jwk(key, "a1")]}), JwksServer({"keys": [jwk(other_key, "b1")]})]
    issuers = [lay_out_issuer(where, path, path + "/certs") for where, path in zip(servers, ["/a", "/b"], strict=True)]
    clock = Clock()
    verifiers = [zjwt.Verifier(i, key_source=zjwt.RemoteKeySet(issuer=i, clock=clock), clock=clock) for i in issuers]
    yield zjwt.Issuers(*verifiers), servers[0], servers[1], clock
    for where in servers:
        where.stop()


def test_several_issuers_in_one_each_token_by_its_own_issuers_keys(key, other_key, two_issuers):
    issuers, a, b, _ = two_issuers
    token_a = make_token(key, claims(iss=a.base + "/a", exp=NOW + 86400), kid="a1")
    token_b = make_token(other_key, claims(iss=b.base + "/b", exp=NOW + 86400), kid="b1")
    assert issuers.verify(token_a)["iss"] == a.base + "/a" and issuers.verify(token_b)["iss"] == b.base + "/b"
    assert asyncio.run(issuers.authenticate_async("Bearer " + token_b))["iss"] == b.base + "/b"
    assert issuers.verify(token_a)["iss"] == a.base + "/a", "a repeated token: the verifier that knows it answers"
    status = issuers.status()
    assert status["state"] == "fresh" and set(status["issuers"]) == {a.base + "/a", b.base + "/b"}
    assert status["issuers"][a.base + "/a"]["verified_cache"] == {"hits": 1, "misses": 1, "size": 1}
    with pytest.raises(ValueError, match="two verifiers for the issuer"):
        zjwt.Issuers(*issuers.verifiers, zjwt.Verifier(a.base + "/a"))


def test_l1_a_token_naming_no_configured_issuer_is_refused_with_no_fetch(key, two_issuers):
    issuers, a, b, _ = two_issuers
    for iss in ("https://evil.example", a.base + "/a/", ..., ["x"]):
        with pytest.raises((zjwt.InvalidIssuer, zjwt.MissingClaim)) as raised:
            issuers.verify(make_token(key, claims(iss=iss), kid="a1"))
        assert raised.value.status == 401 and b.base not in raised.value.message, "the configured issuers are internal"
    assert a.requests == b.requests == 0, "no fetch of any kind"


def test_l2_a_kid_published_only_by_another_issuer_is_unknown_to_the_one_the_token_names(other_key, two_issuers):
    issuers, a, b, _ = two_issuers
    with pytest.raises(zjwt.UnknownKey, match="no key with id 'b1'"):
        issuers.verify(make_token(other_key, claims(iss=a.base + "/a"), kid="b1"))
    assert b.requests == 0, "keys are looked up only in the chosen issuer's own set"


def test_l3_a_flood_of_unknown_kids_at_one_issuer_costs_the_other_nothing(key, other_key, two_issuers):
    issuers, a, b, clock = two_issuers
    issuers.verify(make_token(other_key, claims(iss=b.base + "/b", exp=NOW + 86400), kid="b1"))
    source_b = issuers.verifiers[1].key_source
    before = (b.requests, source_b.fetch_count, source_b.attempted_at)
    payload = b64(json.dumps(claims(iss=a.base + "/a")))
    flood = [
        b64(json.dumps({"alg": "RS256", "kid": secrets.token_hex(8)})) + "." + payload + ".c2ln" for _ in range(300)
    ]
    for _ in range(3):
        for token in flood:
            with contextlib.suppress(zjwt.UnknownKey):
                issuers.verify(token)
        clock.advance(31)
    assert a.requests == 2 + 2, "A: discovery and keys, then one refetch per cooldown"
    assert (b.requests, source_b.fetch_count, source_b.attempted_at) == before, "B's fetches and cooldown untouched"


ENTRA_TENANTS = ("9188040d-6c67-4c5b-b112-36a304b66dad", "72f988bf-86f1-41af-91ab-2d7cd011db47")


@pytest.fixture
def entra(key, jwks_server):
    """Lay jwks_server out as Microsoft Entra's multi-tenant endpoints; return the issuer template."""
    template = jwks_server.base + "/{tenantid}/v2.0"
    document = {"issuer": template, "jwks_uri": jwks_server.base + "/common/discovery/v2.0/keys"}
    jwks_server.routes["/common/v2.0/.well-known/openid-configuration"] = (200, document)
    jwks_server.document = {"keys": [entra_jwk(key, "k1", "{tenantid}")]}
    return template


def entra_token(key: dict, template: str, tenant: str, **changes) -> str:
    changes = {"tid": tenant} | changes
    return make_token(key, claims(iss=template.replace("{tenantid}", tenant), aud="api://orders", **changes))


def test_an_entra_like_template_serves_every_tenant_from_one_key_source(key, jwks_server, entra):
    line = next(line for line in (HERE / "README.md").read_text().splitlines() if "{tenantid}/v2.0" in line)
    code = line.strip().strip("`").replace("https://login.microsoftonline.com", jwks_server.base)
    verifier = eval(code, {"zjwt": zjwt})  # the README's line, word for word but for the host
    verifier.clock = Clock()
    for tenant in ENTRA_TENANTS:
        assert verifier.verify(entra_token(key, entra, tenant))["tid"] == tenant
    common = "/common/v2.0/.well-known/openid-configuration"
    assert jwks_server.paths == [common, "/common/discovery/v2.0/keys"], "one discovery, one key set, both tenants"
    assert verifier.key_source.jwks_uri_from == f"the discovery document {jwks_server.base}{common}"
    with pytest.raises(zjwt.InvalidIssuer, match=f"the token's tid '{ENTRA_TENANTS[1]}' is not the tenant"):
        verifier.verify(entra_token(key, entra, ENTRA_TENANTS[0], tid=ENTRA_TENANTS[1]))


@pytest.mark.parametrize(
    "iss_tenant, tid, error",
    [
        (ENTRA_TENANTS[1], ENTRA_TENANTS[0], zjwt.InvalidIssuer),
        (ENTRA_TENANTS[0], ..., zjwt.MissingClaim),
        ("a/b", "a/b", zjwt.InvalidIssuer),
        ("..", "..", zjwt.InvalidIssuer),
        ("a%2Fb", "a%2Fb", zjwt.InvalidIssuer),
        ("", "", zjwt.InvalidIssuer),
        ("contoso", "contoso", zjwt.InvalidIssuer),  # on Microsoft's hosts, a tenant is a GUID
        (ENTRA_TENANTS[0].upper(), ENTRA_TENANTS[0].upper(), zjwt.InvalidIssuer),
    ],
    ids=["tid of another tenant", "no tid", "slash", "dot-dot", "encoded slash", "empty", "not a GUID", "upper case"],
)
def test_l4_the_iss_segment_and_the_tid_must_name_one_well_formed_tenant(key, iss_tenant, tid, error):
    template = "https://login.microsoftonline.com/{tenantid}/v2.0"
    verifier = zjwt.Verifier(template, jwks={"keys": [jwk(key)]}, audience="api://orders", clock=Clock())
    with pytest.raises(error):
        verifier.verify(entra_token(key, template, iss_tenant, tid=tid))
    assert verifier.verify(entra_token(key, template, ENTRA_TENANTS[0]))["tid"] == ENTRA_TENANTS[0]


@pytest.mark.parametrize("tenant", ["a/b", "..", "a%2Fb", "", ".hidden", "x" * 200])
def test_l4_elsewhere_a_tenant_is_one_segment_of_a_safe_alphabet(key, tenant):
    template = "https://issuer.example/t/{tenantid}"
    verifier = zjwt.Verifier(template, jwks={"keys": [jwk(key)]}, audience="api://orders", clock=Clock())
    assert verifier.verify(entra_token(key, template, "team-7.prod_1"))["tid"] == "team-7.prod_1"
    with pytest.raises(zjwt.InvalidIssuer):
        verifier.verify(entra_token(key, template, tenant))


def test_l5_a_tenant_allow_list_refuses_every_other_tenant(key, entra):
    verifier = zjwt.Verifier(entra, audience="api://orders", tenants=[ENTRA_TENANTS[0]], clock=Clock())
    assert verifier.verify(entra_token(key, entra, ENTRA_TENANTS[0]))["tid"] == ENTRA_TENANTS[0]
    with pytest.raises(zjwt.InvalidIssuer, match=f"tenant '{ENTRA_TENANTS[1]}' is not one this service accepts"):
        verifier.verify(entra_token(key, entra, ENTRA_TENANTS[1]))


@pytest.mark.parametrize(
    "issuer, tenants, message",
    [
        ("https://a.example/{tenantid}x/v2.0", None, "one whole path segment"),
        ("https://a.example/{tenantid}/{tenantid}", None, "only one"),
        ("https://a.example/issuer", ["t1"], "tenants= needs an issuer with {tenantid}"),
        ("https://a.example/{tenantid}", "t1", "tenants must be a list"),
    ],
)
def test_bad_tenant_configuration_is_a_value_error(issuer, tenants, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        zjwt.Verifier(issuer, tenants=tenants)


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt"])
def test_l6_a_required_typ_accepts_its_spellings(key, typ):
    verifier = make_verifier(key, typ="at+jwt")
    assert verifier.verify(make_token(key, header={"alg": "RS256", "kid": "k1", "typ": typ})) == claims()


@pytest.mark.parametrize("typ", ["JWT", ..., "at+jwt ", ["at+jwt"], "text/at+jwt", "at+jwt; q=1", None])
def test_l6_a_required_typ_refuses_every_other(key, typ):
    header = {"alg": "RS256", "kid": "k1"} | ({} if typ is ... else {"typ": typ})
    with pytest.raises(zjwt.InvalidTokenType, match=r"this service accepts 'at\+jwt' only"):
        make_verifier(key, typ="at+jwt").verify(make_token(key, header=header))
    assert make_verifier(key).verify(make_token(key, header=header)) == claims(), "without typ=, not checked"


def test_l7_an_id_token_is_not_an_access_token_when_the_api_asks_for_at_jwt(key):
    header = {"alg": "RS256", "kid": "k1", "typ": "JWT"}
    id_token = make_token(key, claims(aud="client-123", nonce="n-0S6_WzA2Mj"), header=header)
    assert make_verifier(key, audience="client-123").verify(id_token)["nonce"] == "n-0S6_WzA2Mj", "the confusion"
    with pytest.raises(zjwt.InvalidTokenType):
        make_verifier(key, audience="client-123", typ="at+jwt").verify(id_token)


def test_l8_max_age_refuses_old_tokens_whatever_their_exp_and_those_without_iat(key):
    clock = Clock()
    verifier = make_verifier(key, max_age=300, leeway=10, clock=clock)
    token = make_token(key, claims(iat=NOW - 300, exp=NOW + 86400))
    assert verifier.verify(token)["iat"] == NOW - 300
    clock.advance(10)  # 310 s old: within max_age and the leeway
    assert verifier.verify(token)["iat"] == NOW - 300, "a cache hit"
    clock.advance(1)
    with pytest.raises(zjwt.ExpiredToken, match="older than 300 s"):
        verifier.verify(token)  # the cache hit checks the age too
    with pytest.raises(zjwt.MissingClaim, match="'iat'"):
        verifier.verify(make_token(key, claims(iat=...)))
    for bad in (0, -1, True, "300", float("inf")):
        with pytest.raises(ValueError, match="max_age must be"):
            make_verifier(key, max_age=bad)


@pytest.mark.parametrize("server_kind", ["wsgi", "asgi"])
def test_the_middlewares_take_several_issuers(key, other_key, two_issuers, server_kind):
    issuers, a, b, _ = two_issuers
    if server_kind == "wsgi":
        serving = served_by_wsgiref(zjwt.wsgi_middleware(echo_wsgi, issuers))
    else:
        serving = served_by_uvicorn(zjwt.asgi_middleware(echo_app, issuers))
    with serving as base:
        for signer, kid, iss in ((key, "a1", a.base + "/a"), (other_key, "b1", b.base + "/b")):
            token = make_token(signer, claims(iss=iss, exp=NOW + 86400), kid=kid)
            assert call(base, "GET", "/orders", bearer(token))[2]["claims"]["iss"] == iss
        refused = make_token(key, claims(iss="https://x.example"), kid="a1")
        assert call(base, "GET", "/orders", bearer(refused))[0] == 401


# ---------------------------------------------------------------------------
# M. DPoP (RFC 9449, issue 20): tokens bound to the client's key, a proof per request.
# ---------------------------------------------------------------------------

API_URL = "https://api.example.com/orders"
PROOF_ALGS = ["ES256", "RS256", "PS256", "EdDSA"]


def thumbprint(key: dict) -> str:
    """Return the RFC 7638 thumbprint of a test key's JWK, written out here independently of zjwt."""
    public = jwk(key, kid=None)
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}[public["kty"]]
    canonical = "{" + ",".join(f'"{name}":"{public[name]}"' for name in required) + "}"
    return b64(hashlib.sha256(canonical.encode()).digest())


def make_proof(alg: str, key: dict, token: str | None = None, header: dict | None = None, **changes) -> str:
    """Return a DPoP proof for GET API_URL at NOW, signed by key with its public JWK in the header.

    header and changes replace members of the header and the claims (a value of ... removes one).
    """
    head = {"typ": "dpop+jwt", "alg": alg, "jwk": jwk(key, kid=None), **(header or {})}
    body = {"jti": secrets.token_urlsafe(12), "htm": "GET", "htu": API_URL, "iat": NOW}
    if token is not None:
        body["ath"] = b64(hashlib.sha256(token.encode()).digest())
    body.update(changes)
    head, body = ({k: v for k, v in part.items() if v is not ...} for part in (head, body))
    signing_input = b64(json.dumps(head)) + "." + b64(json.dumps(body))
    return signing_input + "." + b64(sign(key, alg, signing_input.encode()))


def bound_token(key: dict, client_key: dict, **changes) -> str:
    """Return a token of ISSUER, signed by key, bound to client_key (cnf.jkt, RFC 9449 6.1)."""
    return make_token(key, claims(cnf={"jkt": thumbprint(client_key)}, **changes))


@pytest.fixture(params=PROOF_ALGS)
def client(request, ec_keys, other_key) -> tuple[str, dict]:
    """(alg, key) of a client's DPoP key: one of each kind a proof is signed with."""
    return request.param, other_key if request.param in ("RS256", "PS256") else ec_keys[request.param]


@pytest.fixture(params=BACKENDS)
def dpop_verifier(request, key) -> zjwt.Verifier:
    """A verifier at NOW on each backend, its replay cache on the same clock."""
    return make_verifier(key, backend=request.param)


def present(verifier, token: str, proof, mode: str, scheme: str = "DPoP", method: str = "GET", url: str = API_URL):
    """Return the claims of a request through authenticate, or authenticate_async in async mode."""
    authorization = f"{scheme} {token}"
    if mode == "async":
        return asyncio.run(verifier.authenticate_async(authorization, dpop=proof, method=method, url=url))
    return verifier.authenticate(authorization, dpop=proof, method=method, url=url)


def refused(verifier, token, proof, mode, kind, match, **request) -> zjwt.AuthError:
    """Assert that the request is refused with kind, its message matching, and a DPoP challenge; return the error."""
    with pytest.raises(kind, match=match) as raised:
        present(verifier, token, proof, mode, **request)
    error = raised.value
    challenge = error.www_authenticate()
    scheme = request.get("scheme", "DPoP")
    assert error.status == 401 and challenge.startswith(f'{scheme} realm="api", error="{error.error}"'), challenge
    assert 'DPoP realm="api"' in challenge and 'algs="' in challenge
    return error


def test_m0_a_bound_token_with_a_fresh_proof_for_this_request_is_accepted(key, client, dpop_verifier, verify_mode):
    alg, client_key = client
    token = bound_token(key, client_key)
    claims_ = present(dpop_verifier, token, make_proof(alg, client_key, token), verify_mode)
    assert claims_["cnf"] == {"jkt": thumbprint(client_key)} and claims_["iss"] == ISSUER
    unbound = make_token(key)
    assert present(dpop_verifier, unbound, None, verify_mode, scheme="Bearer")["sub"] == "user-1", "bearer too"
    assert present(dpop_verifier, unbound, make_proof(alg, client_key), verify_mode, scheme="bearer")["sub"]


def test_m1_a_dpop_bound_token_sent_as_bearer_is_refused(key, client, dpop_verifier, verify_mode):
    alg, client_key = client
    token = bound_token(key, client_key)
    error = refused(
        dpop_verifier,
        token,
        make_proof(alg, client_key, token),
        verify_mode,
        zjwt.InvalidToken,
        "bound",
        scheme="Bearer",
    )
    assert error.error == "invalid_token" and error.challenges == ("Bearer", "DPoP")
    with pytest.raises(zjwt.InvalidToken, match="bound to a key"):  # nor where the request is not known
        dpop_verifier.authenticate("Bearer " + token)


def test_m2_the_dpop_scheme_needs_exactly_one_dpop_header(key, client, dpop_verifier, verify_mode):
    alg, client_key = client
    token = bound_token(key, client_key)
    proof = make_proof(alg, client_key, token)
    for proofs in (None, [], [proof, proof], f"{proof}, {proof}", ""):
        error = refused(dpop_verifier, token, proofs, verify_mode, zjwt.InvalidDPoPProof, "exactly one DPoP header")
        assert error.error == "invalid_dpop_proof" and error.challenges == ("DPoP",)
    assert present(dpop_verifier, token, [proof], verify_mode)["sub"] == "user-1", "one header, as a list"


def test_m3_a_proof_must_be_typed_dpop_jwt(key, client, dpop_verifier, verify_mode):
    alg, client_key = client
    token = bound_token(key, client_key)
    for typ in ("JWT", "at+jwt", ..., "dpop"):
        proof = make_proof(alg, client_key, token, header={"typ": typ})
        refused(dpop_verifier, token, proof, verify_mode, zjwt.InvalidDPoPProof, "typ")


def test_m4_a_proof_alg_must_be_asymmetric_and_allowed(key, client, verify_mode):
    alg, client_key = client
    verifier = make_verifier(key, dpop_algorithms=("ES256",) if alg != "ES256" else ("EdDSA",))
    token = bound_token(key, client_key)
    refused(verifier, token, make_proof(alg, client_key, token), verify_mode, zjwt.InvalidDPoPProof, "not allowed")
    everything = make_verifier(key)
    ath = b64(hashlib.sha256(token.encode()).digest())
    body = b64(json.dumps({"jti": "j", "htm": "GET", "htu": API_URL, "iat": NOW, "ath": ath}))
    for forged_alg in ("none", "HS256"):  # unsigned; and an HMAC keyed with the public key's JSON
        signing_input = b64(json.dumps({"typ": "dpop+jwt", "alg": forged_alg, "jwk": jwk(client_key, kid=None)}))
        signing_input += "." + body
        secret = json.dumps(jwk(client_key, kid=None)).encode()
        mac = hmac.new(secret, signing_input.encode(), "sha256").digest() if forged_alg == "HS256" else b""
        proof = signing_input + "." + b64(mac)
        refused(
            everything, token, proof, verify_mode, zjwt.InvalidDPoPProof, f"algorithm '{forged_alg}' is not allowed"
        )


@pytest.fixture(scope="module")
def weak_rsa_key() -> dict:
    return server.generate_rsa_key(1024)


def test_m5_a_proof_key_must_be_public_and_pass_the_key_policy(key, client, dpop_verifier, verify_mode, weak_rsa_key):
    alg, client_key = client
    token = bound_token(key, client_key)
    private = {**jwk(client_key, kid=None), "d": "c2VjcmV0"}
    proof = make_proof(alg, client_key, token, header={"jwk": private})
    error = refused(dpop_verifier, token, proof, verify_mode, zjwt.InvalidDPoPProof, "private key members")
    assert "c2VjcmV0" not in str(error), "the private value is never repeated"
    weak = make_proof("RS256", weak_rsa_key, token)
    refused(dpop_verifier, token, weak, verify_mode, zjwt.InvalidDPoPProof, "1024-bit")
    if alg == "ES256":  # a point off the curve: y + 1
        public = jwk(client_key, kid=None)
        public["y"] = b64((client_key["y"] + 1).to_bytes(32, "big"))
        off_curve = make_proof(alg, client_key, token, header={"jwk": public})
        refused(dpop_verifier, token, off_curve, verify_mode, zjwt.InvalidDPoPProof, "is not on P-256")


def another_key(alg: str, ec_keys, key) -> dict:
    """Return a key of alg's kind that is not the client's."""
    if alg in ("RS256", "PS256"):
        return key
    return ec_key("P-256") if alg == "ES256" else ed25519_key()


def test_m6_a_proof_signed_by_another_key_than_its_jwk_is_refused(key, client, dpop_verifier, verify_mode, ec_keys):
    alg, client_key = client
    token = bound_token(key, client_key)
    honest = make_proof(alg, client_key, token)
    forged = (
        honest.rsplit(".", 1)[0]
        + "."
        + b64(sign(another_key(alg, ec_keys, key), alg, honest.rsplit(".", 1)[0].encode()))
    )
    refused(dpop_verifier, token, forged, verify_mode, zjwt.InvalidDPoPProof, "signature does not match its jwk")


def test_m7_a_proof_is_for_one_method_and_one_url(key, client, dpop_verifier, verify_mode):
    alg, client_key = client
    token = bound_token(key, client_key)
    refused(
        dpop_verifier,
        token,
        make_proof(alg, client_key, token),
        verify_mode,
        zjwt.InvalidDPoPProof,
        "method",
        method="DELETE",
    )
    refused(
        dpop_verifier,
        token,
        make_proof(alg, client_key, token, htm="get"),
        verify_mode,
        zjwt.InvalidDPoPProof,
        "method",
    )
    for htu in (
        "https://evil.example/orders",
        "https://api.example.com/orders/1",
        "http://api.example.com/orders",
        "https://api.example.com:8443/orders",
        "https://api.example.com/Orders",
        "api.example.com/orders",
        "https://user@api.example.com/orders",
        "https://api.example.com/%6Frders%2",
        42,
    ):
        proof = make_proof(alg, client_key, token, htu=htu)
        refused(dpop_verifier, token, proof, verify_mode, zjwt.InvalidDPoPProof, "URL")
    # RFC 3986 6.2.2-6.2.3: the same URL spelled otherwise, and the query and fragment aside.
    for htu in (
        "HTTPS://API.example.COM:443/orders",
        "https://api.example.com/%6Frders",
        "https://api.example.com/a/../orders?x=1#f",
    ):
        proof = make_proof(alg, client_key, token, htu=htu)
        assert present(dpop_verifier, token, proof, verify_mode, url=API_URL + "?page=2")["sub"] == "user-1", htu


def test_m8_a_proof_is_accepted_for_a_minute_after_its_iat_and_ten_seconds_before(
    key, client, dpop_verifier, verify_mode
):
    alg, client_key = client
    token = bound_token(key, client_key)
    for iat in (NOW - zjwt.DPOP_PROOF_SECONDS, NOW + zjwt.DPOP_CLOCK_SKEW_SECONDS, NOW - 0.5):
        assert present(dpop_verifier, token, make_proof(alg, client_key, token, iat=iat), verify_mode)["sub"]
    for iat in (NOW - zjwt.DPOP_PROOF_SECONDS - 1, NOW + zjwt.DPOP_CLOCK_SKEW_SECONDS + 1, 0):
        refused(
            dpop_verifier,
            token,
            make_proof(alg, client_key, token, iat=iat),
            verify_mode,
            zjwt.InvalidDPoPProof,
            "made at",
        )
    for iat in (str(NOW), True, None, ...):
        refused(
            dpop_verifier, token, make_proof(alg, client_key, token, iat=iat), verify_mode, zjwt.InvalidDPoPProof, "iat"
        )


def test_m9_a_proof_is_accepted_once(key, client, dpop_verifier, verify_mode):
    alg, client_key = client
    token = bound_token(key, client_key)
    proof = make_proof(alg, client_key, token)
    assert present(dpop_verifier, token, proof, verify_mode)["sub"] == "user-1"
    refused(dpop_verifier, token, proof, verify_mode, zjwt.InvalidDPoPProof, "used before")
    same_jti = make_proof(alg, client_key, token, jti=zjwt.unverified_claims(proof)["jti"], iat=NOW - 1)
    refused(dpop_verifier, token, same_jti, verify_mode, zjwt.InvalidDPoPProof, "used before")
    for jti in ("", "x" * (zjwt.MAX_JTI_CHARS + 1), 7, ...):
        refused(
            dpop_verifier, token, make_proof(alg, client_key, token, jti=jti), verify_mode, zjwt.InvalidDPoPProof, "jti"
        )


def test_m10_a_proof_names_the_hash_of_its_access_token(key, client, dpop_verifier, verify_mode):
    alg, client_key = client
    token = bound_token(key, client_key)
    other = bound_token(key, client_key, sub="user-2")
    for proof in (
        make_proof(alg, client_key),
        make_proof(alg, client_key, other),
        make_proof(alg, client_key, token, ath=...),
    ):
        refused(dpop_verifier, token, proof, verify_mode, zjwt.InvalidDPoPProof, "ath")


def test_m11_the_proof_key_must_be_the_key_the_token_is_bound_to(key, client, dpop_verifier, verify_mode, ec_keys):
    alg, client_key = client
    token = bound_token(key, another_key(alg, ec_keys, key))
    error = refused(dpop_verifier, token, make_proof(alg, client_key, token), verify_mode, zjwt.InvalidToken, "cnf.jkt")
    assert error.error == "invalid_token", "RFC 9449 7.1: the key binding, not the proof, failed"


def test_m12_the_dpop_scheme_with_an_unbound_token_is_refused(key, client, dpop_verifier, verify_mode):
    alg, client_key = client
    unbound = make_token(key)
    refused(dpop_verifier, unbound, make_proof(alg, client_key, unbound), verify_mode, zjwt.InvalidToken, "not bound")
    mtls = make_token(key, claims(cnf={"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}))
    for scheme in ("DPoP", "Bearer"):  # RFC 8705: bound to a certificate zjwt cannot check, never a bearer token
        refused(
            dpop_verifier,
            mtls,
            make_proof(alg, client_key, mtls),
            verify_mode,
            zjwt.InvalidToken,
            "does not check",
            scheme=scheme,
        )


def test_m13_the_replay_cache_stays_bounded_under_a_flood_of_jtis():
    clock = Clock()
    cache = zjwt.ReplayCache(max_size=1000, clock=clock)
    accepted = [cache.add(f"jti-{i}", NOW + zjwt.DPOP_PROOF_SECONDS) for i in range(5000)]
    assert accepted == [True] * 1000 + [False] * 4000 and len(cache) == 1000, "full: refused, never forgotten early"
    assert not cache.add("jti-7", NOW + 60), "a remembered jti stays refused"
    clock.advance(zjwt.DPOP_PROOF_SECONDS)
    assert cache.add("jti-7", NOW + 2 * zjwt.DPOP_PROOF_SECONDS) and len(cache) == 1, "expired ones leave"
    clock.advance(2 * zjwt.DPOP_PROOF_SECONDS)
    for i in range(200_000):  # a long flood, each jti expiring in turn: memory never holds more than the window
        clock.advance(0.001)
        cache.add(f"flood-{i}", clock.now + 1)
    assert len(cache) <= 1001


def dpop_request(token: str, proof: str) -> dict:
    return {"Authorization": "DPoP " + token, "DPoP": proof}


def real_time_proof(alg: str, client_key: dict, token: str, url: str, **changes) -> str:
    return make_proof(alg, client_key, token, htu=url, iat=int(time.time()), **changes)


@pytest.mark.parametrize("server_kind", ["wsgi", "asgi"])
def test_the_middlewares_give_dpop_the_method_the_url_and_the_proof(key, ec_keys, server_kind):
    client_key = ec_keys["ES256"]
    verifier = zjwt.Verifier(ISSUER, jwks={"keys": [jwk(key)]})
    wrap = zjwt.wsgi_middleware if server_kind == "wsgi" else zjwt.asgi_middleware
    serve = served_by_wsgiref if server_kind == "wsgi" else served_by_uvicorn
    token = real_time_token(key, cnf={"jkt": thumbprint(client_key)})
    with serve(wrap(echo_wsgi if server_kind == "wsgi" else echo_app, verifier)) as base:
        proof = real_time_proof("ES256", client_key, token, base + "/orders")
        status, _, body = call(base, "GET", "/orders?page=2", dpop_request(token, proof))
        assert status == 200 and body["claims"]["cnf"]["jkt"] == thumbprint(client_key)
        status, headers, body = call(base, "GET", "/orders", dpop_request(token, proof))
        challenge = {k.lower(): v for k, v in headers.items()}["www-authenticate"]
        assert status == 401 and challenge.startswith('DPoP realm="api", error="invalid_dpop_proof"')
        assert "used before" in body["message"]
        fresh = real_time_proof("ES256", client_key, token, base + "/orders")
        assert call(base, "POST", "/orders", dpop_request(token, fresh))[0] == 401, "a GET proof, a POST"
        assert call(base, "GET", "/orders", bearer(token))[0] == 401, "never as a bearer token"
    # Behind a proxy the client names the public URL: public_origin says what it is.
    public = "https://api.example.com"
    with serve(wrap(echo_wsgi if server_kind == "wsgi" else echo_app, verifier, public_origin=public)) as base:
        status, _, _ = call(
            base, "GET", "/orders", dpop_request(token, real_time_proof("ES256", client_key, token, public + "/orders"))
        )
        assert status == 200
        local = real_time_proof("ES256", client_key, token, base + "/orders")
        assert call(base, "GET", "/orders", dpop_request(token, local))[0] == 401
    for bad in ("https://api.example.com/v1", "api.example.com", "https://api.example.com/?x", "ftp://api.example.com"):
        with pytest.raises(ValueError, match="public_origin must be"):
            wrap(echo_app, verifier, public_origin=bad)


def test_uvicorns_proxy_headers_give_dpop_the_url_the_client_used(key, ec_keys):
    client_key = ec_keys["ES256"]
    verifier = zjwt.Verifier(ISSUER, jwks={"keys": [jwk(key)]})
    token = real_time_token(key, cnf={"jkt": thumbprint(client_key)})
    app = zjwt.asgi_middleware(echo_app, verifier)
    with served_by_uvicorn(app, proxy_headers=True, forwarded_allow_ips="127.0.0.1") as base:
        proxied = {"Host": "api.example.com", "X-Forwarded-Proto": "https"}  # what a proxy in front sends
        proof = real_time_proof("ES256", client_key, token, "https://api.example.com/orders")
        assert call(base, "GET", "/orders", {**dpop_request(token, proof), **proxied})[0] == 200


@pytest.fixture(scope="module")
def redis_client(tmp_path_factory):
    """A client of a real redis-server on a unix socket, started here and stopped after the module's tests."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    redis = pytest.importorskip("redis", reason="the redis package is not installed (test extras)")
    where = tmp_path_factory.mktemp("redis")
    socket_path = str(where / "redis.sock")
    options = ["--port", "0", "--unixsocket", socket_path, "--save", "", "--appendonly", "no", "--dir", str(where)]
    process = subprocess.Popen([binary, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(unix_socket_path=socket_path)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            assert time.monotonic() < deadline and process.poll() is None, "redis-server did not start"
            time.sleep(0.05)
    yield client
    process.terminate()
    process.wait(10)


def example_module(name: str):
    """Import examples/<name>.py as a module."""
    spec = importlib.util.spec_from_file_location(name, HERE / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_m9_a_proof_is_accepted_once_by_workers_sharing_redis(key, ec_keys, redis_client, verify_mode):
    shared = example_module("redis_replay").RedisReplayCache(redis_client, prefix=f"test:{secrets.token_hex(4)}:")
    workers = [zjwt.Verifier(ISSUER, jwks={"keys": [jwk(key)]}, replay_cache=shared) for _ in range(2)]
    client_key = ec_keys["EdDSA"]
    token = real_time_token(key, cnf={"jkt": thumbprint(client_key)})
    proof = real_time_proof("EdDSA", client_key, token, API_URL)
    assert present(workers[0], token, proof, verify_mode)["sub"] == "user-1"
    refused(workers[1], token, proof, verify_mode, zjwt.InvalidDPoPProof, "used before")
    jti = zjwt.unverified_claims(proof)["jti"]
    assert 0 < redis_client.ttl(shared.prefix + jti) <= zjwt.DPOP_PROOF_SECONDS, "forgotten when the proof expires"
    second = real_time_proof("EdDSA", client_key, token, API_URL)
    assert present(workers[1], token, second, verify_mode)["sub"] == "user-1"


def test_the_demo_mints_dpop_bound_tokens_and_checks_their_proofs(demo, ec_keys):
    client_key = ec_keys["ES256"]
    status, _, body = call(demo, "POST", "/dev/token", {}, json.dumps({"jwk": jwk(client_key, kid=None)}).encode())
    assert status == 200 and body["token_type"] == "DPoP"
    token = body["access_token"]
    assert zjwt.unverified_claims(token)["cnf"] == {"jkt": thumbprint(client_key)}
    url = demo.base_url + "/protected"
    proof = real_time_proof("ES256", client_key, token, url, htm="GET")
    status, _, body = call(demo, "GET", "/protected", dpop_request(token, proof))
    assert status == 200 and body["user"]["cnf"]["jkt"] == thumbprint(client_key)
    assert call(demo, "GET", "/protected", dpop_request(token, proof))[0] == 401, "a proof is spent once"
    status, headers, _ = call(demo, "GET", "/protected", bearer(token))
    assert status == 401 and headers["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    for bad in ({"kty": "oct", "k": "c2VjcmV0"}, {**jwk(client_key, kid=None), "d": "c2VjcmV0"}, "key"):
        assert call(demo, "POST", "/dev/token", {}, json.dumps({"jwk": bad}).encode())[0] == 400, bad


def test_the_readmes_dpop_client_gets_a_bound_token_from_the_demo_and_proves_each_request(demo, capsys):
    pytest.importorskip("cryptography", reason="the README's client signs with cryptography")
    code = readme_python_block("dpop+jwt").replace("http://127.0.0.1:8000", demo.base_url)
    exec(code, {})  # word for word, but for the demo's port
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("'message': 'Access granted'" in line for line in lines), lines


def test_an_asynchronous_replay_store_is_awaited_and_never_taken_for_a_yes(key, ec_keys):
    seen: set = set()

    class AsyncStore:  # as an asyncio Redis client answers
        async def add(self, jti: str, expires_at: float) -> bool:
            fresh = jti not in seen
            seen.add(jti)
            return fresh

    verifier = make_verifier(key, replay_cache=AsyncStore())
    client_key = ec_keys["ES256"]
    token = bound_token(key, client_key)
    proof = make_proof("ES256", client_key, token)
    assert present(verifier, token, proof, "async")["sub"] == "user-1"
    refused(verifier, token, proof, "async", zjwt.InvalidDPoPProof, "used before")
    with pytest.raises(TypeError, match="call authenticate_async"):  # a coroutine is true: it must not mean "new"
        present(verifier, token, make_proof("ES256", client_key, token), "sync")
    with pytest.raises(ValueError, match="replay_cache must have an add"):
        make_verifier(key, replay_cache=object())


def test_dpop_required_refuses_bearer_tokens_and_says_so_in_its_challenge(key, ec_keys, verify_mode):
    verifier = make_verifier(key, dpop="required")
    client_key = ec_keys["ES256"]
    with pytest.raises(
        zjwt.MissingToken, match="uses the 'Bearer' scheme: send 'Authorization: DPoP <token>'"
    ) as raised:
        present(verifier, make_token(key), None, verify_mode, scheme="Bearer")
    only_dpop = 'DPoP realm="api", algs="' + " ".join(sorted(zjwt.DPOP_ALGORITHMS)) + '"'
    assert raised.value.challenges == ("DPoP",) and raised.value.www_authenticate() == only_dpop
    token = bound_token(key, client_key)
    assert present(verifier, token, make_proof("ES256", client_key, token), verify_mode)["sub"] == "user-1"
    with pytest.raises(zjwt.MissingToken) as raised:
        verifier.authenticate(None, method="GET", url=API_URL)
    assert raised.value.www_authenticate() == only_dpop
    with pytest.raises(zjwt.InvalidToken, match="DPoP-bound tokens only"):
        verifier.authenticate("Bearer " + make_token(key))  # without the request: no proof can be checked
    with pytest.raises(ValueError, match="dpop must be one of"):
        make_verifier(key, dpop="optional")


def test_a_request_without_credentials_is_told_both_schemes_with_no_error_code(key):
    with pytest.raises(zjwt.MissingToken) as raised:
        make_verifier(key).authenticate(None, method="GET", url=API_URL)
    assert raised.value.www_authenticate() == 'Bearer realm="api", ' + DPOP_CHALLENGE
    status, headers, _ = zjwt.error_response(raised.value)
    assert status == 401 and dict(headers)["WWW-Authenticate"] == 'Bearer realm="api", ' + DPOP_CHALLENGE


@needs_vectors
def test_jwk_thumbprint_gives_rfc_7638s_and_rfc_9449s_examples():
    example = rfc_vector("rfc7638_3_1.json")
    assert zjwt.jwk_thumbprint(example["jwk"]) == example["thumbprint"], "kid and alg are not hashed"
    dpop = rfc_vector("rfc9449.json")
    assert zjwt.jwk_thumbprint(dpop["jwk"]) == dpop["jkt"]
    for bad in (
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "EC", "crv": "P-256", "x": "AA"},
        [],
        {"kty": "RSA", "n": 1, "e": "AQAB"},
    ):
        with pytest.raises(ValueError, match="thumbprint needs"):
            zjwt.jwk_thumbprint(bad)


@needs_vectors
@pytest.mark.parametrize("backend", BACKENDS)
def test_rfc_9449s_example_proofs_verify_and_their_jkt_and_ath_match(backend):
    dpop = rfc_vector("rfc9449.json")
    for request, access_token in (
        (dpop["token_request"], None),
        (dpop["resource_request"], dpop["resource_request"]["access_token"]),
    ):
        found = zjwt.check_dpop_proof(
            request["proof"], request["htm"], request["htu"], access_token, request["iat"], backend=backend
        )
        assert found == (dpop["jkt"], request["jti"], request["iat"])
    resource = dpop["resource_request"]
    assert zjwt.access_token_hash(resource["access_token"]) == resource["ath"]
    with pytest.raises(zjwt.InvalidDPoPProof, match="ath"):  # the same proof for another token
        zjwt.check_dpop_proof(
            resource["proof"], "GET", resource["htu"], resource["access_token"] + "x", resource["iat"], backend=backend
        )
    with pytest.raises(zjwt.InvalidDPoPProof, match="made at 2019-07-04T17:50:18Z"):  # years later
        zjwt.check_dpop_proof(resource["proof"], "GET", resource["htu"], resource["access_token"], NOW, backend=backend)


def test_normal_url_follows_rfc_3986s_normalisations():
    same = {
        "https://api.example.com/orders": [
            "HTTPS://Api.Example.COM:443/orders",
            "https://api.example.com/./orders",
            "https://api.example.com/x/../orders?q#f",
            "https://api.example.com/%6f%72ders",
        ],
        "http://[::1]:8000/": ["http://[::1]:8000", "HTTP://[::1]:8000/?"],
        "https://api.example.com/a%2Fb%C3%A9": ["https://api.example.com/a%2fb%c3%a9"],
    }
    for normal, spellings in same.items():
        assert zjwt.normal_url(normal) == normal and all(zjwt.normal_url(s) == normal for s in spellings), normal
    for bad in (
        "ftp://api.example.com/",
        "/orders",
        "https://",
        "https://u:p@api.example.com/",
        "https://api.example.com/%",
        "https://api.example.com/%zz",
        "https://api.example.com:x/",
        "https://api.example.com/a b",
        "https://api.example.com/é",
    ):
        assert zjwt.normal_url(bad) is None, bad


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_mutated_proof_is_refused_with_an_auth_error(key, ec_keys, data):
    client_key = ec_keys["ES256"]
    verifier = make_verifier(key, backend="pure")
    token = bound_token(key, client_key)
    proof = make_proof("ES256", client_key, token)
    position = data.draw(st.integers(0, len(proof) - 1))
    mutated = proof[:position] + data.draw(st.sampled_from("AQgw-_.=+/ ,{}\x00é")) + proof[position + 1 :]
    try:
        verifier.authenticate("DPoP " + token, dpop=mutated, method="GET", url=API_URL)
    except zjwt.AuthError as error:
        assert error.status == 401 and error.error in ("invalid_dpop_proof", "invalid_token")
    else:
        assert mutated == proof, f"a mutated proof was accepted: {mutated!r}"


def pyjwt_client(alg: str):
    """Return (public JWK, a function making PyJWT's DPoP proof for GET API_URL and a token) for a fresh alg key."""
    jwt = pytest.importorskip("jwt", reason="PyJWT is not installed (test extras)")
    pytest.importorskip("cryptography", reason="PyJWT signs with cryptography")
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    private = {
        "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "RS256": lambda: rsa.generate_private_key(65537, 2048),
        "PS256": lambda: rsa.generate_private_key(65537, 2048),
        "EdDSA": ed25519.Ed25519PrivateKey.generate,
    }[alg]()
    public = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(private.public_key()))

    def prove(token: str) -> str:
        ath = b64(hashlib.sha256(token.encode()).digest())
        payload = {"jti": secrets.token_hex(8), "htm": "GET", "htu": API_URL, "iat": int(time.time()), "ath": ath}
        return jwt.encode(payload, private, algorithm=alg, headers={"typ": "dpop+jwt", "jwk": public})

    return public, prove


@pytest.mark.parametrize("alg", PROOF_ALGS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_proofs_made_by_pyjwt_are_accepted(key, alg, backend):
    public, prove = pyjwt_client(alg)
    token = real_time_token(key, cnf={"jkt": zjwt.jwk_thumbprint(public)})
    verifier = zjwt.Verifier(ISSUER, jwks={"keys": [jwk(key)]}, backend=backend)
    assert verifier.authenticate("DPoP " + token, dpop=prove(token), method="GET", url=API_URL)["sub"] == "user-1"
    assert asyncio.run(verifier.authenticate_async("DPoP " + token, dpop=prove(token), method="GET", url=API_URL))


# ---------------------------------------------------------------------------
# Explaining a token (issue 19): every step verify takes, from the same code.
# ---------------------------------------------------------------------------

CORE_STEPS = [name for name in zjwt.STEPS if name not in ("issuer", "typ", "max_age")]


def results(report: dict) -> dict:
    """Return {step name: result} of an explain report."""
    return {step["name"]: step["result"] for step in report["steps"]}


def step(report: dict, name: str) -> dict:
    return next(each for each in report["steps"] if each["name"] == name)


def test_explain_reports_each_step_of_a_good_token_in_verifys_order(key):
    verifier = make_verifier(key, audience="api")
    token = make_token(key, claims(aud="api"))
    report = verifier.explain(token)
    assert report["verified"] and report["error"] is None and report["issuer"] == ISSUER
    assert [each["name"] for each in report["steps"]] == CORE_STEPS
    assert set(results(report).values()) == {"passed"}
    assert step(report, "size")["detail"] == f"{len(token)} characters, at most 8192"
    assert step(report, "alg")["detail"] == "'RS256', allowed (RS256)"
    assert step(report, "key")["detail"] == "kid 'k1': RSA 2048 bits"
    assert step(report, "aud")["detail"] == "names 'api'"
    assert step(report, "exp")["detail"] == "expires 2027-01-15T08:10:00Z, in 10 min"
    assert all(each["title"] and each["why"] and each["rfc"].startswith("RFC ") for each in report["steps"][1:])
    assert step(report, "exp")["rfc"] == "RFC 7519 4.1.4" and step(report, "alg")["rfc"] == "RFC 8725 3.1"
    assert report["header"] == {"alg": "RS256", "kid": "k1"} and report["claims"] == claims(aud="api")
    assert report["claims_verified"] and report["dates"]["iat"] == {
        "value": NOW - 10,
        "utc": "2027-01-15T07:59:50Z",
        "relative": "10 s ago",
    }
    assert report["keys"]["state"] == "fresh" and report["keys"]["key"]["kid"] == "k1"
    assert json.loads(json.dumps(report)) == report, "plain JSON, for the demo's POST /explain"


def test_explain_adds_typ_and_max_age_where_the_verifier_checks_them(key):
    verifier = make_verifier(key, typ="at+jwt", max_age=60)
    token = make_token(key, header={"alg": "RS256", "kid": "k1", "typ": "at+jwt"})
    names = [each["name"] for each in verifier.explain(token)["steps"]]
    assert names == [*CORE_STEPS[:6], "typ", *CORE_STEPS[6:], "max_age"]
    old = make_token(key, claims(iat=NOW - 61), header={"alg": "RS256", "kid": "k1", "typ": "at+jwt"})
    report = verifier.explain(old)
    assert results(report)["max_age"] == "failed" and report["error"]["kind"] == "ExpiredToken"
    wrong_type = verifier.explain(make_token(key))
    assert results(wrong_type)["typ"] == "failed" and results(wrong_type)["key"] == "not reached"


@pytest.mark.parametrize("backend", BACKENDS)
def test_explain_and_verify_agree_on_forgeries_on_both_backends(key, other_key, backend):
    verifier = make_verifier(key, audience="api", backend=backend)
    good = make_token(key, claims(aud="api"))
    header, payload, signature = good.split(".")
    forged = {
        "alg none": b64('{"alg":"none","kid":"k1"}') + "." + payload + ".",
        "HS256 keyed with n": b64('{"alg":"HS256","kid":"k1"}') + "." + payload + "." + b64(bytes(32)),
        "another issuer's key": make_token(other_key, claims(aud="api")),
        "a flipped bit": good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1],
        "s + n": f"{header}.{payload}." + b64((int.from_bytes(zjwt.b64url_decode(signature)) + key["n"]).to_bytes(257)),
        "crit": make_token(key, claims(aud="api"), header={"alg": "RS256", "kid": "k1", "crit": ["exp"]}),
        "unknown kid": make_token(key, claims(aud="api"), kid="k9"),
        "wrong issuer": make_token(key, claims(aud="api", iss=ISSUER + "/")),
        "wrong audience": make_token(key, claims(aud="other")),
        "expired": make_token(key, claims(aud="api", exp=NOW)),
        "not yet valid": make_token(key, claims(aud="api", nbf=NOW + 60)),
        "a string date": make_token(key, claims(aud="api", exp=str(NOW + 60))),
        "JWE": "a.b.c.d.e",
    }
    for name, token in forged.items():
        with pytest.raises(zjwt.InvalidToken) as raised:
            VERIFY(verifier, token)
        assert_explained(verifier.explain(token), raised.value), name


def test_explain_never_raises_for_the_token_and_marks_unverified_claims(key, other_key):
    verifier = make_verifier(key)
    report = verifier.explain(make_token(other_key, claims(sub="<img src=x onerror=alert(1)>")))
    assert results(report)["signature"] == "failed" and not report["claims_verified"]
    assert report["claims"]["sub"] == "<img src=x onerror=alert(1)>", "decoded for reading, marked unverified"
    for token in (12345, None, b"\xff.a.b", "", "a" * 9000, "ä.b.c", "e30.e30", ["a.b.c"]):
        report = verifier.explain(token)
        assert not report["verified"] and report["error"]["kind"] == "MalformedToken", token
        failed = next(each["name"] for each in report["steps"] if each["result"] == "failed")
        assert failed in ("size", "segments", "header") and report["claims"] is None, token


def test_explain_neither_uses_nor_fills_the_verified_token_cache(key):
    verifier = make_verifier(key)
    token = make_token(key)
    verifier.explain(token)
    assert (verifier.cache_hits, verifier.cache_misses, len(verifier._verified), verifier._headers) == (0, 0, 0, {})
    verifier.verify(token)
    verifier.explain(token)
    verifier.verify(token)
    assert (verifier.cache_hits, verifier.cache_misses) == (1, 1)


def test_explain_fetches_no_more_than_verify_would(key, other_key):
    """Two verifiers, one verifying and one explaining the same tokens: the same fetches, the same cooldowns."""
    servers = [JwksServer({"keys": [jwk(key)]}) for _ in range(2)]
    clock = Clock()
    verifiers = [
        zjwt.Verifier(ISSUER, key_source=zjwt.RemoteKeySet(where.url, clock=clock), clock=clock) for where in servers
    ]
    tokens = [make_token(key), make_token(key, kid="k9"), make_token(key, kid="k8"), make_token(other_key)]
    for _ in range(3):
        for token in tokens:
            with contextlib.suppress(zjwt.AuthError):
                verifiers[0].verify(token)
            assert verifiers[1].explain(token)["verified"] == (token == tokens[0])
        clock.advance(31)
    assert servers[0].requests == servers[1].requests == 3, "the first fetch, then one per cooldown for unknown kids"
    for where in servers:
        where.stop()


def test_explain_reports_unavailable_keys_in_the_key_step_with_503(key, jwks_server):
    jwks_server.behaviour = "status"
    verifier = zjwt.Verifier(ISSUER, jwks_uri=jwks_server.url, clock=Clock())
    report = verifier.explain(make_token(key))
    assert report["error"]["kind"] == "KeySetUnavailable" and report["error"]["status"] == 503
    assert results(report)["key"] == "failed" and results(report)["kid"] == "passed"
    assert report["keys"]["state"] == "unavailable" and "500" in report["keys"]["last_error"]
    assert report["keys"]["jwks_uri"] == jwks_server.url and report["keys"]["key"] is None


def test_issuers_explain_begins_with_the_step_that_chose_the_verifier(key, two_issuers):
    issuers, a, b, _ = two_issuers
    report = issuers.explain(make_token(key, claims(iss=a.base + "/a"), kid="a1"))
    assert report["verified"] and [each["name"] for each in report["steps"]] == ["issuer", *CORE_STEPS]
    assert step(report, "issuer")["detail"] == f"'{a.base}/a', one of the issuers configured"
    refused = issuers.explain(make_token(key, claims(iss="https://evil.example"), kid="a1"))
    assert results(refused)["issuer"] == "failed" and refused["error"]["kind"] == "InvalidIssuer"
    assert set(list(results(refused).values())[1:]) == {"not reached"} and refused["issuer"] is None
    assert (a.requests, b.requests) == (2, 0), "A's discovery and keys for the first token; nothing for the refused one"


# Each check, loosened by replacing the function that makes it: verify and explain change together, because
# explain runs verify's code.  (name of the zjwt function, its loosened version, a token only it refuses)
LOOSENED = [
    ("check_size", lambda token: None, lambda key: make_token(key, claims(pad="x" * 9000))),
    ("typ_matches", lambda value, typ: True, lambda key: make_token(key, header={"alg": "RS256", "kid": "k1"})),
    ("verify_signature", lambda *arguments: True, lambda key: make_token(key)[:-4] + "AAAA"),
    ("_check_audience", lambda claims, audience: None, lambda key: make_token(key, claims(aud="other"))),
    ("check_times", lambda *arguments: None, lambda key: make_token(key, claims(exp=NOW - 1))),
]


@pytest.mark.parametrize("function, loosened, make", LOOSENED, ids=[case[0] for case in LOOSENED])
def test_a_rule_loosened_changes_verify_and_explain_together(key, monkeypatch, function, loosened, make):
    verifier = make_verifier(key, typ="JWT" if function == "typ_matches" else None, cache_size=0)
    token = make(key)
    with pytest.raises(zjwt.InvalidToken) as raised:
        VERIFY(verifier, token)
    assert_explained(verifier.explain(token), raised.value)
    monkeypatch.setattr(zjwt, function, loosened)
    assert VERIFY(verifier, token)["iss"] == ISSUER
    assert verifier.explain(token)["verified"], "the same rule, loosened, lets the token through both paths"


def test_a_rule_tightened_fails_verify_and_explain_in_the_same_step(key, monkeypatch):
    verifier = make_verifier(key, cache_size=0)
    monkeypatch.setattr(zjwt, "verify_signature", lambda *arguments: False)
    with pytest.raises(zjwt.InvalidSignature) as raised:
        VERIFY(verifier, make_token(key))
    report = verifier.explain(make_token(key))
    assert_explained(report, raised.value)
    assert results(report)["signature"] == "failed"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_explain_agrees_with_verify_on_any_mutated_token(key, data):
    verifier = make_verifier(key, audience="api", cache_size=0)
    token = make_token(key, claims(aud="api"))
    position = data.draw(st.integers(0, len(token) - 1))
    mutated = token[:position] + data.draw(st.sampled_from("AQgw-_.=+/ {}\x00é")) + token[position + 1 :]
    try:
        claims_ = VERIFY(verifier, mutated)
    except zjwt.InvalidToken as error:
        assert_explained(verifier.explain(mutated), error)
    else:
        assert verifier.explain(mutated)["claims"] == claims_


# ---------------------------------------------------------------------------
# Command line: python zjwt.py verify | explain | inspect | keys
# ---------------------------------------------------------------------------


def real_time_token(key: dict, **changes) -> str:
    now = int(time.time())
    return make_token(key, claims(iat=now - 5, exp=now + 600, **changes))


@pytest.fixture
def jwks_file(key, tmp_path) -> str:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk(key)]}))
    return str(path)


def test_cli_verify_prints_claims_and_exits_0(key, jwks_file, capsys):
    token = real_time_token(key, aud="orders")
    assert zjwt.main(["verify", token, "--issuer", ISSUER, "--audience", "orders", "--jwks-file", jwks_file]) == 0
    assert json.loads(capsys.readouterr().out)["aud"] == "orders"


def test_cli_verify_prints_the_reason_and_exits_1(key, jwks_file, capsys):
    assert (
        zjwt.main(["verify", real_time_token(key), "--issuer", "https://other.example", "--jwks-file", jwks_file]) == 1
    )
    assert "rejected: the token was issued by" in capsys.readouterr().err


def test_cli_verify_fetches_from_a_jwks_uri_and_reports_an_outage(key, jwks_server, capsys):
    assert zjwt.main(["verify", real_time_token(key), "--issuer", ISSUER, "--jwks-uri", jwks_server.url]) == 0
    down = f"http://127.0.0.1:{unused_port()}/jwks.json"
    assert zjwt.main(["verify", real_time_token(key), "--issuer", ISSUER, "--jwks-uri", down]) == 1
    error = capsys.readouterr().err
    assert error.startswith("keys unavailable: ") and "ConnectionError" in error and "Connection refused" in error
    assert error.count("\n") == 1 and "retry in" not in error, "one line, and no cooldown advice for a one-shot run"


def stdin_bytes(data: bytes) -> io.TextIOWrapper:
    """Return a standard input whose bytes are data, as a pipe would give them."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def test_cli_reads_the_token_from_stdin(key, jwks_file, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", stdin_bytes(real_time_token(key).encode() + b"\n"))
    assert zjwt.main(["verify", "-", "--issuer", ISSUER, "--jwks-file", jwks_file]) == 0


@pytest.mark.parametrize("command", ["inspect", "verify"])
def test_item11_undecodable_bytes_on_stdin_are_one_line_and_exit_2(jwks_file, monkeypatch, capsys, command):
    monkeypatch.setattr(sys, "stdin", stdin_bytes(b"\xff\xfe\x00 not a token \x80"))
    extra = ["--issuer", ISSUER, "--jwks-file", jwks_file] if command == "verify" else []
    assert zjwt.main([command, "-", *extra]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: standard input holds bytes that are not ASCII")


def test_cli_inspect_prints_header_and_claims_marked_unverified_and_dates_in_words(key, capsys):
    now = int(time.time())
    assert zjwt.main(["inspect", make_token(key, claims(iat=now - 3 * 3600 - 5, exp=now + 5 * 60 + 30))]) == 0
    out = capsys.readouterr().out.split("\n")
    assert out[0] == "UNVERIFIED: the signature and claims have NOT been checked"
    end = out.index("}") + 1
    assert json.loads("\n".join(out[1:end])) == {
        "header": {"alg": "RS256", "kid": "k1"},
        "claims": claims(iat=now - 3 * 3600 - 5, exp=now + 5 * 60 + 30),
    }
    assert out[end:-1] == [
        f"      exp  {zjwt._iso(now + 330)}  (in 5 min)",
        f"      iat  {zjwt._iso(now - 10805)}  (3 h ago)",
    ]
    assert zjwt.main(["inspect", "not.a.token"]) == 1


@pytest.mark.parametrize(
    "pasted, said",
    [
        ("Bearer TOKEN", "this starts with 'Bearer': pass only the token after it"),
        (
            "Authorization: Bearer TOKEN",
            "this looks like a full Authorization header: pass only the token after 'Bearer '",
        ),
        ('"TOKEN"', "the token is wrapped in quotes: pass it without them"),
        ("'TOKEN'", "the token is wrapped in quotes: pass it without them"),
        (" TOKEN", "the token has spaces or line breaks in it"),
        ("TOKEN\n", "the token has spaces or line breaks in it"),
        ("TOK\nEN", "the token has spaces or line breaks in it"),
        ("", "the token is empty"),
        ("https://issuer.example/token?x=1", "this is a URL, not a token"),
        ("a.b.c.d.e", "this is an encrypted token (JWE, 5 segments)"),
    ],
)
@pytest.mark.parametrize("command", ["verify", "inspect"])
def test_cli_names_common_paste_mistakes_in_one_line_and_exits_2(key, jwks_file, capsys, pasted, said, command):
    token = pasted.replace("TOKEN", real_time_token(key))
    extra = ["--issuer", ISSUER, "--jwks-file", jwks_file] if command == "verify" else []
    assert zjwt.main([command, token, *extra]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {said}") and error.count("\n") == 1


def test_cli_messages_speak_in_flags_and_say_the_next_step(key, jwks_file, tmp_path, capsys):
    assert zjwt.main(["verify", real_time_token(key, aud="orders"), "--issuer", ISSUER, "--jwks-file", jwks_file]) == 1
    error = capsys.readouterr().err
    assert "pass --audience" in error and "Verifier(" not in error and error.count("\n") == 1
    assert zjwt.main(["verify", "x.y.z", "--issuer", "http://keycloak:8080/realms/demo"]) == 2
    error = capsys.readouterr().err
    assert "--allow-http" in error and "allow_http" not in error
    expired = make_token(key, claims(exp=int(time.time()) - 60))
    assert zjwt.main(["verify", expired, "--issuer", ISSUER, "--jwks-file", jwks_file]) == 1
    assert capsys.readouterr().err.rstrip().endswith("s ago; get a fresh token")
    assert (
        zjwt.main(
            ["verify", real_time_token(key), "--issuer", ISSUER, "--jwks-file", jwks_file, "--algorithm", "ES256"]
        )
        == 1
    )
    assert "allow its algorithm with --algorithm" in capsys.readouterr().err


def test_cli_an_unknown_kid_lists_the_kids_the_issuer_has(key, other_key, tmp_path, capsys):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk(key, "k1"), jwk(other_key, "k2")]}))
    token = make_token(key, claims(exp=int(time.time()) + 60), kid="k9")
    assert zjwt.main(["verify", token, "--issuer", ISSUER, "--jwks-file", str(path)]) == 1
    assert "no key with id 'k9' in the issuer's key set, which has 'k1', 'k2'" in capsys.readouterr().err


def test_cli_a_broken_jwks_file_is_named_with_the_line(tmp_path, capsys):
    path = tmp_path / "keys.json"
    path.write_text('{"keys": [\n  {"kty": "RSA",}\n]}')
    assert zjwt.main(["keys", "--jwks-file", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {path} is not JSON: ") and "line 2" in error and error.count("\n") == 1


def test_cli_verifies_with_a_pem_public_key_or_certificate_as_the_key_file(key, tmp_path, capsys):
    pem = tmp_path / "key.pem"
    pem.write_text(pem_of(jwk(key)))
    token = real_time_token(key)
    assert zjwt.main(["verify", token, "--issuer", ISSUER, "--jwks-file", str(pem)]) == 0
    assert json.loads(capsys.readouterr().out)["iss"] == ISSUER
    pem.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    assert zjwt.main(["verify", token, "--issuer", ISSUER, "--jwks-file", str(pem)]) == 2
    assert f"{pem}: this is a private key" in capsys.readouterr().err


def test_cli_help_says_which_flags_repeat_and_what_the_exit_statuses_mean(capsys):
    with pytest.raises(SystemExit) as done:
        zjwt.main(["verify", "--help"])
    help_text = capsys.readouterr().out
    assert done.value.code == 0 and "repeat the flag for several" in help_text and "repeatable" in help_text
    assert "exit status:" in help_text and "  2  bad input" in help_text


def zjwt_command() -> Path:
    command = Path(sys.executable).parent / "zjwt"
    if not command.exists():
        pytest.skip("the zjwt command is not installed (pip install -e .)")
    return command


@pytest.mark.parametrize(
    "how", ["script", pytest.param("python -m zjwt", marks=slow), pytest.param("python zjwt.py", marks=slow)]
)
def test_the_cli_names_itself_as_it_was_run_and_works_from_any_directory(key, tmp_path, how):
    argv = {
        "script": [str(zjwt_command())],
        "python -m zjwt": [sys.executable, "-m", "zjwt"],
        "python zjwt.py": [sys.executable, str(HERE / "zjwt.py")],
    }[how]
    env = {**os.environ, "PYTHONPATH": str(HERE)}

    def run(*args):
        return subprocess.run([*argv, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)

    assert run("--version").stdout == f"zjwt {zjwt.__version__}\n"
    usage = run("verify").stderr
    assert usage.startswith(f"usage: {'zjwt' if how == 'script' else how} verify"), usage
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk(key)]}))
    done = run("verify", real_time_token(key), "--issuer", ISSUER, "--jwks-file", "jwks.json")
    assert done.returncode == 0 and json.loads(done.stdout)["iss"] == ISSUER
    assert run("inspect", real_time_token(key)).returncode == 0
    assert run("keys", "--jwks-file", "jwks.json").stdout.splitlines()[1] == "1 key, 1 usable"


def test_cli_explain_prints_each_step_and_exits_0_when_the_token_verifies(key, jwks_file, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", stdin_bytes(real_time_token(key, aud="orders").encode()))
    assert zjwt.main(["explain", "-", "--issuer", ISSUER, "--audience", "orders", "--jwks-file", jwks_file]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"VERIFIED (issuer '{ISSUER}')\n")
    assert "  ✓ alg         'RS256', allowed (RS256)\n" in out and "  ✓ aud         names 'orders'\n" in out
    assert "why:" not in out and "claims (verified: the signature matched)" in out and "\x1b[" not in out
    assert "  checked with kid 'k1': RSA 2048 bits\n" in out


def test_cli_explain_shows_the_failed_step_with_its_reason_and_exits_1(key, jwks_file, capsys):
    expired = make_token(key, claims(exp=int(time.time()) - 90))
    assert zjwt.main(["explain", expired, "--issuer", ISSUER, "--jwks-file", jwks_file]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"REFUSED  ExpiredToken (issuer '{ISSUER}')"
    failed = next(i for i, line in enumerate(lines) if line.startswith("  ✗ exp "))
    assert "token expired at" in lines[failed] and re.search(r", 9\d s ago$", lines[failed])
    assert lines[failed + 1].strip() == f"why: {zjwt.STEPS['exp'].why} (RFC 7519 4.1.4)"
    assert lines[failed + 2] == "  · nbf         not reached"
    assert zjwt.main(["explain", expired, "--why", "--issuer", ISSUER, "--jwks-file", jwks_file]) == 1
    assert capsys.readouterr().out.count("why: ") == len(CORE_STEPS)


def test_cli_explain_marks_in_ascii_where_the_terminal_cannot_and_colours_only_a_terminal(key, jwks_file):
    pty = pytest.importorskip("pty", reason="pseudo-terminals are POSIX only")
    command = [sys.executable, "zjwt.py", "explain", real_time_token(key), "--issuer", ISSUER]
    command += ["--jwks-file", jwks_file]
    ascii_only = {**os.environ, "PYTHONIOENCODING": "ascii"}
    piped = subprocess.run(command, cwd=HERE, env=ascii_only, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and "  + size " in piped.stdout and "\x1b[" not in piped.stdout
    for no_color, coloured in (("", True), ("1", False)):
        controller, terminal = pty.openpty()
        env = {**os.environ, "NO_COLOR": no_color}
        done = subprocess.run(command, cwd=HERE, env=env, stdout=terminal, stderr=subprocess.DEVNULL, timeout=60)
        os.close(terminal)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once the terminal's other end is closed and drained
            while chunk := os.read(controller, 65536):
                shown += chunk
        os.close(controller)
        assert done.returncode == 0 and ("\x1b[32m  ✓ size".encode() in shown) == coloured, shown[:300]


def test_cli_exit_codes_as_a_subprocess(key, jwks_file):
    def run(*args):
        return subprocess.run([sys.executable, "zjwt.py", *args], cwd=HERE, capture_output=True, text=True, timeout=60)

    ok = run("verify", real_time_token(key), "--issuer", ISSUER, "--jwks-file", jwks_file)
    assert ok.returncode == 0 and json.loads(ok.stdout)["iss"] == ISSUER
    bad = run("verify", real_time_token(key)[:-4] + "AAAA", "--issuer", ISSUER, "--jwks-file", jwks_file)
    assert bad.returncode == 1 and "signature does not match" in bad.stderr
    assert run("verify", "x").returncode == 2 and "--issuer" in run("verify", "x").stderr


# ---------------------------------------------------------------------------
# The demo server, over real sockets: in-process on port 0, and as the README runs it.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    demo_server = server.make_server(server.Config(port=0, quiet=True, request_timeout=1.0))
    threading.Thread(target=demo_server.serve_forever, args=(0.05,), daemon=True).start()
    yield demo_server
    demo_server.shutdown()
    demo_server.server_close()


def call(target, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    """Return (status, headers, parsed JSON body or raw bytes) of one request to a server or base URL."""
    port = target.server_address[1] if hasattr(target, "server_address") else int(target.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    try:
        return response.status, dict(response.getheaders()), json.loads(raw)
    except ValueError:
        return response.status, dict(response.getheaders()), raw


def bearer(token: str) -> dict:
    return {"Authorization": "Bearer " + token}


def test_demo_dev_flow_from_the_printed_curl_command(demo):
    command = next(line for line in server.banner(demo).splitlines() if line.startswith("curl -H"))
    token, url = re.fullmatch(r'curl -H "Authorization: Bearer ([\w.-]+)" (http://\S+)', command).groups()
    assert url == demo.base_url + "/protected"
    status, _, body = call(demo, "GET", "/protected", bearer(token))
    assert status == 200 and body["message"] == "Access granted"
    assert (
        body["user"]["iss"] == demo.dev.url
        and body["user"]["aud"] == "zjwt-demo"
        and body["user"]["exp"] > time.time() + 3500
    )
    assert call(demo, "GET", "/public")[:3:2] == (200, {"message": "Public endpoint: no token needed"})
    discovery = f"{demo.key_server.issuer}/.well-known/openid-configuration"
    assert demo.verifier.key_source.jwks_uri_from == f"the discovery document {discovery}", "found as real ones are"
    assert call(demo, "GET", "/dev/issuer/.well-known/openid-configuration")[2] == {
        "issuer": demo.dev.url,
        "jwks_uri": demo.dev.url + "/.well-known/jwks.json",
    }


@pytest.mark.parametrize(
    "headers, status, challenge",
    [
        ({}, 401, 'Bearer realm="api"'),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, 'Bearer realm="api"'),
        ({"Authorization": "Bearer garbage"}, 401, 'error="invalid_token"'),
        ({"Authorization": "Bearer"}, 400, 'error="invalid_request"'),
    ],
)
def test_demo_rejects_missing_and_malformed_credentials(demo, headers, status, challenge):
    got, response_headers, body = call(demo, "GET", "/protected", headers)
    assert got == status and challenge in response_headers["WWW-Authenticate"]
    assert body["error"] in ("Unauthorized", "Bad Request") and body["message"]
    if "error=" not in challenge:
        assert "error=" not in response_headers["WWW-Authenticate"]  # RFC 6750 3.1: no bearer token, no error code


def test_demo_rejects_expired_wrong_issuer_and_wrong_audience_tokens(demo):
    dev = demo.dev
    now = int(time.time())
    cases = {
        "expired": dev.mint(expires_in=-60),
        "issued by": server.sign_token(
            dev.key, {"iss": "https://evil.example", "aud": "zjwt-demo", "exp": now + 60}, dev.kid
        ),
        "meant for": server.sign_token(dev.key, {"iss": dev.url, "aud": "other-api", "exp": now + 60}, dev.kid),
    }
    for reason, token in cases.items():
        status, headers, body = call(demo, "GET", "/protected", bearer(token))
        assert status == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"] and reason in body["message"]


def test_demo_refuses_several_authorization_headers(demo):
    conn = http.client.HTTPConnection("127.0.0.1", demo.server_address[1], timeout=10)
    conn.putrequest("GET", "/protected")
    conn.putheader("Authorization", "Bearer " + demo.dev.mint())
    conn.putheader("Authorization", "Bearer " + demo.dev.mint(sub="admin"))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 400 and "several Authorization headers" in json.loads(response.read())["message"]


def test_demo_answers_503_with_retry_after_when_the_issuer_is_unreachable(key):
    down = server.make_server(server.Config(issuers=(f"http://127.0.0.1:{unused_port()}/issuer",), port=0, quiet=True))
    threading.Thread(target=down.serve_forever, args=(0.05,), daemon=True).start()
    try:
        status, headers, body = call(down, "GET", "/protected", bearer(make_token(key)))
        assert status == 503 and headers["Retry-After"] == "30" and body["error"] == "Service Unavailable"
        assert call(down, "GET", "/dev/token")[0] == 401, "no development routes with a real issuer"
    finally:
        down.shutdown()
        down.server_close()


def test_the_demos_health_follows_the_keys_through_an_outage(key, jwks_server):
    clock = Clock()
    verifier = zjwt.Verifier(ISSUER, key_source=zjwt.RemoteKeySet(jwks_server.url, clock=clock), clock=clock)
    watched = server.DemoServer(("127.0.0.1", 0), verifier, server.Config(port=0, quiet=True))
    threading.Thread(target=watched.serve_forever, args=(0.05,), daemon=True).start()
    try:
        status, _, body = call(watched, "GET", "/health")
        assert status == 503 and body["state"] == "cold" and body["usable_keys"] == 0, "no keys yet: not ready"
        assert call(watched, "GET", "/protected", bearer(lasting_token(key)))[0] == 200
        status, _, body = call(watched, "GET", "/health")
        assert status == 200 and body["state"] == "fresh" and body["usable_keys"] == 1 and body["issuer"] == ISSUER
        jwks_server.behaviour = "status"  # the issuer goes down
        clock.advance(601)
        assert call(watched, "GET", "/protected", bearer(lasting_token(key)))[0] == 200
        settle(verifier.key_source)
        status, _, body = call(watched, "GET", "/health")
        assert status == 200 and body["state"] == "stale" and "HTTP 500" in body["last_error"], "usable: still ready"
        clock.advance(zjwt.MAX_STALE_SECONDS)
        status, headers, body = call(watched, "GET", "/health")
        assert status == 503 and body["state"] == "unavailable" and headers["Content-Type"] == "application/json"
        assert call(watched, "GET", "/protected", bearer(lasting_token(key)))[0] == 503
    finally:
        watched.shutdown()
        watched.server_close()


def test_the_demo_takes_several_issuers(key, other_key):
    issuers = [JwksServer({"keys": [jwk(key, "a1")]}), JwksServer({"keys": [jwk(other_key, "b1")]})]
    names = tuple(
        lay_out_issuer(where, path, path + "/certs") for where, path in zip(issuers, ["/a", "/b"], strict=True)
    )
    several = server.make_server(server.Config(issuers=names, audience="orders", port=0, quiet=True))
    threading.Thread(target=several.serve_forever, args=(0.05,), daemon=True).start()
    try:
        lines = [line for line in server.banner(several).splitlines() if line.startswith("Verifying")]
        assert lines == [f"Verifying tokens from {names[0]}", f"Verifying tokens from {names[1]}"]
        for signer, kid, iss in ((key, "a1", names[0]), (other_key, "b1", names[1])):
            now = int(time.time())
            token = make_token(signer, claims(iss=iss, aud="orders", exp=now + 60, iat=now), kid=kid)
            assert call(several, "GET", "/protected", bearer(token))[2]["user"]["iss"] == iss
        status, _, body = call(several, "GET", "/health")
        assert status == 200 and body["state"] == "fresh" and set(body["issuers"]) == set(names)
    finally:
        several.shutdown()
        several.server_close()
        for where in issuers:
            where.stop()


def test_demo_404_405_and_head(demo):
    token = demo.dev.mint()
    status, _, body = call(demo, "GET", "/nope", bearer(token))
    assert status == 404 and body["error"] == "Not Found"
    assert call(demo, "GET", "/nope")[0] == 401, "authentication comes first, as in the seed"
    status, headers, body = call(demo, "POST", "/protected", bearer(token), b"")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    status, headers, _ = call(demo, "DELETE", "/public")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    status, headers, _ = call(demo, "GET", "/dev/token")
    assert status == 405 and headers["Allow"] == "POST"
    status, headers, body = call(demo, "HEAD", "/public")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_demo_token_endpoint_mints_tokens_and_validates_its_body(demo):
    status, _, body = call(
        demo, "POST", "/dev/token", {"Content-Type": "application/json"}, b'{"sub": "alice", "expires_in": 60}'
    )
    assert status == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 60
    assert call(demo, "GET", "/protected", bearer(body["access_token"]))[2]["user"]["sub"] == "alice"
    for bad in [b"[]", b"{", b'{"expires_in": "60"}', b'{"expires_in": 999999}', b'{"sub": 1}']:
        assert call(demo, "POST", "/dev/token", {}, bad)[0] == 400, bad
    assert call(demo, "POST", "/dev/token", {}, b"x" * (server.MAX_BODY_BYTES + 1))[0] == 413


def test_demo_serves_the_explain_page_under_a_strict_content_security_policy(demo):
    status, headers, page = call(demo, "GET", "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and "unsafe" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    html = page.decode()
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/explain.js" defer>'] and "</script>" in html
    assert html.count("<script") == 1
    assert all(value.startswith("/") for value in re.findall(r'(?:src|href)="([^"]*)"', html)), "nothing from elsewhere"
    assert not re.search(r"<[^>]+\son\w+=", html), "no inline event handlers"
    files = (("/explain.js", "text/javascript"), ("/explain.css", "text/css"), ("/favicon.svg", "image/svg+xml"))
    for path, media_type in files:
        status, headers, body = call(demo, "GET", path)
        assert status == 200 and headers["Content-Type"] == f"{media_type}; charset=utf-8" and body
    script = call(demo, "GET", "/explain.js")[2].decode()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", script), "text only"
    assert call(demo, "GET", "/explain")[2] == {"issuers": [demo.dev.url], "mint": True}
    assert call(demo, "GET", "/public")[1]["X-Content-Type-Options"] == "nosniff", "on every response"


def explain_over_http(target, token) -> tuple[int, dict, dict]:
    """POST a token to the demo's /explain; return (status, headers, report)."""
    return call(target, "POST", "/explain", {"Content-Type": "application/json"}, json.dumps({"token": token}).encode())


def test_demo_explains_a_posted_token_and_never_logs_it(capfd):
    logged = server.make_server(server.Config(port=0, request_timeout=1.0))  # not quiet: an access log on stderr
    threading.Thread(target=logged.serve_forever, args=(0.05,), daemon=True).start()
    try:
        expired = logged.dev.mint(expires_in=-30)
        status, headers, report = explain_over_http(logged, expired)
        assert status == 200 and headers["Cache-Control"] == "no-store"
        assert report["error"]["kind"] == "ExpiredToken" and results(report)["exp"] == "failed"
        assert report["claims_verified"] and report["keys"]["key"]["kid"] == logged.dev.kid
        assert explain_over_http(logged, logged.dev.mint())[2]["verified"]
        for bad in (b"", b"[]", b'{"token": 1}', b"token=abc"):
            assert call(logged, "POST", "/explain", {}, bad)[0] == 400, bad
        assert call(logged, "POST", "/explain", {}, b"x" * (server.MAX_BODY_BYTES + 1))[0] == 413
        oversized = explain_over_http(logged, "e30." + "A" * 9000 + ".c2ln")[2]
        assert results(oversized)["size"] == "failed", "a token over 8 KiB is explained, not refused unread"
    finally:
        logged.shutdown()
        logged.server_close()
    err = capfd.readouterr().err
    assert err.count('"POST /explain HTTP/1.1" 200') == 3
    for secret in (expired, *expired.split(".")):
        assert secret not in err, "no token, and no part of one, in the log"


def test_demo_explains_against_a_real_issuers_keys_in_issuer_mode(demo):
    real = server.make_server(server.Config(issuers=(demo.dev.url,), audience="zjwt-demo", port=0, quiet=True))
    threading.Thread(target=real.serve_forever, args=(0.05,), daemon=True).start()
    try:
        assert call(real, "GET", "/")[0] == 200
        assert call(real, "GET", "/explain")[2] == {"issuers": [demo.dev.url], "mint": False}
        report = explain_over_http(real, demo.dev.mint())[2]
        assert report["verified"] and report["keys"]["jwks_uri"] == demo.dev.url + "/.well-known/jwks.json"
        assert report["keys"]["jwks_uri_from"].startswith("the discovery document")
        assert call(real, "POST", "/dev/token")[0] == 401, "no minting against a real issuer"
    finally:
        real.shutdown()
        real.server_close()


def test_demo_keeps_connections_alive(demo):
    conn = http.client.HTTPConnection("127.0.0.1", demo.server_address[1], timeout=10)
    token = demo.dev.mint()
    sockets = set()
    for path in ["/public", "/protected", "/nope", "/protected", "/public"]:
        conn.request("GET", path, headers=bearer(token))
        response = conn.getresponse()
        response.read()
        assert response.status in (200, 404) and response.getheader("Connection") != "close"
        sockets.add(id(conn.sock))
    assert len(sockets) == 1, "all five requests used one connection"


def test_demo_serves_20_concurrent_clients(demo):
    token = demo.dev.mint()
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(call(demo, "GET", "/protected", bearer(token))[0]))
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 20


def test_an_idle_connection_blocks_no_one_and_is_closed(demo):
    idle = socket.create_connection(demo.server_address, timeout=10)
    try:
        started = time.perf_counter()
        assert call(demo, "GET", "/public")[0] == 200 and time.perf_counter() - started < 1
        assert idle.recv(1) == b"", "closed by the server after its idle timeout"
        assert time.perf_counter() - started < 5
    finally:
        idle.close()


def raw_exchange(demo, data: bytes) -> bytes:
    with socket.create_connection(demo.server_address, timeout=10) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_100_kib_header_is_refused_and_the_server_keeps_serving(demo):
    reply = raw_exchange(demo, b"GET /protected HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100 * 1024 + b"\r\n\r\n")
    assert re.match(rb"HTTP/1.[01] 4\d\d ", reply) and b"application/json" in reply
    assert call(demo, "GET", "/public")[0] == 200


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"BREW /protected HTTP/1.1\r\nHost: x\r\n\r\n", b"501"),
        (b"GET /public HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"411"),
        (b"GET /public HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", b"400"),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
    ],
)
def test_broken_requests_get_a_json_4xx_or_5xx_never_a_stack_trace(demo, request_bytes, status):
    reply = raw_exchange(demo, request_bytes)
    if not reply.startswith(b"HTTP/"):  # http.server answers a request line without a version as HTTP/0.9: body only
        reply = b"HTTP/0.9 " + status + b"\r\n\r\n" + reply
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == status and json.loads(body)["error"] and b"Traceback" not in reply


def demo_host(demo) -> bytes:
    return demo.base_url.removeprefix("http://").encode()


@pytest.mark.parametrize(
    "request_bytes, status, closes",
    [
        (b"POST /dev/token HTTP/1.1\r\nHost: HOST\r\nContent-Length: \xb2\r\n\r\n", b"400", True),  # '²'.isdigit()
        (b"POST /dev/token HTTP/1.1\r\nHost: HOST\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", b"413", True),
        (b"GET http://[/public HTTP/1.1\r\nHost: HOST\r\n\r\n", b"400", True),
        (b"POST /dev/token HTTP/1.1\r\nHost: HOST\r\nContent-Length: 4000\r\n\r\n" + b"[" * 4000, b"400", False),
        (b"GET /public HTTP/1.1\r\nHost: HOST\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n", b"400", True),
        (b"GET /public HTTP/1.1\r\nHost: HOST\r\nNo colon here\r\nContent-Length: 5\r\n\r\n", b"400", True),
        (b"GET /public HTTP/1.1\r\nHost: HOST\r\nX-A: a\r\n folded: b\r\n\r\n", b"400", True),
    ],
    ids=["superscript length", "5000-digit length", "bad target", "deep body", "two lengths", "no colon", "folded"],
)
def test_item6_requests_that_made_the_demo_answer_500_get_a_json_4xx(demo, caplog, request_bytes, status, closes):
    with caplog.at_level(logging.ERROR):
        reply = raw_exchange(demo, request_bytes.replace(b"HOST", demo_host(demo)))
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == status and json.loads(body)["error"], reply[:200]
    assert (b"Connection: close" in head) == closes, "close when the stream can no longer be trusted"
    assert not caplog.records, "nothing went wrong inside the server"


def test_item6_a_body_shorter_than_its_content_length_gets_408_at_the_request_deadline(demo, caplog):
    with caplog.at_level(logging.ERROR):
        started = time.perf_counter()
        reply = raw_exchange(
            demo, b"POST /dev/token HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n\r\n{" % (demo_host(demo))
        )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in head and json.loads(body)["error"]
    assert 0.8 < time.perf_counter() - started < 3 and not caplog.records


@slow
def test_item7_slow_clients_get_a_deadline_and_connections_beyond_the_cap_get_503():
    slow_server = server.make_server(server.Config(port=0, quiet=True, request_timeout=1.0, max_connections=8))
    threading.Thread(target=slow_server.serve_forever, args=(0.05,), daemon=True).start()
    time.sleep(0.3)  # the key server's threads for the start-up fetch have ended
    threads_before = threading.active_count()
    try:
        slowloris = [socket.create_connection(slow_server.server_address, timeout=5) for _ in range(8)]
        started = time.perf_counter()
        for _ in range(3):  # a header line every 0.2 s: every single read is quick
            for conn in slowloris:
                conn.sendall(b"GET /public HTTP/1.1\r\n" if _ == 0 else b"X-Drip: 1\r\n")
            time.sleep(0.2)
        assert threading.active_count() == threads_before + 8
        with socket.create_connection(slow_server.server_address, timeout=5) as ninth:
            refused = ninth.recv(4096)
        assert refused.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 1" in refused
        for conn in slowloris:
            assert conn.recv(4096) == b"", "closed by the server at the request deadline"
            conn.close()
        assert time.perf_counter() - started < 2.5
        deadline = time.monotonic() + 5
        while threading.active_count() > threads_before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert threading.active_count() == threads_before, "every connection's thread is free again"
        assert call(slow_server, "GET", "/public")[0] == 200
    finally:
        slow_server.shutdown()
        slow_server.server_close()


def test_hardening_4_clients_holding_every_slot_cannot_starve_the_demo_of_its_keys():
    small = server.make_server(server.Config(port=0, quiet=True, request_timeout=2.0, max_connections=5))
    assert small.verifier.key_source.age is not None, "the keys are loaded before the first client is served"
    threading.Thread(target=small.serve_forever, args=(0.05,), daemon=True).start()
    held = []
    try:
        held = [socket.create_connection(small.server_address, timeout=5) for _ in range(4)]
        time.sleep(0.2)  # accepted: four of the five slots are held by idle clients
        assert call(small, "GET", "/protected", bearer(small.dev.mint()))[0] == 200
        time.sleep(0.3)  # that connection's slot is free again
        held.append(socket.create_connection(small.server_address, timeout=5))
        time.sleep(0.2)  # now every slot is held
        with socket.create_connection(small.server_address, timeout=5) as sixth:
            assert sixth.recv(4096).startswith(b"HTTP/1.1 503 "), "clients beyond the cap are refused"
        started = time.perf_counter()
        assert small.verifier.key_source.reload().kids == {small.dev.kid}, "the verifier's own fetch is not"
        assert time.perf_counter() - started < 1 and small.verifier.key_source.failure_count == 0
    finally:
        for conn in held:
            conn.close()
        small.shutdown()
        small.server_close()


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"GET /public HTTP/1.1\r\n\r\n", b"400"),
        (b"GET /public HTTP/1.1\r\nHost: HOST\r\nHost: attacker.example\r\n\r\n", b"400"),
        (b"GET /public HTTP/1.0\r\nHost: HOST\r\nHost: HOST\r\n\r\n", b"400"),
        (b"GET /public HTTP/1.0\r\n\r\n", b"200"),  # HTTP/1.0 may leave Host out
        (b"GET /public HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n", b"200"),
    ],
    ids=["1.1 without Host", "1.1 with two", "1.0 with two", "1.0 without", "1.1 with one"],
)
def test_hardening_5_a_request_without_host_or_with_two_gets_400(demo, request_bytes, status):
    reply = raw_exchange(demo, request_bytes.replace(b"HOST", demo_host(demo)))
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == status, reply[:200]
    if status == b"400":
        assert b"exactly one Host header" in body and b"Connection: close" in head


@pytest.mark.parametrize("host", ["127.attacker.example", "127.0.0.1.nip.io", "10.0.0.5", "::ffff:8.8.8.8"])
def test_item8_the_development_issuer_refuses_a_host_that_is_not_loopback(host):
    with pytest.raises(SystemExit):
        server.parse_config(["--host", host], {})


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_item8_loopback_addresses_and_localhost_are_accepted(host):
    assert server.parse_config(["--host", host], {}).host == host


def test_item8_dev_routes_answer_only_requests_addressed_to_the_servers_own_loopback_address(demo):
    port = demo.server_address[1]
    for rebound in (f"attacker.example:{port}", f"127.0.0.1.attacker.example:{port}", "127.0.0.1:1", None):
        headers = {"Host": rebound} if rebound else {"Host": ""}
        status, _, body = call(demo, "POST", "/dev/token", headers, b"{}")
        assert status == 403 and "answers only requests addressed to" in body["message"], rebound
        assert call(demo, "GET", "/dev/issuer/.well-known/jwks.json", headers)[0] == 403
    for own in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert call(demo, "POST", "/dev/token", {"Host": own}, b"{}")[0] == 200


def test_item10_the_access_log_escapes_what_the_client_sent(capsys):
    loud = server.make_server(server.Config(port=0, quiet=False, request_timeout=1.0))
    threading.Thread(target=loud.serve_forever, args=(0.05,), daemon=True).start()
    try:
        raw_exchange(loud, b"GET /public\x1b[2J\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        loud.shutdown()
        loud.server_close()
    logged = capsys.readouterr().err
    assert "\x1b" not in logged and "/public\\x1b[2J\\x1b[31m" in logged


def test_item9_a_bare_string_for_public_paths_is_refused(key):
    with pytest.raises(ValueError, match="public_paths must be a list of paths"):
        zjwt.wsgi_middleware(lambda environ, start_response: [], make_verifier(key), public_paths="/health")


def test_demo_configuration_from_flags_and_environment():
    config = server.parse_config(
        [], {"ZJWT_ISSUER": ISSUER, "ZJWT_AUDIENCE": "orders", "ZJWT_PORT": "9000", "ZJWT_HOST": "0.0.0.0"}
    )
    assert (config.issuers, config.audience, config.port, config.host) == ((ISSUER,), "orders", 9000, "0.0.0.0")
    several = server.parse_config(["--issuer", ISSUER, "--issuer", "https://accounts.google.com"], {})
    assert several.issuers == (ISSUER, "https://accounts.google.com")
    assert server.parse_config([], {"ZJWT_ISSUER": f"{ISSUER} https://accounts.google.com"}).issuers == several.issuers
    with pytest.raises(SystemExit):
        server.parse_config(
            ["--issuer", ISSUER, "--issuer", "https://b.example", "--jwks-uri", "https://b.example/k"], {}
        )
    assert server.parse_config(["--port", "0", "--quiet"], {}).quiet
    for argv in (["--host", "0.0.0.0"], ["--audience", "x"], ["--allow-http"], ["--host", "10.0.0.5"]):
        with pytest.raises(SystemExit):
            server.parse_config(argv, {})
    assert server.parse_config(["--host", "0.0.0.0", "--expose-dev-issuer"], {}).expose_dev_issuer
    assert server.parse_config(["--host", "10.0.0.5", "--expose-dev-issuer"], {}).host == "10.0.0.5"
    assert server.parse_config(["--issuer", "http://keycloak:8080/realms/demo", "--allow-http"], {}).allow_http
    assert server.parse_config(
        [], {"ZJWT_ISSUER": "http://keycloak:8080/realms/demo", "ZJWT_ALLOW_HTTP": "1"}
    ).allow_http


def test_the_demo_says_which_flag_to_use_when_its_port_is_taken(capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert server.main(["--port", str(port), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot listen on 127.0.0.1 port {port} (Address already in use):"
        " pass --port N, or --port 0 for any free port\n"
    )


def test_the_demo_on_every_interface_says_so_and_how_to_reach_it_here():
    everywhere = server.make_server(server.Config(host="0.0.0.0", port=0, quiet=True, expose_dev_issuer=True))
    try:
        port = everywhere.server_address[1]
        serving = [line for line in server.banner(everywhere).splitlines() if line.startswith("Serving on")]
        assert serving == [
            f"Serving on http://0.0.0.0:{port} (every interface; http://127.0.0.1:{port} from this machine)"
            " (Ctrl-C to stop)"
        ]
    finally:
        everywhere.server_close()


def readme_commands() -> list[str]:
    """Return the shell commands in the README's first two ```sh blocks: run the demo, run the tests."""
    blocks = re.findall(r"```sh\n(.*?)```", (HERE / "README.md").read_text(), re.S)
    return [blocks[0].strip(), blocks[1].strip()]


def test_the_readme_first_command_runs_the_demo_and_its_curl_command_works():
    command = readme_commands()[0]
    assert command == "python3 server.py"
    env = {**os.environ, "ZJWT_PORT": "0", "PYTHONUNBUFFERED": "1"}  # a free port; the command itself is unchanged
    process = subprocess.Popen(
        [sys.executable, "server.py"], cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline and not any(line.startswith("Serving on") for line in lines):
            lines.append(process.stdout.readline())
        command = next(line.strip() for line in lines if line.startswith("curl -H"))
        token, url = re.fullmatch(r'curl -H "Authorization: Bearer ([\w.-]+)" (http://\S+)', command).groups()
        base = url.rsplit("/", 1)[0]
        status, _, body = call(base, "GET", "/protected", bearer(token))
        assert status == 200 and body["user"]["sub"] == "demo-user"
        assert call(base, "GET", "/public")[0] == 200
        assert call(base, "GET", "/protected")[0] == 401
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0 and "stopped" in out and "Traceback" not in err
    assert '"GET /protected HTTP/1.1" 200' in err, "one access log line per request on stderr"


def test_hardening_9_the_module_docstrings_quick_start_verifies_a_real_issuers_token(key, jwks_server):
    quick_start = re.search(r"Quick start::\n\n(.*?)\n\n\S", zjwt.__doc__, re.S).group(1)
    issuer = lay_out_issuer(jwks_server, *ISSUER_LAYOUTS["Okta"])
    code = textwrap.dedent(quick_start).replace("https://my-api-a32f34.zuplo.api/__zuplo/issuer", issuer)
    namespace = {"authorization": "Bearer " + real_time_token(key, iss=issuer, aud="orders-api")}
    exec(code, namespace)  # word for word, with the issuer's URL on 127.0.0.1
    assert namespace["claims"]["aud"] == "orders-api"
    namespace["authorization"] = "Bearer " + real_time_token(key, iss=issuer, aud="another-api")
    exec(code, namespace)
    assert namespace["status"] == 401


def test_hardening_9_after_a_failed_fetch_with_usable_keys_an_unknown_kid_gets_401_not_503(key, jwks_server):
    verifier, source, clock = remote_verifier(jwks_server)
    verifier.verify(lasting_token(key))
    jwks_server.behaviour = "status"  # the issuer is down from now on
    clock.advance(31)
    for _ in range(2):  # the first makes the fetch, which fails; the second finds the source cooling down
        with pytest.raises(zjwt.UnknownKey) as raised:
            verifier.verify(lasting_token(key, "rotated"))
        assert zjwt.error_response(raised.value)[0] == 401
    assert source.failure_count == 1 and jwks_server.requests == 2
    clock.now = NOW + zjwt.MAX_STALE_SECONDS  # a day after the last fetch that succeeded, not after the outage began
    with pytest.raises(zjwt.KeySetUnavailable):
        verifier.verify(lasting_token(key))


def test_hardening_9_the_prose_says_what_the_code_does():
    readme = "\n".join(path.read_text() for path in [HERE / "README.md", *sorted((HERE / "docs").glob("*.md"))])
    assert "x5t#S256" in zjwt.check_header.__doc__ and "x5t#S256" in readme
    assert "RSA" not in zjwt._algorithm_set.__doc__  # it accepts every algorithm in ALGORITHMS
    assert "EdDSA and Ed25519" in zjwt._algorithms_for.__doc__ and "RS* and PS* alike" in zjwt._algorithms_for.__doc__
    assert "(r, n − s)" in zjwt.__doc__ + inspect_source(zjwt) and "jti" in readme
    assert "point at infinity" in zjwt._ecdsa_scalars_in_range.__doc__
    assert "Python 3.11 or newer" in readme and "strict_mode" in readme
    assert "[1, n − 1]" in zjwt.ecdsa_verify.__doc__ and "S < L" in zjwt.ed25519_verify.__doc__
    assert "after the last fetch that succeeded" in readme and "an unknown `kid` is then a 401" in readme


def inspect_source(module) -> str:
    return Path(module.__file__).read_text()


def test_the_licence_is_mit_and_travels_inside_each_file_that_is_copied():
    assert (HERE / "LICENSE").read_text().startswith("MIT License\n\nCopyright (c) 2026 the zjwt authors\n")
    for name in ("zjwt.py", "server.py"):  # vendoring copies one file: its licence goes with it
        assert (
            (HERE / name)
            .read_text()
            .startswith("# SPDX-License-Identifier: MIT\n# Copyright (c) 2026 the zjwt authors\n")
        )
    project = tomllib.loads((HERE / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    try:
        metadata = importlib.metadata.metadata("zjwt")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("zjwt is not installed (pip install -e .), so it has no metadata to read")
    assert metadata["License-Expression"] == "MIT" and metadata["License-File"] == "LICENSE"


def test_the_readme_test_command_is_the_one_ci_runs():
    assert readme_commands()[1] in (HERE / ".ci" / "run").read_text()


# ---------------------------------------------------------------------------
# The explain page in a real browser: headless Chromium, driven over the
# DevTools protocol through a pipe (--remote-debugging-pipe), standard library only.
# ---------------------------------------------------------------------------

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
# Where the screenshots go: ZJWT_SCREENSHOTS names a directory to keep them in, else a temporary one.
SCREENSHOTS = os.environ.get("ZJWT_SCREENSHOTS")


class Browser:
    """Headless Chromium with one tab, spoken to in DevTools protocol messages over its pipe (fds 3 and 4)."""

    def __init__(self, profile: Path):
        to_browser, self._commands, self._answers, from_browser = map(above_9, (*os.pipe(), *os.pipe()))
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-pipe"]
        # Chromium reads commands on fd 3 and answers on fd 4: a few lines of Python move the pipes there, then exec.
        move_then_run = (
            "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
            "os.execv(sys.argv[3], sys.argv[3:])"
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                move_then_run,
                str(to_browser),
                str(from_browser),
                CHROMIUM,
                *flags,
                f"--user-data-dir={profile}",
            ],
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self.buffer, self.last_id, self.console = b"", 0, []
        target = self.send("Target.createTarget", {"url": "about:blank"}, tab=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, tab=False)["sessionId"]
        self.send("Runtime.enable")  # script errors and console messages arrive as events from now on
        self.send("Log.enable")  # and the browser's own: a resource the page's policy refused, say

    def send(self, method: str, params: dict | None = None, tab: bool = True, timeout: float = 30) -> dict:
        """Send one command (to the tab, or to the browser) and return its result."""
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params or {}}
        if tab:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" not in self.buffer:
                if not select.select([self._answers], [], [], max(0, deadline - time.monotonic()))[0]:
                    raise TimeoutError(f"chromium did not answer {method}")
                chunk = os.read(self._answers, 1 << 20)
                if not chunk:
                    raise ConnectionError("chromium closed its pipe")
                self.buffer += chunk
            raw, _, self.buffer = self.buffer.partition(b"\0")
            answer = json.loads(raw)
            if answer.get("id") == self.last_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            if answer.get("method") in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded"):
                self.console.append(answer["params"])

    def run(self, expression: str):
        """Return the value of a JavaScript expression in the tab (awaited, if it is a promise)."""
        params = {"expression": expression, "awaitPromise": True, "returnByValue": True}
        result = self.send("Runtime.evaluate", params)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"]["text"])
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 15):
        """Return the first truthy value of expression, polled until timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.run(expression)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(expression)

    def screenshot(self, path: Path) -> bytes:
        """Save a PNG of the whole page to path and return it."""
        png = base64.b64decode(self.send("Page.captureScreenshot", {"captureBeyondViewport": True})["data"])
        path.write_bytes(png)
        return png

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, ConnectionError, RuntimeError):
            self.send("Browser.close", tab=False, timeout=5)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self.process.kill()
        os.close(self._commands)
        os.close(self._answers)


def above_9(fd: int) -> int:
    """Return a copy of fd numbered 10 or more, closing fd: moved to fds 3 and 4, no pipe overwrites another."""
    import fcntl  # POSIX only, as the pipe to Chromium is

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    started = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield started
    started.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    where = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path_factory.mktemp("screenshots")
    where.mkdir(parents=True, exist_ok=True)
    return where


def open_page(browser: Browser, demo, width: int = 1280, dark: bool = False) -> None:
    """Load the demo's explain page at a window width and colour scheme, and wait for its script to be ready."""
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500},
    )
    browser.send("Emulation.setScrollbarsHidden", {"hidden": True})  # screenshots exactly the window's width
    scheme = [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]
    browser.send("Emulation.setEmulatedMedia", {"features": scheme})
    browser.console.clear()
    browser.send("Page.navigate", {"url": demo.base_url + "/"})
    browser.wait_for("document.readyState === 'complete' && document.body.dataset.ready === 'yes'")


def explain_in_page(browser: Browser, token: str) -> dict:
    """Paste a token, press Explain, and return the steps the page shows (see shown_steps)."""
    browser.run("document.getElementById('steps').replaceChildren()")
    browser.run(f"document.getElementById('token').value = {json.dumps(token)}")
    browser.run("document.getElementById('explain').click()")
    browser.wait_for("document.querySelectorAll('#steps .step').length > 0")
    return shown_steps(browser)


def shown_steps(browser: Browser) -> dict:
    """Return the page's steps as {name: (result class, detail, why, the mark's colour)}."""
    rows = browser.run(
        "[...document.querySelectorAll('#steps .step')].map(li => [li.dataset.step, li.className.split(' ')[1],"
        " li.querySelector('.detail').textContent, li.querySelector('.why').textContent,"
        " getComputedStyle(li.querySelector('.mark')).color])"
    )
    return {name: (result, detail, why, colour) for name, result, detail, why, colour in rows}


def check_png(png: bytes, width: int) -> None:
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and int.from_bytes(png[16:20]) == width and len(png) > 20_000


@needs_chromium
def test_browser_a_minted_token_shows_every_step_green(browser, demo, screenshots):
    open_page(browser, demo)
    assert browser.run("document.getElementById('mint').hidden") is False, "development mode offers to mint"
    browser.run("document.getElementById('mint').click()")
    browser.wait_for("document.querySelectorAll('#steps .step').length > 0")
    steps = shown_steps(browser)
    assert list(steps) == CORE_STEPS and {result for result, *_ in steps.values()} == {"passed"}
    green = {colour for *_, colour in steps.values()}
    assert green == {"rgb(26, 127, 55)"}, "every mark in the page's green"
    assert browser.run("document.getElementById('verdict').textContent") == "✓ Verified: every check passed."
    assert browser.run("document.getElementById('claims-state').textContent") == "verified"
    assert json.loads(browser.run("document.getElementById('claims').textContent"))["aud"] == "zjwt-demo"
    assert browser.console == [], "no script error, and nothing the page's own policy refused"
    check_png(browser.screenshot(screenshots / "1-minted-all-green.png"), 1280)


@needs_chromium
@pytest.mark.parametrize("case", ["expired", "flipped signature"])
def test_browser_a_bad_token_shows_the_failing_step_red_with_its_reason(browser, demo, screenshots, case):
    open_page(browser, demo)
    token = demo.dev.mint(expires_in=-120)
    if case == "flipped signature":
        token = demo.dev.mint()
        token = token[:-6] + ("B" if token[-6] != "B" else "C") + token[-5:]
    steps = explain_in_page(browser, token)
    failed = "exp" if case == "expired" else "signature"
    result, detail, why, colour = steps[failed]
    assert result == "failed" and colour == "rgb(198, 40, 40)", "red"
    assert why.startswith(zjwt.STEPS[failed].why) and zjwt.STEPS[failed].rfc in why
    if case == "expired":
        assert re.fullmatch(r"token expired at \S+Z, 1\d\d s ago", detail)
    else:
        assert detail.startswith("the signature does not match the token (RS256")
    after = list(steps)[list(steps).index(failed) + 1 :]
    assert after and {steps[name][0] for name in after} == {"not-reached"}
    assert browser.run("document.getElementById('verdict').className") == "verdict failed"
    expected_state = "verified" if case == "expired" else "unverified: not known to be the issuer's"
    assert browser.run("document.getElementById('claims-state').textContent") == expected_state
    check_png(browser.screenshot(screenshots / f"2-{case.replace(' ', '-')}.png"), 1280)


@needs_chromium
def test_browser_markup_in_claims_is_shown_as_text_and_never_run(browser, demo, screenshots):
    open_page(browser, demo)
    attack = "<img src=x onerror=\"document.title='pwned'\"><script>window.ran=1</script>"
    steps = explain_in_page(browser, demo.dev.mint(sub=attack, kid_note=attack))
    assert {result for result, *_ in steps.values()} == {"passed"}
    assert json.loads(browser.run("document.getElementById('claims').textContent"))["sub"] == attack
    assert browser.run("document.querySelectorAll('img, #report script').length") == 0, "no element made of it"
    time.sleep(0.3)  # an image that failed to load would have fired its onerror by now
    assert browser.run("document.title") == "zjwt: explain a token" and browser.run("window.ran") is None
    check_png(browser.screenshot(screenshots / "3-markup-shown-as-text.png"), 1280)


@needs_chromium
def test_browser_the_page_reads_on_a_phone_in_dark_mode(browser, demo, screenshots):
    open_page(browser, demo, width=390, dark=True)
    explain_in_page(browser, demo.dev.mint(expires_in=-5))
    assert browser.run("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
    assert browser.run("getComputedStyle(document.body).backgroundColor") == "rgb(15, 18, 22)", "dark"
    columns = browser.run("getComputedStyle(document.getElementById('report')).gridTemplateColumns")
    assert len(columns.split()) == 1, "one column on a phone"
    check_png(browser.screenshot(screenshots / "4-phone-dark.png"), 390)


# ---------------------------------------------------------------------------
# Property tests: no input makes the verifier fail in any way but InvalidToken.
# ---------------------------------------------------------------------------

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_mutation_of_a_valid_token_is_rejected_with_invalid_token(key, data):
    verifier = make_verifier(key)
    token = fuzz_token(key)
    position = data.draw(st.integers(0, len(token) - 1))
    char = data.draw(st.sampled_from(BASE64URL + ".=+/ \n\x00") | st.characters())
    operation = data.draw(st.sampled_from(["replace", "insert", "delete", "truncate", "swap", "duplicate"]))
    header, payload, signature = token.split(".")
    mutated = {
        "replace": token[:position] + char + token[position + 1 :],
        "insert": token[:position] + char + token[position:],
        "delete": token[:position] + token[position + 1 :],
        "truncate": token[:position],
        "swap": ".".join([payload, header, signature]),
        "duplicate": token + "." + signature,
    }[operation]
    if mutated == token:
        return
    with pytest.raises(zjwt.InvalidToken):
        verifier.verify(mutated)


_fuzz_tokens: dict = {}


def fuzz_token(key: dict) -> str:
    """Return one valid token per key, signed once (hypothesis calls the test hundreds of times)."""
    if id(key) not in _fuzz_tokens:
        _fuzz_tokens[id(key)] = make_token(key, claims(aud=..., roles=["a", "b"], nested={"x": [1, 2.5, None]}))
    return _fuzz_tokens[id(key)]


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400) | st.binary(max_size=400).map(lambda b: b.decode("latin-1")))
def test_arbitrary_text_is_rejected_with_invalid_token(key, text):
    with pytest.raises(zjwt.InvalidToken):
        make_verifier(key).verify(text)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)
times = st.integers(NOW - 100, NOW + 100) | json_values


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.fixed_dictionaries(
        {"alg": st.sampled_from(["RS256", "PS256", "none", "HS256"]) | json_values},
        optional={"kid": st.just("k1") | json_values, "crit": json_values, "cty": json_values, "typ": json_values},
    ),
    payload=st.fixed_dictionaries(
        {},
        optional={
            "iss": st.just(ISSUER) | json_values,
            "aud": st.sampled_from(["orders", ["orders", "x"]]) | json_values,
            "exp": times,
            "nbf": times,
            "iat": times,
            "extra": json_values,
        },
    ),
)
def test_signed_tokens_with_arbitrary_headers_and_claims_verify_or_raise_invalid_token(key, header, payload):
    verifier = make_verifier(key, audience="orders", algorithms=("RS256", "PS256"))
    token = make_token(key, payload, header=header, alg="RS256")
    try:
        result = verifier.verify(token)
    except zjwt.InvalidToken:
        return
    assert header["alg"] == "RS256" and result == payload and payload["iss"] == ISSUER


# ---------------------------------------------------------------------------
# Interoperability: tokens minted by PyJWT and joserfc.
# ---------------------------------------------------------------------------


def private_pem(key: dict) -> bytes:
    """Return an RSA, EC or Ed25519 test key as a PKCS#8 PEM, the form PyJWT and joserfc read."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if key.get("crv") == "Ed25519":
        private = ed25519.Ed25519PrivateKey.from_private_bytes(key["seed"])
    elif "crv" in key:
        curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}[key["crv"]]
        private = ec.derive_private_key(key["d"], curve)
    else:
        public = rsa.RSAPublicNumbers(key["e"], key["n"])
        private = rsa.RSAPrivateNumbers(key["p"], key["q"], key["d"], key["dp"], key["dq"], key["qi"], public)
        private = private.private_key()
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.skipif(importlib.util.find_spec("jwt") is None, reason="PyJWT is not installed (test extras)")
@pytest.mark.parametrize("alg", [*RSA_ALGORITHMS, "ES256", "ES384", "ES512", "EdDSA"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_tokens_minted_by_pyjwt_verify(key, ec_keys, alg, backend):
    import jwt

    signer = ec_keys.get(alg, key)
    token = jwt.encode(claims(aud="orders"), private_pem(signer), algorithm=alg, headers={"kid": "k1"})
    verifier = make_verifier(jwks={"keys": [jwk(signer)]}, audience="orders", algorithms=(alg,), backend=backend)
    assert verifier.verify(token) == claims(aud="orders")


@pytest.mark.skipif(importlib.util.find_spec("joserfc") is None, reason="joserfc is not installed (test extras)")
@pytest.mark.parametrize("alg", ["RS256", "PS256", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_tokens_minted_by_joserfc_verify(key, ec_keys, alg, backend):
    from joserfc import jwt
    from joserfc.jwk import ECKey, OKPKey, RSAKey

    signer = ec_keys.get(alg, key)
    key_class = {"ES": ECKey, "Ed": OKPKey}.get(alg[:2], RSAKey)
    private = key_class.import_key(private_pem(signer))
    token = jwt.encode({"alg": alg, "kid": "k1", "typ": "JWT"}, claims(), private, algorithms=[alg])
    verifier = make_verifier(jwks={"keys": [jwk(signer)]}, algorithms=(alg,), backend=backend)
    assert verifier.verify(token) == claims()


# ---------------------------------------------------------------------------
# The attack checklist itself: every case in ATTACKS.md has a test named after it.
# ---------------------------------------------------------------------------


# The case ids of ATTACKS.md, the checklist of attacks: it is not data, so it is not copied into vectors/.
ATTACK_CASES = re.findall(
    r"\S+",
    """
    A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12 B1 B2 B3 B4 B5 B6 B7 B8 B9 B10 B11 B12 C1 C2 C3 C4
    D1 D2 D3 D4 D5 D6 D7 D8 D9 D10 D12 D13 D11 E1 E2 E3 E4 E5 E6 E7 E8 E9 E10 E11 E12
    F1 F2 F3 F4 F5 F6 F7 F8 F9 F9b F10 F11 F12 G1 G2 G3 G4 G5 G6 G7 G8 G9 G10
    H1 H2 H3 H4 H5 H6 H7 H8 H9 H10 H11 H12 H13 H14 H15 H16 H17 I1 I2 I3 I4 I5
    J1 J2 J3 J4 J5 J6 J7 J8 J9 J10 K1 K2 K3 K4 K5 K6 L1 L2 L3 L4 L5 L6 L7 L8
    M1 M2 M3 M4 M5 M6 M7 M8 M9 M10 M11 M12 M13
""",
)


def test_every_case_of_the_attack_checklist_has_a_named_test():
    names = [name for name in globals() if name.startswith("test_")]
    missing = [case for case in ATTACK_CASES if not any(name.startswith(f"test_{case.lower()}_") for name in names)]
    assert len(ATTACK_CASES) > 90 and not missing, f"attack cases without a test: {missing}"
    if ATTACKS_MD.is_file():  # beside the repository, in the development workspace: the list above is its list
        listed = re.findall(r"^\| ([A-Z]\d+b?) \|", ATTACKS_MD.read_text(), re.M)
        assert listed == ATTACK_CASES
