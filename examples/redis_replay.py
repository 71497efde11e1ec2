"""A DPoP replay cache shared by every worker and host: Redis, one SET NX EX per proof.

Use:  zjwt.Verifier(issuer, audience=..., replay_cache=RedisReplayCache(redis.Redis.from_url(REDIS_URL)))

(pip install redis, and zjwt.)  zjwt remembers each proof's jti until the proof expires, so that a proof
is accepted once; by default in the memory of each process, which several workers do not share.
"""

import math
import time


class RedisReplayCache:
    """zjwt's ReplayStore in Redis: each jti a key that expires with its proof."""

    def __init__(self, redis, prefix: str = "zjwt:dpop:jti:"):
        self.redis, self.prefix = redis, prefix

    def add(self, jti: str, expires_at: float) -> bool:
        """Return True if jti is new, now kept until expires_at; False if a proof with it was accepted before."""
        seconds = max(1, math.ceil(expires_at - time.time()))  # EX takes whole seconds, at least one
        return bool(self.redis.set(self.prefix + jti, b"", nx=True, ex=seconds))  # NX: only if absent, atomically
