"""Fixtures of the review-page tests: the headless browser of tests/browser.py."""

from tests.browser import browser, offline_page  # noqa: F401  (pytest fixtures)
