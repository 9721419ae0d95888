"""Bahasa Indonesia (the default) and English: the Indonesian catalog is complete and valid,
and pages and stage-change reasons render in the language the reader asks for."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.signals import setting_changed
from django.utils import translation

from tests.conftest import skip_or_fail

PO = Path(settings.BASE_DIR) / "locale" / "id" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


# --- a tiny .po reader (polib is not a dependency) -------------------------------------------

@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    line: int = 0
    obsolete: bool = False

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+"(.*)"$')


def _unquote(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def read_po(path: Path) -> list[Entry]:
    """Entries in file order; the header (msgid "") is the first one."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: str | None = None  # which field continuation lines extend

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            current, target = None, None
            continue
        if current is None:
            current = Entry(line=number)
            entries.append(current)
        if line.startswith("#~"):
            current.obsolete = True
            continue
        if line.startswith("#,"):
            current.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        match = _KEYWORD.match(line)
        if match:
            keyword, text = match.group(1), _unquote(match.group(2))
            if keyword.startswith("msgstr"):
                current.msgstr.append(text)
            else:
                setattr(current, keyword, text)
            target = keyword
        elif line.startswith('"') and target:
            text = _unquote(line[1:-1])
            if target.startswith("msgstr"):
                current.msgstr[-1] += text
            else:
                setattr(current, target, getattr(current, target) + text)
    return entries


def _catalog() -> tuple[Entry, list[Entry]]:
    header, *entries = read_po(PO)
    return header, [e for e in entries if not e.obsolete]


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def compiled_catalog():
    """Compile the catalog when the .mo is missing or older than the .po, so the tests do not
    depend on `make messages` having run."""
    if MO.exists() and MO.stat().st_mtime >= PO.stat().st_mtime:
        return MO
    if not shutil.which("msgfmt"):
        skip_or_fail("the compiled catalog is stale and msgfmt (gettext) is not installed")
    call_command("compilemessages", locale=["id"], ignore_patterns=[".venv"], verbosity=0)
    # Django caches loaded catalogs per process; the signal it sends on a LOCALE_PATHS change
    # drops that cache, so a catalog compiled after other tests ran is read afresh.
    setting_changed.send(sender=type(settings), setting="LOCALE_PATHS", value=settings.LOCALE_PATHS, enter=False)
    return MO


@pytest.fixture
def site_default(settings):
    """The shared conftest makes English the default for tests; put back the project's own
    default (crm/settings.py), which must be Indonesian."""
    from crm import settings as project_settings

    assert project_settings.LANGUAGE_CODE == "id"
    settings.LANGUAGE_CODE = project_settings.LANGUAGE_CODE


def _get(client, url: str, lang: str | None):
    """GET a page in `lang` by Accept-Language (None: no preference, the site default)."""
    headers = {"HTTP_ACCEPT_LANGUAGE": lang} if lang else {}
    response = client.get(url, **headers)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return response


def _text(response) -> str:
    """The page's visible text, tags removed and entities decoded, whitespace collapsed."""
    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S | re.I)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", html.unescape(body))


@pytest.fixture
def prospect(playbooks, make_contact, log):
    """A contact promoted to lead and then prospect by the general playbook: the phone gives 5,
    two forms 12 each, a price request 40; a price request is the intent a prospect needs."""
    contact = make_contact(full_name="Rina Wijaya", phone="0812-3456-7890", company="PT Maju Jaya")
    log(contact, "form_submitted")
    log(contact, "form_submitted")
    log(contact, "price_requested")
    assert contact.stage == "prospect", contact.score_breakdown
    return contact


# --- (a) the catalog --------------------------------------------------------------------------

def test_catalog_header_declares_indonesian_plurals():
    header, _ = _catalog()
    assert header.msgid == ""
    assert "Language: id\n" in header.msgstr[0]
    assert "Plural-Forms: nplurals=1; plural=0;" in header.msgstr[0]
    assert "fuzzy" not in header.flags


def test_catalog_is_complete():
    _, entries = _catalog()
    assert len(entries) > 500, "the catalog looks truncated"
    untranslated = [f"line {e.line}: {e.msgid!r}" for e in entries if not e.translated]
    fuzzy = [f"line {e.line}: {e.msgid!r}" for e in entries if "fuzzy" in e.flags]
    assert not untranslated, "untranslated entries in django.po:\n" + "\n".join(untranslated)
    assert not fuzzy, "fuzzy entries in django.po:\n" + "\n".join(fuzzy)
    plural = [e for e in entries if e.msgid_plural is not None]
    assert plural and all(len(e.msgstr) == 1 for e in plural), "Indonesian has one plural form"


_PLACEHOLDER = re.compile(r"%\([^)]+\)[sdfr]|%[sdf]|\{[A-Za-z_][\w.]*\}")
_TAG = re.compile(r"</?[a-z][^>]*>")


def test_translations_keep_placeholders_and_markup():
    """A lost %(name)s raises KeyError at render time; a lost tag breaks the page."""
    _, entries = _catalog()
    problems = []
    for e in entries:
        sources = [e.msgid] + ([e.msgid_plural] if e.msgid_plural is not None else [])
        expected_fields = {p for s in sources for p in _PLACEHOLDER.findall(s)}
        expected_tags = sorted(_TAG.findall(e.msgid))
        for text in e.msgstr:
            if set(_PLACEHOLDER.findall(text)) != expected_fields:
                problems.append(f"line {e.line}: placeholders differ in {text!r}")
            if sorted(_TAG.findall(text)) != expected_tags:
                problems.append(f"line {e.line}: markup differs in {text!r}")
    assert not problems, "\n".join(problems)


def test_msgfmt_accepts_the_catalog():
    """gettext's own checks (format strings, header) with its statistics: nothing untranslated or fuzzy."""
    if not shutil.which("msgfmt"):
        skip_or_fail("msgfmt (gettext) is not installed")
    result = subprocess.run(
        ["msgfmt", "--check-format", "--check-header", "--statistics", "-o", "/dev/null", str(PO)],
        capture_output=True, text=True, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr
    assert re.match(r"\d+ translated messages\.$", result.stderr.strip()), result.stderr


def test_compiled_catalog_is_current():
    assert MO.exists() and MO.stat().st_mtime >= PO.stat().st_mtime


# --- (b) pages in both languages --------------------------------------------------------------

# Words from the navigation and each page's own headings, per language.
PAGE_WORDS = {
    "/": {"id": ["Dasbor", "Prospek saat ini", "Corong penjualan", "Menunggu tindak lanjut"],
          "en": ["Dashboard", "Prospects now", "Funnel", "Waiting for follow-up"]},
    "/contacts/": {"id": ["Semua kontak", "Aktivitas terakhir", "Terapkan filter", "Ekspor daftar ini (CSV)"],
                   "en": ["All contacts", "Last activity", "Apply filters", "Export this list (CSV)"]},
    "/rules/": {"id": ["Aturan penilaian skor", "Set aturan", "Muat playbook", "Hitung ulang skor terbaru"],
                "en": ["Scoring rules", "Rule sets", "Load a playbook", "Recent rescores"]},
}
DETAIL_WORDS = {
    "id": ["Linimasa", "Mengapa skor ini", "Catat interaksi", "Prospek", "skor", "ambang prospek"],
    "en": ["Timeline", "Why this score", "Log an interaction", "Prospect", "score", "prospect threshold"],
}


def _untranslated_on(text: str) -> list[str]:
    """Catalog phrases (several words, no placeholder, translated differently) still shown in English."""
    _, entries = _catalog()
    return sorted(
        e.msgid for e in entries
        if e.msgid_plural is None and "%" not in e.msgid and len(e.msgid.split()) >= 3
        and e.msgstr[0] != e.msgid and e.msgid in text
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", list(PAGE_WORDS))
def test_pages_render_in_indonesian_by_default_and_on_request(url, site_default, admin, client_for, prospect):
    client = client_for(admin)
    for lang in (None, "id", "id-ID,id;q=0.9,en;q=0.5"):
        response = _get(client, url, lang)
        assert response.headers["Content-Language"] == "id"
        assert '<html lang="id"' in response.content.decode()
        text = _text(response)
        for word in PAGE_WORDS[url]["id"]:
            assert word in text, f"{word!r} missing from {url} (Accept-Language: {lang})"
        assert not _untranslated_on(text), f"English left on {url}: {_untranslated_on(text)}"


@pytest.mark.django_db
@pytest.mark.parametrize("url", list(PAGE_WORDS))
def test_pages_render_in_english_on_request(url, site_default, admin, client_for, prospect):
    client = client_for(admin)
    response = _get(client, url, "en-US,en;q=0.9")
    assert response.headers["Content-Language"] == "en"
    text = _text(response)
    for word in PAGE_WORDS[url]["en"]:
        assert word in text, f"{word!r} missing from {url} in English"
    for word in PAGE_WORDS[url]["id"]:
        assert word not in text, f"Indonesian {word!r} on the English {url}"


@pytest.mark.django_db
def test_contact_page_in_both_languages(site_default, admin, client_for, prospect):
    client = client_for(admin)
    url = f"/contacts/{prospect.pk}/"
    indonesian = _text(_get(client, url, "id"))
    english = _text(_get(client, url, "en"))
    for word in DETAIL_WORDS["id"]:
        assert word in indonesian, f"{word!r} missing from the Indonesian contact page"
    for word in DETAIL_WORDS["en"]:
        assert word in english, f"{word!r} missing from the English contact page"
    assert "Linimasa" not in english and "Timeline" not in indonesian
    assert not _untranslated_on(indonesian), f"English left on the contact page: {_untranslated_on(indonesian)}"


def _tour(admin, rep, prospect, playbooks) -> list[tuple[object, str]]:
    """(user, url) for the other pages, each as a user who may see it."""
    from django.urls import reverse

    default = playbooks["general"]
    ruleset, version = default.ruleset, default
    return [
        (admin, reverse("contacts:list") + "?stage=prospect"),
        (admin, reverse("contacts:edit", args=[prospect.pk])),
        (admin, reverse("privacy:overview", args=[prospect.pk])),
        (admin, reverse("privacy:erase", args=[prospect.pk])),
        (admin, reverse("import")),
        (admin, reverse("duplicates")),
        (admin, reverse("audit:list")),
        (admin, reverse("profile")),
        (admin, reverse("rules:draft", args=[ruleset.pk])),
        (admin, reverse("rules:preview", args=[ruleset.pk])),
        (admin, reverse("rules:version", args=[version.pk])),
        (admin, reverse("rules:backtest_new", args=[version.pk])),
        (admin, reverse("rules:advisor_new", args=[ruleset.pk])),
        (rep, reverse("contacts:my_prospects")),
        (None, reverse("login")),
    ]


@pytest.mark.django_db
def test_other_pages_have_no_english_left(site_default, admin, rep, client, prospect, playbooks):
    """Every page a user can reach renders in Indonesian: no catalog phrase shows untranslated."""
    from django.urls import reverse

    # The rep owns the prospect, so their queue is not empty.
    type(prospect).objects.filter(pk=prospect.pk).update(owner=rep)
    client.force_login(admin)
    client.post(reverse("rules:edit", args=[playbooks["general"].ruleset.pk]))  # opens a draft
    left = {}
    for user, url in _tour(admin, rep, prospect, playbooks):
        client.logout()
        if user is not None:
            client.force_login(user)
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="id", follow=True)
        assert response.status_code == 200, f"{url} answered {response.status_code}"
        assert '<html lang="id"' in response.content.decode(), url
        if phrases := _untranslated_on(_text(response)):
            left[url] = phrases
    assert not left, f"English left on Indonesian pages: {left}"


@pytest.mark.django_db
def test_language_cookie_and_switcher(site_default, admin, client_for, prospect):
    """The language chosen in the switcher (set_language -> cookie) wins over Accept-Language."""
    client = client_for(admin)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/contacts/"})
    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    text = _text(_get(client, "/contacts/", "id"))
    assert "All contacts" in text and "Semua kontak" not in text

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"
    text = _text(_get(client, "/contacts/", "en"))
    assert "Semua kontak" in text and "All contacts" not in text


# --- (c) stage-change reasons -----------------------------------------------------------------

@pytest.mark.django_db
def test_stage_change_reasons_render_in_the_active_language(prospect):
    lead_change, prospect_change = prospect.stage_changes.order_by("pk")
    assert (lead_change.to_stage, prospect_change.to_stage) == ("lead", "prospect")
    intent_date = date.fromisoformat(prospect_change.reason_params["intent_date"])
    # The kind's name and the date in the reader's language, never a slug or an ISO date.
    with translation.override("id"):
        assert re.fullmatch(r"skor \d+ ≥ ambang lead 20", lead_change.reason_text)
        day = f"{intent_date.day} {['Jan', 'Feb', 'Mar', 'Apr', 'Mei', 'Jun', 'Jul', 'Agu', 'Sep', 'Okt', 'Nov', 'Des'][intent_date.month - 1]} {intent_date.year}"
        assert re.fullmatch(rf"skor \d+ ≥ ambang prospek 50; niat: Menanyakan harga {day}", prospect_change.reason_text)
    with translation.override("en"):
        assert re.fullmatch(r"score \d+ ≥ lead threshold 20", lead_change.reason_text)
        day = f"{intent_date.day} {intent_date.strftime('%b')} {intent_date.year}"
        assert re.fullmatch(rf"score \d+ ≥ prospect threshold 50; intent: Price requested {day}", prospect_change.reason_text)


def test_every_reason_code_has_an_indonesian_text():
    from contacts.models import StageChange
    from contacts.reasons import reason_text

    params = {"score": 64, "threshold": 60, "intent_kind": "price_requested", "intent_date": "2026-11-20",
              "kind": "purchase", "date": "2026-11-21", "days": 45, "last_activity": "2026-10-01",
              "note": "dari pameran", "other": 12}
    with translation.override("id"):
        texts = {code: reason_text(code, params) for code in StageChange.Reason.values}
    assert texts["prospect"] == "skor 64 ≥ ambang prospek 60; niat: Menanyakan harga 20 Nov 2026"
    assert texts["lead"] == "skor 64 ≥ ambang lead 60"
    assert texts["conversion"] == "konversi: Pembelian pada 21 Nov 2026"
    assert texts["demoted_inactive"].startswith("tidak ada aktivitas selama 45 hari (terakhir: 1 Okt 2026)")
    assert texts["manual"] == "diatur manual oleh seorang pengguna: dari pameran"
    assert texts["merged"] == "digabungkan dengan kontak #12"


@pytest.mark.django_db
def test_reason_on_the_contact_page_follows_the_reader(site_default, admin, client_for, prospect):
    client = client_for(admin)
    url = f"/contacts/{prospect.pk}/"
    assert re.search(r"skor \d+ ≥ ambang prospek 50; niat: Menanyakan harga", _text(_get(client, url, "id")))
    assert re.search(r"score \d+ ≥ prospect threshold 50; intent: Price requested", _text(_get(client, url, "en")))


@pytest.mark.backend_independent  # a scan of the source under the embedded default's settings, whatever the run's
def test_catalog_holds_every_marked_string(tmp_path):
    """makemessages over a scratch copy of the source finds no msgid the catalog lacks: a
    string marked for translation (the API's H(...) help texts included) is never left out."""
    if not shutil.which("xgettext"):
        skip_or_fail("xgettext (gettext) is not installed")
    root = Path(settings.BASE_DIR)
    copy = tmp_path / "src"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(
        ".venv", ".git", ".env", "node_modules", "test-artifacts", "staticfiles", "__pycache__", "*.sqlite3", "*.mo",
        ".hypothesis"))  # written meanwhile by a test run beside this one (CI runs its two passes at once)
    # The embedded default's settings (no .env, no service URLs); xgettext from the same PATH it was found on.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "crm.settings", "DJANGO_DEBUG": "1",
           "LC_ALL": "C.UTF-8"}
    result = subprocess.run([sys.executable, "manage.py", "makemessages", "-l", "id", "--ignore=.venv", "-v", "0"],
                            cwd=copy, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr

    def msgids(path: Path) -> set[tuple[str | None, str]]:
        return {(e.msgctxt, e.msgid) for e in read_po(path)[1:] if not e.obsolete}

    missing = msgids(copy / "locale" / "id" / "LC_MESSAGES" / "django.po") - msgids(PO)
    assert not missing, "marked but not in django.po (run makemessages, then translate):\n" + "\n".join(
        msgid for _ctx, msgid in sorted(missing, key=lambda m: m[1]))


@pytest.mark.django_db
def test_built_in_rule_labels_follow_the_reader_and_typed_ones_stay_as_typed(site_default, admin, client_for, prospect):
    """A playbook's rule labels are stored in English and shown in the reader's language (issue 18,
    defect 3): on the rules page and in the contact's score breakdown. A label an admin typed is theirs."""
    from scoring.models import RuleSet
    from scoring.rulesets import version_draft

    client = client_for(admin)
    default = RuleSet.objects.get(industry="")
    draft = version_draft(ruleset=default, by=admin)
    from scoring.rulesets import rule_save

    typed = draft.rules.get(label="Visited the website")
    typed.label = "Kunjungan situs (aturan kami)"
    rule_save(version=draft, rule=typed, by=admin)
    # A label a person typed that happens to be a msgid of the catalog ("Phone") is theirs too.
    own = draft.rules.get(label="Has a phone number")
    own.label = "Phone"
    rule_save(version=draft, rule=own, by=admin)
    draft_id = _get(client, f"/rules/{default.pk}/draft/", "id").content.decode()
    assert '<td class="cell-title">Phone</td>' in draft_id and '<td class="cell-title">Telepon</td>' not in draft_id
    rules_id = _text(_get(client, f"/rules/version/{default.active_version_id}/", "id"))
    assert "Punya nomor telepon" in rules_id and "Has a phone number" not in rules_id
    assert "Menanyakan harga" in rules_id and "Asked for a price" not in rules_id
    assert "Has a phone number" in _text(_get(client, f"/rules/version/{default.active_version_id}/", "en"))
    draft_en = _text(_get(client, f"/rules/{default.pk}/draft/", "en"))
    assert "Kunjungan situs (aturan kami)" in draft_en and "Visited the website" not in draft_en

    # A built-in rule set's name and its playbook too; not slugs.
    index_id = _get(client, "/rules/", "id").content.decode()
    assert "<h3>Bawaan</h3>" in index_id and ">general</span>" not in index_id
    assert "<h3>Default</h3>" in _get(client, "/rules/", "en").content.decode()

    contact_id = _text(_get(client, f"/contacts/{prospect.pk}/", "id"))
    assert "Mengisi formulir landing page" in contact_id and "Filled a landing-page form" not in contact_id
    assert "Filled a landing-page form" in _text(_get(client, f"/contacts/{prospect.pk}/", "en"))


@pytest.mark.django_db
def test_the_login_error_says_the_field_once_in_indonesian(client, make_user):
    make_user("dewi", "marketer")
    response = client.post("/accounts/login/", {"username": "dewi", "password": "salah"}, HTTP_ACCEPT_LANGUAGE="id")
    text = _text(response)
    assert "Masukkan nama pengguna dan kata sandi yang benar." in text
    assert "nama pengguna nama pengguna" not in text


@pytest.mark.django_db
def test_system_notes_read_in_the_viewers_language(site_default, admin, client_for, make_contact, rep):
    """A system note stores its message id and parameters: written while Indonesian was active, it
    reads in English for an English viewer, and the other way round (issue 18, defect 3)."""
    from contacts.services import contacts_assign_owner
    from contacts.services.consent import consent_set

    contact = make_contact(full_name="Rina", email="rina@example.co.id", consent_email=True)
    with translation.override("id"):
        contacts_assign_owner(contact_ids=[contact.pk], owner=rep, by=admin)
        consent_set(contact=contact, channel="email", granted=False, source="test", by=admin)
    assert contact.notes.filter(body__startswith="Ditugaskan").exists()  # stored as written, for search
    client = client_for(admin)
    english = _text(_get(client, f"/contacts/{contact.pk}/", "en"))
    assert f"Assigned to {rep.get_full_name() or rep.username}." in english and "Consent withdrawn: Email." in english
    assert "Ditugaskan" not in english
    indonesian = _text(_get(client, f"/contacts/{contact.pk}/", "id"))
    assert "Ditugaskan" in indonesian and "Assigned to" not in indonesian


@pytest.mark.django_db
def test_a_breakdown_without_hits_names_its_rule_set_in_the_viewers_language(site_default, admin, client_for, playbooks,
                                                                              make_contact):
    """A contact no rule matched still names the built-in rule set that scored it in the reader's language."""
    from scoring.rescoring import contacts_rescore

    contact = make_contact(full_name="Tanpa Skor", email="tanpa@example.com")
    contacts_rescore(contact_ids=[contact.pk])
    contact.refresh_from_db()
    assert contact.score_breakdown["ruleset"] == "Default" and not contact.score_breakdown["hits"]
    client = client_for(admin)
    assert "Bawaan" in _text(_get(client, f"/contacts/{contact.pk}/", "id"))
    assert "Default" in _text(_get(client, f"/contacts/{contact.pk}/", "en"))
