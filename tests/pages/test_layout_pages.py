"""The layout: navigation by role, the language switcher, the login page, error pages,
and markup that the Content-Security-Policy allows (no inline scripts or styles)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_english")]


def nav(html: str) -> str:
    return re.search(r'<nav id="primary-nav".*?</nav>', html, re.S).group(0)


@pytest.mark.parametrize(("who", "present", "absent"), [
    ("admin", ["/contacts/", "/import/", "/rules/", "/admin/"], ["/prospects/mine/"]),
    ("marketer", ["/contacts/", "/import/"], ["/rules/", "/admin/", "/prospects/mine/"]),
    ("rep", ["/contacts/", "/prospects/mine/"], ["/import/", "/rules/", "/admin/"]),
    ("manager", ["/contacts/", "/prospects/mine/"], ["/import/", "/rules/"]),
])
def test_navigation_by_role(who, present, absent, request, client_for):
    html = nav(client_for(request.getfixturevalue(who)).get("/").content.decode())
    for href in present:
        assert f'href="{href}' in html, href
    for href in absent:
        assert f'href="{href}' not in html, href
    assert 'href="/contacts/?stage=prospect"' in html
    assert 'action="/accounts/logout/"' in html and 'href="/accounts/profile/"' in html


def test_current_page_is_marked_in_the_nav(client_for, rep):
    html = nav(client_for(rep).get("/prospects/mine/").content.decode())
    assert 'href="/prospects/mine/" aria-current="page"' in html
    assert 'href="/" aria-current' not in html


def test_language_switcher_posts_to_set_language_and_changes_the_page_language(client_for, marketer):
    client = client_for(marketer)
    html = client.get("/").content.decode()
    assert '<html lang="en">' in html
    switcher = re.search(r'<form class="lang-switch" action="/i18n/setlang/" method="post".*?</form>', html, re.S).group(0)
    assert 'name="csrfmiddlewaretoken"' in switcher
    assert 'value="en" lang="en" class="lang-btn" aria-pressed="true"' in switcher

    response = client.post("/i18n/setlang/", {"language": "id", "next": "/contacts/"})
    assert response.status_code == 302 and response["Location"] == "/contacts/"
    html = client.get("/contacts/").content.decode()
    assert '<html lang="id">' in html
    assert 'value="id" lang="id" class="lang-btn" aria-pressed="true"' in html


def test_browser_language_is_the_default(client, make_user, settings):
    settings.LANGUAGE_CODE = "id"
    client.force_login(make_user("maya2", "marketer"))
    assert '<html lang="en">' in client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="id">' in client.get("/", HTTP_ACCEPT_LANGUAGE="id-ID,id;q=0.9").content.decode()


def test_login_page_and_logout(client, make_user):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'for="id_username"' in html and 'for="id_password"' in html
    assert 'id="primary-nav"' not in html  # no navigation before logging in
    user = make_user("login-me", "sales")
    response = client.post("/accounts/login/", {"username": "login-me", "password": "pw-login-me"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    bad = Client().post("/accounts/login/", {"username": "login-me", "password": "wrong"})
    assert bad.status_code == 200 and b'class="errorlist nonfield"' in bad.content
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302
    assert user.pk


def test_messages_are_rendered(client_for, marketer, journey):
    contact = journey()
    response = client_for(marketer).post(f"/contacts/{contact.pk}/notes/", {"body": "hello"}, follow=True)
    assert b'<div class="alert alert-success">Note saved.</div>' in response.content


def test_404_and_403_pages_use_the_layout(client_for, make_user, settings, reference_data):
    settings.DEBUG = False
    client = client_for(make_user("rina", "sales"))
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    assert b"find that page" in missing.content and b'id="primary-nav"' in missing.content
    forbidden = client_for(make_user("tono")).get("/contacts/")  # logged in, but no role
    assert forbidden.status_code == 403 and b"have access to this page" in forbidden.content


@pytest.mark.parametrize("path", ["/", "/contacts/", "/prospects/mine/", "/accounts/login/"])
def test_pages_have_no_inline_scripts_or_styles(path, client_for, manager, journey):
    journey(owner=manager, steps=[])
    html = client_for(manager).get(path).content.decode()
    assert " style=" not in html and "<style" not in html
    for script in re.findall(r"<script[^>]*>", html):
        assert 'src="/static/' in script, script
    assert not re.search(r"<script[^>]*>(?!</script>)", html)  # every <script> is empty: code comes from files
    assert re.search(r' on[a-z]+="', html) is None  # no inline event handlers


def test_static_assets_exist(client):
    from django.contrib.staticfiles import finders

    for asset in ("css/app.css", "js/app.js", "icons/sprite.svg", "icons/favicon.svg", "django_htmx/htmx-2.min.js"):
        assert finders.find(asset), asset
