"""Tutoring: the lesson dialogs and library texts staff manage, and learners' practice
over them, turn by turn (docs/tutoring.md).

A learner starts a tutor session on a published dialog, playing one of its playable
roles, or on a library text, reading it sentence by sentence. The session has a
transcript conversation (kind `roleplay`): the partner's lines are appended to it as
assistant messages, and each of the learner's turns as a user message, screened for
signs of crisis like any other. Each turn is evaluated against the line expected (an
`Evaluator`; the shipped one is deterministic), and the evaluation is kept
(`turn_evaluations`): a line passed, or tried `max_attempts` times, leads on to the
partner's next lines, and after the last line the session is completed with a summary
score. Words missed or misspelled are counted per learner and become review cards.

A session follows the version of the dialog or text it began on: once staff change
the script, its turns are refused (409) and the learner starts again. A dialog with
sessions is archived, never deleted, unless staff purge it with its sessions.
"""

import dataclasses
import re
import threading
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from convobase.config import Settings
from convobase.conversations import service as conversation_service
from convobase.conversations.events import SafetyNotice
from convobase.conversations.schemas import ConversationCreate, MessageCreate, Safety
from convobase.core.content_files import ContentInvalid, ContentProblem
from convobase.core.errors import Conflict, Forbidden, NotFound
from convobase.core.ids import new_id
from convobase.core.limits import DEFAULT_LIMITS, Limits
from convobase.core.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    cursor_uuid,
    decode_cursor,
    paginate,
    paginate_by_time,
    time_position,
)
from convobase.core.principal import Principal, require_staff
from convobase.core.time import utc_now
from convobase.reviews import service as review_service
from convobase.reviews.schemas import NewCard
from convobase.tutoring import repository
from convobase.tutoring.errors import (
    ClientTurnIdReused,
    DialogArchived,
    DialogChanged,
    DialogKeyTaken,
    DialogNotFound,
    RoleNotInDialog,
    RoleNotPlayable,
    ScriptInvalid,
    SessionCompleted,
    TextArchived,
    TextKeyTaken,
    TextNotFound,
    TutorSessionNotFound,
)
from convobase.tutoring.evaluation import (
    BaselineEvaluator,
    Evaluation,
    Evaluator,
    ExpectedLine,
    blank,
    hint,
    load_evaluator,
    normalise,
    words,
)
from convobase.tutoring.models import (
    MAX_LINE_LENGTH,
    MAX_WORD_LENGTH,
    CefrLevel,
    DialogStatus,
    LessonDialog,
    LessonDialogLine,
    LessonDialogRole,
    LibraryText,
    TurnEvaluation,
    TurnVerdict,
    TutorSession,
)
from convobase.tutoring.schemas import (
    MAX_SUGGESTIONS,
    DialogLineRead,
    DialogRoleRead,
    DialogSuggestionRead,
    DialogSuggestions,
    ExpectedLineRead,
    ImportedItem,
    LessonDialogCreate,
    LessonDialogDetail,
    LessonDialogRead,
    LessonDialogUpdate,
    LibraryTextCreate,
    LibraryTextRead,
    LibraryTextUpdate,
    MisspellingRead,
    PracticeRecordRead,
    PurgeReport,
    ReplyRead,
    StaffTutorSessionRead,
    TurnCreate,
    TurnRead,
    TurnResult,
    TutoringContent,
    TutoringExport,
    TutoringImportOutcome,
    TutoringImportReport,
    TutorSessionCreate,
    TutorSessionDetail,
    TutorSessionKind,
    TutorSessionRead,
    TutorSessionStarted,
    WordMistakeRead,
    content_problems,
    script_problems,
)

# Where review cards of words missed or misspelled come from; key "<language>:<word>".
SOURCE_TUTORING_WORD: Final = "tutoring_word"
# The role of every sentence in reading practice.
READER: Final = "reader"
# A turn that scores below this was not an attempt at the line: its words are not
# counted as mistakes.
MISTAKE_FLOOR: Final = 40
# At most this many words of one turn are counted, and become cards.
MAX_MISTAKES_PER_TURN: Final = 20
_SENTENCE_END = re.compile(
    "(?<=[.!?\u2026\u3002\uff01\uff1f])\\s+"
)  # also the ellipsis, and CJK full stops
_PUBLISHED = DialogStatus.PUBLISHED.value
_ARCHIVED = DialogStatus.ARCHIVED.value


@dataclass(frozen=True, slots=True)
class Practice:
    """How turns are evaluated and what follows them: the evaluator, the score that
    passes a line, the tries at a line before the session moves on without it, and
    whether words missed become review cards."""

    evaluator: Evaluator = field(default_factory=BaselineEvaluator)
    pass_score: int = 80
    max_attempts: int = 3
    review_cards: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> "Practice":
        """The practice the CONVOBASE_TUTORING_* settings describe."""
        return cls(
            evaluator=load_evaluator(settings.tutoring_evaluator),
            pass_score=settings.tutoring_pass_score,
            max_attempts=settings.tutoring_max_attempts,
            review_cards=settings.tutoring_review_cards,
        )


DEFAULT_PRACTICE: Final = Practice()


# --- scripts: what a session practises ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    seq: int
    role: str
    text: str
    translation: str | None
    variants: tuple[str, ...] = ()
    target_words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Script:
    """A dialog's lines (or a text's sentences), the version they are, and the role the
    learner plays in them."""

    title: str
    language: str
    version: int
    learner: str
    lines: tuple[Line, ...]
    reading: bool = False

    def line(self, seq: int) -> Line | None:
        return self.lines[seq - 1] if 1 <= seq <= len(self.lines) else None

    @property
    def learner_lines(self) -> list[Line]:
        return [line for line in self.lines if line.role == self.learner]

    def next_learner_line(self, after: int) -> Line | None:
        """The learner's first line after seq `after`."""
        return next((line for line in self.learner_lines if line.seq > after), None)

    def expected(self, line: Line) -> ExpectedLine:
        return ExpectedLine(line.text, line.variants, line.target_words, self.language)


def sentences(body: str) -> list[str]:
    """A text's sentences, as reading practice goes through them: split after `.`, `!`,
    `?` or `…`, each at most MAX_LINE_LENGTH characters (a longer one in pieces)."""
    found: list[str] = []
    for sentence in _SENTENCE_END.split(" ".join(body.split())):
        while len(sentence) > MAX_LINE_LENGTH:
            cut = sentence.rfind(" ", 0, MAX_LINE_LENGTH + 1)
            cut = cut if cut > 0 else MAX_LINE_LENGTH
            found.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence.strip():
            found.append(sentence.strip())
    return found


def _dialog_script(dialog: LessonDialog, lines: Sequence[LessonDialogLine], role: str) -> Script:
    return Script(
        title=dialog.title,
        language=dialog.language,
        version=dialog.version,
        learner=role,
        lines=tuple(
            Line(
                line.seq,
                line.role,
                line.text,
                line.translation,
                tuple(line.variants),
                tuple(line.target_words),
            )
            for line in lines
        ),
    )


def _text_script(text: LibraryText, *, lines: tuple[Line, ...] | None = None) -> Script:
    if lines is None:
        lines = tuple(
            Line(seq, READER, sentence, None)
            for seq, sentence in enumerate(sentences(text.body), start=1)
        )
    return Script(
        title=text.title,
        language=text.language,
        version=text.version,
        learner=READER,
        lines=lines,
        reading=True,
    )


_NOTHING: Final = Script("", "und", 1, READER, ())


def _script_of(session: Session, row: TutorSession) -> Script:
    """What `row` practises, as its dialog or text stands now."""
    if row.dialog_id is not None and row.selected_role is not None:
        dialog = repository.get_dialog(session, row.dialog_id, with_roles=False)
        if dialog is not None:
            lines = _SCRIPTS.lines(
                (dialog.id, dialog.version),
                lambda: _dialog_script(dialog, repository.lines_of(session, dialog.id), "").lines,
            )
            return Script(dialog.title, dialog.language, dialog.version, row.selected_role, lines)
    if row.text_id is not None and (text := repository.get_text(session, row.text_id)):
        lines = _SCRIPTS.lines((text.id, text.version), lambda: _text_script(text).lines)
        return _text_script(text, lines=lines)
    return _NOTHING


class _ScriptCache:
    """The lines of recently practised dialogs and texts, by id and version, so that a
    turn does not read and parse a whole script again. A version's lines never change
    once committed (every change of a script makes a new version in the transaction
    that makes it, and no turn runs in a transaction that changes content), so an entry
    is never stale; the least recently used go first."""

    SIZE: Final = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: OrderedDict[tuple[uuid.UUID, int], tuple[Line, ...]] = OrderedDict()

    def lines(
        self, key: tuple[uuid.UUID, int], load: Callable[[], tuple[Line, ...]]
    ) -> tuple[Line, ...]:
        with self._lock:
            if (found := self._lines.get(key)) is not None:
                self._lines.move_to_end(key)
                return found
        loaded = load()
        with self._lock:
            self._lines[key] = loaded
            while len(self._lines) > self.SIZE:
                self._lines.popitem(last=False)
        return loaded


_SCRIPTS: Final = _ScriptCache()


# --- content: lesson dialogs ------------------------------------------------------------


def list_dialogs(
    session: Session,
    principal: Principal,
    *,
    level: CefrLevel | None = None,
    language: str | None = None,
    status: DialogStatus | None = None,
    include_all: bool = False,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[LessonDialogRead]:
    """Published dialogs by title; with `include_all` (staff), of every status or of
    `status`."""
    if include_all:
        require_staff(principal, "list every lesson dialog")
        statuses = [status.value] if status is not None else [s.value for s in DialogStatus]
    else:
        statuses = [_PUBLISHED]
    rows = repository.list_dialogs(
        session,
        statuses=statuses,
        level=None if level is None else level.value,
        language=language,
        after=_title_position(cursor),
        limit=limit + 1,
    )
    page = paginate(rows, limit, lambda last: (last.title, str(last.id)))
    return Page(_dialog_reads(session, page.items), page.next_cursor)


def get_dialog(session: Session, principal: Principal, dialog_id: uuid.UUID) -> LessonDialogRead:
    """A dialog with its roles: learners see published and archived ones, staff all."""
    dialog = repository.get_dialog(session, dialog_id)
    if dialog is None or (dialog.status == DialogStatus.DRAFT.value and not principal.is_staff):
        raise DialogNotFound
    return _dialog_reads(session, [dialog])[0]


def get_dialog_for_staff(
    session: Session, principal: Principal, dialog_id: uuid.UUID
) -> LessonDialogDetail:
    """A dialog with its roles and lines, of any status (staff)."""
    require_staff(principal, "read a lesson dialog's lines")
    dialog = repository.get_dialog(session, dialog_id, with_script=True)
    if dialog is None:
        raise DialogNotFound
    return _dialog_detail(dialog)


def create_dialog(
    session: Session, principal: Principal, *, data: LessonDialogCreate
) -> LessonDialogDetail:
    """Add a lesson dialog with its roles and lines (staff)."""
    require_staff(principal, "add lesson dialogs")
    _check_script(data)
    if repository.dialog_by_key(session, data.key) is not None:
        raise DialogKeyTaken(f"A lesson dialog has the key {data.key!r} already.")
    dialog = _new_dialog(session, data)
    return _dialog_detail(_reloaded(session, dialog.id))


def _new_dialog(session: Session, data: LessonDialogCreate) -> LessonDialog:
    now = utc_now()
    dialog = LessonDialog(
        id=new_id(),
        key=data.key,
        title=data.title,
        language=data.language,
        level=data.level.value,
        description=data.description,
        status=data.status.value,
        version=1,
        created_at=now,
        updated_at=now,
    )
    repository.add(session, dialog)
    roles, lines = _script_rows(dialog.id, data)
    repository.replace_script(session, dialog.id, roles, lines)
    return dialog


def update_dialog(
    session: Session, principal: Principal, dialog_id: uuid.UUID, *, data: LessonDialogUpdate
) -> LessonDialogDetail:
    """Change a dialog (staff); new roles and lines replace its script and, if they
    differ from it, make a new version."""
    require_staff(principal, "change lesson dialogs")
    _check_script(data)
    dialog = repository.get_dialog(session, dialog_id, with_script=True, for_update=True)
    if dialog is None:
        raise DialogNotFound
    _apply(session, dialog, data)
    return _dialog_detail(_reloaded(session, dialog.id))


def _check_script(data: LessonDialogCreate | LessonDialogUpdate) -> None:
    """Refuse (422) a script that cannot be played."""
    if data.roles is None or data.lines is None:
        return
    if problems := script_problems(data.roles, data.lines):
        raise ScriptInvalid(problems)


def _apply(session: Session, dialog: LessonDialog, data: LessonDialogUpdate) -> bool:
    """Make `dialog` what `data` says; whether anything changed."""
    changed = False
    for name in ("title", "language", "description"):
        value = getattr(data, name)
        settable = name == "description" or value is not None
        if name in data.model_fields_set and settable and value != getattr(dialog, name):
            setattr(dialog, name, value)
            changed = True
    for name in ("level", "status"):
        value = getattr(data, name)
        if value is not None and value.value != getattr(dialog, name):
            setattr(dialog, name, value.value)
            changed = True
    if data.roles is not None and data.lines is not None:
        roles, lines = _script_rows(dialog.id, data)
        if _script_key(roles, lines) != _script_key(dialog.roles, dialog.lines):
            repository.replace_script(session, dialog.id, roles, lines)
            dialog.version += 1
            changed = True
    if changed:
        dialog.updated_at = utc_now()
        repository.save(session)
    return changed


def _script_rows(
    dialog_id: uuid.UUID, data: LessonDialogCreate | LessonDialogUpdate
) -> tuple[list[LessonDialogRole], list[LessonDialogLine]]:
    assert data.roles is not None
    assert data.lines is not None
    roles = [
        LessonDialogRole(
            id=new_id(),
            dialog_id=dialog_id,
            position=position,
            name=role.name,
            description=role.description,
            playable=role.playable,
        )
        for position, role in enumerate(data.roles, start=1)
    ]
    lines = [
        LessonDialogLine(
            id=new_id(),
            dialog_id=dialog_id,
            seq=seq,
            role=line.role,
            text=line.text,
            translation=line.translation,
            variants=list(line.variants),
            target_words=list(line.target_words),
        )
        for seq, line in enumerate(data.lines, start=1)
    ]
    return roles, lines


def _script_key(
    roles: Sequence[LessonDialogRole], lines: Sequence[LessonDialogLine]
) -> tuple[Any, ...]:
    """What of a script makes its version: its roles and lines, not their ids."""
    return (
        tuple((r.position, r.name, r.description, r.playable) for r in roles),
        tuple(
            (li.seq, li.role, li.text, li.translation, tuple(li.variants), tuple(li.target_words))
            for li in lines
        ),
    )


def delete_dialog(
    session: Session, principal: Principal, dialog_id: uuid.UUID
) -> LessonDialogDetail | None:
    """Delete a dialog nobody practised; one with sessions is archived instead, and
    returned (staff)."""
    require_staff(principal, "delete lesson dialogs")
    dialog = repository.get_dialog(session, dialog_id, with_script=True, for_update=True)
    if dialog is None:
        raise DialogNotFound
    if repository.has_sessions(session, principal, dialog_id=dialog.id):
        if dialog.status != _ARCHIVED:
            dialog.status = _ARCHIVED
            dialog.updated_at = utc_now()
            repository.save(session)
        return _dialog_detail(dialog)
    repository.delete_row(session, dialog)
    return None


def purge_dialog(session: Session, principal: Principal, dialog_id: uuid.UUID) -> PurgeReport:
    """Delete a dialog and every learner's sessions of it, with their turns (staff):
    the story's ON DELETE CASCADE, done on purpose. The transcripts stay with their
    learners."""
    require_staff(principal, "purge lesson dialogs")
    dialog = repository.get_dialog(session, dialog_id, for_update=True)
    if dialog is None:
        raise DialogNotFound
    deleted = repository.delete_sessions_of(session, principal, dialog.id)
    report = PurgeReport(dialog_id=dialog.id, key=dialog.key, sessions_deleted=deleted)
    repository.delete_row(session, dialog)
    return report


def _reloaded(session: Session, dialog_id: uuid.UUID) -> LessonDialog:
    dialog = repository.get_dialog(session, dialog_id, with_script=True)
    assert dialog is not None
    return dialog


def _dialog_reads(session: Session, dialogs: Sequence[LessonDialog]) -> list[LessonDialogRead]:
    counts = repository.line_counts(session, [dialog.id for dialog in dialogs])
    return [
        LessonDialogRead(
            **_dialog_fields(dialog),
            roles=[
                _role_read(role, counts.get((dialog.id, role.name), 0)) for role in dialog.roles
            ],
            line_count=sum(counts.get((dialog.id, role.name), 0) for role in dialog.roles),
        )
        for dialog in dialogs
    ]


def _dialog_detail(dialog: LessonDialog) -> LessonDialogDetail:
    said: dict[str, int] = defaultdict(int)
    for line in dialog.lines:
        said[line.role] += 1
    return LessonDialogDetail(
        **_dialog_fields(dialog),
        roles=[_role_read(role, said[role.name]) for role in dialog.roles],
        line_count=len(dialog.lines),
        lines=[DialogLineRead.model_validate(line) for line in dialog.lines],
    )


def _dialog_fields(dialog: LessonDialog) -> dict[str, Any]:
    return {
        "id": dialog.id,
        "key": dialog.key,
        "title": dialog.title,
        "language": dialog.language,
        "level": dialog.level,
        "description": dialog.description,
        "status": dialog.status,
        "version": dialog.version,
        "created_at": dialog.created_at,
        "updated_at": dialog.updated_at,
    }


def _role_read(role: LessonDialogRole, lines: int) -> DialogRoleRead:
    return DialogRoleRead(
        name=role.name, description=role.description, playable=role.playable, lines=lines
    )


def _title_position(cursor: str | None) -> tuple[str, uuid.UUID] | None:
    if cursor is None:
        return None
    title, row_id = decode_cursor(cursor, str, str)
    return title, cursor_uuid(row_id)


# --- content: library texts ---------------------------------------------------------------


def list_texts(
    session: Session,
    principal: Principal,
    *,
    level: CefrLevel | None = None,
    language: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[LibraryTextRead]:
    """Library texts by title; archived ones for staff only."""
    rows = repository.list_texts(
        session,
        archived=principal.is_staff,
        level=None if level is None else level.value,
        language=language,
        after=_title_position(cursor),
        limit=limit + 1,
    )
    page = paginate(rows, limit, lambda last: (last.title, str(last.id)))
    return Page([_text_read(text) for text in page.items], page.next_cursor)


def get_text(session: Session, principal: Principal, text_id: uuid.UUID) -> LibraryTextRead:
    """A library text; an archived one for staff only."""
    text = repository.get_text(session, text_id)
    if text is None or (text.archived_at is not None and not principal.is_staff):
        raise TextNotFound
    return _text_read(text)


def create_text(
    session: Session, principal: Principal, *, data: LibraryTextCreate
) -> LibraryTextRead:
    """Add a text to the library (staff)."""
    require_staff(principal, "add library texts")
    if repository.text_by_key(session, data.key) is not None:
        raise TextKeyTaken(f"A library text has the key {data.key!r} already.")
    return _text_read(_new_text(session, data))


def _new_text(session: Session, data: LibraryTextCreate) -> LibraryText:
    now = utc_now()
    text = LibraryText(
        id=new_id(),
        key=data.key,
        title=data.title,
        language=data.language,
        level=data.level.value,
        body=data.body,
        version=1,
        created_at=now,
        updated_at=now,
    )
    repository.add(session, text)
    return text


def update_text(
    session: Session, principal: Principal, text_id: uuid.UUID, *, data: LibraryTextUpdate
) -> LibraryTextRead:
    """Change a library text (staff); a new body makes a new version."""
    require_staff(principal, "change library texts")
    text = repository.get_text(session, text_id, for_update=True)
    if text is None:
        raise TextNotFound
    _apply_text(session, text, data)
    return _text_read(text)


def _apply_text(session: Session, text: LibraryText, data: LibraryTextUpdate) -> bool:
    changed = False
    for name in ("title", "language", "body"):
        value = getattr(data, name)
        if value is not None and value != getattr(text, name):
            setattr(text, name, value)
            changed = True
            if name == "body":
                text.version += 1
    if data.level is not None and data.level.value != text.level:
        text.level = data.level.value
        changed = True
    if changed:
        text.updated_at = utc_now()
        repository.save(session)
    return changed


def delete_text(
    session: Session, principal: Principal, text_id: uuid.UUID
) -> LibraryTextRead | None:
    """Delete a text nobody read; one with sessions is archived instead, and returned
    (staff)."""
    require_staff(principal, "delete library texts")
    text = repository.get_text(session, text_id, for_update=True)
    if text is None:
        raise TextNotFound
    if repository.has_sessions(session, principal, text_id=text.id):
        if text.archived_at is None:
            text.archived_at = utc_now()
            repository.save(session)
        return _text_read(text)
    repository.delete_row(session, text)
    return None


def _text_read(text: LibraryText) -> LibraryTextRead:
    return LibraryTextRead(
        id=text.id,
        key=text.key,
        title=text.title,
        language=text.language,
        level=CefrLevel(text.level),
        body=text.body,
        version=text.version,
        sentence_count=len(sentences(text.body)),
        archived_at=text.archived_at,
        created_at=text.created_at,
        updated_at=text.updated_at,
    )


# --- content files: import and export ---------------------------------------------------


def import_content(
    session: Session,
    principal: Principal,
    *,
    document: TutoringContent,
    update_existing: bool = True,
    dry_run: bool = False,
) -> TutoringImportReport:
    """Make the dialogs and texts of `document` exist as it says, matched by key (staff):
    new ones are created, existing ones updated (a changed script is a new version), or
    kept as they are without `update_existing`. `dry_run` reports and writes nothing."""
    require_staff(principal, "import tutoring content")
    if problems := content_problems(document):
        raise ContentInvalid([ContentProblem("content", path, text) for path, text in problems])
    dialogs: list[ImportedItem] = []
    texts: list[ImportedItem] = []
    with repository.savepoint(session, rollback=dry_run):
        for dialog_data in document.dialogs:
            dialogs.append(_import_dialog(session, dialog_data, update_existing))
        for text_data in document.texts:
            texts.append(_import_text(session, text_data, update_existing))
    return TutoringImportReport(dry_run=dry_run, dialogs=dialogs, texts=texts)


def _import_dialog(
    session: Session, data: LessonDialogCreate, update_existing: bool
) -> ImportedItem:
    dialog = repository.dialog_by_key(session, data.key, with_script=True, for_update=True)
    if dialog is None:
        dialog = _new_dialog(session, data)
        outcome = TutoringImportOutcome.CREATED
    elif not update_existing:
        outcome = TutoringImportOutcome.KEPT
    else:
        update = LessonDialogUpdate.model_validate(data.model_dump(exclude={"key"}), strict=False)
        changed = _apply(session, dialog, update)
        outcome = TutoringImportOutcome.UPDATED if changed else TutoringImportOutcome.UNCHANGED
    return ImportedItem(key=data.key, id=dialog.id, outcome=outcome, version=dialog.version)


def _import_text(session: Session, data: LibraryTextCreate, update_existing: bool) -> ImportedItem:
    text = repository.text_by_key(session, data.key, for_update=True)
    if text is None:
        text = _new_text(session, data)
        outcome = TutoringImportOutcome.CREATED
    elif not update_existing:
        outcome = TutoringImportOutcome.KEPT
    else:
        update = LibraryTextUpdate.model_validate(data.model_dump(exclude={"key"}), strict=False)
        changed = _apply_text(session, text, update)
        outcome = TutoringImportOutcome.UPDATED if changed else TutoringImportOutcome.UNCHANGED
    return ImportedItem(key=data.key, id=text.id, outcome=outcome, version=text.version)


def export_content(
    session: Session,
    principal: Principal,
    *,
    dialog_keys: Sequence[str] = (),
    text_keys: Sequence[str] = (),
) -> TutoringContent:
    """The dialogs and texts of these keys (all of each kind when none are named), as a
    content file that imports to the same content (staff)."""
    require_staff(principal, "export tutoring content")
    everything = not dialog_keys and not text_keys
    dialogs = repository.dialogs_by_keys(session, dialog_keys) if dialog_keys or everything else []
    texts = repository.texts_by_keys(session, text_keys) if text_keys or everything else []
    return TutoringContent.model_validate(
        {
            "format": 1,
            "dialogs": [
                {
                    **{k: v for k, v in _dialog_fields(d).items() if k in _DIALOG_FILE_FIELDS},
                    "roles": [
                        {"name": r.name, "description": r.description, "playable": r.playable}
                        for r in d.roles
                    ],
                    "lines": [
                        {
                            "role": li.role,
                            "text": li.text,
                            "translation": li.translation,
                            "variants": list(li.variants),
                            "target_words": list(li.target_words),
                        }
                        for li in d.lines
                    ],
                }
                for d in dialogs
            ],
            "texts": [
                {
                    "key": t.key,
                    "title": t.title,
                    "language": t.language,
                    "level": t.level,
                    "body": t.body,
                }
                for t in texts
            ],
        },
        strict=False,
    )


_DIALOG_FILE_FIELDS: Final = ("key", "title", "language", "level", "description", "status")


# --- sessions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """A turn's answer, and whether it was taken by an earlier try of this request."""

    result: TurnResult
    replayed: bool


def start_session(
    session: Session,
    principal: Principal,
    *,
    data: TutorSessionCreate,
    hint_wanted: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> TutorSessionStarted:
    """Start practising a published dialog as one of its playable roles, or a library
    text; the session's transcript holds the partner's lines up to your first turn."""
    owner = _require_user(principal)
    if data.dialog_id is not None:
        assert data.selected_role is not None
        dialog, role = _playable(session, data.dialog_id, data.selected_role)
        lines = _SCRIPTS.lines(
            (dialog.id, dialog.version),
            lambda: _dialog_script(dialog, repository.lines_of(session, dialog.id), "").lines,
        )
        script = Script(dialog.title, dialog.language, dialog.version, role, lines)
        level, title = dialog.level, dialog.title
        context: dict[str, Any] = {"dialog_id": str(dialog.id), "selected_role": role}
    else:
        assert data.text_id is not None
        text = repository.get_text(session, data.text_id)
        if text is None:
            raise TextNotFound
        if text.archived_at is not None:
            raise TextArchived(f"The text {text.title!r} is archived: choose another.")
        script = _text_script(text)
        role, level, title = None, text.level, text.title
        context = {"text_id": str(text.id)}
    row = TutorSession(
        id=new_id(),
        user_id=owner,
        dialog_id=data.dialog_id,
        selected_role=role,
        text_id=data.text_id,
        level=level,
        created_at=utc_now(),
        content_version=script.version,
        turns=0,
    )
    row.conversation_id = _new_transcript(
        session, principal, title, {**context, "tutor_session_id": str(row.id)}
    )
    repository.add(session, row)
    replies = _advance(session, principal, row, script, after=0, limits=limits)
    view = _detail(session, principal, row, script, hint_wanted=hint_wanted)
    return TutorSessionStarted(**view.model_dump(), replies=replies)


def _playable(session: Session, dialog_id: uuid.UUID, asked: str) -> tuple[LessonDialog, str]:
    """The published dialog and the name of its role `asked` (matched without case or
    accents), or the 422 (or 404) that says why not."""
    dialog = repository.get_dialog(session, dialog_id)
    if dialog is None or dialog.status == DialogStatus.DRAFT.value:
        raise DialogNotFound
    if dialog.status == _ARCHIVED:
        raise DialogArchived(f"The dialog {dialog.title!r} is archived: choose another.")
    wanted = normalise(asked)
    role = next((r for r in dialog.roles if r.name == asked or normalise(r.name) == wanted), None)
    playable = [r.name for r in dialog.roles if r.playable]
    if role is None:
        names = ", ".join(repr(r.name) for r in dialog.roles)
        raise RoleNotInDialog(
            f"The dialog {dialog.title!r} has no role {asked!r}: its roles are {names}."
        )
    if not role.playable:
        raise RoleNotPlayable(
            f"Learners may not play {role.name!r} in {dialog.title!r}: play "
            + " or ".join(repr(name) for name in playable)
            + "."
        )
    return dialog, role.name


def get_session(
    session: Session, principal: Principal, session_id: uuid.UUID, *, hint_wanted: bool = False
) -> TutorSessionDetail:
    """One of your sessions and the line expected next."""
    _require_user(principal)
    row = repository.get_session(session, principal, session_id)
    if row is None:
        raise TutorSessionNotFound
    return _detail(session, principal, row, _script_of(session, row), hint_wanted=hint_wanted)


def list_sessions(
    session: Session,
    principal: Principal,
    *,
    kind: TutorSessionKind | None = None,
    dialog_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[TutorSessionRead]:
    """Your sessions, newest first: roleplay ones, reading ones, those of a dialog."""
    _require_user(principal)
    roleplay = None if kind is None else kind is TutorSessionKind.ROLEPLAY
    rows = repository.list_sessions(
        session,
        principal,
        roleplay=roleplay,
        dialog_id=dialog_id,
        before=time_position(cursor),
        limit=limit + 1,
    )
    page = paginate_by_time(rows, limit, lambda last: (last.created_at, last.id))
    return Page([_session_read(row) for row in page.items], page.next_cursor)


def take_turn(
    session: Session,
    principal: Principal,
    session_id: uuid.UUID,
    *,
    data: TurnCreate,
    practice: Practice = DEFAULT_PRACTICE,
    limits: Limits = DEFAULT_LIMITS,
    accept_language: str | None = None,
    hint_wanted: bool = False,
) -> TurnOutcome:
    """Say the line expected of you: the message is appended to the transcript and
    evaluated against the line, the evaluation stored; a line passed (or tried
    `max_attempts` times) is followed by your partner's next lines, and the last line
    completes the session. A retry with the same client_turn_id answers the first."""
    _require_user(principal)
    row = repository.get_session(session, principal, session_id, for_update=True)
    if row is None:
        raise TutorSessionNotFound
    if data.client_turn_id is not None:
        earlier = repository.turn_by_client_id(session, principal, row.id, data.client_turn_id)
        if earlier is not None:
            return _replayed(
                session, principal, row, earlier, data, limits, accept_language, hint_wanted
            )
    if row.completed_at is not None:
        raise SessionCompleted
    script = _current_script(session, row)
    tallies = repository.line_tallies(session, principal, row.id)
    line = _expected_line(row, script, tallies)
    if line is None:
        raise Conflict("This session has nothing left to say: start a new one.")
    conversation_id = _transcript_of(session, principal, row, script)
    message = MessageCreate.model_validate(
        {
            "role": "user",
            "content": data.content,
            "metadata": {"tutor_session_id": str(row.id), "line_seq": line.seq},
            "client_message_id": _client_message_id(data.client_turn_id),
        },
        strict=False,
    )
    appended = conversation_service.append_message(
        session,
        principal,
        conversation_id,
        data=message,
        limits=limits,
        accept_language=accept_language,
    )
    assert isinstance(appended, conversation_service.AppendedMessage), "a learner is no guest"
    if appended.replayed:  # the key was taken by a message posted outside a turn
        raise ClientTurnIdReused
    evaluation = practice.evaluator.evaluate(data.content, script.expected(line))
    tally = tallies.get(line.seq)
    attempt = 1 + (tally.attempts if tally else 0)
    passed = evaluation.score >= practice.pass_score and not evaluation.target_words_missed
    moved_on = not passed and attempt >= practice.max_attempts
    now = utc_now()
    row.turns += 1
    turn = TurnEvaluation(
        id=new_id(),
        user_id=row.user_id,
        session_id=row.id,
        turn=row.turns,
        line_seq=line.seq,
        attempt=attempt,
        message_id=appended.message.id,
        client_turn_id=data.client_turn_id,
        said=data.content,
        expected=line.text,
        score=evaluation.score,
        verdict=(TurnVerdict.PASS if passed else TurnVerdict.RETRY).value,
        moved_on=moved_on,
        details=_details(evaluation),
        evaluator=f"{practice.evaluator.name} {practice.evaluator.version}"[:200],
        created_at=now,
    )
    # Written with the session's own change, in one flush, below.
    repository.stage(session, turn)
    best = max(evaluation.score, tally.best_score if tally else 0)
    done = passed or moved_on or bool(tally and tally.done)
    tallies[line.seq] = repository.LineTally(attempt, best, done)
    replies: list[ReplyRead] = []
    if passed or moved_on:
        replies = _advance(
            session, principal, row, script, after=line.seq, limits=limits, tallies=tallies
        )
    else:
        repository.save(session)
    if evaluation.score >= MISTAKE_FLOOR:
        _remember_mistakes(session, principal, script, line, evaluation, practice, now)
    detail = _detail(session, principal, row, script, hint_wanted=hint_wanted, tallies=tallies)
    result = TurnResult(
        turn=_turn_read(turn), replies=replies, session=detail, safety=_safety(appended.safety)
    )
    return TurnOutcome(result, replayed=False)


def _replayed(
    session: Session,
    principal: Principal,
    row: TutorSession,
    turn: TurnEvaluation,
    data: TurnCreate,
    limits: Limits,
    accept_language: str | None,
    hint_wanted: bool,
) -> TurnOutcome:
    """The answer a turn taken before was given: its evaluation, the partner's lines
    that followed it, the session as it stands now."""
    if turn.said != data.content:
        raise ClientTurnIdReused
    safety = None
    if row.conversation_id is not None:
        message = MessageCreate.model_validate(
            {
                "role": "user",
                "content": data.content,
                "client_message_id": _client_message_id(data.client_turn_id),
            },
            strict=False,
        )
        try:  # the message's own replay: what screening found the first time
            appended = conversation_service.append_message(
                session,
                principal,
                row.conversation_id,
                data=message,
                limits=limits,
                accept_language=accept_language,
            )
        except NotFound:  # the learner deleted the transcript
            appended = None
        if isinstance(appended, conversation_service.AppendedMessage) and appended.replayed:
            safety = appended.safety
    script = _script_of(session, row)
    replies: list[ReplyRead] = []
    if turn.verdict == TurnVerdict.PASS.value or turn.moved_on:
        following = script.next_learner_line(turn.line_seq)
        until = following.seq if following is not None else len(script.lines) + 1
        replies = [_reply(line, None) for line in script.lines if turn.line_seq < line.seq < until]
    detail = _detail(session, principal, row, script, hint_wanted=hint_wanted)
    result = TurnResult(
        turn=_turn_read(turn), replies=replies, session=detail, safety=_safety(safety)
    )
    return TurnOutcome(result, replayed=True)


def _current_script(session: Session, row: TutorSession) -> Script:
    """What `row` practises, refused (409) if its dialog or text changed since it began."""
    script = _script_of(session, row)
    if not script.lines:
        raise Conflict("This session has no dialog or text to practise: start a new one.")
    if row.content_version is None:  # a session from before versions were kept
        row.content_version = script.version
    elif row.content_version != script.version:
        raise DialogChanged(
            f"{script.title!r} has changed since this session began (version "
            f"{row.content_version}, now {script.version}): start a new session."
        )
    return script


def _expected_line(
    row: TutorSession, script: Script, tallies: dict[int, repository.LineTally]
) -> Line | None:
    """The line the learner is to say now: the stored one, or, for a session whose
    place was not kept, the first of the learner's lines not yet done."""
    if row.completed_at is not None:
        return None
    if row.expected_seq is not None:
        return script.line(row.expected_seq)
    for line in script.learner_lines:
        tally = tallies.get(line.seq)
        if tally is None or not tally.done:
            return line
    return None


def _advance(
    session: Session,
    principal: Principal,
    row: TutorSession,
    script: Script,
    *,
    after: int,
    limits: Limits,
    tallies: dict[int, repository.LineTally] | None = None,
) -> list[ReplyRead]:
    """Append the partner's lines after seq `after` up to the learner's next line, and
    expect that line; after the last, complete the session (its score: the mean of each
    line's best, from `tallies`, the session's turns per line, read if not given)."""
    following = script.next_learner_line(after)
    until = following.seq if following is not None else len(script.lines) + 1
    partner = [line for line in script.lines if after < line.seq < until]
    replies = []
    if partner:
        conversation_id = _transcript_of(session, principal, row, script)
        # The partner's lines are the service's own, written into the learner's transcript.
        writes = dataclasses.replace(limits, client_written_replies=True)
        for line in partner:
            metadata = {
                "tutor_session_id": str(row.id),
                "line_seq": line.seq,
                "role": line.role,
                "translation": line.translation,
            }
            message = MessageCreate.model_validate(
                {"role": "assistant", "content": line.text, "metadata": metadata}, strict=False
            )
            appended = conversation_service.append_message(
                session, principal, conversation_id, data=message, limits=writes
            )
            assert isinstance(appended, conversation_service.AppendedMessage)
            replies.append(_reply(line, appended.message.id))
    if following is not None:
        row.expected_seq = following.seq
        repository.save(session)
        return replies
    row.expected_seq = None
    row.completed_at = utc_now()
    if tallies is None:
        tallies = repository.line_tallies(session, principal, row.id)
    best = [
        tallies[line.seq].best_score if line.seq in tallies else 0 for line in script.learner_lines
    ]
    row.score = round(sum(best) / len(best)) if best else 0
    repository.save(session)
    if row.conversation_id is not None:
        conversation_service.end_conversation(session, principal, row.conversation_id)
    return replies


def _transcript_of(
    session: Session, principal: Principal, row: TutorSession, script: Script
) -> uuid.UUID:
    """The session's transcript conversation; a new one if the learner deleted it."""
    if row.conversation_id is None:
        context: dict[str, Any] = {"tutor_session_id": str(row.id)}
        if row.dialog_id is not None:
            context |= {"dialog_id": str(row.dialog_id), "selected_role": row.selected_role}
        if row.text_id is not None:
            context["text_id"] = str(row.text_id)
        row.conversation_id = _new_transcript(session, principal, script.title, context)
        repository.save(session)
    return row.conversation_id


def _new_transcript(
    session: Session, principal: Principal, title: str, context: dict[str, Any]
) -> uuid.UUID:
    data = ConversationCreate.model_validate(
        {"title": title[:200], "kind": "roleplay", "context": context}, strict=False
    )
    return conversation_service.create_conversation(session, principal, data=data).id


def _client_message_id(client_turn_id: str | None) -> str | None:
    return None if client_turn_id is None else f"tutor-turn:{client_turn_id}"


def _remember_mistakes(
    session: Session,
    principal: Principal,
    script: Script,
    line: Line,
    evaluation: Evaluation,
    practice: Practice,
    now: datetime,
) -> None:
    """Count the words of `line` the learner missed or misspelled, once per word, and
    give them a review card of each, if cards are on."""
    assert principal.user_id is not None
    found: dict[str, dict[str, Any]] = {}
    said: list[tuple[str, str | None]] = [(word, None) for word in evaluation.missing]
    said += [(wrong.expected, wrong.said) for wrong in evaluation.misspelled]
    for word, spelled in said:
        normal = words(word).joined
        if not normal or len(word) > MAX_WORD_LENGTH or len(normal) > MAX_WORD_LENGTH:
            continue
        entry = found.setdefault(
            normal,
            {
                "id": new_id(),
                "user_id": principal.user_id,
                "language": script.language,
                "word": normal,
                "display": word,
                "missed": 0,
                "misspelled": 0,
                "last_said": None,
                "example": line.text,
                "example_translation": line.translation,
                "first_seen_at": now,
                "last_seen_at": now,
            },
        )
        if spelled is None:
            entry["missed"] += 1
        else:
            entry["misspelled"] += 1
            entry["last_said"] = spelled[:MAX_WORD_LENGTH]
        if len(found) >= MAX_MISTAKES_PER_TURN:
            break
    if not found:
        return
    repository.record_mistakes(session, list(found.values()))
    if practice.review_cards:
        review_service.add_cards(
            session, principal, [_card(script, line, entry) for entry in found.values()]
        )


def _card(script: Script, line: Line, entry: dict[str, Any]) -> NewCard:
    prompt = blank(line.text, entry["display"])
    if line.translation:
        prompt = f"{prompt}\n({line.translation})"
    return NewCard(
        source_kind=SOURCE_TUTORING_WORD,
        source_key=f"{script.language}:{entry['word']}",
        prompt=prompt,
        answer=entry["display"],
        context={"language": script.language, "line": line.text, "translation": line.translation},
    )


# --- what learners are answered with ----------------------------------------------------------


def _detail(
    session: Session,
    principal: Principal,
    row: TutorSession,
    script: Script,
    *,
    hint_wanted: bool,
    tallies: dict[int, repository.LineTally] | None = None,
) -> TutorSessionDetail:
    if tallies is None:
        tallies = repository.line_tallies(session, principal, row.id)
    line = _expected_line(row, script, tallies)
    learner_lines = script.learner_lines
    if row.completed_at is not None:
        done = len(learner_lines)
    elif line is not None:
        done = sum(1 for mine in learner_lines if mine.seq < line.seq)
    else:
        done = sum(1 for mine in learner_lines if (t := tallies.get(mine.seq)) and t.done)
    expected = None
    if line is not None:
        tally = tallies.get(line.seq)
        expected = ExpectedLineRead(
            seq=line.seq,
            role=None if script.reading else line.role,
            translation=line.translation,
            target_words=list(line.target_words),
            attempt=1 + (tally.attempts if tally else 0),
            hint=hint(line.text) if hint_wanted else None,
            text=line.text if script.reading else None,
        )
    return TutorSessionDetail(
        **_session_read(row).model_dump(),
        title=script.title,
        lines_total=len(learner_lines),
        lines_done=done,
        expected=expected,
    )


def _session_read(row: TutorSession) -> TutorSessionRead:
    kind = TutorSessionKind.ROLEPLAY if row.dialog_id is not None else TutorSessionKind.READING
    return TutorSessionRead(
        id=row.id,
        kind=kind,
        dialog_id=row.dialog_id,
        selected_role=row.selected_role,
        text_id=row.text_id,
        level=CefrLevel(row.level),
        conversation_id=row.conversation_id,
        content_version=row.content_version,
        turns=row.turns,
        score=row.score,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


def _reply(line: Line, message_id: uuid.UUID | None) -> ReplyRead:
    return ReplyRead(
        seq=line.seq,
        role=line.role,
        text=line.text,
        translation=line.translation,
        message_id=message_id,
    )


def _details(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "matched": evaluation.matched,
        "similarity": evaluation.similarity,
        "missing": list(evaluation.missing),
        "extra": list(evaluation.extra),
        "misspelled": [{"expected": m.expected, "said": m.said} for m in evaluation.misspelled],
        "target_words_used": list(evaluation.target_words_used),
        "target_words_missed": list(evaluation.target_words_missed),
    }


def _turn_read(turn: TurnEvaluation) -> TurnRead:
    details = turn.details if isinstance(turn.details, dict) else {}
    return TurnRead(
        id=turn.id,
        session_id=turn.session_id,
        turn=turn.turn,
        line_seq=turn.line_seq,
        attempt=turn.attempt,
        said=turn.said,
        expected=turn.expected,
        score=turn.score,
        verdict=TurnVerdict(turn.verdict),
        moved_on=turn.moved_on,
        matched=str(details.get("matched", turn.expected)),
        similarity=float(details.get("similarity", 0.0)),
        missing=list(details.get("missing", [])),
        extra=list(details.get("extra", [])),
        misspelled=[MisspellingRead.model_validate(m) for m in details.get("misspelled", [])],
        target_words_used=list(details.get("target_words_used", [])),
        target_words_missed=list(details.get("target_words_missed", [])),
        evaluator=turn.evaluator,
        message_id=turn.message_id,
        created_at=turn.created_at,
    )


def _safety(notice: SafetyNotice | None) -> Safety:
    """The safety block of a turn's answer: what screening the message found."""
    if notice is None:
        return Safety()
    return Safety.model_validate(
        {
            "flagged": True,
            "severity": notice.severity,
            "category": notice.category,
            "event_id": notice.event_id,
            "message": notice.message,
            "resources": notice.resources,
        }
    )


# --- turns, practice records, suggestions -------------------------------------------------


def list_turns(
    session: Session,
    principal: Principal,
    session_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[TurnRead]:
    """A session's turns and their evaluations, in order."""
    _require_user(principal)
    if repository.get_session(session, principal, session_id) is None:
        raise TutorSessionNotFound
    after = None if cursor is None else int(decode_cursor(cursor, int)[0])
    rows = repository.list_turns(session, principal, session_id, after=after, limit=limit + 1)
    page = paginate(rows, limit, lambda last: (last.turn,))
    return Page([_turn_read(turn) for turn in page.items], page.next_cursor)


def dialog_practice(
    session: Session, principal: Principal, dialog_id: uuid.UUID
) -> PracticeRecordRead:
    """Whether you completed a dialog before, how often, and your best score."""
    _require_user(principal)
    get_dialog(session, principal, dialog_id)
    record = repository.practice_record(session, principal, dialog_id)
    return PracticeRecordRead(
        dialog_id=dialog_id,
        practised_before=record.completed > 0,
        sessions=record.sessions,
        completed_sessions=record.completed,
        best_score=record.best_score,
        last_completed_at=record.last_completed_at,
    )


def suggest_dialogs(
    session: Session,
    principal: Principal,
    *,
    level: CefrLevel | None = None,
    language: str | None = None,
    limit: int = 5,
) -> DialogSuggestions:
    """The published dialogs at your level you practised least, least first; your level
    is that of your latest session unless given (A1 for a new learner)."""
    _require_user(principal)
    if level is None:
        latest = repository.latest_level(session, principal)
        level = CefrLevel(latest) if latest is not None else CefrLevel.A1
    found = repository.suggestions(
        session,
        principal,
        level=level.value,
        language=language,
        limit=max(1, min(limit, MAX_SUGGESTIONS)),
    )
    reads = _dialog_reads(session, [suggestion.dialog for suggestion in found])
    return DialogSuggestions(
        level=level,
        language=language,
        items=[
            DialogSuggestionRead(
                dialog=read,
                sessions=suggestion.sessions,
                completed_sessions=suggestion.completed,
                last_practised_at=suggestion.last_practised_at,
            )
            for read, suggestion in zip(reads, found, strict=True)
        ],
    )


def dialog_sessions_for_staff(
    session: Session,
    principal: Principal,
    dialog_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[StaffTutorSessionRead]:
    """Every learner's sessions of a dialog, with their email, newest first (staff)."""
    require_staff(principal, "read every learner's sessions of a dialog")
    if repository.get_dialog(session, dialog_id) is None:
        raise DialogNotFound
    rows = repository.sessions_of_dialog(
        session, principal, dialog_id, before=time_position(cursor), limit=limit + 1
    )
    page = paginate_by_time(rows, limit, lambda last: (last.session.created_at, last.session.id))
    return Page(
        [
            StaffTutorSessionRead(
                **_session_read(item.session).model_dump(),
                user_id=item.session.user_id,
                user_email=item.email,
            )
            for item in page.items
        ],
        page.next_cursor,
    )


def list_mistakes(
    session: Session,
    principal: Principal,
    *,
    language: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[WordMistakeRead]:
    """The words you missed or misspelled, with how often, the latest met first."""
    _require_user(principal)
    rows = repository.list_mistakes(
        session, principal, language=language, before=time_position(cursor), limit=limit + 1
    )
    page = paginate_by_time(rows, limit, lambda last: (last.last_seen_at, last.id))
    return Page([WordMistakeRead.model_validate(row) for row in page.items], page.next_cursor)


def export_tutoring(session: Session, principal: Principal) -> TutoringExport:
    """Everything of the caller's tutoring, for the account export."""
    return TutoringExport(
        sessions=[_session_read(row) for row in repository.all_sessions(session, principal)],
        turns=[_turn_read(turn) for turn in repository.all_turns(session, principal)],
        word_mistakes=[
            WordMistakeRead.model_validate(row)
            for row in repository.all_mistakes(session, principal)
        ],
    )


def _require_user(principal: Principal) -> uuid.UUID:
    if not principal.is_signed_in or principal.user_id is None:
        raise Forbidden("Sign in to practise.")
    return principal.user_id
