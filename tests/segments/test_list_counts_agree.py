"""Issue 18, defect 1: for every filter the list supports, the "N contacts match" line, the
stage tabs, the rows listed and the CSV export of the same query string agree (on the
database in use: SQLite by default, PostgreSQL with DATABASE_URL).

A contact with several matching tags (tag names differing only in case) must still count
once: a JOIN on tags duplicated rows, and a DISTINCT over stages folded them."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from contacts.models import Contact, Segment, Stage, Tag
from tests.segments.conftest import NOW
from tests.segments.test_segment_filters import CASES

pytestmark = pytest.mark.django_db

EXTRA_CASES = [
    ({"tag": "vip"}, ["ani"]),  # ani carries both "vip" and "VIP"
    ({"tag": "VIP", "stage": "lead"}, ["ani"]),
    ({"search": "ani"}, ["ani"]),
    ({"search": "example.co.id"}, ["ani", "budi", "citra", "dewi", "eko"]),
    ({"updated_since": (NOW - timedelta(days=1)).isoformat()}, ["ani", "budi", "citra", "dewi", "eko"]),
    ({"industry": "education", "consent_email": "true"}, ["ani"]),
]


@pytest.fixture
def crowd_with_case_tags(crowd):
    """ani carries "vip" and "VIP" (two tags: Tag names are case-sensitive, the filter is not)."""
    ani = Contact.objects.get(full_name="ani")
    ani.tags.add(Tag.objects.get_or_create(name="VIP")[0])
    return crowd


def _listed(client, params: dict) -> dict:
    response = client.get("/contacts/?" + urlencode(params))
    assert response.status_code == 200
    html = response.content.decode()
    shown = re.search(r"(\d+) contacts? match", html)
    assert shown, "the list states how many contacts match"
    ctx = response.context
    return {
        "shown": int(shown.group(1)),
        "tabs": {slug: n for slug, _label, n in ctx["tabs"]},
        "names": sorted(c.full_name for c in ctx["page"].object_list),
    }


def _exported(client, params: dict) -> list[str]:
    response = client.get("/contacts/export/?" + urlencode({**params, "style": "raw"}))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    return sorted(row["full_name"] for row in rows)


def _case_id(filters: dict) -> str:
    # The same in every pytest-xdist process's collection: a moment is named, not printed.
    return re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+(\+00:00)?", "<moment>", str(filters))


IDS = [_case_id(f) for f, _e in CASES + EXTRA_CASES]


def _params_of(filters: dict) -> dict:
    return {k: ("true" if v is True else "false" if v is False else v) for k, v in filters.items()}


@pytest.mark.parametrize(("filters", "expected"), CASES + EXTRA_CASES,
                         ids=IDS)
def test_count_tabs_list_and_export_agree(crowd_with_case_tags, client, filters, expected):
    client.force_login(crowd_with_case_tags)
    params = _params_of(filters)
    listed = _listed(client, params)
    assert listed["names"] == expected
    assert listed["shown"] == len(expected)
    assert _exported(client, params) == expected
    if "stage" not in params:
        # The "All" tab is the list's count, and the stage tabs add up to it, stage by stage.
        assert listed["tabs"][""] == len(expected)
        per_stage = {s: len(Contact.objects.filter(full_name__in=expected, stage=s)) for s in Stage.values}
        assert {s: listed["tabs"][s] for s in Stage.values} == per_stage
        for stage, n in per_stage.items():
            in_stage = _listed(client, {**params, "stage": stage})
            assert in_stage["shown"] == n == len(in_stage["names"])


@pytest.mark.parametrize(("filters", "expected"), CASES + EXTRA_CASES,
                         ids=IDS)
def test_a_segment_lists_and_exports_what_its_filters_do(crowd_with_case_tags, client, filters, expected):
    segment = Segment.objects.create(name="probe", filters=filters)
    client.force_login(crowd_with_case_tags)
    listed = _listed(client, {"segment": segment.pk})
    assert listed["names"] == expected
    assert listed["shown"] == listed["tabs"][""] == len(expected)
    assert _exported(client, {"segment": segment.pk}) == expected


def test_bulk_tagging_then_filtering_by_the_tag_finds_everyone_tagged(crowd_with_case_tags, client):
    """The report: "added to 3", then ?tag= said "1 contact matches" while the export had 3 rows."""
    client.force_login(crowd_with_case_tags)
    ids = list(Contact.objects.filter(full_name__in=["ani", "budi", "dewi"]).values_list("pk", flat=True))
    preview = client.post("/contacts/bulk/", {"action": "tag", "tag": "Webinar", "ids": ids})
    response = client.post(preview["Location"].split("?")[0], {"tag": "Webinar"}, follow=True)
    # The tag is matched like the ?tag= filter (any case): ani and budi have it already.
    assert "Add tag: 1 of 3 contacts done. Skipped 2: already have the tag: 2." in response.content.decode()
    listed = _listed(client, {"tag": "webinar"})
    # ani and budi already had "webinar", now also "Webinar": still one row each.
    assert listed["names"] == ["ani", "budi", "dewi"]
    assert listed["shown"] == listed["tabs"][""] == 3
    assert listed["tabs"]["lead"] == 2 and listed["tabs"]["customer"] == 1
    assert _exported(client, {"tag": "webinar"}) == ["ani", "budi", "dewi"]


@pytest.mark.parametrize("who", ["rep", "other_rep"])
def test_the_owner_filter_by_id_and_as_me_agrees_too(crowd_with_case_tags, client, request, who):
    owner = request.getfixturevalue(who)
    expected = sorted(Contact.objects.filter(owner=owner).values_list("full_name", flat=True))
    assert expected  # the crowd gives each rep contacts
    client.force_login(crowd_with_case_tags)
    listed = _listed(client, {"owner": owner.pk})
    assert listed["names"] == expected and listed["shown"] == listed["tabs"][""] == len(expected)
    assert _exported(client, {"owner": owner.pk}) == expected
    client.force_login(owner)  # "me" is whoever looks (reps see all here: CRM_SALES_CAN_READ_ALL)
    listed = _listed(client, {"owner": "me", "tag": "webinar"})
    mine = [n for n in expected if n in ("ani", "budi")]
    assert listed["names"] == mine and listed["shown"] == listed["tabs"][""] == len(mine)
