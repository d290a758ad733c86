"""Tutoring content: content files parsed and checked, imported and exported by key,
dialogs versioned, archived rather than deleted once practised, and purged on
purpose; the seed. Storage tests run on both databases."""

import json
import uuid

import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from convobase import demo
from convobase.core.content_files import ContentInvalid
from convobase.core.principal import Principal
from convobase.tutoring import content, service
from convobase.tutoring.errors import DialogKeyTaken, DialogNotFound, ScriptInvalid
from convobase.tutoring.models import DialogStatus
from convobase.tutoring.schemas import (
    LessonDialogUpdate,
    LibraryTextUpdate,
    TutoringContent,
    TutoringImportOutcome,
    TutorSessionCreate,
)
from tests.tutoring import dialogs
from tests.tutoring.dialogs import STAFF

# Content files


def test_the_shipped_file_holds_the_cafe_dialog_in_utf_8() -> None:
    shipped = content.shipped()

    (cafe,) = shipped.dialogs
    (text,) = shipped.texts
    assert (cafe.key, cafe.language, cafe.level.value, cafe.status) == (
        "en-el-cafe",
        "es",
        "A1",
        DialogStatus.PUBLISHED,
    )
    assert [role.name for role in cafe.roles] == ["María", "Carlos"]
    assert "María".encode() == b"Mar\xc3\xada"
    assert not any("√" in line.text for line in cafe.lines)
    assert text.key == "el-cafe-de-la-esquina"


@pytest.mark.parametrize("output", ["yaml", "json"])
def test_a_dumped_document_parses_back_to_itself(output: str) -> None:
    shipped = content.shipped()

    dumped = content.dump(shipped, output)  # type: ignore[arg-type]

    assert "María" in dumped  # not escaped
    assert content.parse(f"cafe.{output}", dumped.encode()) == shipped


def test_every_problem_of_a_file_is_named_with_where_it_is() -> None:
    broken = {
        "format": 1,
        "dialogs": [
            dialogs.short_body(
                level="D1",
                lines=[
                    {"role": "Ana", "text": "Hola.", "translation": "Hi."},
                    {"role": "Pedro", "text": "¿Qué?", "translation": "What?"},
                ],
            ),
            dialogs.short_body(
                key="two",
                roles=[{"name": "Ana"}, {"name": "ana"}],
                lines=[
                    {
                        "role": "Ana",
                        "text": "Hola.",
                        "translation": "Hi.",
                        "target_words": ["adiós"],
                    }
                ],
            ),
        ],
        "texts": [{"key": "x", "title": "X", "language": "es", "level": "A1"}],
    }

    with pytest.raises(ContentInvalid) as raised:
        content.parse("broken.json", json.dumps(broken))

    found = {(problem.path, problem.message) for problem in raised.value.problems}
    assert ("/dialogs/0/level", "Input should be 'A1', 'A2', 'B1', 'B2', 'C1' or 'C2'") in found
    assert ("/dialogs/0/lines/1/role", "'Pedro' is not a role (Ana, Luis)") in found
    assert ("/dialogs/1/roles/1/name", "is the name of /roles/0") in found
    assert ("/dialogs/1/lines/0/target_words/0", "'adiós' is not in the line") in found
    assert ("/texts/0/body", "Field required") in found
    assert raised.value.code == "content_invalid"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.yaml", b"dialogs: [", "is not valid YAML"),
        ("a.json", b"{", "is not valid JSON"),
        ("a.yaml", b"\xff\xfe", "is not UTF-8 text"),
        ("a.yaml", b"", "is empty"),
    ],
)
def test_a_file_that_does_not_parse_says_why(name: str, text: bytes, message: str) -> None:
    with pytest.raises(ContentInvalid, match=message):
        content.parse(name, text)


def test_a_problem_of_a_yaml_file_names_its_line() -> None:
    body = dialogs.short_body(lines=[{"role": "Pedro", "text": "Hola.", "translation": "Hi."}])
    text = yaml.safe_dump({"dialogs": [body]}, allow_unicode=True, sort_keys=False)

    with pytest.raises(ContentInvalid) as raised:
        content.parse("saludos.yaml", text)

    problem = next(p for p in raised.value.problems if p.path == "/dialogs/0/lines/0/role")
    assert problem.line is not None
    assert text.splitlines()[problem.line - 1].strip() == "- role: Pedro"
    assert str(problem) == (
        f"saludos.yaml: /dialogs/0/lines/0/role (line {problem.line}): "
        "'Pedro' is not a role (Ana, Luis)"
    )


def test_a_key_repeated_in_one_mapping_is_refused_with_its_line() -> None:
    text = "dialogs: []\ntexts: []\ndialogs: []\n"

    with pytest.raises(ContentInvalid) as raised:
        content.parse("twice.yaml", text)

    assert [str(problem) for problem in raised.value.problems] == [
        'twice.yaml: line 3: repeats the key "dialogs" of line 1'
    ]


def test_a_key_repeated_in_one_json_object_is_refused() -> None:
    with pytest.raises(ContentInvalid, match='the key "texts" appears twice in one object'):
        content.parse("twice.json", '{"texts": [], "texts": []}')


def test_a_file_of_nested_aliases_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]

    with pytest.raises(ContentInvalid, match="more than 2000000 values"):
        content.parse("laughs.yaml", "\n".join(lines))


def test_a_playable_role_without_a_line_is_refused(session: Session) -> None:
    body = dialogs.short_body(roles=[{"name": "Ana"}, {"name": "Luis"}, {"name": "Eva"}])

    with pytest.raises(ScriptInvalid) as refused:
        dialogs.dialog(session, body)

    assert refused.value.problems == [("/roles/2", "'Eva' is playable but has no line")]
    assert refused.value.code == "lesson_dialog_script_invalid"


def test_a_dialog_needs_a_role_learners_may_play(session: Session) -> None:
    body = dialogs.short_body(
        roles=[{"name": "Ana", "playable": False}, {"name": "Luis", "playable": False}]
    )

    with pytest.raises(ScriptInvalid, match="at least one role must be playable"):
        dialogs.dialog(session, body)


def test_variants_and_target_words_are_given_once(session: Session) -> None:
    body = dialogs.short_body()
    body["lines"][2]["variants"] = ["Un té, por favor", "UN TE POR FAVOR"]
    body["lines"][2]["target_words"] = ["té", "te"]

    with pytest.raises(ScriptInvalid) as refused:
        dialogs.dialog(session, body)

    assert [path for path, _ in refused.value.problems] == [
        "/lines/2/variants/1",
        "/lines/2/target_words/1",
    ]


def test_files_defining_one_key_twice_are_refused_together(
    tmp_path: pytest.TempPathFactory,
) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"  # type: ignore[operator]
    for path in (first, second):
        path.write_text(yaml.safe_dump({"dialogs": [dialogs.short_body()]}), "utf-8")

    with pytest.raises(ContentInvalid, match="is defined in"):
        content.load_all([first, second])


# Import and export


def test_an_import_creates_then_changes_nothing_then_updates_with_a_new_version(
    session: Session,
) -> None:
    document = TutoringContent.model_validate(
        {"dialogs": [dialogs.short_body()], "texts": [_text_body()]}, strict=False
    )

    first = service.import_content(session, STAFF, document=document)
    again = service.import_content(session, STAFF, document=document)
    changed = document.model_copy(deep=True)
    changed.dialogs[0].lines[2].text = "Un té con limón, por favor."
    changed.dialogs[0].lines[2].variants = []
    changed.texts[0].title = "Otro título"
    third = service.import_content(session, STAFF, document=changed)

    assert [(i.outcome, i.version) for i in first.dialogs + first.texts] == [
        (TutoringImportOutcome.CREATED, 1),
        (TutoringImportOutcome.CREATED, 1),
    ]
    assert [i.outcome for i in again.dialogs + again.texts] == [TutoringImportOutcome.UNCHANGED] * 2
    assert [(i.outcome, i.version) for i in third.dialogs + third.texts] == [
        (TutoringImportOutcome.UPDATED, 2),  # a new script: a new version
        (TutoringImportOutcome.UPDATED, 1),  # a new title: the body, and version, stay
    ]


def test_a_dry_run_reports_and_writes_nothing(session: Session) -> None:
    document = TutoringContent.model_validate({"dialogs": [dialogs.short_body()]}, strict=False)

    report = service.import_content(session, STAFF, document=document, dry_run=True)

    assert report.dry_run
    assert [i.outcome for i in report.dialogs] == [TutoringImportOutcome.CREATED]
    assert service.export_content(session, STAFF, dialog_keys=["short"]).dialogs == []


def test_an_export_imports_to_the_same_content(session: Session) -> None:
    dialogs.cafe(session)
    dialogs.text(session)

    exported = service.export_content(session, STAFF)
    report = service.import_content(session, STAFF, document=exported)

    assert [d.key for d in exported.dialogs] == ["cafe"]
    assert [t.key for t in exported.texts] == ["esquina"]
    assert exported.dialogs[0].lines[1].target_words == ["café", "leche", "por favor"]
    assert {i.outcome for i in report.dialogs + report.texts} == {TutoringImportOutcome.UNCHANGED}


def test_learners_may_not_import_or_export(session: Session, user: Principal) -> None:
    from convobase.core.errors import Forbidden

    with pytest.raises(Forbidden):
        service.export_content(session, user)


# Managing dialogs


def test_a_new_script_makes_a_new_version_and_other_changes_do_not(session: Session) -> None:
    created = dialogs.dialog(session)

    retitled = service.update_dialog(
        session, STAFF, created.id, data=LessonDialogUpdate(title="Hola y adiós")
    )
    body = dialogs.short_body()
    body["lines"][1]["text"] = "Bien, ¿y tú?"
    rescripted = service.update_dialog(
        session,
        STAFF,
        created.id,
        data=LessonDialogUpdate.model_validate(
            {"roles": body["roles"], "lines": body["lines"]}, strict=False
        ),
    )

    assert (retitled.title, retitled.version) == ("Hola y adiós", 1)
    assert rescripted.version == 2
    assert rescripted.lines[1].text == "Bien, ¿y tú?"


def test_roles_and_lines_replace_the_script_together() -> None:
    with pytest.raises(ValidationError, match="give roles and lines together"):
        LessonDialogUpdate.model_validate({"roles": [{"name": "Ana"}]}, strict=False)


def test_a_key_is_taken_once(session: Session) -> None:
    dialogs.dialog(session)

    with pytest.raises(DialogKeyTaken):
        dialogs.dialog(session)


def test_learners_see_published_and_archived_dialogs_never_drafts(
    session: Session, user: Principal
) -> None:
    draft = dialogs.dialog(session, dialogs.short_body(key="draft", status="draft"))
    published = dialogs.dialog(session, dialogs.short_body(key="published"))

    listed = service.list_dialogs(session, user)

    assert [d.key for d in listed.items] == ["published"]
    assert service.get_dialog(session, user, published.id).roles[0].lines == 2
    with pytest.raises(DialogNotFound):
        service.get_dialog(session, user, draft.id)
    assert service.get_dialog(session, STAFF, draft.id).status is DialogStatus.DRAFT


def test_a_dialog_nobody_practised_is_deleted(session: Session) -> None:
    created = dialogs.dialog(session)

    assert service.delete_dialog(session, STAFF, created.id) is None
    with pytest.raises(DialogNotFound):
        service.get_dialog(session, STAFF, created.id)


def test_a_practised_dialog_is_archived_and_its_sessions_stay(
    session: Session, user: Principal
) -> None:
    created = dialogs.dialog(session)
    started = _start(session, user, created.id)

    archived = service.delete_dialog(session, STAFF, created.id)

    assert archived is not None
    assert archived.status is DialogStatus.ARCHIVED
    assert service.get_session(session, user, started).dialog_id == created.id
    assert service.list_dialogs(session, user).items == []


def test_a_purge_deletes_the_dialog_with_every_learners_sessions(
    session: Session, user: Principal, other_user: Principal
) -> None:
    created = dialogs.dialog(session)
    kept = dialogs.dialog(session, dialogs.short_body(key="kept"))
    for learner in (user, other_user):
        _start(session, learner, created.id)
    mine = _start(session, user, kept.id)

    report = service.purge_dialog(session, STAFF, created.id)

    assert (report.key, report.sessions_deleted) == ("short", 2)
    assert [s.id for s in service.list_sessions(session, user).items] == [mine]
    assert service.list_sessions(session, other_user).items == []
    with pytest.raises(DialogNotFound):
        service.get_dialog_for_staff(session, STAFF, created.id)


def test_a_text_that_was_read_is_archived_and_hidden_from_learners(
    session: Session, user: Principal
) -> None:
    text = dialogs.text(session)
    service.start_session(session, user, data=TutorSessionCreate(text_id=text.id))

    archived = service.delete_text(session, STAFF, text.id)
    changed = service.update_text(
        session, STAFF, text.id, data=LibraryTextUpdate(body="Una frase nueva.")
    )

    assert archived is not None
    assert archived.archived_at is not None
    assert changed.version == 2
    assert service.list_texts(session, user).items == []
    assert [t.key for t in service.list_texts(session, STAFF).items] == ["esquina"]


# The seed


def test_the_seed_imports_the_cafe_dialog_and_text_once(session: Session) -> None:
    first = demo.seed(session)
    second = demo.seed(session)

    assert first.tutoring_summary() == (
        "Created the lesson dialog en-el-cafe and the library text el-cafe-de-la-esquina."
    )
    assert second.tutoring is not None
    assert [i.outcome for i in second.tutoring.dialogs + second.tutoring.texts] == [
        TutoringImportOutcome.KEPT
    ] * 2
    assert second.tutoring_summary() is None


def test_the_seed_keeps_a_seeded_dialog_that_staff_edited(session: Session) -> None:
    demo.seed(session)
    (cafe,) = service.export_content(session, STAFF, dialog_keys=["en-el-cafe"]).dialogs
    dialog_id = service.list_dialogs(session, STAFF).items[0].id
    service.update_dialog(session, STAFF, dialog_id, data=LessonDialogUpdate(title="Café"))

    demo.seed(session)

    assert cafe.title == "En el café"
    assert service.get_dialog(session, STAFF, dialog_id).title == "Café"


def _start(session: Session, learner: Principal, dialog_id: uuid.UUID) -> uuid.UUID:
    data = TutorSessionCreate(dialog_id=dialog_id, selected_role="Ana")
    return service.start_session(session, learner, data=data).id


def _text_body() -> dict[str, object]:
    return {
        "key": "esquina",
        "title": "El café de la esquina",
        "language": "es",
        "level": "A1",
        "body": "En mi barrio hay un café pequeño.",
    }
