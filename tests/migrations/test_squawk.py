"""Every revision's SQL for PostgreSQL passes squawk (https://squawkhq.com), the linter
that flags migrations which would lock or rewrite tables a running service needs.

Each revision's SQL is written offline, as `alembic upgrade --sql <previous>:<revision>`
writes it, so no database is needed, and linted alone, for PostgreSQL 15 (the oldest
convobase supports). A finding the project accepts is waived below, for its revision
and rule, with the reason; a waiver whose finding is gone fails too, so that the list
stays true. The SQL also shows that a migration run first limits how long it waits for
a lock (`lock_timeout`, docs/operations.md).

squawk comes with the dev dependencies (`squawk-cli`). Without it the squawk tests are
skipped, saying why; with CI=true that is a failure, as a missing npm is
(tests/clients/test_generated_clients.py).
"""

import io
import json
import os
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from convobase.db.migrate import alembic_config

IN_CI = os.environ.get("CI", "").lower() == "true"
OFFLINE_URL = "postgresql+psycopg://offline/convobase"
PG_VERSION = "15.0"
SQUAWK_SECONDS = 60

REVISIONS = [
    script.revision
    for script in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))
]

# Rules convobase follows in no revision, and why.
RULES_NOT_FOLLOWED = {
    "require-statement-timeout": (
        "a revision's statements may rightly run long on a large database (a backfill, an"
        " index build, a validating scan), and a timeout would leave that database unable"
        " to upgrade; what must be bounded is the wait behind other transactions, which"
        " the environment's lock_timeout bounds. A revision is one transaction, so an"
        " operator who stops a long one loses nothing"
    ),
}

SMALL_INTEGERS = (
    "no column takes its values from a sequence (ids are UUIDs), so none can run out: the"
    " INTEGER columns hold scores, ratings, versions, positions, counts, durations and"
    " process ids, far below 2^31, and bigint would widen every row for nothing"
)
LOCKED_BY_ADD_COLUMN = (
    "the revision's ADD COLUMN already holds tutor_sessions ACCESS EXCLUSIVE (no reads,"
    " no writes) until it commits, so building the index CONCURRENTLY would spare"
    " nothing, and it cannot run inside the revision's transaction"
)

# Findings convobase accepts, by (revision, rule): every finding of that rule in that
# revision is waived. Revisions that have been applied keep what they create, so their
# findings are waived rather than fixed; a new revision fixes what it can.
WAIVERS: dict[tuple[str, str], str] = {
    ("0001", "prefer-text-field"): (
        "the VARCHAR(32) is alembic_version.version_num, the column of Alembic's own"
        " table, which Alembic creates; convobase's own columns are TEXT"
    ),
    ("0001", "prefer-bigint-over-int"): SMALL_INTEGERS,
    ("0003", "adding-not-nullable-field"): (
        "conversations.user_id and messages.user_id become NOT NULL in the transaction"
        " that gives every guest row its owner; proving NOT NULL without a scan under"
        " ACCESS EXCLUSIVE needs a CHECK validated in an earlier transaction, which one"
        " atomic revision cannot have"
    ),
    ("0003", "ban-drop-constraint"): (
        "ck_conversations_has_owner is replaced in the same transaction by"
        " ck_conversations_guest_has_session and user_id NOT NULL, which together imply"
        " it: no row it refused gets in"
    ),
    ("0003", "constraint-missing-not-valid"): (
        "ck_conversations_guest_has_session is added while the transaction holds"
        " conversations ACCESS EXCLUSIVE (SET NOT NULL) until it commits; NOT VALID and"
        " VALIDATE in the same transaction would not shorten that"
    ),
    ("0003", "ban-drop-function"): (
        "convobase_guest_session() was read only by revision 0002's owner policies, which"
        " this revision has just replaced; no code calls it"
    ),
    ("0005", "prefer-bigint-over-int"): SMALL_INTEGERS,
    ("0006", "prefer-bigint-over-int"): SMALL_INTEGERS,
    ("0007", "require-concurrent-index-creation"): (
        "CREATE INDEX CONCURRENTLY cannot run inside a transaction, and a revision is one"
        " transaction so that one that fails leaves nothing behind; building"
        " ix_messages_unanalysed blocks writes to messages (not reads) while it runs, once"
    ),
    ("0007", "prefer-bigint-over-int"): SMALL_INTEGERS,
    ("0009", "prefer-bigint-over-int"): SMALL_INTEGERS,
    ("0010", "prefer-bigint-over-int"): SMALL_INTEGERS,
    ("0011", "prefer-bigint-over-int"): SMALL_INTEGERS,
    ("0012", "prefer-bigint-over-int"): SMALL_INTEGERS,
    ("0013", "prefer-bigint-over-int"): SMALL_INTEGERS,
    ("0014", "constraint-missing-not-valid"): (
        "the key on the new dialog_id is validated in the same transaction, under the"
        " ACCESS EXCLUSIVE lock the revision's ADD COLUMNs hold until it commits: every"
        " dialog_id is NULL, so the scan cannot fail, and a VALIDATE of its own would need"
        " a second transaction, which one atomic revision cannot have"
    ),
    ("0014", "require-concurrent-index-creation"): LOCKED_BY_ADD_COLUMN,
    ("0015", "constraint-missing-not-valid"): (
        "the CHECKs and the key go onto tutor_sessions while the revision's ADD COLUMNs"
        " hold it ACCESS EXCLUSIVE until it commits; NOT VALID and VALIDATE in the same"
        " transaction would not shorten that, and constraints left NOT VALID would not be"
        " the ones the models declare"
    ),
    ("0015", "adding-foreign-key-constraint"): (
        "conversation_id is new, so every value is NULL and validating the key reads only"
        " tutor_sessions (already locked by the ADD COLUMNs); conversations is kept from"
        " writes from then until the revision commits, which after it only creates new"
        " tables"
    ),
    ("0015", "require-concurrent-index-creation"): LOCKED_BY_ADD_COLUMN,
    ("0015", "prefer-bigint-over-int"): SMALL_INTEGERS,
}


@dataclass(frozen=True)
class Finding:
    rule: str
    line: int
    """1-based, in the revision's SQL."""
    message: str
    help: str | None


@cache
def offline_sql(revision: str) -> str:
    """The SQL for PostgreSQL that upgrading from the previous revision to `revision`
    runs, written without a database."""
    (script,) = [
        script
        for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
        if script.revision == revision
    ]
    previous = script.down_revision
    assert previous is None or isinstance(previous, str), "the history is one line"
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", OFFLINE_URL)
    config.output_buffer = io.StringIO()
    command.upgrade(config, revision if previous is None else f"{previous}:{revision}", sql=True)
    return config.output_buffer.getvalue()


@pytest.fixture(scope="session")
def squawk(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The squawk command line, configured by this module alone: an empty config file
    keeps a .squawk.toml in the directories above from changing what it checks."""
    search = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
    executable = shutil.which("squawk", path=search)
    if executable is None:
        reason = "squawk is not installed (squawk-cli), so the migrations are not linted"
        if IN_CI:
            pytest.fail(f"CI=true and squawk is required: {reason}")
        pytest.skip(reason)
    config = tmp_path_factory.mktemp("squawk") / ".squawk.toml"
    config.write_text("")
    return [
        executable,
        f"--config={config}",
        "--reporter=json",
        f"--pg-version={PG_VERSION}",
        f"--exclude={','.join(RULES_NOT_FOLLOWED)}",
    ]


def lint(squawk: list[str], revision: str) -> list[Finding]:
    done = subprocess.run(
        [*squawk, f"--stdin-filepath={revision}.sql"],
        input=offline_sql(revision),
        capture_output=True,
        text=True,
        timeout=SQUAWK_SECONDS,
    )
    if done.returncode not in (0, 1):  # 1: it found something
        pytest.fail(f"squawk exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return [
        Finding(item["rule_name"], item["line"] + 1, item["message"], item["help"])
        for item in json.loads(done.stdout)
    ]


@pytest.mark.parametrize("revision", REVISIONS)
def test_squawk_finds_nothing_unwaived_in_a_revisions_sql(squawk: list[str], revision: str) -> None:
    findings = lint(squawk, revision)
    waived = {rule for (waived_revision, rule) in WAIVERS if waived_revision == revision}

    lines = offline_sql(revision).splitlines()
    unwaived = [
        f"  line {finding.line} {finding.rule}: {finding.message}"
        f"{f' ({finding.help})' if finding.help else ''}\n    {lines[finding.line - 1].strip()}"
        for finding in findings
        if finding.rule not in waived
    ]
    stale = sorted(waived - {finding.rule for finding in findings})
    problems = []
    if unwaived:
        problems.append(
            f"squawk's findings in revision {revision}'s SQL (fix the revision, or waive the"
            f" rule for it in {Path(__file__).name}'s WAIVERS, saying why):\n" + "\n".join(unwaived)
        )
    if stale:
        problems.append(
            f"waived for revision {revision} but no longer found, remove from WAIVERS:"
            f" {', '.join(stale)}"
        )
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_every_waiver_names_a_revision_and_says_why() -> None:
    for (revision, rule), reason in WAIVERS.items():
        assert revision in REVISIONS, f"{rule} is waived for {revision}, which does not exist"
        assert len(reason.split()) >= 8, f"the waiver of {rule} for {revision} needs its reason"
    for rule, reason in RULES_NOT_FOLLOWED.items():
        assert len(reason.split()) >= 8, f"{rule} is not followed without a reason"


@pytest.mark.parametrize("revision", REVISIONS)
def test_a_revisions_sql_first_limits_how_long_it_waits_for_a_lock(revision: str) -> None:
    code = "\n".join(
        line for line in offline_sql(revision).splitlines() if not line.startswith("--")
    )
    first, second = (statement.strip() for statement in code.split(";")[:2])

    assert (first, second) == ("BEGIN", "SET LOCAL lock_timeout = '10s'")
