"""The composition root: everything an entry point needs, built once from settings.

The HTTP app, the CLI and background workers each build one `Container` and work
through it. Only here are the kernel's hooks bound to the domains that fill them (the
caller registry is the users domain's), and nothing here imports a web framework.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from convobase.analysis import service as analysis_service
from convobase.analysis import tasks as analysis_tasks
from convobase.analysis.analyzers import load_analyzer
from convobase.config import Settings, resolve_jwt_secret
from convobase.conversations.events import ScreenUserMessage, UserMessagesCounted
from convobase.core.callers import CallerRegistry
from convobase.core.events import EventBus
from convobase.core.limits import Limits, MemoryRateLimiter, RateLimiter
from convobase.core.tokens import TokenAuthority
from convobase.db.rate_limits import DatabaseRateLimiter
from convobase.db.session import Database
from convobase.jobs import tasks as job_tasks
from convobase.jobs.worker import Task, Worker
from convobase.learning import tasks as learning_tasks
from convobase.onboarding import tasks as onboarding_tasks
from convobase.safety import tasks as safety_tasks
from convobase.safety.classifier import Screener, load_classifiers
from convobase.safety.detector import default_detector
from convobase.safety.resources import default_directory
from convobase.safety.service import CrisisScreen
from convobase.safety.webhook import CrisisWebhook
from convobase.users import service as user_service


@dataclass(frozen=True, slots=True)
class Container:
    """The application's parts, wired together."""

    settings: Settings
    database: Database
    tokens: TokenAuthority
    limits: Limits
    callers: CallerRegistry
    rate_limiter: RateLimiter

    def close(self) -> None:
        """Release the database connections."""
        self.database.dispose()


def build(settings: Settings | None = None, *, database: Database | None = None) -> Container:
    """Wire the application for `settings` (from the environment by default)."""
    settings = settings or Settings()
    database = database or Database.from_settings(settings, event_bus(settings))
    return Container(
        settings=settings,
        database=database,
        tokens=token_authority(settings),
        limits=Limits.from_settings(settings),
        # PostgreSQL serves several worker processes, which count against one limit in
        # the database; SQLite's one process counts in memory, so reads stay reads.
        rate_limiter=(
            MemoryRateLimiter() if settings.is_sqlite else DatabaseRateLimiter(database.engine)
        ),
        callers=CallerRegistry(
            admit=user_service.admit_caller, register=user_service.register_caller
        ),
    )


def token_authority(settings: Settings) -> TokenAuthority:
    """Signs and verifies bearer tokens as `settings` say (secret, leeway, aud, iss)."""
    return TokenAuthority(
        resolve_jwt_secret(settings),
        timedelta(seconds=settings.guest_token_ttl_seconds),
        leeway=timedelta(seconds=settings.jwt_leeway_seconds),
        audience=settings.jwt_audience or None,
        issuer=settings.jwt_issuer or None,
    )


def event_bus(settings: Settings) -> EventBus:
    """Every domain's handlers of other domains' events, and answerers of their queries."""
    bus = EventBus()
    bus.subscribe(UserMessagesCounted, analysis_service.queue_due_analyses)
    bus.answer(ScreenUserMessage, crisis_screen(settings))
    return bus


def crisis_screen(settings: Settings) -> CrisisScreen:
    """Screens every `user` message with the rules and the configured classifiers."""
    screener = Screener(
        default_detector(),
        load_classifiers(settings.crisis_classifiers),
        timeout=settings.crisis_classifier_timeout_seconds,
    )
    return CrisisScreen(
        screener,
        default_directory(),
        notifies_staff=CrisisWebhook.from_settings(settings) is not None,
    )


def worker(container: Container, *, concurrency: int = 1) -> Worker:
    """A worker running every domain's tasks on the container's database."""
    settings = container.settings
    purge, hourly_purge = job_tasks.purge_task(timedelta(days=settings.job_retention_days))
    rule = analysis_service.MilestoneRule(
        score=Decimal(str(settings.milestone_score)), streak=settings.milestone_streak
    )
    clean_up, hourly_clean_up = onboarding_tasks.cleanup_task(
        abandon_after=timedelta(days=settings.onboarding_abandon_days),
        retention=timedelta(days=settings.onboarding_retention_days),
    )
    close_overdue, every_minute_close_overdue = learning_tasks.overdue_task(
        policy=settings.overdue_attempt_policy
    )
    tasks: list[Task] = [
        purge,
        analysis_tasks.analysis_task(load_analyzer(settings), rule),
        clean_up,
        close_overdue,
        learning_tasks.refresh_task(),
    ]
    if (webhook := CrisisWebhook.from_settings(settings)) is not None:
        tasks.append(safety_tasks.notification_task(webhook))
    return Worker(
        container.database,
        tasks,
        periodic=[hourly_purge, hourly_clean_up, every_minute_close_overdue],
        concurrency=concurrency,
        lease=timedelta(seconds=settings.job_lease_seconds),
        poll_interval=settings.worker_poll_seconds,
    )
