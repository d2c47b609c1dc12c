"""What ``merchstore simulate`` counts and how it paces itself: plain rules, no I/O."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

RETRIED_STATUSES = frozenset({502, 503, 504})
"""Answers after which a client retries: the service (or one it relies on) was unavailable."""

PLAYER_ACTIONS: tuple[tuple[str, str, str, float], ...] = (
    # event type, method, path, weight
    ("purchase_sword", "POST", "/purchase_a_sword", 0.35),
    ("purchase_knife", "POST", "/purchase_a_knife", 0.3),
    ("join_guild", "POST", "/join_guild", 0.2),
    ("default", "GET", "/", 0.15),
)
SWORDS = ("katana", "claymore", "rapier", "scimitar")
KNIVES = ("dagger", "kris", "tanto")
GUILDS = ("Ironclad", "Moonlit", "Tinkers", "Wayfarers")

SHOPPER_STEPS: tuple[tuple[str, float], ...] = (
    ("browse", 0.35),
    ("order", 0.35),
    ("cancel", 0.15),
    ("list_orders", 0.15),
)
REPEAT_SHARE = 0.1
"""Of the orders acknowledged, the share sent once more with the same Idempotency-Key."""


def player_metadata(event_type: str, rng: random.Random) -> dict[str, str]:
    """A plausible metadata object for one player action."""
    if event_type == "purchase_sword":
        return {"sword_type": rng.choice(SWORDS), "price": f"{rng.randint(5, 40)}.99"}
    if event_type == "purchase_knife":
        return {"knife_type": rng.choice(KNIVES), "price": f"{rng.randint(2, 15)}.49"}
    if event_type == "join_guild":
        return {"guild": rng.choice(GUILDS)}
    return {}


def weighted(choices: Sequence[tuple[str, float]], rng: random.Random) -> str:
    """One name of ``choices``, drawn with its weight."""
    names = [name for name, _ in choices]
    return rng.choices(names, weights=[weight for _, weight in choices])[0]


def percentile(sorted_values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0..1) of sorted values; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class KindTally:
    """How the requests of one kind ended."""

    sent: int = 0
    acknowledged: int = 0
    refused: int = 0
    failed: int = 0
    retried: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def quantiles(self) -> tuple[float | None, float | None]:
        """p50 and p99 of the answered requests' latencies, in ms."""
        ordered = sorted(self.latencies_ms)
        return percentile(ordered, 0.5), percentile(ordered, 0.99)


class Tally:
    """Every request of a simulation, by kind, and how it ended.

    An action is *acknowledged* when it got a 2xx answer (retries included), *refused* when
    the system answered it with a 4xx that says no (out of stock, say), and *failed* when it
    got no answer, or only 5xx answers, before its retries ran out.
    """

    def __init__(self) -> None:
        self.kinds: dict[str, KindTally] = {}
        self.behind = 0
        """Ticks of the rate that found every simulated user still busy (the system is slow)."""
        self.doubled_repeats = 0
        """Repeats with the same Idempotency-Key answered with another order: must stay 0."""

    def of(self, kind: str) -> KindTally:
        """The tally of one kind, made on first use."""
        return self.kinds.setdefault(kind, KindTally())

    def answered(self, kind: str, latency_ms: float) -> None:
        """One request of ``kind`` got an answer (whatever it said)."""
        self.of(kind).latencies_ms.append(latency_ms)

    def ended(self, kind: str, outcome: str, retries: int = 0) -> None:
        """One action of ``kind`` ended: ``acknowledged``, ``refused`` or ``failed``."""
        tally = self.of(kind)
        tally.sent += 1
        tally.retried += retries
        setattr(tally, outcome, getattr(tally, outcome) + 1)

    def total(self) -> KindTally:
        """All kinds together."""
        whole = KindTally()
        for tally in self.kinds.values():
            whole.sent += tally.sent
            whole.acknowledged += tally.acknowledged
            whole.refused += tally.refused
            whole.failed += tally.failed
            whole.retried += tally.retried
            whole.latencies_ms.extend(tally.latencies_ms)
        return whole

    def progress_line(self, elapsed_s: float) -> str:
        """The one-line progress report."""
        whole = self.total()
        p50, p99 = whole.quantiles()
        return (
            f"{elapsed_s:6.1f} s  sent {whole.sent}  acknowledged {whole.acknowledged}  "
            f"refused {whole.refused}  failed {whole.failed}  retried {whole.retried}  "
            f"p50 {format_ms(p50)}  p99 {format_ms(p99)}"
        )


def format_ms(value: float | None) -> str:
    """A latency for people: ``4.2 ms``, or ``-`` when there is none."""
    return "-" if value is None else f"{value:.1f} ms"


def retry_pause_s(attempt: int, rng: random.Random) -> float:
    """The pause before retry ``attempt`` (1, 2, ...): doubling from 0.25 s up to 4 s, jittered."""
    return float(min(4.0, 0.25 * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.0))
