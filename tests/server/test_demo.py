"""The demo gives one login per role, and the supervisor's scope is visible in it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from server.demo.floor import SECOND_FLOOR, load_demo
from server.roles import scope
from server.roles.models import Role

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_login_per_role_and_two_floors(tmp_path):
    demo = load_demo(tmp_path)

    assert [(login.username, login.role) for login in demo.logins] == [
        ("admin", Role.IT_ADMIN),
        ("supervisor", Role.SUPERVISOR),
        ("auditor", Role.AUDITOR),
    ]
    supervisor = User.objects.get(username="supervisor")
    assert supervisor.check_password(demo.logins[1].password)
    assert [floor.name for floor in scope.floors_visible_to(supervisor)] == [demo.floor.name]
    auditor = User.objects.get(username="auditor")
    assert {floor.name for floor in scope.floors_visible_to(auditor)} == {demo.floor.name, SECOND_FLOOR}
    assert scope.can_use_admin(User.objects.get(username="admin"))


def test_the_demo_keeps_its_passwords_across_restarts(tmp_path):
    first = load_demo(tmp_path)
    again = load_demo(tmp_path)

    assert [login.password for login in again.logins] == [login.password for login in first.logins]
    assert len((tmp_path / "demo-login.txt").read_text().splitlines()) == 3
