"""Segment pages, mounted at the site root by crm/pages.py."""

from django.urls import path

from contacts.segments import views as views_segments

app_name = "segments"

urlpatterns = [
    path("segments/", views_segments.segment_list, name="list"),
    path("segments/new/", views_segments.segment_create_view, name="create"),
    path("segments/<int:pk>/edit/", views_segments.segment_edit_view, name="edit"),
    path("segments/<int:pk>/delete/", views_segments.segment_delete_view, name="delete"),
]
