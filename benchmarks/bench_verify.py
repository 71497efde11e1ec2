"""How long one JWT verification takes: zjwt against the floor and the peers, measured in one run.

    pip install -e '.[bench]'      # cryptography, PyJWT, joserfc, jwcrypto, authlib, python-jose
    python benchmarks/bench_verify.py [--rounds 15] [--baseline OLD_ZJWT_PY]

--baseline measures another zjwt.py (an earlier commit's: git show REV:zjwt.py
> /tmp/zjwt_before.py) in the same run, beside this one: before and after.

Every case verifies the same kind of token: a ~940-byte RS256 gateway token with
a ~400-byte payload, checking signature, iss, aud and exp.  "New token" cases
cycle through 1,200 distinct tokens, more than zjwt's verified-token cache
holds, so each call really checks a signature.  The cases run interleaved, a
batch each per round in a shuffled order; the table shows the median µs per
verification and the median, over rounds, of the ratio to the floor measured
in the same round.

Floors: the raw cryptography verify call on the same signing input and
signature (what no library can beat), and for the pure-Python backend the raw
pow() and comparison it cannot avoid.  Peers not installed are skipped.
The same tokens signed with P-256 (ES256) and Ed25519 (EdDSA) are measured
against the raw cryptography verify of each, and zjwt's pure-Python ECDSA
against the pure-Python ecdsa package verifying the same signatures.  Last,
authenticate with and without DPoP: a bound token with a fresh ES256 proof per
request (each proof is accepted once) against the raw verify of the proof.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import importlib.util
import json
import random
import statistics
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the zjwt.py beside this folder
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import zjwt

ISSUER = "https://my-api-a32f34.zuplo.api/__zuplo/issuer"
AUDIENCE = "https://api.example.com"
DISTINCT_TOKENS = 1200  # more than zjwt.VERIFIED_CACHE_SIZE: every "new token" call misses the cache
BATCH_SECONDS = 0.03  # how long one case runs per round


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(value: int) -> str:
    return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def make_issuer(bits: int, kid: str) -> tuple:
    """Return (private key, public JWK) of a new RSA key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    numbers = private.public_key().public_numbers()
    return private, {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": uint(numbers.n), "e": uint(numbers.e)}


def mint(private, kid: str, count: int, first: int = 0, issuer: str = ISSUER, alg: str = "RS256", **extra) -> list[str]:
    """Return count distinct gateway-like tokens valid for an hour, numbered from first, with extra claims."""
    header = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": kid}, separators=(",", ":")).encode())
    now = int(time.time())
    tokens = []
    for i in range(first, first + count):
        claims = {
            "iss": issuer,
            "sub": "user_2abcDEF123",
            "aud": AUDIENCE,
            "exp": now + 3600,
            "iat": now,
            "nbf": now,
            "jti": f"f0e1d2c3-b4a5-4c6d-8e7f-{i:012d}",
            "scope": "read:orders write:orders",
            "email": "someone@example.com",
            "name": "Some One",
            "org_id": "org_8f7e6d",
            "roles": ["admin", "developer"],
            "metadata": {"plan": "pro", "region": "eu-west-1", "api_key_id": "key_abcdef123456"},
            **extra,
        }
        signing_input = header + "." + b64(json.dumps(claims, separators=(",", ":")).encode())
        tokens.append(signing_input + "." + b64(signature_of(private, alg, signing_input.encode())))
    return tokens


def signature_of(private, alg: str, data: bytes) -> bytes:
    """Return the JWS signature of data: PKCS#1 v1.5 for RS256, R || S for ES256, Ed25519 for EdDSA."""
    if alg == "ES256":
        r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "EdDSA":
        return private.sign(data)
    return private.sign(data, padding.PKCS1v15(), hashes.SHA256())


def ec_issuer(alg: str) -> tuple:
    """Return (private key, public JWK) of a new P-256 (ES256) or Ed25519 (EdDSA) key."""
    if alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return private, {"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": b64(raw)}
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    x, y = (b64(value.to_bytes(32, "big")) for value in (numbers.x, numbers.y))
    return private, {"kty": "EC", "crv": "P-256", "kid": "k1", "x": x, "y": y}


def ec_floor_case(private, alg: str, tokens: list[str]):
    """The raw cryptography verify call of each token's signature, as OpenSSL takes it (DER for ECDSA)."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    public, pairs = private.public_key(), []
    for token in tokens:
        signing_input, signature = token.rsplit(".", 1)[0].encode(), zjwt.b64url_decode(token.rsplit(".", 1)[1])
        if alg == "ES256":
            signature = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
        pairs.append((signature, signing_input))
    if alg == "EdDSA":
        return cycle(lambda pair: public.verify(*pair), pairs)
    ecdsa_sha256 = ec.ECDSA(hashes.SHA256())
    return cycle(lambda pair: public.verify(pair[0], pair[1], ecdsa_sha256), pairs)


def ecdsa_package_cases(private, tokens: list[str]) -> dict:
    """The pure-Python ecdsa package verifying the same ES256 signatures, without and with its precomputation."""
    try:
        import ecdsa
    except ImportError:
        print("skipped the ecdsa package: not installed")
        return {}
    numbers = private.public_key().public_numbers()
    pairs = [(zjwt.b64url_decode(t.rsplit(".", 1)[1]), t.rsplit(".", 1)[0].encode()) for t in tokens]
    raw = numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
    plain = ecdsa.VerifyingKey.from_string(raw, curve=ecdsa.NIST256p, hashfunc=hashlib.sha256)
    point = ecdsa.ellipticcurve.PointJacobi(
        ecdsa.NIST256p.curve, numbers.x, numbers.y, 1, ecdsa.NIST256p.order, generator=True
    )
    precomputed = ecdsa.VerifyingKey.from_public_point(point, curve=ecdsa.NIST256p, hashfunc=hashlib.sha256)
    return {
        "ecdsa package, no precomputation": cycle(lambda pair: plain.verify(*pair), pairs),
        "ecdsa package, precomputed key": cycle(lambda pair: precomputed.verify(*pair), pairs),
    }


def cycle(function, items: list):
    """Return run(n): call function on the next n items, going round the list across calls."""
    position = 0

    def run(n: int) -> None:
        nonlocal position
        for i in range(position, position + n):
            function(items[i % len(items)])
        position = (position + n) % len(items)

    return run


def floor_case(private, tokens: list[str]):
    """The raw cryptography verify call on each token's signing input and signature."""
    public, pad, sha256 = private.public_key(), padding.PKCS1v15(), hashes.SHA256()
    pairs = [(zjwt.b64url_decode(t.rsplit(".", 1)[1]), t.rsplit(".", 1)[0].encode()) for t in tokens]
    return cycle(lambda pair: public.verify(pair[0], pair[1], pad, sha256), pairs)


def pure_floor_case(private, tokens: list[str]):
    """The raw pow() and integer comparison the pure-Python backend cannot avoid."""
    n, e = private.public_key().public_numbers().n, 65537
    pairs = [(int.from_bytes(zjwt.b64url_decode(t.rsplit(".", 1)[1]), "big"), 0) for t in tokens]
    pairs = [(s, pow(s, e, n)) for s, _ in pairs]  # the expected value, precomputed
    return cycle(lambda pair: pow(pair[0], e, n) == pair[1], pairs)


def jwks_server(document: dict) -> str:
    """Serve document at a local URL, and a discovery document naming it; return the JWKS URL."""
    base = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            discovery = {"issuer": base["url"], "jwks_uri": base["url"] + "/.well-known/jwks.json"}
            body = json.dumps(discovery if self.path.endswith("/openid-configuration") else document).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base["url"] = f"http://127.0.0.1:{httpd.server_address[1]}"
    return base["url"] + "/.well-known/jwks.json"


def peer_cases(private, jwk: dict, tokens: list[str]) -> dict:
    """Return the peers' verification cases, each checking signature, iss, aud and exp."""
    cases = {}
    public = private.public_key()
    try:
        import jwt as pyjwt

        options = {"require": ["exp", "iss", "aud"]}

        def pyjwt_decode(token):
            return pyjwt.decode(token, public, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER, options=options)

        client = pyjwt.PyJWKClient(jwks_server({"keys": [jwk]}))

        def pyjwt_client(token):
            key = client.get_signing_key_from_jwt(token).key
            return pyjwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER, options=options)

        cases["PyJWT jwt.decode, pre-built key"] = cycle(pyjwt_decode, tokens)
        cases["PyJWT PyJWKClient (documented JWKS path)"] = cycle(pyjwt_client, tokens)
    except ImportError:
        print("skipped PyJWT: not installed")
    try:
        from joserfc import jwt as joserfc_jwt
        from joserfc.jwk import RSAKey

        joserfc_key = RSAKey.import_key(jwk)
        registry = joserfc_jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": AUDIENCE},
            exp={"essential": True},
        )

        def joserfc_decode(token):
            registry.validate(joserfc_jwt.decode(token, joserfc_key, algorithms=["RS256"]).claims)

        cases["joserfc, pre-built key"] = cycle(joserfc_decode, tokens)
    except ImportError:
        print("skipped joserfc: not installed")
    try:
        from jwcrypto import jwk as jwcrypto_jwk
        from jwcrypto import jwt as jwcrypto_jwt

        jwcrypto_key = jwcrypto_jwk.JWK(**jwk)
        checks = {"iss": ISSUER, "aud": AUDIENCE, "exp": None}

        def jwcrypto_decode(token):
            return json.loads(jwcrypto_jwt.JWT(jwt=token, key=jwcrypto_key, algs=["RS256"], check_claims=checks).claims)

        cases["jwcrypto, pre-built key"] = cycle(jwcrypto_decode, tokens)
    except ImportError:
        print("skipped jwcrypto: not installed")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # authlib.jose announces its move to joserfc
            from authlib.jose import JsonWebKey, JsonWebToken

        authlib_jwt, authlib_key = JsonWebToken(["RS256"]), JsonWebKey.import_key(jwk)
        claims_options = {
            "iss": {"essential": True, "value": ISSUER},
            "aud": {"essential": True, "value": AUDIENCE},
            "exp": {"essential": True},
        }

        def authlib_decode(token):
            authlib_jwt.decode(token, authlib_key, claims_options=claims_options).validate()

        cases["authlib, pre-built key"] = cycle(authlib_decode, tokens)
    except ImportError:
        print("skipped authlib: not installed")
    try:
        from jose import jwk as jose_jwk
        from jose import jwt as jose_jwt

        jose_key = jose_jwk.construct(jwk, "RS256")

        def jose_decode(token):
            return jose_jwt.decode(token, jose_key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)

        cases["python-jose, pre-built key"] = cycle(jose_decode, tokens)
    except ImportError:
        print("skipped python-jose: not installed")
    return cases


def baseline_group(path: str, private, jwk: dict, tokens: list[str]) -> dict:
    """Return this zjwt and the one at path verifying the same RS256 tokens, against one floor: before and after."""
    spec = importlib.util.spec_from_file_location("zjwt_baseline", path)
    baseline = importlib.util.module_from_spec(spec)
    sys.modules["zjwt_baseline"] = baseline  # its dataclasses look themselves up there
    spec.loader.exec_module(baseline)
    before, after = (module.Verifier(ISSUER, jwks={"keys": [jwk]}, audience=AUDIENCE) for module in (baseline, zjwt))
    return {
        "floor (again), RSA-2048": {
            "floor (again), RSA-2048": floor_case(private, tokens),
            "before: baseline zjwt, new token": cycle(before.verify, tokens),
            "after: this zjwt, new token": cycle(after.verify, tokens),
            "before: baseline zjwt, cache hit": lambda n: [before.verify(tokens[0]) for _ in range(n)],
            "after: this zjwt, cache hit": lambda n: [after.verify(tokens[0]) for _ in range(n)],
        }
    }


def ec_groups() -> dict:
    """Return the ES256 and EdDSA cases, each group measured against its own cryptography floor."""
    groups = {}
    for alg, curve in (("ES256", "P-256"), ("EdDSA", "Ed25519")):
        private, jwk = ec_issuer(alg)
        tokens = mint(private, "k1", DISTINCT_TOKENS, alg=alg)
        slow = tokens[:50]  # pure Python takes milliseconds: fewer distinct tokens, still more than one per batch

        def ec_verifier(backend=None, jwk=jwk, alg=alg, **options):
            keys = {"keys": [jwk]}
            return zjwt.Verifier(ISSUER, jwks=keys, audience=AUDIENCE, algorithms=(alg,), backend=backend, **options)

        cases = {
            f"floor: cryptography verify, {curve}": ec_floor_case(private, alg, tokens),
            f"zjwt, cryptography, {alg} new token": cycle(ec_verifier().verify, tokens),
            f"zjwt, {alg} cache hit": cycle(ec_verifier().verify, tokens[:1]),
            f"zjwt, pure Python, {alg} new token": cycle(ec_verifier("pure", cache_size=0).verify, slow),
        }
        if alg == "ES256":
            cases |= pyjwt_ec_case(private, tokens) | ecdsa_package_cases(private, slow)
        groups[f"floor: cryptography verify, {curve}"] = cases
    return groups


def pyjwt_ec_case(private, tokens: list[str]) -> dict:
    """PyJWT decoding the same ES256 tokens with a pre-built key."""
    try:
        import jwt as pyjwt
    except ImportError:
        return {}
    public, options = private.public_key(), {"require": ["exp", "iss", "aud"]}
    decode = functools.partial(pyjwt.decode, key=public, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER)
    return {"PyJWT jwt.decode ES256, pre-built key": cycle(lambda token: decode(token, options=options), tokens)}


def dpop_group(private, jwk: dict, tokens: list[str], rounds: int) -> dict:
    """Return authenticate with and without DPoP: RS256 tokens, and bound ones with a fresh ES256 proof each."""
    client, client_jwk = ec_issuer("ES256")
    del client_jwk["kid"]
    bound = mint(private, "k1", DISTINCT_TOKENS, cnf={"jkt": zjwt.jwk_thumbprint(client_jwk)})
    count = rounds * 700 + 100  # a proof is accepted once: enough for every batch of every round
    new_tokens = [(bound[i % len(bound)], dpop_proof(client, client_jwk, bound[i % len(bound)])) for i in range(count)]
    seen_token = [(bound[0], dpop_proof(client, client_jwk, bound[0])) for _ in range(count)]
    verifier = zjwt.Verifier(ISSUER, jwks={"keys": [jwk]}, audience=AUDIENCE)

    def dpop(request: tuple[str, str]) -> None:
        verifier.authenticate("DPoP " + request[0], dpop=request[1], method="GET", url=DPOP_URL)

    def bearer(token: str) -> None:
        verifier.authenticate("Bearer " + token, method="GET", url=DPOP_URL)

    proofs = [proof for _, proof in new_tokens[:DISTINCT_TOKENS]]
    return {
        "floor: cryptography verify, P-256 (a proof)": {
            "floor: cryptography verify, P-256 (a proof)": ec_floor_case(client, "ES256", proofs),
            "zjwt authenticate, Bearer, new token": cycle(bearer, tokens),
            "zjwt authenticate, Bearer, token seen before": lambda n: [bearer(tokens[0]) for _ in range(n)],
            "zjwt authenticate, DPoP ES256 proof, new token": cycle(dpop, new_tokens),
            "zjwt authenticate, DPoP ES256 proof, token seen before": cycle(dpop, seen_token),
        }
    }


DPOP_URL = "https://api.example.com/orders"


def dpop_proof(private, jwk: dict, token: str) -> str:
    """Return a fresh DPoP proof (RFC 9449 4.2) for GET DPOP_URL with token, signed by an ES256 client key."""
    header = b64(json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}, separators=(",", ":")).encode())
    claims = {"jti": b64(random.randbytes(12)), "htm": "GET", "htu": DPOP_URL, "iat": int(time.time())}
    claims["ath"] = b64(hashlib.sha256(token.encode()).digest())
    signing_input = header + "." + b64(json.dumps(claims, separators=(",", ":")).encode())
    return signing_input + "." + b64(signature_of(private, "ES256", signing_input.encode()))


def measure(groups: dict, rounds: int) -> dict:
    """Return {case: (median µs, median ratio to its floor)}; groups map a floor's name to its cases."""
    batch = {}
    for cases in groups.values():
        for name, run in cases.items():
            run(3)  # warm up (and check that it works)
            started = time.perf_counter()
            run(10)
            batch[name] = max(3, int(BATCH_SECONDS / ((time.perf_counter() - started) / 10)))
    times: dict = {name: [] for cases in groups.values() for name in cases}
    ratios: dict = {name: [] for name in times}
    for _ in range(rounds):
        for floor_name, cases in groups.items():
            for name in random.sample(
                list(cases), len(cases)
            ):  # a new order each round: no case always follows another
                started = time.perf_counter()
                cases[name](batch[name])
                times[name].append((time.perf_counter() - started) / batch[name] * 1e6)
            for name in cases:
                ratios[name].append(times[name][-1] / times[floor_name][-1])
    return {name: (statistics.median(times[name]), statistics.median(ratios[name])) for name in times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--baseline", metavar="ZJWT_PY", help="another zjwt.py to measure beside this one")
    args = parser.parse_args()

    private, jwk = make_issuer(2048, "k1")
    tokens = mint(private, "k1", DISTINCT_TOKENS)
    others = [make_issuer(2048, f"k{i}")[1] for i in range(2, 21)]
    big_private, big_jwk = make_issuer(4096, "big")
    big_tokens = mint(big_private, "big", DISTINCT_TOKENS)

    def verifier(keys: list, backend: str | None = None) -> zjwt.Verifier:
        return zjwt.Verifier(ISSUER, jwks={"keys": keys}, audience=AUDIENCE, backend=backend)

    one_key, twenty_keys = verifier([jwk]), verifier([*others[:10], jwk, *others[10:]])
    issuer = jwks_server({"keys": [jwk]}).removesuffix("/.well-known/jwks.json")  # found by OIDC discovery
    discovered = zjwt.Verifier(issuer, audience=AUDIENCE)
    issuer_tokens = mint(private, "k1", DISTINCT_TOKENS, issuer=issuer)
    discovered.verify(issuer_tokens[0])  # the one-time discovery and fetch, before timing
    pure = verifier([jwk], backend="pure")
    # Two issuers, the token's second: Issuers reads its iss, then hands it to that issuer's verifier.
    several = zjwt.Issuers(zjwt.Verifier("https://other.example", jwks={"keys": others[:1]}), verifier([jwk]))
    hit = tokens[0]
    groups = {
        "floor: cryptography verify, RSA-2048": {
            "floor: cryptography verify, RSA-2048": floor_case(private, tokens),
            "zjwt, cryptography, new token": cycle(one_key.verify, tokens),
            "zjwt, cryptography, 20-key set": cycle(twenty_keys.verify, tokens),
            "zjwt, verified-token cache hit": lambda n: [one_key.verify(hit) for _ in range(n)],
            "zjwt, keys found by discovery, new token": cycle(discovered.verify, issuer_tokens),
            "zjwt, keys found by discovery, cache hit": lambda n: [
                discovered.verify(issuer_tokens[0]) for _ in range(n)
            ],
            "zjwt Issuers (2), new token": cycle(several.verify, tokens),
            "zjwt Issuers (2), cache hit": lambda n: [several.verify(hit) for _ in range(n)],
            **peer_cases(private, jwk, tokens),
        },
        **({} if args.baseline is None else baseline_group(args.baseline, private, jwk, tokens)),
        "pure floor: pow() + compare, RSA-2048": {
            "pure floor: pow() + compare, RSA-2048": pure_floor_case(private, tokens),
            "zjwt, pure Python, new token": cycle(pure.verify, tokens),
        },
        "floor: cryptography verify, RSA-4096": {
            "floor: cryptography verify, RSA-4096": floor_case(big_private, big_tokens),
            "zjwt, cryptography, RSA-4096": cycle(verifier([big_jwk]).verify, big_tokens),
        },
        **ec_groups(),
        **dpop_group(private, jwk, tokens, args.rounds),
    }
    print(f"Python {sys.version.split()[0]}, {args.rounds} rounds; token {len(tokens[0])} bytes")
    results = measure(groups, args.rounds)
    width = max(map(len, results))
    print(f"\n| {'case':{width}} | µs/op | × floor |\n|{'-' * (width + 2)}|------:|--------:|")
    for name, (micros, ratio) in results.items():
        print(f"| {name:{width}} | {micros:5.1f} | {ratio:7.2f} |")
    twenty, one = results["zjwt, cryptography, 20-key set"][1], results["zjwt, cryptography, new token"][1]
    print(f"\n20-key set / 1-key set: {twenty / one:.3f}")
    two_floors = (
        results["floor: cryptography verify, RSA-2048"][0] + results["floor: cryptography verify, P-256 (a proof)"][0]
    )
    dpop = results["zjwt authenticate, DPoP ES256 proof, new token"][0]
    print(f"DPoP request, new token / (RSA-2048 floor + P-256 floor): {dpop / two_floors:.2f}")


if __name__ == "__main__":
    main()
