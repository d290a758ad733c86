"""Flows as data: the shipped ones load and check, a broken definition is refused with
the reason, answers are checked field by field, and an upgrade maps phases and answers
(no database)."""

import copy
import json
from importlib.resources import files
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from convobase.onboarding import journey
from convobase.onboarding.flow import FlowCatalog, FlowError, default_catalog, load_flow
from convobase.onboarding.journey import RepairReason, Stored


def shipped(name: str) -> dict[str, Any]:
    text = (files("convobase.onboarding") / "flows" / f"{name}.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def flow_document(key: str, version: int, phases: list[str], **extra: Any) -> dict[str, Any]:
    """A small flow whose phases each ask one required question, `value`."""
    return {
        "key": key,
        "version": version,
        "title": key,
        "phases": [
            {
                "key": phase,
                "title": phase,
                "required": True,
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["value"],
                    "properties": {"value": {"type": "string", "maxLength": 20}},
                },
            }
            for phase in phases
        ],
        **extra,
    }


def test_the_running_coach_ships_in_two_versions_the_latest_by_default() -> None:
    catalog = default_catalog()

    assert [flow.name for flow in catalog] == ["running-coach@1", "running-coach@2"]
    assert catalog.default.name == "running-coach@2"
    assert [phase.key for phase in catalog.default.phases] == [
        "goal",
        "experience",
        "target_race",
        "recent_races",
        "schedule",
        "health",
        "preferences",
    ]


def test_every_shipped_flow_file_matches_the_published_flow_format() -> None:
    meta = json.loads((files("convobase.onboarding") / "flow.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(meta)

    for name in ("running-coach@1", "running-coach@2"):
        assert list(Draft202012Validator(meta).iter_errors(shipped(name))) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d["phases"][0].update(required=False), "optional phase's schema must accept"),
        (lambda d: d["phases"][1]["schema"].pop("required"), "required phase's schema must refuse"),
        (lambda d: d["phases"][0].update(skip_if={}), "the first phase cannot be skipped"),
        (
            lambda d: d["phases"][1].update(skip_if={"required": ["c"]}),
            "skip_if may only look at earlier phases",
        ),
        (lambda d: d["phases"][0].update(sets={"goals": ["nope"]}), "sets names fields"),
        (lambda d: d["phases"][2].update(key="a"), "is defined twice"),
        (lambda d: d["phases"][0]["schema"].update(type="array"), "must be of an object"),
        (lambda d: d["phases"][0]["schema"].update(minLength="x"), "not a valid JSON Schema"),
        (
            lambda d: d["phases"][0]["schema"].update(
                {"$schema": "http://json-schema.org/draft-07/schema#"}
            ),
            "schemas are Draft 2020-12",
        ),
        (lambda d: d.update(upgrade={"from_version": 1}), "nothing to upgrade from"),
        (lambda d: d.pop("title"), "'title' is a required property"),
    ],
)
def test_a_broken_flow_definition_is_refused_with_the_reason(change: Any, reason: str) -> None:
    document = flow_document("broken", 1, ["a", "b", "c"])
    change(document)

    with pytest.raises(FlowError, match=reason):
        load_flow(document)


def test_versions_must_follow_one_another_and_upgrades_name_real_phases() -> None:
    first = flow_document("test-flow", 1, ["a", "b"])

    with pytest.raises(FlowError, match="without gaps"):
        FlowCatalog.from_documents(
            [first, flow_document("test-flow", 3, ["a"])], default="test-flow"
        )
    with pytest.raises(FlowError, match="names 'z', no phase of test-flow@1"):
        FlowCatalog.from_documents(
            [
                first,
                flow_document(
                    "test-flow", 2, ["a"], upgrade={"from_version": 1, "phases": {"z": "a"}}
                ),
            ],
            default="test-flow",
        )
    with pytest.raises(FlowError, match="the default flow 'running-coach' is not defined"):
        FlowCatalog.from_documents([first])


def test_an_answer_that_does_not_fit_is_named_by_its_field() -> None:
    schedule = default_catalog().default.phase("schedule")
    assert schedule is not None

    errors = schedule.errors({"runs_per_week": 30, "available_days": ["someday"], "pace": "fast"})

    assert [(error.loc, error.type) for error in errors] == [
        (("available_days", 0), "enum"),
        (("pace",), "extra_forbidden"),
        (("runs_per_week",), "maximum"),
    ]


def test_saving_part_of_a_phase_is_fine_but_passing_it_needs_every_required_answer() -> None:
    goal = default_catalog().default.phase("goal")
    assert goal is not None

    assert goal.errors({"distance": "10K"}, partial=True) == []
    assert [error.loc for error in goal.errors({"distance": "10K"})] == [("has_race",)]


def test_a_phase_is_skipped_while_the_answers_so_far_match_its_skip_condition() -> None:
    race = default_catalog().default.phase("target_race")
    assert race is not None

    assert race.is_skipped({"goal": {"distance": "10K", "has_race": False}})
    assert not race.is_skipped({"goal": {"distance": "10K", "has_race": True}})
    assert not race.is_skipped({})


def test_an_upgrade_moves_and_renames_answers_as_the_mapping_says() -> None:
    answers = {
        "goal": {"distance": "marathon", "has_race": True},
        "race": {"race_date": "2027-10-10", "target_time": "3:59:00"},
        "injuries": {"injuries": ["knee"]},
        "units": {"units": "imperial"},
    }

    repair = journey.repair(
        default_catalog(), Stored("running-coach", 1, "units", copy.deepcopy(answers))
    )

    assert repair.flow.name == "running-coach@2"
    assert repair.upgraded_from == ["running-coach@1"]
    assert repair.reasons == []
    assert repair.answers == {
        "goal": {"distance": "marathon", "has_race": True},
        "target_race": {"race_date": "2027-10-10", "target_finish_time": "3:59:00"},
        "health": {"injuries": ["knee"]},
        "preferences": {"units": "imperial"},
    }
    # The phase version 2 added comes first: the session resumes there.
    assert repair.phase == "experience"


def test_a_phase_a_new_version_drops_without_a_mapping_is_a_repair() -> None:
    catalog = FlowCatalog.from_documents(
        [flow_document("test-flow", 1, ["a", "b", "c"]), flow_document("test-flow", 2, ["a", "c"])],
        default="test-flow",
    )
    stored = Stored("test-flow", 1, "b", {"a": {"value": "x"}, "b": {"value": "y"}})

    repair = journey.repair(catalog, stored)

    assert (repair.flow.name, repair.phase) == ("test-flow@2", "c")
    assert repair.answers == {"a": {"value": "x"}}
    assert repair.reasons == [RepairReason.PHASES_UNKNOWN, RepairReason.PHASE_UNKNOWN]
    assert repair.dropped == {"test-flow@1/b": {"value": "y"}}


def test_a_json_merge_patch_removes_nulls_and_merges_objects() -> None:
    target = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]}

    patched = journey.merge_patch(target, {"a": None, "b": {"c": None, "f": 4}, "e": [3]})

    assert patched == {"b": {"d": 3, "f": 4}, "e": [3]}
    assert target == {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]}
