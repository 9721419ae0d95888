"""The production smoke test's client: talks to a running Saring over HTTP only, with the
standard library (it runs outside the app's virtualenv). Exits non-zero on the first failure.

    python3 .ci/smoke_probe.py BASE_URL FORM_KEY API_TOKEN
"""

import json
import re
import sys
import time
import urllib.error
import urllib.request
import uuid

BASE, FORM_KEY, TOKEN = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
# TLS ends at a proxy in production; the app trusts this header (SECURE_PROXY_SSL_HEADER).
PROXY = {"X-Forwarded-Proto": "https"}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to check, not to follow


OPENER = urllib.request.build_opener(NoRedirect)


def request(path, *, data=None, headers=None, method=None):
    body = json.dumps(data).encode() if data is not None else None
    all_headers = {**PROXY, **({"Content-Type": "application/json"} if body else {}), **(headers or {})}
    req = urllib.request.Request(BASE + path, data=body, headers=all_headers, method=method)
    try:
        with OPENER.open(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        sys.exit(1)


def wait_healthy(seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if request("/healthz")[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


check(wait_healthy(), "/healthz answers 200")

status, headers, _ = request("/healthz", headers={"X-Forwarded-Proto": "http"})
check(status == 301 and headers.get("Location", "").startswith("https://"), "plain http is redirected to https")

status, headers, body = request("/accounts/login/", headers={"Accept-Language": "id"})
html = body.decode()
check(status == 200 and 'lang="id"' in html and "Masuk" in html, "the login page renders in Indonesian")
check("Strict-Transport-Security" in headers and "Content-Security-Policy" in headers, "HSTS and CSP headers are set")

css = re.search(r'href="(/static/[^"]+\.css)"', html)
check(css is not None and re.search(r"\.[0-9a-f]{12}\.css$", css.group(1)) is not None,
      "the page links a hashed stylesheet (manifest storage)")
status, headers, body = request(css.group(1), headers={"Accept-Encoding": "gzip"})
check(status == 200 and headers.get("Content-Type", "").startswith("text/css")
      and "immutable" in headers.get("Cache-Control", ""), f"whitenoise serves {css.group(1)} (cached for ever)")

email = f"smoke-{uuid.uuid4().hex[:10]}@example.co.id"
first = {"form_key": FORM_KEY, "full_name": "Uji Asap", "email": email, "phone": "081234567890",
         "company": "PT Asap", "external_id": "smoke-1", "topic": "webinar"}
status, _, body = request("/api/capture/", data=first)
check(status == 201, f"a capture POST with the form key creates a contact ({status} {body[:200]!r})")
contact_id = json.loads(body)["contact"]
status, _, body = request("/api/capture/", data={**first, "external_id": "smoke-2"})
check(status == 200 and json.loads(body)["contact"] == contact_id, "a second submission updates the same contact")
status, _, body = request("/api/capture/", data={**first, "external_id": "smoke-2"})
check(status == 200 and json.loads(body)["replayed"] is True, "a retried submission is a replay")

# Two form submissions (12 points each) and a phone (5) pass the default playbook's lead threshold (20).
auth = {"Authorization": f"Token {TOKEN}", "Accept-Language": "en"}
deadline, contact = time.monotonic() + 20, {}
while time.monotonic() < deadline:
    status, _, body = request(f"/api/contacts/{contact_id}/", headers=auth)
    contact = json.loads(body) if status == 200 else {}
    if contact.get("stage") == "lead":
        break
    time.sleep(0.2)
check(contact.get("stage") == "lead" and contact.get("score", 0) >= 20,
      f"the worker scored the contact and promoted it to lead (stage {contact.get('stage')}, score {contact.get('score')})")
print("smoke probe: all checks passed")
