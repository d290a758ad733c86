"""Synthetic test data (`convobase seed test`): on top of the demo content, users at every
stage of the journey, their onboarding, conversations, a guest session, crisis events,
an analysis, assessment attempts and a tutor session, for end-to-end tests and demos.

Everything is written through the domains' services, one transaction per caller as the
API would, so what the write paths do as they store (crisis screening, analysis jobs,
review cards) happens here too. Nothing here is personal data: the users are made up,
with fixed ids (`user_id(handle)`, a UUID 5) and `@example.com` addresses. Each piece
looks for itself before it is made (by its user, its key or its client id), so seeding
again creates only what is missing, and a second run changes nothing.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from sqlalchemy.orm import Session

from convobase.analysis import service as analysis_service
from convobase.analysis.analyzers import BaselineAnalyzer
from convobase.config import Settings
from convobase.conversations import service as conversation_service
from convobase.conversations.errors import ConversationNotFound
from convobase.conversations.models import MessageRole
from convobase.conversations.schemas import ConversationCreate, MessageCreate
from convobase.core.limits import Limits
from convobase.core.pagination import MAX_PAGE_SIZE, every
from convobase.core.principal import Principal
from convobase.db.session import Database
from convobase.learning import service as learning_service
from convobase.onboarding import service as onboarding_service
from convobase.onboarding.models import OnboardingStatus
from convobase.personas import service as persona_service
from convobase.safety import service as safety_service
from convobase.safety.models import CrisisOutcome
from convobase.tutoring import service as tutoring_service
from convobase.tutoring.schemas import TurnCreate, TutorSessionCreate
from convobase.users import service as user_service
from convobase.users.errors import UserNotFound

# The namespace of every synthetic id: uuid5(NAMESPACE_URL, "https://convobase.dev/seed/test").
NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://convobase.dev/seed/test")
CLIENT_ID_PREFIX: Final = "seed-test"


def user_id(handle: str) -> uuid.UUID:
    """The fixed id of the synthetic user `handle`."""
    return uuid.uuid5(NAMESPACE, f"user:{handle}")


def synthetic_user(handle: str) -> Principal:
    """The synthetic user `handle`, signed in."""
    return Principal.user(user_id(handle), f"{handle}@example.com")


# Staff: who writes the assistants' replies (as the app's server would) and resolves a
# crisis event. Staff act through the service role and have no users row of their own.
STAFF: Final = Principal.staff(uuid.uuid5(NAMESPACE, "staff:counsellor"))
GUEST_SESSION_ID: Final = uuid.uuid5(NAMESPACE, "guest-session:maria")

# Handle: the stage the user is at (1..3, users.stage).
USERS: Final = {
    "stage-1-learner": 1,
    "stage-2-learner": 2,
    "stage-3-learner": 3,
    "analysed-learner": 1,
    "crisis-learner": 1,
    "course-learner": 1,
}

# Onboarding (the running-coach flow, files shipped with the package): the answers
# each phase is given; phases not named are optional and passed empty.
ONBOARDING_ANSWERS: Final[dict[str, dict[str, Any]]] = {
    "goal": {"distance": "10K", "has_race": False, "statement": "Run 10K without stopping"},
    "experience": {"years_running": 1, "weekly_distance_km": 12},
    "schedule": {"runs_per_week": 3, "available_days": ["tuesday", "thursday", "saturday"]},
    "preferences": {"units": "metric", "coaching_style": "encouraging"},
}
# Handle: the phase the onboarding stops at (in progress), or None (completed).
ONBOARDINGS: Final[dict[str, str | None]] = {
    "stage-1-learner": "experience",
    "stage-2-learner": None,
    "stage-3-learner": None,
}

USER, ASSISTANT = MessageRole.USER, MessageRole.ASSISTANT


@dataclass(frozen=True, slots=True)
class Script:
    """A conversation of a synthetic user: found again by its `key` (in its context),
    each message by its client id (`seed-test:<key>:<n>`)."""

    key: str
    owner: str
    title: str
    persona: str
    lines: tuple[tuple[MessageRole, str], ...]


HABIT_DAYS: Final = 25  # one analysis batch (analysis.service.BATCH_SIZE) of user messages
_HABITS = (
    "walked for {minutes} minutes before work",
    "drank a glass of water with every meal",
    "went to bed before eleven",
    "wrote down one thing I am grateful for",
    "stretched for {minutes} minutes after lunch",
)

CONVERSATIONS: Final = (
    Script(
        "cafe-chat",
        "stage-1-learner",
        "Café con María",
        "maria-spanish-tutor",
        (
            (USER, "Hola María, ¿cómo se pide un café en España?"),
            (ASSISTANT, "¡Hola! Puedes decir «Un café, por favor». ¿Lo quieres con leche?"),
            (USER, "Sí, un café con leche, por favor."),
            (ASSISTANT, "¡Perfecto, muy bien dicho! ☕"),
        ),
    ),
    Script(
        "hand-rankings",
        "stage-2-learner",
        "Hand rankings",
        "ace-fundamentals-coach",
        (
            (USER, "Does a flush beat a straight?"),
            (ASSISTANT, "Yes: a flush is rarer than a straight, so it ranks higher."),
            (USER, "And a full house beats a flush?"),
            (ASSISTANT, "Right again. Only four of a kind and straight flushes beat it."),
        ),
    ),
    Script(
        "habit-journal",
        "analysed-learner",
        "Daily habits",
        "sam-wellbeing-coach",
        (
            *(
                (USER, f"Day {day}: I {_HABITS[day % len(_HABITS)].format(minutes=10 + day)}.")
                for day in range(1, HABIT_DAYS + 1)
            ),
            (ASSISTANT, "Twenty-five days of small wins in a row: well done!"),
        ),
    ),
    # Crisis scenarios, made of synthetic phrases the detector flags: each user message
    # is screened on the append path, and a crisis event recorded as in production.
    Script(
        "crisis-check-in",
        "crisis-learner",
        "Check-in",
        "sam-wellbeing-coach",
        (
            (USER, "Hi Sam, I have had a rough week."),
            (ASSISTANT, "Thank you for telling me. What made it rough?"),
            (USER, "Ha, that joke of yours killed me though."),  # an idiom: no event
            (USER, "Honestly, sometimes I want to kill myself."),
            (ASSISTANT, "I am really glad you told me. You deserve support right now."),
            (USER, "I have a plan to kill myself."),  # resolved by staff, below
        ),
    ),
    Script(
        "crisis-late-night",
        "crisis-learner",
        "Late night",
        "sam-wellbeing-coach",
        (
            (USER, "I am going to kill myself tonight, I have the pills ready."),
            (USER, "My partner hits me when he is angry."),
            (USER, "My friend said she wants to kill herself."),
        ),
    ),
)
# The message whose crisis event staff resolve: (script key, line index).
RESOLVED_CRISIS: Final = ("crisis-check-in", 5)

GUEST_PERSONA: Final = "maria-spanish-tutor"
GUEST_LINES: Final = (
    (USER, "Hola, ¿qué tal?"),
    (ASSISTANT, "¡Muy bien! ¿Y tú? ¿Practicamos un poco?"),
    (USER, "Sí, quiero practicar los números."),
    (ASSISTANT, "¡Genial! Uno, dos, tres… ¿Sigues tú?"),
)

# The seeded course's assessment (learning/content/poker-fundamentals.yaml).
COURSE: Final = "poker-fundamentals"
ASSESSMENT: Final = "fundamentals-check"
SUBMITTED_ATTEMPT: Final = f"{CLIENT_ID_PREFIX}:submitted"
OPEN_ATTEMPT: Final = f"{CLIENT_ID_PREFIX}:in-progress"
# Every question right but one: a flush does beat a straight. The wrong answer becomes
# a review card.
SUBMITTED_ANSWERS: Final[dict[str, Any]] = {
    "hand-rankings": ["four-of-a-kind", "full-house", "flush", "straight", "two-pair"],
    "position": "button",
    "pot-odds": 16.67,
    "flush-beats-straight": False,
    "big-blind": "big blind",
}
OPEN_ANSWERS: Final[dict[str, Any]] = {"position": "button"}

# The seeded café dialog (tutoring/content/cafe.yaml), played as María for one turn.
DIALOG: Final = "en-el-cafe"
DIALOG_ROLE: Final = "María"
FIRST_TURN: Final = "Buenos días. Un café con leche, por favor."


class Outcome(StrEnum):
    """What seeding did with one piece of the test data."""

    CREATED = "created"
    PRESENT = "present"
    SKIPPED = "skipped"  # what it needs is missing (content archived, persona deactivated)


@dataclass(frozen=True, slots=True)
class Piece:
    name: str
    outcome: Outcome
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Synthesized:
    """What `seed_test_data` did, piece by piece."""

    pieces: tuple[Piece, ...]

    def of(self, outcome: Outcome) -> list[str]:
        """The names of the pieces with `outcome`."""
        return [piece.name for piece in self.pieces if piece.outcome is outcome]

    def summary(self) -> str:
        """Lines for people: what was created, what was there already, what was skipped."""
        created, present = self.of(Outcome.CREATED), self.of(Outcome.PRESENT)
        if created:
            lines = [f"Created test data: {', '.join(created)}."]
            if present:
                lines.append(f"Already present: {', '.join(present)}.")
        else:
            lines = ["Test data present: nothing created."]
        skipped = [f"{p.name} ({p.reason})" for p in self.pieces if p.outcome is Outcome.SKIPPED]
        if skipped:
            lines.append(f"Skipped: {'; '.join(skipped)}.")
        return "\n".join(lines)


def seed_test_data(database: Database, settings: Settings) -> Synthesized:
    """Create the synthetic test data that is missing, as `settings` configure the
    services (limits, tutoring practice, the milestone rule). The demo content
    (`demo.seed`) must be there: the users chat with its personas, attempt its course
    and practise its dialog."""
    seeder = _Seeder(database, settings)
    for handle, stage in USERS.items():
        seeder.user(handle, stage)
    for handle, stop_at in ONBOARDINGS.items():
        seeder.onboarding(handle, stop_at)
    for script in CONVERSATIONS:
        seeder.conversation(script)
    seeder.resolved_crisis(*RESOLVED_CRISIS)
    seeder.analysis("analysed-learner")
    seeder.guest_session()
    seeder.attempts("course-learner")
    seeder.tutor_session("course-learner")
    return Synthesized(tuple(seeder.pieces))


class _Seeder:
    """Makes each piece that is missing, and notes what it did with each."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.limits = Limits.from_settings(settings)
        self.pieces: list[Piece] = []

    def _note(self, name: str, created: bool) -> None:
        self.pieces.append(Piece(name, Outcome.CREATED if created else Outcome.PRESENT))

    def _skip(self, name: str, reason: str) -> None:
        self.pieces.append(Piece(name, Outcome.SKIPPED, reason))

    # --- users and their onboarding ----------------------------------------------------

    def user(self, handle: str, stage: int) -> None:
        """The user, moved up to `stage` when made."""
        learner = synthetic_user(handle)
        with self.database.transaction(learner) as session:
            try:
                user_service.get_user(session, learner)
                created = False
            except UserNotFound:
                user_service.register_caller(session, learner)
                while user_service.get_user(session, learner).stage < stage:
                    user_service.advance_stage(session, learner)
                created = True
        self._note(f"user {handle} (stage {stage})", created)

    def onboarding(self, handle: str, stop_at: str | None) -> None:
        """The user's onboarding, answered up to the phase `stop_at` (in progress), or
        to the end and completed."""
        learner = synthetic_user(handle)
        name = f"onboarding of {handle} ({'completed' if stop_at is None else 'in progress'})"
        with self.database.transaction(learner) as session:
            created = not onboarding_service.all_sessions(session, learner)
            if created:
                _answer_onboarding(session, learner, stop_at)
        self._note(name, created)

    # --- conversations, crisis events, analysis -----------------------------------------

    def conversation(self, script: Script) -> None:
        """The conversation, and those of its messages it lacks: the user's written as
        the user, the assistant's as the app's server (staff)."""
        owner = synthetic_user(script.owner)
        name = f"conversation {script.key} of {script.owner}"
        with self.database.transaction(owner) as session:
            conversation_id = _find_conversation(session, owner, script.key)
            stored: set[str] = set()
            if conversation_id is not None:
                stored = _client_ids(session, owner, conversation_id)
            else:
                persona_id = _persona_id(session, script.persona)
                if persona_id is None:
                    self._skip(name, f"the persona {script.persona} is not active")
                    return
                data = ConversationCreate(
                    persona_id=persona_id, title=script.title, context={"seed": script.key}
                )
                conversation_id = conversation_service.create_conversation(
                    session, owner, data=data
                ).id
        missing = [
            (role, content, client_id)
            for index, (role, content) in enumerate(script.lines)
            if (client_id := _client_id(script.key, index)) not in stored
        ]
        self._append(owner, conversation_id, missing)
        self._note(name, bool(missing))

    def _append(
        self,
        writer: Principal,
        conversation_id: uuid.UUID,
        lines: Sequence[tuple[MessageRole, str, str]],
    ) -> bool:
        """Append `lines` in order: a run of one writer's messages in one transaction.
        False if a guest's message was refused at the guest limit (the rest are not
        appended)."""
        runs: list[list[tuple[MessageRole, str, str]]] = []
        for line in lines:
            if runs and (runs[-1][0][0] is USER) == (line[0] is USER):
                runs[-1].append(line)
            else:
                runs.append([line])
        for run in runs:
            as_staff = run[0][0] is not USER
            with self.database.transaction(STAFF if as_staff else writer) as session:
                for role, content, client_id in run:
                    appended = conversation_service.append_message(
                        session,
                        STAFF if as_staff else writer,
                        conversation_id,
                        data=MessageCreate(role=role, content=content, client_message_id=client_id),
                        limits=self.limits,
                        as_staff=as_staff,
                    )
                    if isinstance(appended, conversation_service.GuestMessageRefused):
                        return False
        return True

    def resolved_crisis(self, key: str, index: int) -> None:
        """Staff resolve the crisis event the message `index` of conversation `key`
        raised (its writer was offered support)."""
        script = next(script for script in CONVERSATIONS if script.key == key)
        owner = synthetic_user(script.owner)
        name = f"resolution of the crisis event of {key} message {index + 1}"
        with self.database.transaction(owner) as session:
            event = _crisis_event(session, owner, key, _client_id(key, index))
        if event is None:
            self._skip(name, "the message raised no crisis event")
            return
        event_id, resolved = event
        if not resolved:
            with self.database.transaction(STAFF) as session:
                safety_service.resolve(
                    session,
                    STAFF,
                    event_id,
                    outcome=CrisisOutcome.SUPPORTED,
                    note="Synthetic test data: a counsellor reached out and the user is supported.",
                )
        self._note(name, not resolved)

    def analysis(self, handle: str) -> None:
        """The user's first analysis (a chat scoring and its milestone check), run as
        the analysis job runs it, with the baseline analyzer."""
        learner = synthetic_user(handle)
        name = f"analysis of {handle}"
        with self.database.transaction(learner) as session:
            if analysis_service.all_analyses(session, learner):
                self._note(name, False)
                return
            batch = analysis_service.load_batch(session, learner, 1)
        if not batch.messages:
            self._skip(name, "the user has no messages to analyse")
            return
        analyzer = BaselineAnalyzer()
        assessment = analyzer.analyze(batch)  # outside any transaction, as the job does
        rule = analysis_service.MilestoneRule(
            score=Decimal(str(self.settings.milestone_score)),
            streak=self.settings.milestone_streak,
        )
        with self.database.transaction(learner) as session:
            created = analysis_service.record_analysis(
                session, learner, batch, assessment, analyzer=analyzer.name, rule=rule
            )
        self._note(name, created)

    def guest_session(self) -> None:
        """A guest's chat with María, under the fixed session id GUEST_SESSION_ID."""
        guest = Principal.guest(str(GUEST_SESSION_ID))
        name = "guest session with maria-spanish-tutor"
        with self.database.transaction(guest) as session:
            try:
                conversation_id = conversation_service.guest_session_status(
                    session, guest, limits=self.limits
                ).conversation_id
                stored = _client_ids(session, guest, conversation_id)
            except ConversationNotFound:
                conversation_id, stored = None, set()
        if conversation_id is None:
            with self.database.transaction(None) as session:
                persona_id = _persona_id(session, GUEST_PERSONA)
                if persona_id is None:
                    self._skip(name, f"the persona {GUEST_PERSONA} is not active")
                    return
                conversation_id = conversation_service.start_guest_session(
                    session, persona_id=persona_id, limits=self.limits, session_id=GUEST_SESSION_ID
                ).conversation_id
        missing = [
            (role, content, client_id)
            for index, (role, content) in enumerate(self._guest_lines())
            if (client_id := _client_id("guest", index)) not in stored
        ]
        if not self._append(guest, conversation_id, missing):
            self._skip(name, "the guest limit refused its messages")
            return
        self._note(name, bool(missing))

    def _guest_lines(self) -> list[tuple[MessageRole, str]]:
        """GUEST_LINES, up to as many of the guest's own as the guest limit allows."""
        allowed = self.limits.guest_message_limit
        return [
            line
            for index, line in enumerate(GUEST_LINES)
            if sum(role is USER for role, _ in GUEST_LINES[: index + 1]) <= allowed
        ]

    # --- learning and tutoring -----------------------------------------------------------

    def attempts(self, handle: str) -> None:
        """At the seeded course's assessment: a submitted attempt with one wrong answer
        (which becomes a review card), then one in progress."""
        learner = synthetic_user(handle)
        wanted = (
            (f"submitted attempt of {handle} at {ASSESSMENT}", SUBMITTED_ATTEMPT, True),
            (f"open attempt of {handle} at {ASSESSMENT}", OPEN_ATTEMPT, False),
        )
        with self.database.transaction(learner) as session:
            assessment_id = _assessment_id(session, learner, COURSE, ASSESSMENT)
            if assessment_id is None:
                for name, _, _ in wanted:
                    self._skip(name, f"the course {COURSE} has no active assessment {ASSESSMENT}")
                return
            started = {
                attempt.client_attempt_id
                for attempt in every(
                    lambda cursor: learning_service.list_attempts(
                        session, learner, assessment_id, cursor=cursor, limit=MAX_PAGE_SIZE
                    )
                )
            }
        for name, client_id, submit in wanted:
            if client_id not in started:
                with self.database.transaction(learner) as session:
                    self._attempt(session, learner, assessment_id, client_id, submit=submit)
            self._note(name, client_id not in started)

    def _attempt(
        self,
        session: Session,
        learner: Principal,
        assessment_id: uuid.UUID,
        client_id: str,
        *,
        submit: bool,
    ) -> None:
        attempt = learning_service.start_attempt(
            session, learner, assessment_id, client_attempt_id=client_id
        ).attempt
        for question_id, answer in (SUBMITTED_ANSWERS if submit else OPEN_ANSWERS).items():
            learning_service.save_answer(session, learner, attempt.id, question_id, answer=answer)
        if submit:
            learning_service.submit_attempt(
                session, learner, attempt.id, policy=self.settings.overdue_attempt_policy
            )

    def tutor_session(self, handle: str) -> None:
        """The seeded café dialog, played as María for one turn."""
        learner = synthetic_user(handle)
        name = f"tutor session of {handle} on {DIALOG}"
        with self.database.transaction(learner) as session:
            dialog = next(
                (
                    dialog
                    for dialog in every(
                        lambda cursor: tutoring_service.list_dialogs(
                            session, learner, cursor=cursor, limit=MAX_PAGE_SIZE
                        )
                    )
                    if dialog.key == DIALOG
                ),
                None,
            )
            if dialog is None:
                self._skip(name, f"the dialog {DIALOG} is not published")
                return
            created = not tutoring_service.list_sessions(
                session, learner, dialog_id=dialog.id
            ).items
            if created:
                started = tutoring_service.start_session(
                    session,
                    learner,
                    data=TutorSessionCreate(dialog_id=dialog.id, selected_role=DIALOG_ROLE),
                    limits=self.limits,
                )
                tutoring_service.take_turn(
                    session,
                    learner,
                    started.id,
                    data=TurnCreate(
                        content=FIRST_TURN, client_turn_id=f"{CLIENT_ID_PREFIX}:first-turn"
                    ),
                    practice=tutoring_service.Practice.from_settings(self.settings),
                    limits=self.limits,
                )
        self._note(name, created)


def _client_id(key: str, index: int) -> str:
    return f"{CLIENT_ID_PREFIX}:{key}:{index + 1}"


def _answer_onboarding(session: Session, learner: Principal, stop_at: str | None) -> None:
    """Start the user's onboarding and answer it phase by phase, as its app would: up to
    the phase `stop_at`, or to the end, and complete it."""
    view = onboarding_service.current(session, learner)
    while view.status == OnboardingStatus.ACTIVE and view.phase.key != stop_at:
        if (answers := ONBOARDING_ANSWERS.get(view.phase.key)) is not None:
            view = onboarding_service.save_answers(
                session, learner, patch=answers, if_match=view.etag
            )
        if view.next_phase is None:
            view = onboarding_service.complete(session, learner, if_match=view.etag)
        else:
            view = onboarding_service.advance(session, learner, if_match=view.etag)


def _find_conversation(session: Session, owner: Principal, key: str) -> uuid.UUID | None:
    for conversation in conversation_service.all_conversations(session, owner):
        if conversation.context_data.get("seed") == key:
            return conversation.id
    return None


def _client_ids(session: Session, reader: Principal, conversation_id: uuid.UUID) -> set[str]:
    messages = conversation_service.all_messages(session, reader, conversation_id)
    return {m.client_message_id for m in messages if m.client_message_id is not None}


def _persona_id(session: Session, name: str) -> uuid.UUID | None:
    personas = every(
        lambda cursor: persona_service.list_personas(
            session, None, cursor=cursor, limit=MAX_PAGE_SIZE
        )
    )
    return next((persona.id for persona in personas if persona.name == name), None)


def _crisis_event(
    session: Session, owner: Principal, key: str, client_id: str
) -> tuple[uuid.UUID, bool] | None:
    """The crisis event the message `client_id` of conversation `key` raised, and
    whether it is resolved."""
    conversation_id = _find_conversation(session, owner, key)
    if conversation_id is None:
        return None
    messages = conversation_service.all_messages(session, owner, conversation_id)
    message_id = next((m.id for m in messages if m.client_message_id == client_id), None)
    for event in safety_service.all_own_events(session, owner):
        if message_id is not None and event.message_id == message_id:
            return event.id, event.resolution_timestamp is not None
    return None


def _assessment_id(
    session: Session, learner: Principal, course_key: str, assessment_key: str
) -> uuid.UUID | None:
    courses = every(
        lambda cursor: learning_service.list_courses(
            session, learner, cursor=cursor, limit=MAX_PAGE_SIZE
        )
    )
    course = next((course for course in courses if course.key == course_key), None)
    if course is None:
        return None
    detail = learning_service.get_course(session, learner, course.id)
    return next((a.id for a in detail.assessments if a.key == assessment_key), None)
