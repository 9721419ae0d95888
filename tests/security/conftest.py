import pytest


@pytest.fixture(autouse=True)
def _english(settings):
    """Assertions read English page text; the catalogs translate pages to Bahasa Indonesia by default."""
    settings.LANGUAGE_CODE = "en"
