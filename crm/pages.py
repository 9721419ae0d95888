"""Page URLs (server-rendered). Each app owns its url module; the API lives under /api/."""

from django.urls import include, path

from crm import views

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("contacts.urls")),
    path("", include("contacts.urls_io")),
    path("", include("contacts.urls_privacy")),
    path("", include("contacts.urls_segments")),
    path("", include("crm.urls_audit")),
    path("rules/", include("scoring.urls")),
    path("", include("nurture.urls")),
    path("", include("webhooks.urls")),
]
