"""Import, export and duplicate pages, mounted at the site root by crm/pages.py (plain url names)."""

from django.urls import path

from contacts import views_io

urlpatterns = [
    path("import/", views_io.import_upload, name="import"),
    path("import/<int:pk>/", views_io.import_progress, name="import_progress"),
    path("import/<int:pk>/mapping/", views_io.import_mapping, name="import_mapping"),
    path("import/<int:pk>/mapping.json", views_io.import_mapping_json, name="import_mapping_json"),
    path("import/<int:pk>/start/", views_io.import_restart, name="import_restart"),
    path("import/<int:pk>/status.json", views_io.import_status, name="import_status"),
    path("import/<int:pk>/errors.csv", views_io.import_errors, name="import_errors"),
    path("import/<int:pk>/warnings.csv", views_io.import_warnings, name="import_warnings"),
    path("contacts/export/", views_io.export, name="export"),
    path("contacts/duplicates/", views_io.duplicates, name="duplicates"),
    path("contacts/merge/", views_io.merge_view, name="merge"),
]
