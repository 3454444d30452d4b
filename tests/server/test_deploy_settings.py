"""HTTPS settings: `manage.py check --deploy` is clean with the documented production values,
and the redirect to HTTPS spares the health probes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

REPO = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "SECRET_KEY": "x7" * 30 + "-a-long-random-production-secret-key",
    "ALLOWED_HOSTS": "readyfloor.example.com,localhost",
    "CSRF_TRUSTED_ORIGINS": "https://readyfloor.example.com",
    "DEBUG": "0",
    "BEHIND_TLS_PROXY": "1",
    "SECURE_COOKIES": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def check_deploy(**environment: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environment}
    # Set by the browser tests for Playwright's loop; Django's checks must not see it here.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_values() -> None:
    done = check_deploy(**PRODUCTION)

    assert done.returncode == 0, done.stderr + done.stdout
    assert "no issues" in done.stdout


def test_check_deploy_names_the_missing_https_settings() -> None:
    without_https = {**PRODUCTION, "SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "0"}

    done = check_deploy(**without_https)

    assert done.returncode != 0
    assert "security.W004" in done.stderr and "security.W008" in done.stderr


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=31536000)
def test_plain_http_is_redirected_except_the_health_probes(client) -> None:
    assert client.get("/healthz/live").status_code == 200
    assert client.get("/healthz/ready").status_code == 200
    redirected = client.get("/login/")
    assert redirected.status_code == 301
    assert redirected["Location"].startswith("https://")
    secure = client.get("/login/", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000"
