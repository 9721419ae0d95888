"""Fixtures for the advisor and backtest tests: contacts with known outcomes, loaded
straight into the database (bulk, no per-row services) so 45,000 rows stay fast."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings

# Fixed moments: every contact exists before any conversion, conversions fall inside
# the period, and the others are judged at its end.
CREATED_AT = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
CONVERTED_AT = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
PERIOD_END = datetime(2025, 6, 30, 23, 0, tzinfo=UTC)
DATA = Path(settings.BASE_DIR) / "data"


@dataclass(frozen=True)
class Loaded:
    """The rows as read (attributes only) and the contact each became, in file order."""

    contact_ids: list[int]
    rows: list[dict[str, str]]
    labels: list[bool]


@pytest.fixture
def load_outcome_csv(db):
    """Load a shared CSV as contacts of one industry: attributes = every column except the
    label and `drop`; a positive row gets a `purchase` (conversion level) at CONVERTED_AT."""
    from contacts.catalog import catalog_ensure
    from contacts.models import Contact, Interaction

    catalog_ensure()

    def load(file_name: str, *, delimiter: str, label: str, positive: str, industry: str,
             drop: Sequence[str] = ()) -> Loaded:
        path = DATA / file_name
        if not path.exists():
            pytest.fail(f"{path} is missing: the public data sets live in the repository (data/)")
        with path.open(newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle, delimiter=delimiter))
        rows = [{k: v for k, v in r.items() if k != label and k not in drop} for r in records]
        labels = [r[label] == positive for r in records]
        contacts = Contact.objects.bulk_create(
            [
                Contact(industry=industry, attributes=row, external_source=file_name, external_ref=f"{file_name}:{n}",
                        created_at=CREATED_AT)
                for n, row in enumerate(rows, start=2)  # the row number in the file (the header is row 1)
            ],
            batch_size=2000,
        )
        ids = [c.pk for c in contacts]
        Interaction.objects.bulk_create(
            [Interaction(contact_id=pk, kind_id="purchase", occurred_at=CONVERTED_AT, source="test")
             for pk, y in zip(ids, labels, strict=True) if y],
            batch_size=2000,
        )
        return Loaded(ids, rows, labels)

    return load


@dataclass(frozen=True)
class History:
    contact_ids: list[int]
    converted: set[int]


@pytest.fixture
def shop_history(playbooks):
    """900 e-commerce contacts over a half-year, seeded. Converters are likelier in the
    `gold` segment and after asking for a price a few days before buying; every converter
    opens an email the day *after* buying (which must not count), and the imported
    `converted` column is the outcome itself (which must be left out)."""
    from contacts.models import Contact, Interaction

    rng = random.Random(11)
    plans = []
    for n in range(900):
        segment = rng.choice(["gold", "silver", "bronze"])
        visits = rng.randint(0, 40)
        converted = rng.random() < 0.06 + (0.3 if segment == "gold" else 0.0) + visits / 500
        moment = CONVERTED_AT + timedelta(days=rng.uniform(0, 90)) if converted else PERIOD_END
        touches = []
        if rng.random() < (0.7 if converted else 0.12):
            touches.append(("price_requested", moment - timedelta(days=rng.uniform(0.5, 5))))
        if converted:
            touches.append(("purchase", moment))
            touches.append(("email_opened", moment + timedelta(days=1)))
        elif rng.random() < 0.3:
            touches.append(("email_opened", moment - timedelta(days=rng.uniform(1, 20))))
        touches += [("page_viewed", moment - timedelta(days=rng.uniform(0.1, 25))) for _ in range(rng.randint(0, 3))]
        attributes = {"segment": segment, "visits": visits, "converted": "yes" if converted else "no"}
        plans.append((Contact(industry="ecommerce", attributes=attributes, external_source="shop", external_ref=f"shop:{n}",
                              created_at=CREATED_AT), converted, touches))
    contacts = Contact.objects.bulk_create([p[0] for p in plans], batch_size=500)
    Interaction.objects.bulk_create(
        [Interaction(contact_id=c.pk, kind_id=kind, occurred_at=at, source="test")
         for c, (_contact, _converted, touches) in zip(contacts, plans, strict=True) for kind, at in touches],
        batch_size=1000,
    )
    return History([c.pk for c in contacts], {c.pk for c, p in zip(contacts, plans, strict=True) if p[1]})


def _tier_rules(version, points: dict[str, int]) -> None:
    from scoring.models import Rule

    version.rules.all().delete()
    for position, (tier, value) in enumerate(points.items()):
        Rule.objects.create(version=version, position=position, type="attribute", label=f"tier {tier}", points=value,
                            field="attributes.tier", operator="eq", value=tier)
    version.lead_threshold, version.prospect_threshold, version.prospect_requires_intent = 5, 10, False
    version.save()


@pytest.fixture
def tiers(db):
    """12 contacts: tier a converts 3 of 4, b 1 of 4, c never. The published version
    scores c highest (wrong), the draft scores a 10 and b 5."""
    from contacts.catalog import catalog_ensure
    from contacts.models import Contact, Interaction
    from scoring.models import RuleSet
    from scoring.rulesets import version_draft, version_publish

    catalog_ensure()
    for n, (tier, converted) in enumerate([("a", 1), ("a", 1), ("a", 1), ("a", 0), ("b", 1), ("b", 0), ("b", 0), ("b", 0),
                                           ("c", 0), ("c", 0), ("c", 0), ("c", 0)]):
        contact = Contact.objects.create(industry="other", attributes={"tier": tier}, external_source="t",
                                         external_ref=str(n), created_at=CREATED_AT)
        if converted:
            Interaction.objects.create(contact=contact, kind_id="purchase", occurred_at=CONVERTED_AT + timedelta(days=n))
            # A purchase after the first one changes nothing.
            Interaction.objects.create(contact=contact, kind_id="purchase", occurred_at=CONVERTED_AT + timedelta(days=30))
    ruleset = RuleSet.objects.create(industry="other", name="Other")
    published = version_draft(ruleset=ruleset)
    _tier_rules(published, {"c": 10})
    published = version_publish(version=published, rescore=False)
    draft = version_draft(ruleset=ruleset)
    _tier_rules(draft, {"a": 10, "b": 5})
    return draft, published
