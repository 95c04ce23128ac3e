"""The sign-in page uses the project's layout and stylesheet."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_sign_in_page_is_branded_and_styled():
    page = Client().get("/accounts/login/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "· ContextForge</title>" in html
    assert "/static/contextforge/site.css" in html
    assert 'name="login"' in html or 'name="email"' in html
    css = Client().get("/static/contextforge/site.css")
    assert css.status_code == 200
