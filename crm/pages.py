"""Page URLs (server-rendered). Each app owns its url module; the API lives under /api/."""

from django.urls import include, path

from crm import views
from crm.search import views as search_views

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", search_views.search, name="search"),
    path("", include("crm.bulk.urls")),
    path("", include("contacts.urls")),
    path("", include("contacts.imports.urls")),
    path("", include("contacts.privacy.urls")),
    path("", include("contacts.segments.urls")),
    path("", include("contacts.fields.urls")),
    path("", include("crm.audit.urls")),
    path("", include("crm.reports.urls")),
    path("rules/", include("scoring.urls")),
    path("", include("nurture.urls")),
    path("", include("followup.urls")),
    path("", include("webhooks.urls")),
]
