"""The advisor's thresholds from a sales team's capacity: pure functions (no Django, no numpy).

A score ranks contacts; the thresholds decide how many of them the team sees as prospects
and leads. The trade-off of every threshold t ("score ≥ t") is one Point: the share of
contacts it holds, how often they converted, the lift over the base rate and the recall
(the share of all conversions among them).

- Prospects: the largest group that stays within the team's capacity (a share of new
  contacts; by default at most 25 %) while converting at ≥ `min_lift` × the base rate
  (2 by default). Both are required with 95 % confidence on the learning split (Wilson
  bounds), so that new contacts, not just the contacts learned from, stay within them.
  When no threshold does both, the group that fills the capacity is chosen and the
  reason says so ("lift_not_reached"); when even the top score holds more than the
  capacity, nobody becomes a prospect by score ("no_room").
- Leads: people who showed any interest, as opposed to those who did not. The lead
  threshold is the highest one whose group (leads and prospects) still holds `lead_recall`
  (90 %) of the conversions: below it are the contacts who convert rarely. It never makes
  everyone a lead while scores differ, and is never above the prospect threshold.
- Fewer than MIN_CONVERSIONS conversions in a held-out set make its figures noise.

Every choice carries a `status` code and its numbers; pages turn them into sentences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

MAX_SHARE = 0.25  # the default capacity: at most a quarter of contacts are prospects
MIN_LIFT = 2.0  # prospects convert at least twice as often as the average contact
LEAD_RECALL = 0.9  # leads and prospects together hold 90 % of the conversions
MIN_CONVERSIONS = 30  # below this, a held-out AUC or rate is noise
INTAKE_WEEKS = 12  # new contacts per week are counted over this many weeks
Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (as in scoring.advisor)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Point:
    """"score ≥ threshold": contacts and conversions among them, out of `total` contacts."""

    threshold: int
    contacts: int
    conversions: int
    total: int
    positives: int

    @property
    def share(self) -> float:
        return self.contacts / self.total if self.total else 0.0

    @property
    def rate(self) -> float | None:
        return self.conversions / self.contacts if self.contacts else None

    @property
    def base_rate(self) -> float | None:
        return self.positives / self.total if self.total else None

    @property
    def lift(self) -> float | None:
        rate, base = self.rate, self.base_rate
        return rate / base if rate is not None and base else None

    @property
    def recall(self) -> float | None:
        return self.conversions / self.positives if self.positives else None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "share": self.share, "rate": self.rate, "lift": self.lift, "recall": self.recall}


def tradeoff(scores: Sequence[float], labels: Sequence[bool], eligible: Sequence[bool] | None = None) -> list[Point]:
    """One Point per distinct score, the highest first. With `eligible`, only eligible
    contacts count in a group (e.g. prospects need a buying-intent interaction), but the
    share is still of all contacts."""
    total, positives = len(scores), sum(1 for y in labels if y)
    flags = eligible if eligible is not None else [True] * total
    pairs = sorted(((s, bool(y)) for s, y, ok in zip(scores, labels, flags, strict=True) if ok), key=lambda p: -p[0])
    points: list[Point] = []
    size = hits = 0
    for i, (score, label) in enumerate(pairs):
        size, hits = size + 1, hits + label
        if i + 1 == len(pairs) or pairs[i + 1][0] != score:
            points.append(Point(int(math.ceil(score)), size, hits, total, positives))
    return points


def point_at(points: Sequence[Point], threshold: float, *, total: int, positives: int) -> Point:
    """The group "score ≥ threshold" read off a trade-off (empty above every score)."""
    for p in reversed(points):  # lowest threshold first
        if p.threshold >= threshold:
            return Point(int(math.ceil(threshold)), p.contacts, p.conversions, total, positives)
    return Point(int(math.ceil(threshold)), 0, 0, total, positives)


def capacity_share(*, share: float | None = None, per_week: float | None = None,
                   weekly_new: float | None = None, default: float = MAX_SHARE) -> tuple[float, str]:
    """The capacity as a share of new contacts, and where it came from:
    "share" (stated as a share), "per_week" (prospects a week / new contacts a week),
    "no_intake" (per week stated, but no new contacts to divide by: the default applies)
    or "default"."""
    if share is not None:
        return min(max(float(share), 0.0), 1.0), "share"
    if per_week is not None:
        if weekly_new and weekly_new > 0:
            return min(float(per_week) / float(weekly_new), 1.0), "per_week"
        return default, "no_intake"
    return default, "default"


def choose_prospect(points: Sequence[Point], *, capacity: float = MAX_SHARE, min_lift: float = MIN_LIFT,
                    min_size: int = 1, min_precision: float | None = None) -> dict[str, Any]:
    """The prospect threshold for a capacity (see the module doc). Status: "met",
    "lift_not_reached", "no_room" (even the top score holds more than the capacity),
    "no_contacts" (nothing to choose from)."""
    if not points:
        return {"threshold": None, "status": "no_contacts", "capacity": capacity, "min_lift": min_lift}
    total, positives = points[0].total, points[0].positives
    base = positives / total if total else 0.0

    def fits(p: Point) -> bool:
        return p.contacts >= min_size and wilson(p.contacts, total)[1] <= capacity + 1e-12

    def good(p: Point) -> bool:
        low = wilson(p.conversions, p.contacts)[0]
        return low >= min_lift * base - 1e-12 and (min_precision is None or low >= min_precision - 1e-12)

    within = [p for p in points if fits(p)]
    met = [p for p in within if good(p)]
    if met:
        chosen, status = met[-1], "met"  # the largest group that does both: the most conversions reached
    elif within:
        chosen, status = within[-1], "lift_not_reached"  # fill the capacity; the page says the lift is short
    else:
        # Even the highest score is shared by more contacts than the team can follow: nobody
        # becomes a prospect by score alone (the threshold is just above every score).
        empty = Point(points[0].threshold + 1, 0, 0, total, positives)
        return {**empty.as_json(), "status": "no_room", "capacity": capacity, "min_lift": min_lift,
                "top_share": points[0].share, "best_lift": None}
    best_lift = max((p.lift or 0.0) for p in within)
    return {**chosen.as_json(), "status": status, "capacity": capacity, "min_lift": min_lift,
            "top_share": points[0].share, "best_lift": best_lift}


def choose_lead(points: Sequence[Point], *, prospect_threshold: int | None, recall: float = LEAD_RECALL) -> dict[str, Any]:
    """The lead threshold (see the module doc). Status: "met" (holds `recall` of the
    conversions), "recall_not_reached" (only the lowest score is left out, and with it
    more than 1 - recall of the conversions), "prospect" (capped at the prospect
    threshold), "no_separation" (every contact has the same score: nobody is a lead by
    score), "no_contacts". `negative` flags a threshold below 0, which a page must explain."""
    if not points:
        return {"threshold": None, "status": "no_contacts", "target_recall": recall, "negative": False}
    total, positives = points[0].total, points[0].positives
    candidates = list(points[:-1])  # every threshold that leaves someone out (the last point holds everyone)
    if not candidates:
        chosen, status = Point(points[0].threshold + 1, 0, 0, total, positives), "no_separation"
    else:
        reached = [p for p in candidates if p.recall is not None and p.recall >= recall - 1e-12]
        chosen, status = (reached[0], "met") if reached else (candidates[-1], "recall_not_reached")
    if prospect_threshold is not None and chosen.threshold > prospect_threshold:
        chosen, status = point_at(points, prospect_threshold, total=total, positives=positives), "prospect"
    below = Point(chosen.threshold, total - chosen.contacts, positives - chosen.conversions, total, positives)
    return {**chosen.as_json(), "status": status, "target_recall": recall, "negative": chosen.threshold < 0,
            "below_share": below.contacts / total if total else None, "below_rate": below.rate, "below_lift": below.lift}


def few_conversions(conversions: int | None, minimum: int = MIN_CONVERSIONS) -> bool:
    """Whether a held-out set has too few conversions for its AUC and rates to mean anything."""
    return (conversions or 0) < minimum


TABLE_SHARES = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8)


def table_points(points: Sequence[Point], marks: Sequence[int | None] = (), shares: Sequence[float] = TABLE_SHARES) -> list[Point]:
    """A readable subset of a trade-off, highest threshold first: for each share, the
    largest group within it, plus the marked thresholds (the chosen ones) and everyone."""
    if not points:
        return []
    keep = {points[-1].threshold}
    for share in shares:
        within = [p for p in points if p.share <= share + 1e-12]
        if within:
            keep.add(within[-1].threshold)
    total, positives = points[0].total, points[0].positives
    extra = [point_at(points, m, total=total, positives=positives) for m in marks if m is not None]
    chosen = {p.threshold: p for p in points if p.threshold in keep}
    for p in extra:
        chosen.setdefault(p.threshold, p)
    return sorted(chosen.values(), key=lambda p: -p.threshold)


def thin(points: Sequence[Point], limit: int = 80) -> list[Point]:
    """At most `limit` points for a chart, evenly spread by share, keeping both ends."""
    if len(points) <= limit:
        return list(points)
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]
