from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from convobase.config import Settings, normalize_database_url
from convobase.conversations import service
from convobase.core.principal import Principal
from convobase.db.engine import create_database_engine
from tests import factories


@pytest.mark.parametrize(
    ("written", "used"),
    [
        ("sqlite:///./convobase.db", "sqlite+pysqlite:///./convobase.db"),
        ("postgresql://u:p@db:5432/app", "postgresql+psycopg://u:p@db:5432/app"),
        ("postgres://u:p@db/app", "postgresql+psycopg://u:p@db/app"),
        ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
    ],
)
def test_plain_urls_get_convobase_drivers(written: str, used: str) -> None:
    assert normalize_database_url(written).render_as_string(hide_password=False) == used


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        normalize_database_url("mysql://u@db/app")


def test_default_database_is_a_local_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVOBASE_DATABASE_URL", raising=False)

    settings = Settings()

    assert settings.is_sqlite
    assert str(settings.sqlite_path) == "convobase.db"


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_sqlite_connections_are_durable_and_enforce_foreign_keys(
    tmp_path: object, synchronous: str
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/pragmas.db",
        sqlite_synchronous=synchronous,  # type: ignore[arg-type]
        sqlite_busy_timeout_ms=1234,
    )
    engine = create_database_engine(settings)
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()

    assert pragma == {
        "journal_mode": "wal",
        "synchronous": {"FULL": 2, "NORMAL": 1}[synchronous],
        "foreign_keys": 1,
        "busy_timeout": 1234,
    }


def test_times_come_back_timezone_aware_utc(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    session.expire_all()

    stored = service.get_conversation(session, user, conversation.id)

    for moment in (stored.created_at, stored.updated_at, stored.started_at):
        assert moment.tzinfo is not None
        assert moment.utcoffset() == timedelta(0)


def test_times_in_other_zones_are_stored_as_the_same_instant(
    session: Session, user: Principal
) -> None:
    conversation = factories.conversation(session, user)
    in_madrid = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    conversation.last_message_at = in_madrid
    session.flush()
    session.expire_all()

    stored = service.get_conversation(session, user, conversation.id)

    assert stored.last_message_at == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


def test_naive_times_are_refused(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    conversation.last_message_at = datetime(2026, 3, 1, 12, 0)

    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_updated_at_moves_even_for_hand_written_sql(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    conversation.updated_at = long_ago
    session.flush()

    session.execute(
        text("UPDATE conversations SET title = 'renamed' WHERE id = :id"),
        {
            "id": conversation.id.hex
            if session.get_bind().dialect.name == "sqlite"
            else conversation.id
        },
    )
    session.expire_all()

    stored = service.get_conversation(session, user, conversation.id)
    assert stored.title == "renamed"
    assert stored.updated_at > long_ago


def test_orm_updates_refresh_updated_at(session: Session, user: Principal) -> None:
    conversation = factories.conversation(session, user)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    conversation.updated_at = long_ago
    session.flush()

    conversation.title = "renamed"
    session.flush()

    assert conversation.updated_at > long_ago


def test_a_copied_setting_points_at_its_own_database() -> None:
    original = Settings(database_url="sqlite:///one.db")
    assert original.url.database == "one.db"

    copy = original.model_copy(update={"database_url": "sqlite:///two.db"})

    assert copy.url.database == "two.db"
