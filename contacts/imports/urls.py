"""Import, export and duplicate pages, mounted at the site root by crm/pages.py (plain url names)."""

from django.urls import path

from contacts.imports import views

urlpatterns = [
    path("import/", views.import_upload, name="import"),
    path("import/<int:pk>/", views.import_progress, name="import_progress"),
    path("import/<int:pk>/mapping/", views.import_mapping, name="import_mapping"),
    path("import/<int:pk>/mapping.json", views.import_mapping_json, name="import_mapping_json"),
    path("import/<int:pk>/start/", views.import_restart, name="import_restart"),
    path("import/<int:pk>/status.json", views.import_status, name="import_status"),
    path("import/<int:pk>/errors.csv", views.import_errors, name="import_errors"),
    path("import/<int:pk>/warnings.csv", views.import_warnings, name="import_warnings"),
    path("contacts/export/", views.export, name="export"),
    path("contacts/duplicates/", views.duplicates, name="duplicates"),
    path("contacts/merge/", views.merge_view, name="merge"),
    path("contacts/merge/<int:keep>/<int:other>/", views.merge_preview, name="merge_preview"),
    path("contacts/merge/<int:pk>/undo/", views.merge_undo, name="merge_undo"),
]
