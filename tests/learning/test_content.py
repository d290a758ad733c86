"""Course content as files (both databases): parsed with every problem named by file,
path and line; imported idempotently by stable keys, prerequisites first; exported to
a file that imports to the same catalog; and the seed that ships as one."""

import json
from importlib.resources import files
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from sqlalchemy.orm import Session

from convobase import demo
from convobase.core import content_files
from convobase.core.content_files import ContentInvalid
from convobase.core.errors import Forbidden
from convobase.core.principal import Principal
from convobase.learning import content, questions, service
from convobase.learning.content import ContentFile, Outcome
from convobase.learning.errors import CourseNotFound
from convobase.learning.schemas import CourseUpdate
from tests.learning.catalog import QUESTIONS

RULES = {"key": "rules", "title": "The rules", "duration_minutes": 10}
POSITIONS = {"key": "positions", "title": "Positions"}


def assessment(key: str = "basics", **fields: Any) -> dict[str, Any]:
    return {
        "key": key,
        "title": f"Quiz {key}",
        "difficulty": "easy",
        "questions": QUESTIONS,
        **fields,
    }


def course(key: str, **fields: Any) -> dict[str, Any]:
    return {
        "key": key,
        "title": f"Course {key}",
        "level": "beginner",
        "sections": [RULES, POSITIONS],
        **fields,
    }


def content_file(*courses: dict[str, Any], name: str = "courses.yaml") -> ContentFile:
    document = {"courses": list(courses)}
    if name.endswith(".json"):
        return content.parse(name, json.dumps(document))
    return content.parse(name, yaml.safe_dump(document, sort_keys=False))


def import_files(session: Session, staff: Principal, *parsed: ContentFile) -> content.ImportReport:
    return service.import_content(session, staff, files=parsed)


def outcomes(report: content.ImportReport) -> dict[str, Any]:
    return {
        course.key: (
            course.outcome,
            {a.key: (a.outcome, a.version) for a in course.assessments},
        )
        for course in report.courses
    }


def problems(error: pytest.ExceptionInfo[ContentInvalid]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


# Importing


def test_an_import_creates_courses_with_their_sections_and_assessments(
    session: Session, staff: Principal
) -> None:
    parsed = content_file(course("poker", tags=["poker", "basics"], assessments=[assessment()]))

    report = import_files(session, staff, parsed)

    assert outcomes(report) == {"poker": (Outcome.CREATED, {"basics": (Outcome.CREATED, 1)})}
    assert report.changed
    assert report.summary() == "1 course (1 created); 1 assessment (1 created)."
    (exported,) = service.export_content(session, staff, course_keys=["poker"]).courses
    assert [section.key for section in exported.sections] == ["rules", "positions"]
    assert exported.tags == ["basics", "poker"]
    assert exported.assessments[0].questions == QUESTIONS


def test_an_assessment_without_an_attempt_limit_is_created_without_one(
    session: Session, staff: Principal
) -> None:
    parsed = content_file(course("poker", assessments=[assessment(max_attempts=None)]))
    import_files(session, staff, parsed)

    again = import_files(session, staff, parsed)

    assert not again.changed


def test_importing_the_same_file_again_changes_nothing(session: Session, staff: Principal) -> None:
    parsed = content_file(
        course("poker", tags=["poker"], assessments=[assessment(), assessment("second")]),
        course("later", prerequisites=["poker"], is_active=False),
    )
    import_files(session, staff, parsed)
    before = service.export_content(session, staff)

    again = import_files(session, staff, parsed)

    assert not again.changed
    assert outcomes(again) == {
        "poker": (
            Outcome.UNCHANGED,
            {"basics": (Outcome.UNCHANGED, 1), "second": (Outcome.UNCHANGED, 1)},
        ),
        "later": (Outcome.UNCHANGED, {}),
    }
    assert again.summary() == (
        "Nothing changed: 2 courses and 2 assessments already as the files say."
    )
    assert service.export_content(session, staff) == before


def test_a_changed_question_makes_a_new_version_of_that_assessment_only(
    session: Session, staff: Principal
) -> None:
    import_files(
        session,
        staff,
        content_file(course("poker", assessments=[assessment(), assessment("second")])),
    )
    changed = [{**QUESTIONS[0], "prompt": "Which seat acts last on the river?"}, *QUESTIONS[1:]]

    report = import_files(
        session,
        staff,
        content_file(
            course("poker", assessments=[assessment(questions=changed), assessment("second")])
        ),
    )

    assert outcomes(report) == {
        "poker": (
            Outcome.UNCHANGED,
            {"basics": (Outcome.UPDATED, 2), "second": (Outcome.UNCHANGED, 1)},
        )
    }
    exported = service.export_content(session, staff).courses[0]
    assert exported.assessments[0].questions[0]["prompt"] == "Which seat acts last on the river?"


def test_a_changed_title_updates_an_assessment_without_a_new_version(
    session: Session, staff: Principal
) -> None:
    import_files(session, staff, content_file(course("poker", assessments=[assessment()])))

    report = import_files(
        session, staff, content_file(course("poker", assessments=[assessment(title="Renamed")]))
    )

    assert outcomes(report)["poker"][1] == {"basics": (Outcome.UPDATED, 1)}


def test_a_course_changed_in_the_file_is_updated_and_its_sections_matched_by_key(
    session: Session, staff: Principal
) -> None:
    import_files(session, staff, content_file(course("poker", description="Old")))

    report = import_files(
        session,
        staff,
        content_file(course("poker", sections=[POSITIONS, {"key": "odds", "title": "Odds"}])),
    )

    assert outcomes(report) == {"poker": (Outcome.UPDATED, {})}
    exported = service.export_content(session, staff).courses[0]
    assert exported.description is None  # what a file leaves out is its default
    assert [section.key for section in exported.sections] == ["positions", "odds"]


def test_an_assessment_the_file_no_longer_lists_is_deactivated_once(
    session: Session, staff: Principal
) -> None:
    import_files(
        session, staff, content_file(course("poker", assessments=[assessment(), assessment("old")]))
    )
    parsed = content_file(course("poker", assessments=[assessment()]))

    first = import_files(session, staff, parsed)
    second = import_files(session, staff, parsed)

    assert outcomes(first)["poker"][1] == {
        "basics": (Outcome.UNCHANGED, 1),
        "old": (Outcome.DEACTIVATED, 1),
    }
    assert not second.changed
    kept = service.export_content(session, staff).courses[0].assessments
    assert [(a.key, a.is_active) for a in kept] == [("basics", True), ("old", False)]


def test_a_prerequisite_is_named_by_key_and_may_come_later_in_the_same_file(
    session: Session, staff: Principal
) -> None:
    parsed = content_file(
        course("advanced", prerequisites=["intermediate", "basics"]),
        course("intermediate", prerequisites=["basics"]),
        course("basics"),
    )

    report = import_files(session, staff, parsed)

    assert [created.key for created in report.courses] == ["basics", "intermediate", "advanced"]
    exported = {c.key: c for c in service.export_content(session, staff).courses}
    assert exported["advanced"].prerequisites == ["basics", "intermediate"]
    assert exported["intermediate"].prerequisites == ["basics"]


def test_a_prerequisite_may_be_a_course_of_the_catalog(session: Session, staff: Principal) -> None:
    import_files(session, staff, content_file(course("basics")))

    report = import_files(session, staff, content_file(course("next", prerequisites=["basics"])))

    assert outcomes(report) == {"next": (Outcome.CREATED, {})}


def test_a_prerequisite_that_is_no_course_is_refused_where_it_is_named(
    session: Session, staff: Principal
) -> None:
    parsed = content_file(course("basics"), course("next", prerequisites=["basics", "nowhere"]))

    with pytest.raises(ContentInvalid) as error:
        import_files(session, staff, parsed)

    assert problems(error) == [
        "courses.yaml: /courses/1/prerequisites/1 (line 21): no course has the key 'nowhere', "
        "in these files or in the catalog"
    ]


def test_a_cycle_across_files_is_refused_and_nothing_is_written(
    session: Session, staff: Principal
) -> None:
    first = content_file(course("a", prerequisites=["b"]), name="a.yaml")
    second = content_file(
        course("b", prerequisites=["c"]), course("c", prerequisites=["a"]), name="b.yaml"
    )

    with pytest.raises(ContentInvalid) as error:
        import_files(session, staff, first, second)

    (problem,) = error.value.problems
    assert (problem.file, problem.path) == ("a.yaml", "/courses/0/prerequisites/0")
    assert problem.message == (
        "these prerequisites would form a cycle: a (a.yaml) → b (b.yaml) → c (b.yaml) → a (a.yaml)"
    )
    with pytest.raises(CourseNotFound):
        service.export_content(session, staff, course_keys=["a", "b", "c"])


def test_a_cycle_with_the_catalog_is_refused(session: Session, staff: Principal) -> None:
    import_files(session, staff, content_file(course("a"), course("b", prerequisites=["a"])))

    with pytest.raises(ContentInvalid) as error:
        import_files(
            session, staff, content_file(course("a", prerequisites=["b"]), name="again.yaml")
        )

    assert problems(error) == [
        "again.yaml: /courses/0/prerequisites/0 (line 12): these prerequisites would form a "
        "cycle: a (again.yaml) → b (the catalog) → a (again.yaml)"
    ]


def test_a_file_may_turn_prerequisites_around(session: Session, staff: Principal) -> None:
    import_files(session, staff, content_file(course("a"), course("b", prerequisites=["a"])))

    report = import_files(
        session, staff, content_file(course("a", prerequisites=["b"]), course("b"))
    )

    assert [(c.key, c.outcome) for c in report.courses] == [
        ("b", Outcome.UPDATED),
        ("a", Outcome.UPDATED),
    ]


def test_a_course_defined_in_two_files_is_refused(session: Session, staff: Principal) -> None:
    with pytest.raises(ContentInvalid) as error:
        import_files(
            session,
            staff,
            content_file(course("poker"), name="one.yaml"),
            content_file(course("other"), course("poker"), name="two.yaml"),
        )

    assert problems(error) == [
        "two.yaml: /courses/1/key (line 13): the course is defined in one.yaml at /courses/0 too"
    ]


def test_what_the_catalog_refuses_is_reported_at_its_course(
    session: Session, staff: Principal
) -> None:
    import_files(session, staff, content_file(course("poker", title="Poker")))

    with pytest.raises(ContentInvalid) as error:
        import_files(session, staff, content_file(course("other", title="Poker"), name="x.json"))

    assert problems(error) == ["x.json: /courses/0: A course of this level has this title already."]


def test_only_staff_import_and_export(session: Session, user: Principal) -> None:
    with pytest.raises(Forbidden):
        import_files(session, user, content_file(course("poker")))
    with pytest.raises(Forbidden):
        service.export_content(session, user)


# Exporting


def test_an_export_imports_to_the_same_catalog(session: Session, staff: Principal) -> None:
    import_files(
        session,
        staff,
        content_file(
            course(
                "poker",
                description="Cards & chips: ünïcödé ♠",
                duration_minutes=90,
                video_url="https://example.com/poker.mp4",
                tags=["poker"],
                assessments=[
                    assessment(
                        time_limit_minutes=15,
                        pass_threshold=80,
                        scoring_config={"weights": {"pot-odds": 2}, "grade_method": "last"},
                    ),
                    assessment("retired", is_active=False, max_attempts=None),
                ],
            ),
            course("advanced", prerequisites=["poker"], level="advanced", sections=[]),
        ),
    )
    service.update_course(
        session,
        staff,
        service.get_course(session, staff, _course_id(session, staff, "poker")).id,
        data=CourseUpdate(title="Renamed by hand", tags=["other"]),
    )
    exported = service.export_content(session, staff)
    for output in ("yaml", "json"):
        text = content.dump(exported, output)
        name = f"export.{output}"

        report = import_files(session, staff, content.parse(name, text))

        assert not report.changed
        assert service.export_content(session, staff) == exported


def test_an_export_restores_what_was_changed_since(session: Session, staff: Principal) -> None:
    import_files(session, staff, content_file(course("poker", tags=["poker"])))
    exported = service.export_content(session, staff)
    poker = _course_id(session, staff, "poker")
    service.update_course(session, staff, poker, data=CourseUpdate(title="Changed", tags=[]))

    report = import_files(session, staff, content.parse("back.yaml", content.dump(exported)))

    assert outcomes(report) == {"poker": (Outcome.UPDATED, {})}
    assert service.export_content(session, staff) == exported


def test_an_export_of_unknown_keys_is_refused(session: Session, staff: Principal) -> None:
    with pytest.raises(CourseNotFound, match="nowhere"):
        service.export_content(session, staff, course_keys=["nowhere"])


def test_an_export_leaves_defaults_out(session: Session, staff: Principal) -> None:
    import_files(
        session, staff, content_file(course("poker", sections=[], assessments=[assessment()]))
    )

    text = content.dump(service.export_content(session, staff, course_keys=["poker"]), "json")

    assert json.loads(text) == {
        "format": 1,
        "courses": [
            {
                "key": "poker",
                "title": "Course poker",
                "level": "beginner",
                "assessments": [
                    {
                        "key": "basics",
                        "title": "Quiz basics",
                        "difficulty": "easy",
                        "questions": QUESTIONS,
                    }
                ],
            }
        ],
    }


def _course_id(session: Session, staff: Principal, key: str) -> Any:
    page = service.list_all_courses(session, staff, limit=100)
    return next(course.id for course in page.items if course.key == key)


# Parsing: every problem by file, path and line


def test_a_yaml_syntax_error_is_reported_with_its_line_and_column() -> None:
    text = "courses:\n  - key: poker\n    title: Poker: the game\n"

    with pytest.raises(ContentInvalid) as error:
        content.parse("courses.yaml", text)

    assert problems(error) == [
        "courses.yaml: line 3, column 17: is not valid YAML: mapping values are not allowed here"
    ]


def test_a_json_syntax_error_is_reported_with_its_line_and_column() -> None:
    with pytest.raises(ContentInvalid) as error:
        content.parse("courses.json", '{\n  "courses": [,]\n}')

    assert problems(error) == [
        "courses.json: line 2, column 15: is not valid JSON: Expecting value"
    ]


def test_a_bad_question_is_reported_under_its_assessment() -> None:
    bad = {**QUESTIONS[0], "choices": [{"id": "a", "text": "Small blind"}]}
    text = yaml.safe_dump(
        {
            "courses": [
                course(
                    "poker",
                    assessments=[
                        assessment(),
                        assessment("second", questions=[*QUESTIONS[1:], bad]),
                    ],
                )
            ]
        },
        sort_keys=False,
    )

    with pytest.raises(ContentInvalid) as error:
        content.parse("courses.yaml", text)

    (problem,) = error.value.problems
    assert problem.path == "/courses/0/assessments/1/questions/2/choices"
    assert str(problem).startswith(
        "courses.yaml: /courses/0/assessments/1/questions/2/choices (line "
    )
    assert str(problem).endswith("): must have at least 2 entries (it has 1)")
    assert text.splitlines()[problem.line - 1 if problem.line else 0].strip() == "choices:"


def test_every_problem_of_a_file_is_reported_in_file_order() -> None:
    text = yaml.safe_dump(
        {
            "courses": [
                course(
                    "poker",
                    level="expert",
                    prerequisites=["poker"],
                    tags=["a", "a"],
                    assessments=[
                        assessment(scoring_config={"weights": {"nobody": 1}}, colour="red"),
                        assessment(questions="none"),
                    ],
                ),
                course("poker", sections=[RULES, RULES]),
                {"title": ""},
            ]
        },
        sort_keys=False,
    )

    with pytest.raises(ContentInvalid) as error:
        content.parse("many.yaml", text)

    assert [(problem.path, problem.message) for problem in error.value.problems] == [
        ("/courses/0/assessments/0/colour", "is not allowed here"),
        (
            "/courses/0/assessments/0/scoring_config/weights/nobody",
            'no question has the id "nobody"',
        ),
        ("/courses/0/assessments/1/key", "is the key of /courses/0/assessments/0 too"),
        ("/courses/0/assessments/1/questions", "must be an array"),
        ("/courses/0/level", "must be 'beginner', 'intermediate' or 'advanced'"),
        ("/courses/0/prerequisites/0", "a course cannot require itself"),
        ("/courses/1/key", "is the key of /courses/0 too"),
        ("/courses/1/sections", "section keys must not repeat"),
        ("/courses/2/key", "is required"),
        ("/courses/2/level", "is required"),
        ("/courses/2/title", "must not be empty"),
    ]
    assert all(problem.line for problem in error.value.problems)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.yaml", "", "empty.yaml: is empty: it must list `courses`"),
        (
            "list.json",
            "[]",
            "list.json: must be an object",
        ),
        (
            "twice.yaml",
            "courses: []\ncourses: []\n",
            'twice.yaml: line 2: repeats the key "courses" of line 1',
        ),
        (
            "twice.json",
            '{"courses": [], "courses": []}',
            'twice.json: the key "courses" appears twice in one object',
        ),
        (
            "latin1.yaml",
            b"courses: caf\xe9",
            "latin1.yaml: is not UTF-8 text (byte 12 cannot be read)",
        ),
        (
            "nothing.yaml",
            "courses: []",
            "nothing.yaml: /courses (line 1): must have at least 1 entry (it has 0)",
        ),
        (
            "later.yaml",
            "format: 2\ncourses: []",
            "later.yaml: /format (line 1): must be at most 1",
        ),
        (
            "tag.yaml",
            "!!python/object:os.system {}",
            "tag.yaml: line 1, column 1: is not valid YAML: could not determine a constructor "
            "for the tag 'tag:yaml.org,2002:python/object:os.system'",
        ),
    ],
)
def test_what_is_not_a_content_file_is_refused(name: str, text: str | bytes, message: str) -> None:
    with pytest.raises(ContentInvalid) as error:
        content.parse(name, text)

    assert message in problems(error)


def test_a_file_of_nested_aliases_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]

    with pytest.raises(ContentInvalid, match="more than 2000000 values"):
        content.parse("laughs.yaml", "\n".join(lines))


# The published schema and the shipped content


def test_the_published_schema_is_the_models() -> None:
    published = files("convobase.learning").joinpath(content.SCHEMA_FILE).read_text("utf-8")

    assert published == content.schema_text(), (
        "regenerate it: .venv/bin/python -c 'from convobase.learning import content; "
        'print(content.schema_text(), end="")\' > src/convobase/learning/content.schema.json'
    )


def test_the_shipped_content_follows_the_published_schema() -> None:
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema))
        for schema in (questions.QUESTIONS_SCHEMA, questions.SCORING_SCHEMA)
    )
    validator = Draft202012Validator(content.json_schema(), registry=registry)
    directory = files("convobase.learning").joinpath(content_files.SHIPPED_DIRECTORY)
    shipped = [entry for entry in directory.iterdir() if entry.name.endswith(".yaml")]

    assert shipped
    for entry in shipped:
        assert list(validator.iter_errors(yaml.safe_load(entry.read_text("utf-8")))) == []
    broken = {"courses": [{**course("x"), "assessments": [assessment(questions=[{"id": "q"}])]}]}
    assert not validator.is_valid(broken)


# The seed


def test_the_seed_creates_the_coaches_and_the_course_once(session: Session) -> None:
    first = demo.seed(session)
    second = demo.seed(session)

    assert first.personas >= len(demo.POKER_COACHES)
    assert first.courses.created() == ["poker-fundamentals"]
    assert second.personas == 0
    assert [(c.key, c.outcome) for c in second.courses.courses] == [
        ("poker-fundamentals", Outcome.KEPT)
    ]
    assert second.summary() == "Demo personas and courses present: nothing created."


def test_the_seeded_course_has_sections_and_an_assessment_of_every_story_kind(
    session: Session,
) -> None:
    demo.seed(session)

    (poker,) = service.export_content(
        session, demo.DEV_STAFF, course_keys=["poker-fundamentals"]
    ).courses
    (check,) = poker.assessments

    assert len(poker.sections) >= 3
    assert {question["kind"] for question in check.questions} == {
        "ordering",
        "single_choice",
        "numeric",
        "true_false",
        "short_text",
    }
    numeric = next(question for question in check.questions if question["kind"] == "numeric")
    assert numeric["tolerance"] > 0
    questions.validate_assessment(check.questions, check.scoring_config)


def test_the_seed_keeps_a_seeded_course_that_staff_edited(session: Session) -> None:
    demo.seed(session)
    poker = _course_id(session, demo.DEV_STAFF, "poker-fundamentals")
    service.update_course(session, demo.DEV_STAFF, poker, data=CourseUpdate(title="Our poker"))

    demo.seed(session)

    assert service.get_course(session, demo.DEV_STAFF, poker).title == "Our poker"


def test_the_poker_coaches_cover_the_story_specializations() -> None:
    assert {coach.specialization for coach in demo.POKER_COACHES} >= {
        "tournament",
        "cash",
        "theory",
    }
    assert len({coach.conversation_style for coach in demo.POKER_COACHES}) == len(
        demo.POKER_COACHES
    )
