"""Personal-data pages (UU PDP) under a contact: included by crm/pages.py.

URL names (namespace `privacy`): overview, consent_withdraw, profiling, access, erase."""

from django.urls import path

from contacts.privacy import views

app_name = "privacy"

urlpatterns = [
    path("contacts/<int:pk>/privacy/", views.privacy_overview, name="overview"),
    path("contacts/<int:pk>/privacy/consent/<slug:channel>/withdraw/", views.consent_withdraw, name="consent_withdraw"),
    path("contacts/<int:pk>/privacy/profiling/", views.profiling_objection, name="profiling"),
    path("contacts/<int:pk>/privacy/access.json", views.access_export, name="access"),
    path("contacts/<int:pk>/privacy/erase/", views.erase, name="erase"),
]
