"""Roles: an IT admin does everything and alone opens the admin; a supervisor sees and acts on
their floors or teams only; an auditor reads everything and changes nothing; an account without
a role sees nothing. Logins are throttled (django-axes)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import override_settings
from django.urls import reverse

from server.fleet.models import Floor, Seat
from server.roles import scope
from server.roles.groups import assign_role
from server.roles.models import Role, Supervision

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.fixture
def floor_b(site) -> Floor:
    return Floor.objects.create(site=site, name="Floor 2")


@pytest.fixture
def seat_b(floor_b) -> Seat:
    return Seat.objects.create(floor=floor_b, label="Z-01", row=0, column=0, team="Support")


def labels(queryset) -> set[str]:
    return set(queryset.values_list("label", flat=True))


def test_the_migration_made_one_group_per_role_with_its_permissions():
    groups = {group.name: group for group in Group.objects.prefetch_related("permissions__content_type")}

    def names(role: Role) -> set[str]:
        return {f"{p.content_type.app_label}.{p.codename}" for p in groups[role.group_name].permissions.all()}

    assert {"roles.use_admin", "compliance.change_policy", "roles.view_every_floor"} <= names(Role.IT_ADMIN)
    assert "roles.view_every_floor" in names(Role.AUDITOR)
    assert not any(
        name.split(".")[1].startswith(("add_", "change_", "delete_")) for name in names(Role.AUDITOR)
    )
    assert {"roles.view_supervised_floors", "roles.request_recheck"} <= names(Role.SUPERVISOR)
    assert "roles.view_every_floor" not in names(Role.SUPERVISOR)


def test_an_it_admin_and_an_auditor_see_every_seat(admin_user, auditor, seats, seat_b):
    for user in (admin_user, auditor):
        assert labels(scope.seats_visible_to(user)) == {"A-01", "A-02", "A-03", "A-04", "Z-01"}
        assert scope.floors_visible_to(user).count() == 2


def test_a_supervisor_sees_their_floor_and_nothing_of_another(supervisor, seats, seat_b, floor_b):
    assert labels(scope.seats_visible_to(supervisor)) == {"A-01", "A-02", "A-03", "A-04"}
    assert list(scope.floors_visible_to(supervisor)) == [seats[0].floor]
    assert scope.can_see_seat(supervisor, seats[0])
    assert not scope.can_see_seat(supervisor, seat_b)


def test_a_team_supervisor_sees_that_teams_seats_on_any_floor(site, seats, seat_b):
    lead = User.objects.create_user("tess", password=PASSWORD)
    assign_role(lead, Role.SUPERVISOR, teams=["Support"])

    assert labels(scope.seats_visible_to(lead)) == {"Z-01"}
    assert [floor.name for floor in scope.floors_visible_to(lead)] == ["Floor 2"]


def test_a_supervision_of_one_team_on_one_floor_covers_just_those_seats(site, floor, seats, seat_b):
    lead = User.objects.create_user("tom", password=PASSWORD)
    assign_role(lead, Role.SUPERVISOR)
    Seat.objects.filter(pk=seats[0].pk).update(team="Support")
    Supervision.objects.create(user=lead, floor=floor, team="Support")

    assert labels(scope.seats_visible_to(lead)) == {"A-01"}


def test_an_account_without_a_role_sees_nothing_even_with_supervisions(outsider, floor, seats):
    Supervision.objects.create(user=outsider, floor=floor)

    assert not scope.can_read_fleet(outsider)
    assert scope.seats_visible_to(outsider).count() == 0
    assert scope.role_of(outsider) is None


def test_a_supervision_must_name_a_floor_or_a_team(supervisor):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Supervision.objects.create(user=supervisor, floor=None, team="")


def test_actions_need_the_seat_in_scope_and_the_roles_permission(
    supervisor, auditor, admin_user, seats, seat_b
):
    mine, theirs = seats[0], seat_b

    assert supervisor.has_perm("roles.recheck_seat", mine)
    assert supervisor.has_perm("roles.acknowledge_seat", mine)
    assert supervisor.has_perm("roles.send_fix_link_seat", mine)
    assert not supervisor.has_perm("roles.recheck_seat", theirs)
    assert not supervisor.has_perm("roles.view_seat", theirs)
    assert auditor.has_perm("roles.view_seat", theirs)
    assert not auditor.has_perm("roles.recheck_seat", theirs)
    assert not auditor.has_perm("compliance.change_policy")
    assert admin_user.has_perm("roles.acknowledge_seat", theirs)
    assert admin_user.has_perm("compliance.change_policy")
    assert not supervisor.has_perm("compliance.change_policy")


def test_the_role_of_each_account_is_named(admin_user, supervisor, auditor, outsider):
    assert [scope.role_of(user) for user in (admin_user, supervisor, auditor, outsider)] == [
        Role.IT_ADMIN,
        Role.SUPERVISOR,
        Role.AUDITOR,
        None,
    ]


def test_only_an_it_admin_opens_the_admin(client, admin_user, supervisor, auditor):
    # Marking a supervisor staff by hand is not enough: the admin needs the IT admin role.
    supervisor.is_staff = True
    supervisor.save()

    for user, status in ((admin_user, 200), (supervisor, 302), (auditor, 302)):
        client.force_login(user)
        assert client.get(reverse("admin:index")).status_code == status, user
        client.logout()


def test_changing_a_role_replaces_the_old_one(supervisor):
    assign_role(supervisor, Role.AUDITOR)
    supervisor = User.objects.get(pk=supervisor.pk)

    assert [group.name for group in supervisor.groups.all()] == [Role.AUDITOR.group_name]
    assert scope.role_of(supervisor) == Role.AUDITOR and not supervisor.is_staff


def test_a_supervisor_without_staff_status_signs_in_and_sees_their_floor(client, supervisor, seats, seat_b):
    response = client.post(reverse("login"), {"username": "sam", "password": PASSWORD, "next": "/"})

    assert response.status_code == 302
    # A supervisor lands on their shift board; the floor page is a click away.
    assert client.get("/")["Location"] == reverse("dashboards:board")
    page = client.get(reverse("dashboards:floor")).content.decode()
    assert "A-01" in page and "Floor 1" in page
    assert "Floor 2" not in page and "Z-01" not in page


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_wrong_passwords_lock_the_account_from_that_address(client, supervisor):
    for _ in range(2):
        assert client.post(reverse("login"), {"username": "sam", "password": "nope"}).status_code == 200

    locked = client.post(reverse("login"), {"username": "sam", "password": "nope"})
    right_password = client.post(reverse("login"), {"username": "sam", "password": PASSWORD})

    assert locked.status_code == 429
    assert "Too many wrong passwords" in locked.content.decode()
    assert right_password.status_code == 429
    assert "_auth_user_id" not in client.session


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_successful_sign_in_resets_the_count(client, supervisor):
    for _ in range(2):
        client.post(reverse("login"), {"username": "sam", "password": "nope"})
    assert client.post(reverse("login"), {"username": "sam", "password": PASSWORD}).status_code == 302
    client.logout()

    for _ in range(2):
        assert client.post(reverse("login"), {"username": "sam", "password": "nope"}).status_code == 200


@override_settings(AXES_FAILURE_LIMIT=3)
def test_another_persons_typos_do_not_lock_out_a_colleague(client, supervisor, admin_user):
    for _ in range(3):
        client.post(reverse("login"), {"username": "sam", "password": "nope"})

    assert client.post(reverse("login"), {"username": "ines", "password": PASSWORD}).status_code == 302


def test_an_it_admin_gives_a_supervisor_their_floor_on_the_user_page(client, admin_user, floor, seats):
    lead = User.objects.create_user("lena", password=PASSWORD)
    assign_role(lead, Role.SUPERVISOR)
    client.force_login(admin_user)
    page = client.get(reverse("admin:auth_user_change", args=[lead.pk]))
    assert page.status_code == 200 and "Floors and teams supervised" in page.content.decode()

    form = page.context["adminform"].form
    data = {key: value for key, value in form.initial.items() if value is not None and key != "password"}
    data.update(
        {
            "groups": [group.pk for group in lead.groups.all()],
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "08:00:00",
            "supervisions-TOTAL_FORMS": "1",
            "supervisions-INITIAL_FORMS": "0",
            "supervisions-0-floor": str(floor.pk),
            "supervisions-0-team": "",
        }
    )
    data.pop("user_permissions", None)
    data.pop("last_login", None)
    data.pop("date_joined", None)
    response = client.post(reverse("admin:auth_user_change", args=[lead.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert labels(scope.seats_visible_to(User.objects.get(pk=lead.pk))) == {"A-01", "A-02", "A-03", "A-04"}


def test_the_supervision_admin_pages_open_for_an_it_admin(client, admin_user, supervisor):
    client.force_login(admin_user)

    assert client.get(reverse("admin:roles_supervision_changelist")).status_code == 200
    supervision = Supervision.objects.get(user=supervisor)
    assert client.get(reverse("admin:roles_supervision_change", args=[supervision.pk])).status_code == 200
    assert "Supervisors" in client.get(reverse("admin:auth_user_changelist")).content.decode()
