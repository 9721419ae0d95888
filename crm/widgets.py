"""Form widgets shared by every app's forms (a base module: any layer may import it)."""

from django import forms

# The browser's own date picker: its value is always ISO (YYYY-MM-DD) whatever the page's language,
# so the widget writes it so too (a localized format would leave the picker empty in Indonesian).
DATE_PICKER = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
