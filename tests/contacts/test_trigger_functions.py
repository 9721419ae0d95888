"""Every trigger on contacts and stage changes (the stage rollup's, the search text's) runs its
function with JIT off, and installing them again (the migrations, the nightly reconcile) keeps one
trigger each. PL/pgSQL keeps a statement's plan for the session: a plan made while a transition
table held 50,000 rows was JIT-compiled again at every later run, ~400 ms for each one-contact
update on that connection (docs/performance.md, "JIT in the triggers")."""

from __future__ import annotations

import pytest
from django.db import connection

from contacts import rollup, search_text
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

TABLES = ("contacts_contact", "contacts_stagechange")


def _trigger_functions() -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.tgname, coalesce(p.proconfig, '{}') FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE NOT t.tgisinternal AND t.tgrelid = ANY(%s::regclass[])", [list(TABLES)])
        return dict(cursor.fetchall())


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        skip_or_fail("JIT is PostgreSQL's; set DATABASE_URL")


def test_every_trigger_function_runs_without_jit(postgresql):
    functions = _trigger_functions()
    expected = {*rollup._PG_TRIGGERS, *search_text.TRIGGERS}
    assert set(functions) == expected
    assert {name for name, config in functions.items() if "jit=off" not in config} == set()


def test_installing_again_replaces_the_functions_and_keeps_one_trigger_each(postgresql):
    before = _trigger_functions()
    rollup.triggers_install()
    search_text.triggers_install()
    assert _trigger_functions() == before
