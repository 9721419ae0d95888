"""Rules pages, mounted at /rules/ (admins only)."""

from django.urls import path

from scoring import views
from scoring.advisor import views as views_backtest

app_name = "rules"

urlpatterns = [
    path("", views.index, name="index"),
    path("playbook/", views.playbook_load, name="playbook"),
    path("<int:ruleset_id>/edit/", views.edit, name="edit"),
    path("<int:ruleset_id>/draft/", views.draft, name="draft"),
    path("<int:ruleset_id>/draft/rules/", views.rule_add, name="rule_add"),
    path("<int:ruleset_id>/draft/rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("<int:ruleset_id>/draft/rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("<int:ruleset_id>/draft/preview/", views.preview, name="preview"),
    path("<int:ruleset_id>/draft/publish/", views.publish, name="publish"),
    path("version/<int:version_id>/", views.version_detail, name="version"),
    path("version/<int:version_id>/rollback/", views.rollback_preview, name="rollback_preview"),
    path("version/<int:version_id>/publish/", views.rollback, name="rollback"),
    path("rescore/<int:run_id>/progress.json", views.rescore_progress, name="progress"),
    # Backtests of a version and the rule advisor of a rule set (scoring/advisor/views.py).
    path("version/<int:version_id>/backtest/", views_backtest.backtest_new, name="backtest_new"),
    path("backtest/<int:backtest_id>/", views_backtest.backtest_detail, name="backtest"),
    path("backtest/<int:backtest_id>/status.json", views_backtest.backtest_status, name="backtest_status"),
    path("<int:ruleset_id>/advisor/", views_backtest.advisor_new, name="advisor_new"),
    path("advisor/<int:backtest_id>/", views_backtest.advisor_detail, name="advisor"),
]
