"""Bulk actions on contacts: /contacts/bulk/ (from the list's bar) and /contacts/bulk/<id>/ (preview, confirm)."""

from django.urls import path

from crm.bulk import views

app_name = "bulk"

urlpatterns = [
    path("contacts/bulk/", views.bulk_start, name="start"),
    path("contacts/bulk/<int:pk>/", views.bulk_preview, name="preview"),
]
