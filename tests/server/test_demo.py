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


def test_the_demo_keeps_free_seats_that_no_simulated_agent_takes(tmp_path):
    """A real machine enrolled against the demo needs a seat the simulator does not hold."""
    from readyfloor_agent.simulate import seat_labels

    from server.demo.floor import PER_ROW, ROWS, free_seat_labels
    from server.fleet.models import Seat

    demo = load_demo(tmp_path)
    simulated = {label for label, _, _ in seat_labels(ROWS * PER_ROW, PER_ROW)}

    assert free_seat_labels() == ["G-01", "G-02", "G-03", "G-04"]
    assert set(free_seat_labels()).isdisjoint(simulated)
    assert Seat.objects.filter(floor=demo.floor, label__in=free_seat_labels()).count() == 4
