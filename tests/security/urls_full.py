"""The project's URLconf plus the privacy and audit pages, for as long as crm/pages.py does
not include them yet (once it does, this adds nothing and equals crm.urls)."""

from django.urls import include, path
from django.urls.resolvers import URLResolver

from crm.urls import urlpatterns as project_patterns

OWN_MODULES = ("contacts.privacy.urls", "crm.audit.urls")


def _included(patterns, module: str) -> bool:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            name = pattern.urlconf_name if isinstance(pattern.urlconf_name, str) else getattr(pattern.urlconf_module, "__name__", "")
            if name == module or _included(pattern.url_patterns, module):
                return True
    return False


urlpatterns = list(project_patterns) + [
    path("", include(module)) for module in OWN_MODULES if not _included(project_patterns, module)
]
