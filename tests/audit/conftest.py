"""Fixtures the audit tests share with the web tests."""

from tests.web.conftest import web_user  # noqa: F401  (the fixture, re-exported)
