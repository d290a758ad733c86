"""The caller registry: a request writes the caller's row only when it must."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from convobase.core.principal import Principal
from convobase.core.time import utc_now
from convobase.users import repository, service
from convobase.users.errors import GuestSessionClosed


def test_a_known_user_seen_recently_is_admitted_without_a_write(session: Session) -> None:
    user = Principal.user(uuid.uuid4())
    service.register_caller(session, user)

    assert service.admit_caller(session, user) is True


def test_a_first_request_must_register_the_user(session: Session) -> None:
    user = Principal.user(uuid.uuid4(), email="ana@example.com")

    admitted = service.admit_caller(session, user)
    service.register_caller(session, user)

    assert admitted is False
    assert service.get_user(session, user).email == "ana@example.com"


def test_a_stale_last_active_must_be_refreshed(session: Session) -> None:
    user = Principal.user(uuid.uuid4())
    service.register_caller(session, user)
    assert user.user_id is not None
    long_ago = utc_now() - service.ACTIVITY_RESOLUTION - timedelta(seconds=1)
    repository.touch(session, user.user_id, long_ago)

    admitted = service.admit_caller(session, user)
    service.register_caller(session, user)

    assert admitted is False
    assert service.get_user(session, user).last_active > long_ago


def test_a_guest_is_admitted_while_its_session_is_open(session: Session) -> None:
    guest = Principal.guest(str(uuid.uuid4()))
    service.register_guest(session, guest)

    assert service.admit_caller(session, guest) is True


def test_a_guest_whose_session_closed_is_turned_away(session: Session) -> None:
    guest = Principal.guest(str(uuid.uuid4()))
    service.register_guest(session, guest)
    service.close_guest_session(session, guest)

    with pytest.raises(GuestSessionClosed):
        service.admit_caller(session, guest)
    with pytest.raises(GuestSessionClosed):
        service.register_caller(session, guest)
