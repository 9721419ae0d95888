"""Tags: names cleaned and created on first use, added to one or many contacts."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from contacts.models import Contact, Tag
from crm.audit import audit


def _tag_name(name: str) -> str:
    return name.strip()[:50]


def tag_get_or_create(names: Iterable[str]) -> list[Tag]:
    tags = []
    for name in {_tag_name(n) for n in names if n and n.strip()}:
        tag, _created = Tag.objects.get_or_create(name=name)
        tags.append(tag)
    return tags


def tags_add(tagged: Iterable[tuple[int, Iterable[str]]]) -> None:
    """Tag many contacts by id at once ((contact id, tag names) pairs): the importer's bulk insert."""
    tagged = [(pk, {_tag_name(n) for n in names if n and n.strip()}) for pk, names in tagged]
    tags = {t.name: t for t in tag_get_or_create({n for _pk, names in tagged for n in names})}
    Contact.tags.through.objects.bulk_create([
        Contact.tags.through(contact_id=pk, tag_id=tags[n].pk) for pk, names in tagged for n in names
    ], ignore_conflicts=True)


@transaction.atomic
def contacts_add_tag(*, contact_ids: Iterable[int], name: str, by=None) -> int:
    (tag,) = tag_get_or_create([name])
    ids = list(contact_ids)
    Contact.tags.through.objects.bulk_create(
        [Contact.tags.through(contact_id=pk, tag_id=tag.pk) for pk in ids], ignore_conflicts=True,
    )
    audit(by, "change", object_type=Contact._meta.label_lower, fields=["tags"], count=len(ids), ids=ids)
    return len(ids)


@transaction.atomic
def contacts_remove_tag(*, contact_ids: Iterable[int], name: str, by=None) -> int:
    """Take a tag off many contacts; returns how many had it. The tag itself stays (other
    contacts, segments and sequences may name it). Matched like the list's tag filter: any case."""
    ids = list(contact_ids)
    through = Contact.tags.through.objects.filter(contact_id__in=ids, tag__name__iexact=_tag_name(name))
    removed = list(through.values_list("contact_id", flat=True).distinct())
    through.delete()
    audit(by, "change", object_type=Contact._meta.label_lower, fields=["tags"], count=len(removed), ids=removed)
    return len(removed)
