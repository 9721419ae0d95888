"""Regenerate the generated parts of README.md: `python docs/update_readme.py`."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def render(readme: str) -> str:
    from scoring.playbooks import markdown_tables

    return re.sub(
        r"(<!-- playbooks:start -->\n).*?(<!-- playbooks:end -->)",
        lambda m: m.group(1) + markdown_tables() + m.group(2),
        readme,
        flags=re.S,
    )


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    django.setup()
    path = ROOT / "README.md"
    path.write_text(render(path.read_text()))
