"""How many lookups an agency may make: a token bucket per party.

Each party's bucket holds up to ``burst`` lookups and refills at ``per_minute``
a minute; a request of n records takes n. A request the bucket cannot pay for
is refused whole (429) with the seconds until it could be paid, so an agency
answering an incident gets its burst at once, and one guessing through a list
of people is slowed to the refill rate.

The buckets live in the service's memory: a restart refills them, which
costs an agency at most one extra burst.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LookupLimiter", "LookupRate", "RateDecision"]


@dataclass(frozen=True)
class LookupRate:
    """The lookup rate each agency is held to.

    Attributes:
        per_minute: lookups (records) a minute, on average.
        burst: lookups at once, after a quiet spell; also the most records
            one request may hold.

    Raises:
        ValueError: either is not positive.
    """

    per_minute: float = 60.0
    burst: int = 100

    def __post_init__(self) -> None:
        rate = self.per_minute
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
            raise ValueError(f"'per_minute' must be a positive number (got {rate!r})")
        burst = self.burst
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"'burst' must be a positive integer (got {burst!r})")


@dataclass(frozen=True)
class RateDecision:
    """Whether a request may go ahead.

    Attributes:
        allowed: the bucket paid for it.
        retry_after: whole seconds until it could (0 when allowed).
        first_refusal: the first refusal since the party's last allowed
            request: the service audits that one, not every retry.
    """

    allowed: bool
    retry_after: int = 0
    first_refusal: bool = False


class LookupLimiter:
    """One token bucket per party, safe to share between request threads.

    ``clock`` gives monotonic seconds; tests move it instead of waiting.
    """

    def __init__(
        self, rate: LookupRate, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        # party id -> (tokens, when they were counted, refused since last allowed)
        self._buckets: dict[int, tuple[float, float, bool]] = {}

    def take(self, party_id: int, cost: int) -> RateDecision:
        """Take ``cost`` lookups from the party's bucket, or say when to retry."""
        per_second = self.rate.per_minute / 60.0
        with self._lock:
            now = self._clock()
            tokens, then, refused = self._buckets.get(
                party_id, (float(self.rate.burst), now, False)
            )
            tokens = min(float(self.rate.burst), tokens + (now - then) * per_second)
            if tokens >= cost:
                self._buckets[party_id] = (tokens - cost, now, False)
                return RateDecision(allowed=True)
            self._buckets[party_id] = (tokens, now, True)
        wait = max(1, math.ceil((cost - tokens) / per_second))
        return RateDecision(allowed=False, retry_after=wait, first_refusal=not refused)
