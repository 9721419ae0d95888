"""A Redis cache that degrades instead of failing: when Redis is down, reads miss and
writes are dropped (with a warning), so throttles and cached dashboards never turn an
outage of the cache into 500s. The data itself lives in PostgreSQL."""

import logging

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def _degrading(name: str, fallback):
    def method(self, *args, **kwargs):
        try:
            return getattr(super(DegradingRedisCache, self), name)(*args, **kwargs)
        except RedisError as exc:
            log.warning("Cache unavailable (%s) in %s; carrying on without it.", type(exc).__name__, name)
            return fallback(*args, **kwargs) if callable(fallback) else fallback

    method.__name__ = name
    return method


# Django's incr() as one atomic command: add to the key only if it exists (nil when it does not).
_INCR_IF_EXISTS = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end"


class _ReusedClient(RedisCacheClient):
    """One redis.Redis per connection pool, made once: Django builds a new one for every call,
    and each build registers some 170 response callbacks (a scoring wake-up makes five calls)."""

    def get_client(self, key=None, *, write=False):
        clients = self.__dict__.setdefault("_clients", {})
        index = self._get_connection_pool_index(write)
        if index not in clients:
            clients[index] = super().get_client(key, write=write)
        return clients[index]

    def incr(self, key, delta):
        """Django's contract (ValueError for a missing key, else the new value) in one round trip: Django sends
        EXISTS, then INCR, and a key that expires between the two comes back from INCR without its expiry. The
        API's throttles increment on every request (crm.throttles)."""
        scripts = self.__dict__.setdefault("_scripts", {})
        index = self._get_connection_pool_index(True)
        if index not in scripts:  # sent as EVALSHA (the script is loaded once)
            scripts[index] = self.get_client(key, write=True).register_script(_INCR_IF_EXISTS)
        value = scripts[index](keys=[key], args=[delta])
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value


class DegradingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusedClient

    get = _degrading("get", lambda key, default=None, version=None: default)
    get_many = _degrading("get_many", {})
    set = _degrading("set", None)
    set_many = _degrading("set_many", lambda data, *a, **k: list(data))
    add = _degrading("add", False)
    delete = _degrading("delete", False)
    delete_many = _degrading("delete_many", None)
    touch = _degrading("touch", False)
    incr = _degrading("incr", lambda key, delta=1, version=None: delta)
    has_key = _degrading("has_key", False)
