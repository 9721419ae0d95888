"""Contact pages: /contacts/ (stage lists), /contacts/<id>/ and its actions, /prospects/mine/."""

from django.urls import path

from contacts import views
from contacts.new_contact import views as new_contact_views

app_name = "contacts"

urlpatterns = [
    path("contacts/", views.contact_list_view, name="list"),
    path("contacts/new/", new_contact_views.contact_new, name="new"),
    path("contacts/new/check/", new_contact_views.contact_new_check, name="new_check"),
    path("contacts/<int:pk>/", views.contact_detail, name="detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="edit"),
    path("contacts/<int:pk>/interactions/", views.contact_log_interaction, name="log_interaction"),
    path("contacts/<int:pk>/notes/", views.contact_add_note, name="add_note"),
    path("contacts/<int:pk>/notes/<int:note_id>/done/", views.contact_complete_note, name="complete_note"),
    path("contacts/<int:pk>/stage/", views.contact_set_stage, name="set_stage"),
    path("contacts/<int:pk>/unpin/", views.contact_unpin, name="unpin"),
    path("contacts/<int:pk>/owner/", views.contact_assign_owner, name="assign_owner"),
    path("prospects/mine/", views.my_prospects_view, name="my_prospects"),
    path("prospects/<int:pk>/note/", views.prospect_quick_note, name="quick_note"),
]
