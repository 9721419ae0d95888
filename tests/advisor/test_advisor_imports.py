"""numpy is for the advisor's worker: loading the URL configuration (every web process) must not import it."""

import os
import subprocess
import sys


def test_the_url_configuration_does_not_load_numpy():
    code = ("import django, sys; django.setup(); import crm.urls; from django.urls import resolve; "
            "resolve('/healthz'); resolve('/rules/'); print('numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings_test"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"
