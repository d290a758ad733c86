"""Settings, read from CONVOBASE_* environment variables."""

import os
import re
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import URL, make_url

DEFAULT_DATABASE_URL = "sqlite:///./convobase.db"


def _upper_case(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)


def _an_origin(value: str) -> str:
    """A web origin as browsers send it: scheme, host and port, nothing else."""
    if not _ORIGIN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an origin: give scheme://host[:port], such as "
            "https://app.example.com (no path, no trailing slash, no wildcard)"
        )
    return value


Origin = Annotated[str, AfterValidator(_an_origin)]


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as CONVOBASE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="CONVOBASE_", frozen=True)

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="sqlite:///path/file.db or postgresql://user:pass@host:5432/db",
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="FULL: a committed message survives power loss. NORMAL: faster, "
        "but the last commits may be lost if the machine loses power.",
    )
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    db_echo: bool = False
    backup_before_migrate: bool = Field(
        default=True,
        description="Copy an existing SQLite file aside before applying migrations.",
    )
    backups_kept: int = Field(
        default=5,
        ge=0,
        le=10_000,
        description="How many automatic SQLite backups (<file>.backup-<UTC time>, taken "
        "before a migration or a restore) to keep beside the database; older ones are "
        "removed, oldest first. 0: keep them all.",
    )
    db_role: str = Field(
        default="convobase_app",
        description="PostgreSQL role the service acts as (SET ROLE after connecting): "
        "it owns no tables, so row level security applies. Empty: act as the login role.",
    )
    db_staff_role: str = Field(
        default="convobase_staff",
        description="PostgreSQL role a staff caller's transactions act as, under its own "
        "row level security policies; the service's role must be a member of it.",
    )
    db_jobs_role: str = Field(
        default="convobase_jobs",
        description="PostgreSQL role that keeps the job queue: workers claim and finish "
        "jobs as it, and a transaction queueing a job switches to it for that statement. "
        "No caller's role can read the queue.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 secret for bearer tokens (a Supabase project's JWT secret works). "
        "Unset with SQLite: a random one is kept in a file beside the database.",
    )
    guest_token_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    guest_message_limit: int = Field(default=10, ge=1)
    max_content_bytes: int = Field(default=32 * 1024, ge=1)
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body; larger is 413."
    )
    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="Largest request headers, all together; 431."
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="How long a request body may pause; then 408."
    )
    requests_per_token: int = Field(
        default=600,
        ge=0,
        le=1_000_000,
        description="Requests one bearer token may make per request window; 0: no limit.",
    )
    request_window_seconds: int = Field(default=60, ge=1, le=86_400)
    guest_sessions_per_address: int = Field(
        default=20,
        ge=0,
        le=1_000_000,
        description="Guest sessions one client address may start per window; 0: no limit.",
    )
    guest_session_window_seconds: int = Field(default=3600, ge=1, le=86_400)
    client_written_replies: bool = Field(
        default=False,
        description="Let user and guest tokens write assistant and system messages, for "
        "apps with no server of their own. Otherwise only service_role writes them.",
    )
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper_case)
    ] = Field(default="INFO", description="The least severe log records written.")
    log_format: Literal["json", "text"] = Field(
        default="text", description="json: one JSON object per line; text: for people."
    )
    jwt_leeway_seconds: int = Field(
        default=30,
        ge=0,
        le=600,
        description="Clock skew allowed to a token's nbf and iat: the issuer's clock may "
        "run this far ahead. exp is honoured to the second.",
    )
    jwt_audience: str | None = Field(
        default=None,
        description="When set, a token's aud must include it (and guest tokens carry it). "
        "Unset: aud is not checked (Supabase tokens carry aud=authenticated).",
    )
    jwt_issuer: str | None = Field(
        default=None,
        description="When set, a token's iss must equal it (and guest tokens carry it).",
    )
    in_process_worker: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Whether `convobase serve` runs a job worker in its own process. "
        "auto: on with SQLite (one command runs everything), off with PostgreSQL, "
        "where `convobase worker` runs beside the API.",
    )
    worker_expected: bool | None = Field(
        default=None,
        description="Whether /readyz reports 503 when no job worker has been seen lately. "
        "Unset: expected when this process runs one.",
    )
    job_lease_seconds: int = Field(
        default=60,
        ge=5,
        le=3600,
        description="How long a claimed job is a worker's; a heartbeat renews it, and a job "
        "whose lease ran out (its worker died) is queued again.",
    )
    job_retention_days: int = Field(
        default=7, ge=1, le=3650, description="Finished jobs older than this are purged."
    )
    worker_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How long an idle worker waits between polls."
    )
    analyzer: str = Field(
        default="baseline",
        description="The analyzer that assesses each batch of 25 messages: baseline, "
        "webhook, or the name of one installed under the convobase.analyzers entry points.",
    )
    analyzer_url: str | None = Field(
        default=None, description="Where the webhook analyzer POSTs each batch."
    )
    analyzer_secret: SecretStr | None = Field(
        default=None,
        description="The webhook analyzer's HMAC-SHA256 signing secret (at least 32 characters).",
    )
    analyzer_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="How long the webhook analyzer waits."
    )
    analysis_enabled: bool = Field(
        default=True,
        description="Count each user's messages and analyse every 25th (docs/analysis.md). "
        "false: no counting on the append path, and no analysis jobs.",
    )
    milestone_score: float = Field(
        default=10.0,
        ge=0,
        le=14,
        description="The chat score (0..14) a batch must reach to count toward a milestone.",
    )
    milestone_streak: int = Field(
        default=3,
        ge=1,
        le=100,
        description="How many consecutive analyses at or above milestone_score move a user "
        "up a stage (1 to 2 to 3), and then graduate them.",
    )

    onboarding_abandon_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="An onboarding session nobody touched for this many days is marked "
        "abandoned (docs/onboarding.md); the user resumes it when they come back.",
    )
    onboarding_retention_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="The answers of an onboarding session abandoned this many days ago are "
        "purged; a user who comes back after that starts a new session.",
    )

    review_day_rollover_hour: int = Field(
        default=4,
        ge=0,
        le=23,
        description="The hour (0..23, the learner's local time, from their "
        "preferences.time_zone) at which a learner's day starts for spaced review: cards "
        "due before the next one are due today (docs/reviews.md).",
    )

    overdue_attempt_policy: Literal["submit", "abandon"] = Field(
        default="submit",
        description="What closes an assessment attempt whose time limit ran out "
        "(docs/learning.md): submit grades the answers saved by then; abandon closes it "
        "ungraded (it still counts toward max_attempts). A job applies it every minute, "
        "and so does a submit that comes too late.",
    )

    tutoring_evaluator: str = Field(
        default="baseline",
        description="What evaluates each roleplay turn against its line (docs/tutoring.md): "
        "baseline (deterministic: similarity and word alignment), or the name of one "
        "installed under the convobase.evaluators entry points.",
    )
    tutoring_pass_score: int = Field(
        default=80,
        ge=0,
        le=100,
        description="The score (0..100) a turn must reach, with every target word said, "
        "to pass its line; below it the learner is asked to try again.",
    )
    tutoring_max_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Tries at one line before a tutor session moves on without it.",
    )
    tutoring_review_cards: bool = Field(
        default=True,
        description="Make a review card of each word a learner misses or misspells in a "
        "turn (docs/reviews.md); false: the words are still counted.",
    )

    cors_origins: list[Origin] = Field(
        default_factory=list,
        description="Web origins whose pages may call the API from a browser (a JSON "
        'list of exact origins, e.g. ["https://app.example.com"]). Empty: no CORS '
        "headers, so browsers allow only same-origin pages.",
    )
    cors_allow_credentials: bool = Field(
        default=False,
        description="Let browser pages send cookies and HTTP authentication with their "
        "calls. Bearer tokens need no credentials: leave it off unless your front end "
        "relies on cookies.",
    )
    cors_max_age_seconds: int = Field(
        default=600, ge=0, le=86_400, description="How long a browser may cache a preflight."
    )

    crisis_classifiers: list[str] = Field(
        default_factory=list,
        description="Crisis classifiers to run beside the rule-based detector, by the name "
        "they are installed under in the convobase.classifiers entry points (a JSON list, "
        'e.g. ["acme-model"]). They can raise a severity, never lower it (docs/safety.md).',
    )
    crisis_classifier_timeout_seconds: float = Field(
        default=0.5,
        gt=0,
        le=30,
        description="How long a message waits for each crisis classifier before it is skipped.",
    )
    crisis_webhook_url: str | None = Field(
        default=None,
        description="Where staff are notified of high and critical crisis events: a signed "
        "POST per event, retried with backoff. Unset: no notifications.",
    )
    crisis_webhook_secret: SecretStr | None = Field(
        default=None,
        description="The crisis webhook's HMAC-SHA256 signing secret (at least 32 characters).",
    )
    crisis_webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="How long the crisis webhook may take."
    )

    @property
    def url(self) -> URL:
        """The database URL with the driver convobase uses filled in."""
        return normalize_database_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def runs_in_process_worker(self) -> bool:
        """Whether `convobase serve` runs a job worker in its own process."""
        return self.in_process_worker == "on" or (
            self.in_process_worker == "auto" and self.is_sqlite
        )

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for PostgreSQL and in-memory databases."""
        if not self.is_sqlite or self.url.database in (None, "", ":memory:"):
            return None
        return Path(self.url.database or "")


def normalize_database_url(raw: str) -> URL:
    """Turn the URL a user writes into one naming the driver convobase uses.

    Users write `postgresql://…` or `sqlite:///…`; convobase picks psycopg 3 and the
    standard library's sqlite3 itself, and accepts the common aliases.
    """
    url = make_url(raw)
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url.set(drivername="sqlite+pysqlite")
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


class ConfigurationError(RuntimeError):
    """The settings cannot work as given."""


def resolve_jwt_secret(settings: Settings) -> str:
    """The token signing secret: the configured one, or with SQLite a random one kept in
    a file beside the database so that tokens survive restarts."""
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value()
        if len(secret) < 32:
            raise ConfigurationError("CONVOBASE_JWT_SECRET must be at least 32 characters.")
        return secret
    if settings.sqlite_path is None:
        raise ConfigurationError("Set CONVOBASE_JWT_SECRET: it is required with PostgreSQL.")
    path = settings.sqlite_path.with_name(f"{settings.sqlite_path.name}.secret")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once agree on the first one's secret.
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
