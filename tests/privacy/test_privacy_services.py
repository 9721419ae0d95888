"""Consent, the objection to profiling, the access export and erasure (contacts.privacy)."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder

from contacts import privacy
from contacts.models import ConsentRecord, Contact, Interaction, Note, StageChange
from contacts.services import contact_set_stage, note_add
from crm.models import AuditEvent
from scoring.rescoring import rescore_all_now

pytestmark = pytest.mark.django_db

PII = ("Dewi Lestari", "dewi.lestari@example.co.id", "+6281234567890", "PT Sinar Jaya")


@pytest.fixture
def dewi(make_contact, playbooks):
    return make_contact(full_name="Dewi Lestari", email="dewi.lestari@example.co.id", phone="0812-3456-7890",
                        company="PT Sinar Jaya", consent_email=True, consent_whatsapp=True, industry="other")


def _no_pii(event: AuditEvent) -> None:
    text = json.dumps(event.details, cls=DjangoJSONEncoder) + event.object_id + event.object_type
    for value in PII:
        assert value not in text


def test_withdrawing_consent_sets_the_flag_records_evidence_and_audits(dewi, marketer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record = privacy.consent_withdraw(contact=dewi, channel="whatsapp", by=marketer, source="phone call")
    dewi.refresh_from_db()
    assert dewi.consent_whatsapp is False and dewi.consent_email is True
    assert (record.channel, record.granted, record.source, record.recorded_by) == ("whatsapp", False, "phone call", marketer)
    event = AuditEvent.objects.filter(action="change", object_id=str(dewi.pk)).order_by("-id").first()
    assert event.actor == marketer and event.details["consent_channel"] == "whatsapp" and event.details["fields"] == ["consent_whatsapp"]
    _no_pii(event)
    assert dewi.notes.filter(kind=Note.Kind.SYSTEM, body__icontains="WhatsApp").exists()


def test_withdrawal_takes_effect_in_campaign_exports_at_once(dewi, admin):
    from contacts.exporting import export_queryset

    assert dewi in export_queryset(user=admin, campaign="whatsapp")
    privacy.consent_withdraw(contact=dewi, channel="whatsapp", by=admin)
    assert dewi not in export_queryset(user=admin, campaign="whatsapp")
    assert dewi in export_queryset(user=admin, campaign="email")


def test_granting_consent_keeps_time_source_and_wording(dewi, admin):
    record = privacy.consent_set(contact=dewi, channel="sms", granted=True, source="landing page", wording_version="v3", by=admin)
    dewi.refresh_from_db()
    assert dewi.consent_sms is True
    assert (record.source, record.wording_version, record.recorded_at is not None) == ("landing page", "v3", True)
    assert [s.channel for s in privacy.consent_states(dewi) if s.granted] == ["email", "whatsapp", "sms"]


def test_withdrawing_all_channels_means_do_not_contact(dewi, admin):
    privacy.consent_withdraw(contact=dewi, channel="all", by=admin)
    dewi.refresh_from_db()
    assert dewi.do_not_contact is True
    assert (dewi.consent_email, dewi.consent_whatsapp, dewi.consent_sms) == (False, False, False)


def test_unknown_channel_is_refused_naming_the_field(dewi, admin):
    with pytest.raises(ValidationError) as exc:
        privacy.consent_set(contact=dewi, channel="pigeon", granted=False, by=admin)
    assert "channel" in exc.value.message_dict
    assert not ConsentRecord.objects.exclude(channel__in=["email", "whatsapp"]).exists()  # only dewi's opt-ins at creation


def test_consent_change_does_not_overwrite_a_score_written_meanwhile(dewi, admin):
    """The caller's instance is stale (a worker scored the contact since): the service
    works on a fresh locked copy, so score and stage are not rolled back."""
    stale = Contact.objects.get(pk=dewi.pk)
    Contact.objects.filter(pk=dewi.pk).update(score=77, stage="prospect")
    privacy.consent_withdraw(contact=stale, channel="email", by=admin)
    dewi.refresh_from_db()
    assert (dewi.score, dewi.stage, dewi.consent_email) == (77, "prospect", False)


def test_objection_to_profiling_freezes_scoring_until_lifted(dewi, admin, log, django_capture_on_commit_callbacks):
    log(dewi, "form_submitted")
    before = (dewi.score, dewi.stage)
    assert dewi.stage == "contact"
    with django_capture_on_commit_callbacks(execute=True):
        privacy.profiling_objection_set(contact=dewi, objects=True, by=admin)
    # Buying signals arrive: neither the per-contact task nor a full rescore moves it.
    log(dewi, "price_requested")
    log(dewi, "demo_requested")
    log(dewi, "purchase")
    rescore_all_now()
    dewi.refresh_from_db()
    assert (dewi.score, dewi.stage) == before
    assert dewi.objects_to_profiling and not dewi.needs_rescore
    assert not StageChange.objects.filter(contact=dewi).exists()
    assert privacy.profiling_paused_since(dewi) is not None
    assert dewi.notes.filter(kind=Note.Kind.SYSTEM, body__icontains="profiling").exists()

    with django_capture_on_commit_callbacks(execute=True):
        privacy.profiling_objection_set(contact=dewi, objects=False, by=admin)
    dewi.refresh_from_db()
    assert dewi.stage == "customer" and dewi.score > before[0]
    assert privacy.profiling_paused_since(dewi) is None
    assert list(ConsentRecord.objects.filter(contact=dewi, channel="profiling").values_list("channel", "granted").order_by("pk")) == [
        ("profiling", False), ("profiling", True)]


def test_objecting_contacts_are_left_out_of_the_rule_preview(dewi, admin, log):
    from scoring.models import RuleSet
    from scoring.rulesets import version_draft, version_preview

    log(dewi, "purchase")
    privacy.profiling_objection_set(contact=dewi, objects=True, by=admin)
    draft = version_draft(ruleset=RuleSet.objects.get(industry=""))
    assert version_preview(version=draft).evaluated == 0


def test_access_export_holds_everything_and_is_audited(dewi, admin, rep, log):
    log(dewi, "price_requested", data={"product": "Paket Premium"})
    note_add(contact=dewi, author=rep, body="Prefers a call after 4pm")
    contact_set_stage(contact=dewi, stage="customer", by=admin, note="met at expo")
    privacy.consent_set(contact=dewi, channel="sms", granted=True, source="form", wording_version="v2", by=admin)

    data = privacy.subject_access_export(contact=dewi, by=admin)
    json.dumps(data, cls=DjangoJSONEncoder)  # downloadable as is
    assert data["contact"]["email"] == "dewi.lestari@example.co.id"
    assert data["contact"]["phone"] == "+6281234567890"
    assert data["contact"]["consent_sms"] is True
    assert data["interactions"][0]["kind"] == "price_requested"
    assert data["interactions"][0]["data"] == {"product": "Paket Premium"}
    assert any(n["body"] == "Prefers a call after 4pm" and n["author"] == "sari" for n in data["notes"])
    assert any(c["to"] == "customer" and c["reason_code"] == "manual" for c in data["stage_changes"])
    assert {"channel": "sms", "granted": True, "source": "form", "wording_version": "v2"}.items() <= data["consent_records"][-1].items()
    assert data["score_breakdown"]["hits"]
    event = AuditEvent.objects.get(action=AuditEvent.Action.ACCESS_REQUEST)
    assert (event.actor, event.object_id, event.details["interactions"]) == (admin, str(dewi.pk), 1)
    _no_pii(event)


def test_erase_delete_removes_everything_and_audits_without_personal_data(dewi, admin, rep, log):
    log(dewi, "purchase")
    note_add(contact=dewi, author=rep, body="Dewi Lestari asked about Paket Premium")
    privacy.consent_withdraw(contact=dewi, channel="email", by=admin)
    pk = dewi.pk

    result = privacy.contact_erase(contact=dewi, by=admin, mode="delete")
    assert result.mode == "delete" and result.interactions == 1
    assert not Contact.objects.filter(pk=pk).exists()
    for model in (Interaction, Note, StageChange, ConsentRecord):
        assert not model.objects.filter(contact_id=pk).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.DELETE)
    assert (event.actor, event.object_type, event.object_id) == (admin, "contacts.contact", str(pk))
    for e in AuditEvent.objects.all():
        _no_pii(e)


def test_erase_anonymise_strips_identity_and_keeps_anonymous_facts(dewi, admin, rep, log):
    log(dewi, "price_requested", data={"email": "dewi.lestari@example.co.id"}, external_id="shop-9", source="shop")
    note_add(contact=dewi, author=rep, body="Call Dewi Lestari on +6281234567890")
    contact_set_stage(contact=dewi, stage="customer", by=admin, note="Dewi Lestari said yes")
    dewi.refresh_from_db()
    stage, score = dewi.stage, dewi.score

    privacy.contact_erase(contact=dewi, by=admin, mode="anonymise")
    dewi.refresh_from_db()
    assert privacy.is_anonymised(dewi)
    assert (dewi.full_name, dewi.email, dewi.phone, dewi.company) == ("", None, None, "")
    assert (dewi.stage, dewi.score, dewi.industry) == (stage, score, "other")
    assert dewi.do_not_contact and dewi.objects_to_profiling
    interaction = dewi.interactions.get()
    assert (interaction.kind_id, interaction.data, interaction.external_id) == ("price_requested", {}, None)
    assert not dewi.notes.exists()
    manual = dewi.stage_changes.get(reason_code="manual")
    assert manual.reason_params == {}
    dump = json.dumps(privacy.subject_access_export(contact=dewi, by=admin), cls=DjangoJSONEncoder)
    for value in PII:
        assert value not in dump
    for e in AuditEvent.objects.all():
        _no_pii(e)
    with pytest.raises(ValidationError):
        privacy.consent_set(contact=dewi, channel="email", granted=True, by=admin)
    privacy.contact_erase(contact=dewi, by=admin, mode="anonymise")  # again: harmless


def test_erase_refuses_an_unknown_mode(dewi, admin):
    with pytest.raises(ValidationError) as exc:
        privacy.contact_erase(contact=dewi, by=admin, mode="shred")
    assert "mode" in exc.value.message_dict
    assert Contact.objects.filter(pk=dewi.pk).exists()
