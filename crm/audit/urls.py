"""The audit log page (admins): included by crm/pages.py. URL name: audit:list."""

from django.urls import path

from crm.audit import views as views_audit

app_name = "audit"

urlpatterns = [
    path("audit/", views_audit.audit_list, name="list"),
]
