"""The compiled catalog is committed (a machine without gettext still gets Bahasa Indonesia), so it
must say what the .po says: compiled afresh, it holds the same translations."""

import gettext
import shutil
import subprocess
from pathlib import Path

from django.conf import settings

from tests.conftest import skip_or_fail

CATALOG = Path(settings.BASE_DIR) / "locale" / "id" / "LC_MESSAGES"


def test_the_committed_compiled_catalog_matches_the_po(tmp_path):
    if shutil.which("msgfmt") is None:
        skip_or_fail("msgfmt is missing (apt-get install gettext)")
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(fresh), str(CATALOG / "django.po")], check=True)
    with fresh.open("rb") as new, (CATALOG / "django.mo").open("rb") as committed:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(new)._catalog, \
            "run `make messages` and commit locale/id/LC_MESSAGES/django.mo"
