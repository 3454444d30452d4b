"""The dashboards' browser fixtures (Debian's Chromium, a floor at the start of a shift), for the
end-to-end tests that drive the pages as people do."""

from tests.dashboards.conftest import chromium, floorplan  # noqa: F401  (fixtures, used by name)
