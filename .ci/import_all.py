"""Import every module of the app (web, worker, beat, commands, migrations) under the current
interpreter: run from a runtime-only virtualenv, it fails on anything requirements.txt lacks."""

import importlib
import os
import pkgutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django

django.setup()
failed = []
count = 0
for package in ("crm", "contacts", "scoring"):
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        count += 1
        try:
            importlib.import_module(module.name)
        except Exception as exc:  # noqa: BLE001 - report every module that fails, then fail once
            failed.append(f"{module.name}: {type(exc).__name__}: {exc}")
print(f"imported {count - len(failed)} of {count} modules")
for line in failed:
    print("  " + line)
sys.exit(1 if failed else 0)
