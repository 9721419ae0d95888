"""The cached dashboard's generation: bumping it forgets every cached panel. Apart from
crm.dashboard (which reads scoring's analytics) so that contacts' erasure can bump it
without importing scoring."""

from django.core.cache import cache

GENERATION_KEY = "dashboard:generation"


def invalidate() -> None:
    """Forget every cached panel (an erasure must not linger in a cached count or list)."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 1, None)
