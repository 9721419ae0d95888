"""The backtest and rule-advisor pages: access, a backtest on a small known history (Celery
runs eagerly, so the run is done when the POST returns), two versions side by side, the
advisor writing a draft with its evidence, the progress endpoint, empty states, query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, Interaction
from crm.models import AuditEvent
from scoring.models import Backtest, RuleSet, RuleSetVersion
from scoring.rulesets import version_draft

pytestmark = pytest.mark.django_db

NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


@pytest.fixture
def default_set(playbooks) -> RuleSet:
    """The default rule set (general playbook: lead at 20, prospect at 50 with intent)."""
    return RuleSet.objects.get(industry="")


@pytest.fixture
def history(default_set, make_contact, log) -> dict[str, list[Contact]]:
    """Nine contacts of industry "other" with known outcomes, scored by the general playbook
    as of just before each purchase: converters 40, 40, 40, 1; the others 12, 1, 0, 0, 0.
    AUC = (15 + 3.5) / 20 = 0.925; base rate 4/9; the three 40s fill decile 1 (all converted)."""
    now = timezone.now()
    converters, others = [], []
    for n in range(3):
        contact = make_contact(full_name=f"Dewi Demo {n}")
        log(contact, "demo_requested", occurred_at=now - timedelta(days=10))  # +40
        log(contact, "purchase", occurred_at=now - timedelta(days=5))  # the outcome: never counted
        converters.append(contact)
    browser = make_contact(full_name="Budi Browser")
    log(browser, "page_viewed", occurred_at=now - timedelta(days=8))  # +1
    log(browser, "purchase", occurred_at=now - timedelta(days=3))
    converters.append(browser)
    former = make_contact(full_name="Fajar Form")
    log(former, "form_submitted", occurred_at=now - timedelta(days=4))  # +12, never bought
    others.append(former)
    viewer = make_contact(full_name="Vina Viewer")
    log(viewer, "page_viewed", occurred_at=now - timedelta(days=2))  # +1
    others.append(viewer)
    others += [make_contact(full_name=f"Sepi {n}") for n in range(3)]  # 0
    return {"converters": converters, "others": others}


@pytest.fixture
def draft(default_set, admin) -> RuleSetVersion:
    """A draft that also rewards a form (+12 -> +50): Fajar Form (no purchase) now outscores the buyers."""
    version = version_draft(ruleset=default_set, by=admin)
    version.rules.filter(interaction_kind_id="form_submitted").update(points=50)
    return version


def start_backtest(client, version, django_capture_on_commit_callbacks, **data):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("rules:backtest_new", args=[version.pk]), data)
    return response


def svg_numbers_use_dots(body: str) -> None:
    """Every coordinate of every SVG shape is a plain number with a dot, whatever the language."""
    svgs = re.findall(r"<svg[^>]*viewBox.*?</svg>", body, flags=re.S)
    assert svgs
    for svg in svgs:
        for name, value in re.findall(r'\s(x|y|x1|x2|y1|y2|width|height|dy)="([^"]*)"', svg):
            assert NUMBER.match(value), f'{name}="{value}"'


# --- access ------------------------------------------------------------------------------------

def test_admin_opens_the_backtest_and_advisor_forms(client_for, admin, default_set, history):
    client = client_for(admin)
    active = default_set.active_version
    response = client.get(reverse("rules:backtest_new", args=[active.pk]))
    assert response.status_code == 200
    assert 'name="start"' in response.content.decode() and 'name="compare_to"' in response.content.decode()
    response = client.get(reverse("rules:advisor_new", args=[default_set.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    for name in ("target_precision", "min_support", "start", "end", "exclude"):
        assert f'name="{name}"' in body


@pytest.mark.parametrize("who", ["marketer", "rep"])
def test_non_admins_get_403_everywhere(request, client_for, admin, default_set, who):
    active = default_set.active_version
    run = Backtest.objects.create(version=active, kind="backtest", created_by=admin)
    advice = Backtest.objects.create(version=active, kind="advisor", created_by=admin)
    client = client_for(request.getfixturevalue(who))
    for url in (reverse("rules:backtest_new", args=[active.pk]), reverse("rules:backtest", args=[run.pk]),
                reverse("rules:backtest_status", args=[run.pk]), reverse("rules:advisor_new", args=[default_set.pk]),
                reverse("rules:advisor", args=[advice.pk])):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("rules:backtest_new", args=[active.pk]), {}).status_code == 403
    assert client.post(reverse("rules:advisor_new", args=[default_set.pk]), {"target_precision": 50, "min_support": 5}).status_code == 403
    assert Backtest.objects.count() == 2


def test_anonymous_is_sent_to_login(client, default_set):
    response = client.get(reverse("rules:backtest_new", args=[default_set.active_version_id]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# --- the version pages link here ------------------------------------------------------------

def test_version_pages_carry_the_backtest_form_defaulting_to_the_active_version(client_for, admin, default_set, draft):
    client = client_for(admin)
    body = client.get(reverse("rules:draft", args=[default_set.pk])).content.decode()
    panel = body[body.index('id="backtest"'):]
    assert f'action="{reverse("rules:backtest_new", args=[draft.pk])}"' in panel
    assert re.search(rf'<option value="{default_set.active_version_id}" selected>', panel)
    assert reverse("rules:advisor_new", args=[default_set.pk]) in body

    body = client.get(reverse("rules:version", args=[default_set.active_version_id])).content.decode()
    panel = body[body.index('id="backtest"'):]
    assert f'action="{reverse("rules:backtest_new", args=[default_set.active_version_id])}"' in panel
    assert f'<option value="{draft.pk}">' in panel  # the other version, not preselected
    assert '<option value="" selected>No comparison</option>' in panel  # the active version needs no comparison with itself

    body = client.get(reverse("rules:index")).content.decode()
    assert reverse("rules:advisor_new", args=[default_set.pk]) in body


# --- backtests -----------------------------------------------------------------------------

def test_backtest_runs_and_shows_auc_deciles_and_stages(client_for, admin, default_set, history,
                                                       django_capture_on_commit_callbacks):
    client = client_for(admin)
    active = default_set.active_version
    response = start_backtest(client, active, django_capture_on_commit_callbacks, compare_to="")
    run = Backtest.objects.get()
    assert response.status_code == 302 and response.url == reverse("rules:backtest", args=[run.pk])
    assert run.status == Backtest.Status.DONE, run.message
    assert run.created_by == admin and run.params["compare_to"] is None and run.params["outcome"] == "conversion"

    body = client.get(response.url).content.decode()
    assert 'data-report="auc">0.925<' in body
    assert '<span class="stat-value" data-result="contacts">9</span>' in body
    assert '<span class="stat-value" data-result="conversions">4</span>' in body
    assert "44.4%" in body  # base rate 4/9
    assert "2.25×" in body  # top-decile lift: 100 % / 44.4 %
    # The decile chart: server-rendered SVG, decile 1 (the three 40s) converted fully.
    chart = body[body.index('data-chart="deciles"'):]
    assert "<svg" in chart and 'data-decile="1"' in chart and 'data-decile="10"' not in chart
    assert "Decile 1 (scores 40–40): 3 of 3 converted, 100%" in chart
    svg_numbers_use_dots(body)
    # Lead (≥ 20) holds the three buyers who asked for a demo: precision 100 %, recall 75 %.
    lead = re.search(r'<tr data-stage="lead">(.*?)</tr>', body, flags=re.S).group(1)
    assert '<td class="num" data-metric="precision" data-label="Precision">100%</td>' in lead
    assert '<td class="num" data-metric="recall" data-label="Recall">75%</td>' in lead
    assert re.search(r'data-stage-size="lead">.*?<strong class="num">3</strong>', body, flags=re.S)
    assert 'data-result="compare"' not in body  # nothing to compare with
    assert "js/progress.js" not in body  # done: nothing to poll
    # The result is stored with the version: its page links to it.
    body = client.get(reverse("rules:version", args=[active.pk])).content.decode()
    assert f'<a href="{response.url}" data-backtest="last">Latest backtest (done)</a>' in body


def test_backtest_of_a_draft_beside_the_active_version(client_for, admin, default_set, history, draft,
                                                       django_capture_on_commit_callbacks):
    client = client_for(admin)
    active = default_set.active_version
    response = start_backtest(client, draft, django_capture_on_commit_callbacks, compare_to=active.pk)
    run = Backtest.objects.get()
    assert run.status == Backtest.Status.DONE and run.params["compare_to"] == active.pk
    body = client.get(response.url).content.decode()
    # Side by side: a comparison table and one card (with its own chart) per version, the draft first.
    assert 'data-result="compare"' in body
    cards = re.findall(r'<article class="card version-report" data-version="(\d+)"', body)
    assert cards == [str(draft.pk), str(active.pk)]
    assert body.count('data-chart="deciles"') == 2
    compare = body[body.index('data-result="compare"'):body.index("backtest-versions")]
    assert f"{default_set.name} v{draft.number} (Draft)" in compare and f"{default_set.name} v{active.number} (Published)" in compare
    aucs = re.findall(r'data-compare="auc"><strong>([0-9.]+)</strong>', compare)
    # The draft rewards a form Fajar filled without buying (50 > 40): it ranks worse.
    assert aucs[1] == "0.925" and float(aucs[0]) < 0.925
    assert len(set(re.findall(r'id="(bt-deciles-\d)-title"', body))) == 2  # chart ids stay unique


def test_backtest_results_in_indonesian_keep_dots_in_the_svg(client_for, admin, default_set, history,
                                                             django_capture_on_commit_callbacks):
    client = client_for(admin)
    response = start_backtest(client, default_set.active_version, django_capture_on_commit_callbacks)
    body = client.get(response.url, HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert '<html lang="id">' in body
    assert 'data-report="auc">0,925<' in body  # text follows the language
    assert "44,4%" in body
    svg_numbers_use_dots(body)  # attributes never do


def test_bad_period_is_refused_under_its_field(client_for, admin, default_set, history, django_capture_on_commit_callbacks):
    client = client_for(admin)
    response = start_backtest(client, default_set.active_version, django_capture_on_commit_callbacks,
                              start="2025-05-01", end="2025-04-01")
    assert response.status_code == 200
    body = response.content.decode()
    assert "The period starts after it ends." in body.split('data-field="start"')[1].split("</div>")[0]
    assert not Backtest.objects.exists()


def test_the_backtest_form_page_lists_earlier_runs(client_for, admin, default_set, history, django_capture_on_commit_callbacks,
                                                   django_assert_max_num_queries):
    client = client_for(admin)
    active = default_set.active_version
    start_backtest(client, active, django_capture_on_commit_callbacks)
    start_backtest(client, active, django_capture_on_commit_callbacks, start="2020-01-01")
    with django_assert_max_num_queries(10):
        response = client.get(reverse("rules:backtest_new", args=[active.pk]))
    body = response.content.decode()
    for run in Backtest.objects.all():
        assert f'href="{reverse("rules:backtest", args=[run.pk])}"' in body
    assert 'data-empty="no-outcomes"' not in body


def test_result_pages_have_a_bounded_number_of_queries(client_for, admin, default_set, history, draft,
                                                       django_capture_on_commit_callbacks, django_assert_max_num_queries):
    client = client_for(admin)
    response = start_backtest(client, draft, django_capture_on_commit_callbacks, compare_to=default_set.active_version_id)
    with django_assert_max_num_queries(6):  # session, user, groups, the run with its version and rule set
        assert client.get(response.url).status_code == 200


# --- progress ----------------------------------------------------------------------------------

def test_a_queued_run_shows_progress_with_a_poller_and_a_fallback_link(client_for, admin, default_set):
    run = Backtest.objects.create(version=default_set.active_version, kind="backtest", progress=40, created_by=admin)
    body = client_for(admin).get(reverse("rules:backtest", args=[run.pk])).content.decode()
    assert f'data-progress-url="{reverse("rules:backtest_status", args=[run.pk])}"' in body
    assert "js/progress.js" in body
    assert 'class="progress-bar w-40"' in body
    assert f'<a href="{reverse("rules:backtest", args=[run.pk])}" data-progress="refresh">' in body  # without JS
    assert "<script>" not in body and " style=" not in body  # the CSP allows neither


def test_progress_json_shape(client_for, admin, default_set):
    run = Backtest.objects.create(version=default_set.active_version, kind="advisor", status="running", progress=35)
    response = client_for(admin).get(reverse("rules:backtest_status", args=[run.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json() == {
        "id": run.pk, "kind": "advisor", "version_id": default_set.active_version_id, "status": "running",
        "progress": 35, "message": "", "finished_at": None, "running": True,
    }
    Backtest.objects.filter(pk=run.pk).update(status="done", progress=100, finished_at=timezone.now())
    data = client_for(admin).get(reverse("rules:backtest_status", args=[run.pk])).json()
    assert data["running"] is False and data["status"] == "done" and data["finished_at"]


def test_progress_json_of_an_unknown_run_is_404(client_for, admin, db):
    assert client_for(admin).get(reverse("rules:backtest_status", args=[987654])).status_code == 404


def test_each_kind_of_run_opens_on_its_own_page(client_for, admin, default_set):
    active = default_set.active_version
    advice = Backtest.objects.create(version=active, kind="advisor")
    run = Backtest.objects.create(version=active, kind="backtest")
    client = client_for(admin)
    assert client.get(reverse("rules:backtest", args=[advice.pk])).url == reverse("rules:advisor", args=[advice.pk])
    assert client.get(reverse("rules:advisor", args=[run.pk])).url == reverse("rules:backtest", args=[run.pk])


# --- empty states -----------------------------------------------------------------------------

def test_without_outcomes_the_pages_say_where_conversions_come_from(client_for, admin, default_set, make_contact, log,
                                                                    django_capture_on_commit_callbacks):
    contact = make_contact(full_name="Belum Beli")
    log(contact, "page_viewed")
    client = client_for(admin)
    active = default_set.active_version
    for url in (reverse("rules:backtest_new", args=[active.pk]), reverse("rules:advisor_new", args=[default_set.pk])):
        body = client.get(url).content.decode()
        assert 'data-empty="no-outcomes"' in body, url
        assert "conversion-level interaction" in body and "imported outcome" in body
        assert 'type="submit" class="btn btn-primary"' not in body.split("<main")[1]  # no run that cannot work

    # Started anyway (the compact form on the version page): one contact, nobody converted.
    response = start_backtest(client, active, django_capture_on_commit_callbacks)
    run = Backtest.objects.get()
    assert run.status == Backtest.Status.DONE and run.results["conversions"] == 0
    body = client.get(response.url).content.decode()
    assert 'data-empty="no-outcomes"' in body and "imported outcome" in body
    assert 'data-report="auc">–<' in body  # no AUC without converters

    # A period before anyone existed: the run fails, says why, and where outcomes come from.
    Contact.objects.update(created_at=timezone.now() - timedelta(days=10))
    response = start_backtest(client, active, django_capture_on_commit_callbacks, end=str(timezone.localdate() - timedelta(days=30)))
    run = Backtest.objects.latest("id")
    assert run.status == Backtest.Status.FAILED
    body = client.get(response.url).content.decode()
    assert "No contact with a known outcome in this period." in body
    assert 'data-empty="no-outcomes"' in body


# --- the advisor ------------------------------------------------------------------------------

@pytest.fixture
def plans(default_set) -> list[Contact]:
    """60 contacts of industry "other" with an imported `plan`: 24 of 30 "gold" bought, 3 of 30 "basic"."""
    created = timezone.now() - timedelta(days=120)
    bought = timezone.now() - timedelta(days=20)
    contacts = Contact.objects.bulk_create([
        Contact(full_name=f"Plan {n}", email=f"plan{n}@example.co.id", industry="other", created_at=created,
                attributes={"plan": "gold" if n < 30 else "basic", "call_minutes": n})
        for n in range(60)
    ])
    buyers = [c for n, c in enumerate(contacts) if (n < 30 and n % 5 != 0) or (n >= 30 and n % 10 == 0)]
    Interaction.objects.bulk_create([Interaction(contact=c, kind_id="purchase", occurred_at=bought) for c in buyers])
    return contacts


def test_advisor_writes_a_draft_and_shows_its_evidence_and_holdout_backtest(client_for, admin, default_set, plans,
                                                                           django_capture_on_commit_callbacks,
                                                                           django_assert_max_num_queries):
    client = client_for(admin)
    assert default_set.draft() is None
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("rules:advisor_new", args=[default_set.pk]), {
            "outcome": "conversion", "target_precision": "60", "min_support": "5", "start": "", "end": "",
            "exclude": "call_minutes, duration",
        })
    run = Backtest.objects.get(kind="advisor")
    assert response.status_code == 302 and response.url == reverse("rules:advisor", args=[run.pk])
    assert run.status == Backtest.Status.DONE, run.message
    assert run.params["target_precision"] == 0.6 and run.params["min_support"] == 5
    assert run.params["exclude"] == ["call_minutes", "duration"]
    draft = default_set.draft()
    assert run.version == draft
    assert AuditEvent.objects.filter(action="create", object_id=str(draft.pk), details__what="draft").exists()

    with django_assert_max_num_queries(6):
        body = client.get(response.url).content.decode()
    # The link to the draft it wrote, ready for the editor's preview and publish buttons.
    assert f'href="{reverse("rules:draft", args=[default_set.pk])}" data-link="draft"' in body
    assert f'href="{reverse("rules:preview", args=[default_set.pk])}"' in body
    # The evidence table: feature, count, rate, Wilson interval, lift, points.
    gold = re.search(r'<tr data-feature="plan=gold"[^>]*>(.*?)</tr>', body, flags=re.S).group(1)
    cells = re.findall(r'<td[^>]*>(.*?)</td>', gold, flags=re.S)
    assert cells[0].startswith("plan=gold")
    n, conversions = int(cells[1]), int(cells[2])
    assert 15 <= n <= 30 and conversions <= n and cells[3].endswith("%") and "–" in cells[4] and cells[5].endswith("×")
    assert 'badge-success">+' in cells[6]
    assert "call_minutes" not in body.split('id="evidence"')[1].split("</table>")[0]  # excluded column
    # The held-out backtest: the draft beside the active version, each with its chart.
    holdout = body[body.index('id="holdout-title"'):]
    assert 'data-result="compare"' in holdout and holdout.count('data-chart="deciles"') == 2
    # 18 held-out contacts hold far fewer than 30 conversions: no AUC as if it meant something, a warning instead.
    assert run.results["few_conversions"] and 'data-warning="few-conversions"' in body
    assert re.search(r'data-result="holdout_auc"[^>]*>–<', body) and 'data-report="auc">–<' in body
    svg_numbers_use_dots(body)

    # Every rule in the draft carries its evidence in its label, shown in the editor.
    rules = list(draft.rules.all())
    assert rules and all("(n=" in r.label and "lift" in r.label for r in rules)
    editor = client.get(reverse("rules:draft", args=[default_set.pk])).content.decode()
    gold_rule = next(r for r in rules if r.value == "gold")
    assert gold_rule.label in editor.replace("&gt;", ">").replace("&lt;", "<")


def test_advisor_form_page_lists_runs_within_a_query_budget(client_for, admin, default_set, plans,
                                                            django_capture_on_commit_callbacks, django_assert_max_num_queries):
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("rules:advisor_new", args=[default_set.pk]), {"target_precision": "50", "min_support": "5"})
    run = Backtest.objects.get(kind="advisor")
    with django_assert_max_num_queries(10):
        body = client.get(reverse("rules:advisor_new", args=[default_set.pk])).content.decode()
    assert f'href="{reverse("rules:advisor", args=[run.pk])}"' in body
    assert f"draft v{run.version.number}" in body  # the suggestion replaces this draft's rules


def test_advisor_refuses_bad_parameters_under_their_fields(client_for, admin, default_set, plans):
    response = client_for(admin).post(reverse("rules:advisor_new", args=[default_set.pk]),
                                      {"target_precision": "0", "min_support": "", "start": "2025-02-01", "end": "2025-01-01"})
    assert response.status_code == 200
    body = response.content.decode()
    for field in ("target_precision", "min_support", "start"):
        assert 'class="errorlist"' in body.split(f'data-field="{field}"')[1].split("</div>")[0], field
    assert not Backtest.objects.exists() and default_set.draft() is None


def test_a_failed_advisor_run_explains_itself(client_for, admin, default_set, make_contact, log,
                                              django_capture_on_commit_callbacks):
    """Two buyers are too few to learn from: the run fails and the page says so."""
    for n in range(2):
        contact = make_contact(full_name=f"Satu {n}")
        log(contact, "purchase", occurred_at=timezone.now() - timedelta(days=1))
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("rules:advisor_new", args=[default_set.pk]), {"target_precision": "50", "min_support": "5"})
    run = Backtest.objects.get(kind="advisor")
    assert run.status == Backtest.Status.FAILED
    body = client.get(response.url).content.decode()
    assert run.message and run.message in body.replace("&#x27;", "'")
    assert 'data-empty="no-outcomes"' not in body  # outcomes exist; there are just too few
    assert reverse("rules:advisor_new", args=[default_set.pk]) in body
