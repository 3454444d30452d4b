"""The webhook signature, and the receiver's snippet in server/alerts/README.md, which must work
as printed."""

from __future__ import annotations

import re
import time
from pathlib import Path

from server.alerts import signing

README = Path(__file__).resolve().parents[2] / "server" / "alerts" / "README.md"
SECRET = "whsec_test-secret"
BODY = b'{"type": "readyfloor.alert.digest", "idempotency_key": "k-1"}'


def readme_verify():
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.DOTALL).group(1)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    return namespace["verify_readyfloor"]


def test_it_signs_the_timestamp_and_the_body():
    header = signing.signature_header(SECRET, BODY, timestamp=1_764_500_000)

    assert header.startswith("t=1764500000,v1=")
    assert len(header.split("v1=")[1]) == 64
    assert signing.verify(SECRET, header, BODY, now=1_764_500_010)


def test_a_changed_body_a_wrong_secret_or_an_old_timestamp_fails():
    header = signing.signature_header(SECRET, BODY)

    assert not signing.verify(SECRET, header, BODY + b" ")
    assert not signing.verify("whsec_other", header, BODY)
    assert not signing.verify(SECRET, header, BODY, now=time.time() + 301)
    assert not signing.verify(SECRET, "v1=abc", BODY)
    assert not signing.verify(SECRET, "", BODY)


def test_the_readme_snippet_verifies_what_readyfloor_signs():
    verify_readyfloor = readme_verify()
    header = signing.signature_header(SECRET, BODY)

    assert verify_readyfloor(SECRET, header, BODY) is True
    assert verify_readyfloor(SECRET, header, BODY.replace(b"k-1", b"k-2")) is False
    assert verify_readyfloor("whsec_other", header, BODY) is False
    old = signing.signature_header(SECRET, BODY, timestamp=int(time.time()) - 600)
    assert verify_readyfloor(SECRET, old, BODY) is False
    assert verify_readyfloor(SECRET, "t=soon,v1=00", BODY) is False
