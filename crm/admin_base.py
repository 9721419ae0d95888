"""Bases for admin pages that must not write (a base module: every app's admin may import it).

Most of Saring's state changes belong to a service that writes the audit row and the events
(docs/decisions.md, "one write path"); the admin shows those models but does not change them.
Each mixin turns off one of Django's buttons; combine them on a ModelAdmin, mixins first."""

from django.contrib import admin


class NoAddMixin:
    """No "Add" button: rows are created by a service (or a page) that audits them."""

    def has_add_permission(self, request, obj=None) -> bool:  # obj: the inline's signature
        return False


class NoChangeMixin:
    """Rows are shown, never edited: history and evidence stay as written."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class NoDeleteMixin:
    """Rows are never deleted here."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ViewOnlyAdmin(NoAddMixin, NoChangeMixin, admin.ModelAdmin):
    """Listed and shown, neither added nor edited (deleting stays with the usual permission)."""


class ReadOnlyAdmin(NoDeleteMixin, ViewOnlyAdmin):
    """Listed and shown only: no add, change or delete."""
