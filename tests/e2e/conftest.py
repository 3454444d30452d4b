"""A floor at the start of a shift (the dashboards' fixture), for the end-to-end tests that drive
the pages in Chromium (the `chromium` fixture is the session's, in tests/conftest.py)."""

from tests.dashboards.conftest import floorplan  # noqa: F401  (a fixture, used by name)
