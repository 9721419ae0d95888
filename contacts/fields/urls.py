"""Custom fields: /settings/fields/ (admins) and editing one value of a contact in place."""

from django.urls import path

from contacts.fields import views

app_name = "custom_fields"

urlpatterns = [
    path("settings/fields/", views.field_list, name="list"),
    path("settings/fields/new/", views.field_edit, name="new"),
    path("settings/fields/<int:pk>/edit/", views.field_edit, name="edit"),
    path("settings/fields/<int:pk>/active/", views.field_set_active, name="set_active"),
    path("contacts/<int:pk>/field/<str:name>/", views.contact_field_edit, name="contact_field"),
]
