"""Page URLs (server-rendered). Each app owns its url module; the API lives under /api/."""

from django.urls import include, path

from crm import views, views_search

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views_search.search, name="search"),
    path("", include("contacts.urls")),
    path("", include("contacts.imports.urls")),
    path("", include("contacts.privacy.urls")),
    path("", include("contacts.segments.urls")),
    path("", include("crm.audit.urls")),
    path("rules/", include("scoring.urls")),
    path("", include("nurture.urls")),
    path("", include("followup.urls")),
    path("", include("webhooks.urls")),
]
