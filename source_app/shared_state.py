"""State that every worker and replica of the public host must agree on, behind one interface.

Three primitives cover what the host shares (docs/threat-model.md, "Abuse without
tracking"; docs/operator.md, "Scale-out"):

- ``take(name, capacity, per_second)``: one token from a named token bucket (rate limits,
  global, per route and per browser session);
- ``claim(name, ttl_seconds)``: true for the first caller only, for ``ttl_seconds``
  (sync request nonces);
- ``hold(name, limit, lease_seconds)``: one of ``limit`` concurrent slots, released at
  the end of the ``with`` block or when its lease runs out (the argon2id cap).

:class:`LocalState` keeps them in this process's memory (the default: one host, each
worker counting for itself). :class:`RedisState` keeps them in Redis, selected by
``IBLAGH_REDIS_URL``, so that N replicas enforce one limit. When Redis cannot be reached
every call raises :class:`SharedStateUnavailable`: callers fail closed (the request is
refused with 503), and pages that need no shared state keep being served.
"""

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

LOG = logging.getLogger("iblagh.shared_state")
# Named buckets and claims remembered at once by LocalState; the least recently used go
# first (a forgotten bucket starts full, a forgotten claim may be claimed again).
MAX_LOCAL_ENTRIES = 20_000
# How often a caller waiting for a slot asks again.
SLOT_POLL_SECONDS = 0.02


class SharedStateUnavailable(Exception):
    """The shared state (Redis) did not answer: refuse what depends on it."""


class SharedState(Protocol):
    """Rate buckets, one-time claims and concurrency slots shared by whoever uses them."""

    shared: bool  # true when other processes and replicas see the same state

    def take(self, name: str, capacity: float, per_second: float) -> bool: ...

    def claim(self, name: str, ttl_seconds: float) -> bool: ...

    def try_hold(self, name: str, limit: int, lease_seconds: float) -> str | None: ...

    def release(self, name: str, holder: str) -> None: ...


@contextmanager
def hold(
    state: SharedState, name: str, limit: int, lease_seconds: float, wait_seconds: float
) -> Iterator[bool]:
    """One slot of ``name`` for the block, waiting up to ``wait_seconds``; yields False if none.

    A slot whose holder died is freed when its lease ends, so the lease must outlast the
    work done while holding it.
    """
    deadline = time.monotonic() + wait_seconds
    holder = state.try_hold(name, limit, lease_seconds)
    while holder is None and time.monotonic() < deadline:
        time.sleep(SLOT_POLL_SECONDS)
        holder = state.try_hold(name, limit, lease_seconds)
    try:
        yield holder is not None
    finally:
        if holder is not None:
            state.release(name, holder)


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class LocalState:
    """The shared state of one process: what the embedded and one-host tiers need."""

    shared = False

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_LOCAL_ENTRIES
    ) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._claims: OrderedDict[str, float] = OrderedDict()
        self._slots: dict[str, dict[str, float]] = {}

    def take(self, name: str, capacity: float, per_second: float) -> bool:
        now = self._clock()
        with self._lock:
            bucket = self._buckets.pop(name, None) or _Bucket(capacity, now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * per_second)
            bucket.stamp = now
            self._buckets[name] = bucket
            _trim(self._buckets, self._max_entries)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return True
            return False

    def claim(self, name: str, ttl_seconds: float) -> bool:
        now = self._clock()
        with self._lock:
            expires = self._claims.get(name)
            if expires is not None and expires > now:
                return False
            self._claims.pop(name, None)
            self._claims[name] = now + ttl_seconds
            # Expired claims at the old end go first; the bound covers the rest.
            while self._claims and next(iter(self._claims.values())) <= now:
                self._claims.popitem(last=False)
            _trim(self._claims, self._max_entries)
            return True

    def try_hold(self, name: str, limit: int, lease_seconds: float) -> str | None:
        now = self._clock()
        with self._lock:
            holders = self._slots.setdefault(name, {})
            for holder in [h for h, until in holders.items() if until <= now]:
                del holders[holder]
            if len(holders) >= limit:
                return None
            holder = secrets.token_hex(8)
            holders[holder] = now + lease_seconds
            return holder

    def release(self, name: str, holder: str) -> None:
        with self._lock:
            self._slots.get(name, {}).pop(holder, None)


def _trim(entries: OrderedDict[str, Any], bound: int) -> None:
    while len(entries) > bound:
        entries.popitem(last=False)


# Redis's own clock (TIME) for every instance, so replicas with skewed clocks agree.
_TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or capacity
local stamp = tonumber(state[2]) or t
tokens = math.min(capacity, tokens + math.max(0, t - stamp) * rate)
local taken = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(t))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return taken
"""
_HOLD = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], t + tonumber(ARGV[2]), ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
return 1
"""


class RedisState:
    """The shared state in Redis: every replica pointed at one server enforces one limit."""

    shared = True

    def __init__(self, url: str, prefix: str = "iblagh:", timeout_seconds: float = 2.0) -> None:
        import redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            health_check_interval=30,
        )
        self._prefix = prefix
        self._take = self._redis.register_script(_TAKE)
        self._hold = self._redis.register_script(_HOLD)
        self._where = _without_password(url)

    def take(self, name: str, capacity: float, per_second: float) -> bool:
        return bool(self._call(self._take, keys=[self._key(name)], args=[capacity, per_second]))

    def claim(self, name: str, ttl_seconds: float) -> bool:
        milliseconds = max(1, int(ttl_seconds * 1000))
        return bool(self._call(self._redis.set, self._key(name), b"1", nx=True, px=milliseconds))

    def try_hold(self, name: str, limit: int, lease_seconds: float) -> str | None:
        holder = secrets.token_hex(8)
        held = self._call(self._hold, keys=[self._key(name)], args=[limit, lease_seconds, holder])
        return holder if held else None

    def release(self, name: str, holder: str) -> None:
        self._call(self._redis.zrem, self._key(name), holder)

    def ping(self) -> bool:
        return bool(self._call(self._redis.ping))

    def _key(self, name: str) -> str:
        return self._prefix + name

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except self._errors as exc:
            LOG.error(
                "shared state unreachable (IBLAGH_REDIS_URL=%s): %s; refusing requests that "
                "need it (sync, reports, receipt-code checks) until it answers",
                self._where,
                type(exc).__name__,
            )
            raise SharedStateUnavailable(str(exc)) from None


def _without_password(url: str) -> str:
    """The URL for a log line: a password in it is replaced."""
    scheme, _, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return f"{scheme}://{rest}"


def open_shared_state(redis_url: str) -> SharedState:
    """Redis when a URL is configured, this process's memory otherwise."""
    return RedisState(redis_url) if redis_url else LocalState()
