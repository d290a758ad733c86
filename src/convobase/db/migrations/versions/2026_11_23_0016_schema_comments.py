"""schema comments: every table and column described on PostgreSQL, as the models describe them

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-23

Each model carries its table's description (`__table_args__`'s `comment`) and each
column's (`mapped_column(..., comment=...)`): docs/schema.md is generated from them
(`convobase db docs`), and on PostgreSQL this revision writes the same text into the
catalog with COMMENT ON TABLE and COMMENT ON COLUMN, so that psql's `\\d+`, and every
tool that reads the catalog, shows it. From here on Alembic's comparison of the models
with the database (`convobase db revision --autogenerate`, the migration tests) keeps
the two in step: a revision that changes a description changes the comment.

The text is frozen below, as every revision's is. COMMENT takes no bind parameters, so
each comment is written as an SQL string literal, its quotes doubled. SQLite keeps no
comments: there the revision does nothing. The downgrade puts back what revision 0014
wrote (story 000's comments on `tutor_sessions.dialog_id` and `selected_role`) and
removes every other comment.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Revision 0014's comments (story 000's), which the downgrade puts back.
STORY_COMMENTS: dict[tuple[str, str], str] = {
    ("tutor_sessions", "dialog_id"): (
        "References the lesson dialog being practiced (NULL for library text sessions)"
    ),
    ("tutor_sessions", "selected_role"): (
        'The character name the user chose to play (e.g., "María", "Carlos")'
    ),
}

# Each table: its comment, and each of its columns' comments.
COMMENTS: dict[str, tuple[str, dict[str, str]]] = {
    "analysis_results": (
        (
            "One analysis of a user's progress, with story 004's columns and CHECKs; batch "
            "numbers the 25-message batch it was made for. UNIQUE (user_id, batch, "
            "analysis_type): a batch delivered twice is written once. The index (user_id, "
            "created_at, id) serves a user's analyses, newest first."
        ),
        {
            "chat_score": "The chat score, 0 to 14 with one decimal (CHECK).",
            "analysis_type": (
                "chat_scoring, milestone_check, graduation_assessment or crisis_review (CHECK)."
            ),
            "message_range": (
                "The messages read: their count, from when to when, and the seqs read per "
                "conversation."
            ),
            "insights": "What the analyzer saw, a JSON object of its own.",
            "improvement_areas": "What the user could improve, as the analyzer names it.",
            "strengths_identified": "What the user does well, as the analyzer names it.",
            "triggered_milestone": "Whether the user moved up a stage, or graduated.",
            "batch": "The 25-message batch it was made for: 1, 2, 3...",
            "analyzer": (
                "Which analyzer made it: baseline, webhook, milestones, or a plug-in's name."
            ),
            "created_at": "When the analysis was written.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
        },
    ),
    "assessment_attempts": (
        (
            "One learner's attempt at an assessment (docs/learning.md#attempts), pinned to "
            "the version it started on: its deadline from the server's clock and, once "
            "closed, how, with the score, pass and per-question results the server graded "
            "(never the answer key). Numbered per learner and assessment; a start retried "
            "with the client's key finds the attempt it made. The partial index on "
            "deadline_at serves the overdue job."
        ),
        {
            "assessment_id": (
                "The assessment; RESTRICT: one someone attempted is deactivated, never deleted."
            ),
            "assessment_version": (
                "The version it is graded against: with assessment_id a foreign key to "
                "assessment_versions (RESTRICT)."
            ),
            "course_id": "The assessment's course, for the learner's progress; RESTRICT.",
            "attempt_number": (
                "1, 2, 3... per learner and assessment, at most 10,000; unique with them."
            ),
            "status": (
                "in_progress, submitted (graded) or abandoned (closed ungraded by its "
                "deadline) (CHECK)."
            ),
            "client_attempt_id": (
                "The client's key for the start, 1..64 characters; unique per learner."
            ),
            "started_at": "When it started, by the server's clock.",
            "deadline_at": (
                "started_at plus the version's time limit, after started_at (CHECK); null "
                "without a limit."
            ),
            "submitted_at": "Set exactly when submitted (CHECK).",
            "abandoned_at": "Set exactly when abandoned (CHECK).",
            "closed_by": "learner or deadline; null exactly while in progress (CHECK).",
            "score": (
                "0..100 (CHECK), computed by the server; with passed and results, set exactly "
                "when submitted (CHECK)."
            ),
            "passed": "Whether the score reaches the version's pass threshold.",
            "results": (
                "Per question, in the version's order: question_id, outcome (correct, "
                "partial, incorrect or unanswered), points, max_points; never an answer key. "
                "At most 128 KiB as text (CHECK)."
            ),
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
        },
    ),
    "assessment_versions": (
        (
            "What grading reads, as it was in one version of an assessment. Every version has "
            "its row, the current one too, kept as long as the assessment is, so any attempt "
            "can be graded (or regraded) against the version it started on."
        ),
        {
            "assessment_id": "The assessment; its versions go with it.",
            "version": "The version, from 1.",
            "questions": (
                "The version's questions (learning/questions.schema.json); at most 2 MiB as "
                "text (CHECK)."
            ),
            "scoring_config": (
                "The version's scoring (learning/scoring_config.schema.json); at most 256 KiB "
                "as text (CHECK)."
            ),
            "pass_threshold": "The score that passes, 0..100.",
            "time_limit_minutes": "1..1440 minutes, or null for no limit.",
            "created_at": "When the row was created.",
        },
    ),
    "assessments": (
        (
            "An assessment of a course, with story 001's columns, holding its current "
            "version's questions and scoring. Every change to what grading reads makes a new "
            "version (assessment_versions), so an attempt is graded against the version it "
            "started on. An assessment someone attempted is deactivated, never deleted."
        ),
        {
            "course_id": (
                "The course; RESTRICT: a course with assessments is archived, not deleted."
            ),
            "key": (
                "The stable name content files use, 1..100 characters; unique within the course."
            ),
            "title": "1..255 characters.",
            "description": "At most 20,000 characters.",
            "questions": (
                "The current version's questions, as learning/questions.schema.json describes "
                "them; at most 2 MiB as text (CHECK)."
            ),
            "scoring_config": (
                "How the current version is scored and graded, as "
                "learning/scoring_config.schema.json describes it; at most 256 KiB as text "
                "(CHECK)."
            ),
            "difficulty": "easy, medium or hard (CHECK).",
            "pass_threshold": "The score that passes, 0..100 (default 70).",
            "time_limit_minutes": "1..1440 minutes, or null for no limit.",
            "max_attempts": (
                "Attempts each learner may start, 1..100 (default 3), or null for no limit."
            ),
            "is_active": (
                "Whether learners see the assessment: one someone attempted is deactivated, "
                "never deleted."
            ),
            "version": (
                "The current version, from 1: grows with every change to what grading reads."
            ),
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "updated_at": "When the row last changed: kept current by a trigger on every UPDATE.",
            "created_at": "When the row was created.",
        },
    ),
    "attempt_answers": (
        (
            "The answer saved to one question of an attempt: one row per question, written "
            "over by each save (an upsert on the primary key, so a retried save writes the "
            "same row), graded at the submit."
        ),
        {
            "attempt_id": "The attempt; its answers go with it.",
            "question_id": "The question answered, 1..64 characters.",
            "answer": (
                "Any JSON value: a choice's id, a list of ids, a number, a boolean, text, an "
                "object; at most 16 KiB as text (CHECK), and the service takes at most 8 KiB."
            ),
            "saved_at": "When it was last saved.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
        },
    ),
    "conversations": (
        (
            "A chat session between a user (or a guest) and a persona: story 001's "
            "chat_sessions and story 002's conversations, and the onboarding conversations of "
            "story 003. last_seq numbers its messages: an append takes the next seq with one "
            "UPDATE of this row, and a guest's user message is counted against the guest "
            "message limit by one atomic UPDATE in the same transaction, so a rolled-back "
            "append refunds both. A guest's conversation belongs to its session's anonymous "
            "user until a signed-in user claims it. Indexes: (user_id, last_message_at, id) "
            "for a user's conversations by activity, and UNIQUE (session_id, "
            "is_guest_session) for guest lookup."
        ),
        {
            "persona_id": (
                "The persona talked to; RESTRICT: a persona someone has talked to is "
                "deactivated, never deleted."
            ),
            "session_id": "The guest session it was started in; kept after a claim.",
            "is_guest_session": (
                "True while the conversation is a guest's; false once claimed. A guest "
                "conversation has a session_id (CHECK)."
            ),
            "guest_message_count": (
                "User messages the guest has sent, at most the guest message limit: counted "
                "by one atomic UPDATE in the append's transaction."
            ),
            "kind": "chat, roleplay or onboarding (CHECK).",
            "title": "The conversation's title: story 001's session_name.",
            "context_data": (
                "The app's context for the conversation, a JSON object: context in the API."
            ),
            "is_active": (
                "False exactly when ended_at is set (CHECK): an ended conversation takes no "
                "more messages."
            ),
            "last_seq": (
                "The newest message's seq (0 before the first): the next append takes "
                "last_seq + 1. message_count in the API."
            ),
            "started_at": "When the conversation started.",
            "last_message_at": (
                "When its newest message was stored (its start before the first): a user's "
                "conversations are listed by it."
            ),
            "ended_at": "When the conversation was ended; null while it is active.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The owner: a user or, while the conversation is a guest's, its session's "
                "anonymous user."
            ),
            "updated_at": "When the row last changed: kept current by a trigger on every UPDATE.",
            "created_at": "When the row was created.",
        },
    ),
    "course_prerequisites": (
        (
            "Story 001's prerequisites as rows: a course that must be completed before "
            "another, an edge of the prerequisite graph, which the service keeps acyclic. "
            "Each is a real course (a foreign key), never the course itself (CHECK); a course "
            "others require is archived, not deleted (RESTRICT)."
        ),
        {
            "course_id": "The course that requires another; its prerequisites go with it.",
            "prerequisite_id": (
                "The course required first, never the course itself (CHECK); RESTRICT: a "
                "required course is archived, not deleted."
            ),
        },
    ),
    "course_sections": (
        (
            "A section of a course, in order of position. A section learners completed is "
            "withdrawn (is_active false, no position) instead of deleted, so their history "
            "stays."
        ),
        {
            "course_id": "The course; its sections go with it.",
            "key": "1..100 characters; unique within the course.",
            "position": "1, 2, 3... while active; null once withdrawn (CHECK).",
            "title": "1..255 characters.",
            "content_path": "Where the section's content is, at most 500 characters.",
            "duration_minutes": "How long the section takes, 0..100,000 minutes.",
            "is_active": "False once withdrawn: kept for the learners who completed it.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "updated_at": "When the row last changed: kept current by a trigger on every UPDATE.",
            "created_at": "When the row was created.",
        },
    ),
    "course_tags": (
        (
            "Story 001's tags column as rows: one tag of a course. The index (tag, course_id) "
            "is what the catalog's tag filter uses, on both databases."
        ),
        {
            "course_id": "The course tagged; the tag goes with it.",
            "tag": "The tag, 1..100 characters.",
        },
    ),
    "courses": (
        (
            "Story 001's course catalog (docs/learning.md). Nobody owns a course: every "
            "caller reads the table, only staff change it, and learners see active courses "
            "only. A course someone studied or another requires is archived (inactive, "
            "archived_at set), never deleted. Tags and prerequisites are rows of their own. "
            "Indexes: UNIQUE (level, title); the learners' catalog of active courses by level "
            "and title."
        ),
        {
            "key": "The stable name content files use, 1..100 characters, unique.",
            "title": "1..255 characters; unique within its level.",
            "description": "At most 20,000 characters.",
            "level": "beginner, intermediate or advanced (CHECK).",
            "content_path": "Where the course's content is, at most 500 characters.",
            "video_url": "The course's video, at most 500 characters.",
            "thumbnail_url": "The course's thumbnail, at most 500 characters.",
            "duration_minutes": "How long the course takes, 0..100,000 minutes.",
            "is_active": "Whether learners see the course.",
            "archived_at": (
                "Set when a delete was refused because the course was studied or is required; "
                "only on an inactive course (CHECK)."
            ),
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "updated_at": "When the row last changed: kept current by a trigger on every UPDATE.",
            "created_at": "When the row was created.",
        },
    ),
    "crisis_event_actions": (
        (
            "The audit trail of staff's follow-up of crisis events: viewed, noted, resolved, "
            "reopened. Not a user's table: on PostgreSQL only convobase_staff may read it and "
            "add to it (SELECT, INSERT), and no service role may change or delete a row; rows "
            "go with their event."
        ),
        {
            "event_id": "The crisis event acted on; the action goes with it.",
            "actor_id": "The staff member's user id; null for a service key that names no user.",
            "action": "viewed, note, resolved or reopened (CHECK).",
            "note": "Staff's note, at most 4000 characters.",
            "outcome": "The outcome a resolution recorded.",
            "created_at": "When staff acted.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
        },
    ),
    "crisis_events": (
        (
            "What screening found in a user message (story 004's table, with its columns and "
            "CHECKs, plus the conversation, the category and the detector's version; "
            "docs/safety.md). Recorded in the transaction of the message's append. message_id "
            "is null only for a guest's message refused at the message cap, which is not "
            "stored: its text is kept in refused_content instead. Indexes: the story's "
            "(user_id, severity_level); (user_id, created_at, id) for a user's list; "
            "(created_at, id) WHERE resolution_timestamp IS NULL for staff's open events."
        ),
        {
            "conversation_id": "The conversation of the message screened.",
            "message_id": (
                "The message screened, unique; null only for a guest's message refused at the cap."
            ),
            "refused_content": (
                "That refused message's text; set exactly when message_id is null (CHECK)."
            ),
            "trigger_type": (
                "keyword (the rules) or classifier (a plugged-in model escalated) (CHECK)."
            ),
            "category": (
                "suicide, self_harm, abuse, eating_disorder, substance, harm_to_others or "
                "third_party (CHECK)."
            ),
            "severity_level": "low, moderate, high or critical (CHECK).",
            "keywords_detected": "The lexicon phrases that matched.",
            "resources_shown": (
                "The crisis lines shown to the user, exactly as shown, for counting referrals."
            ),
            "detector_version": (
                "What screened it, at most 200 characters: rules 2026.11.1; acme-model 3."
            ),
            "user_acknowledged": "Whether the user acknowledged the help they were shown.",
            "acknowledged_at": "When the user acknowledged it.",
            "followup_required": "Whether staff must follow up: high and critical events.",
            "staff_notified_at": "When the staff webhook took the notice.",
            "resolution_timestamp": (
                "When staff resolved the event; set together with resolution_outcome (CHECK)."
            ),
            "resolved_by": (
                "The staff member who resolved it; null for a service key that names no user."
            ),
            "resolution_outcome": (
                "supported, referred, emergency_services, no_contact or false_positive "
                "(CHECK); set exactly with resolution_timestamp."
            ),
            "created_at": "When the message was screened.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
        },
    ),
    "job_queue": (
        (
            "Story 004's job_queue columns, and what a durable queue needs besides: one unit "
            "of background work, queued in the same transaction as the change that causes it "
            "(docs/operations.md, Background jobs). Not a user's table: no caller's role can "
            "read it. Partial indexes serve the claim (queued), the sweep of expired leases "
            "(active), the purge (finished) and the dedup key (live jobs)."
        ),
        {
            "id": "The job's id.",
            "name": "The task that runs it, 1..200 characters.",
            "data": "Its payload, a JSON object.",
            "priority": "Higher runs first.",
            "retry_limit": "Retries after the first attempt, 0..100 (default 3).",
            "retry_count": "Failed attempts retried so far, 0..retry_limit.",
            "created_at": "When the job was queued.",
            "start_after": "Not run before this time.",
            "completed_at": "When it completed, failed or was cancelled.",
            "state": "queued, active, completed, failed or cancelled (CHECK).",
            "dedup_key": "At most 500 characters; unique among live (queued, active) jobs.",
            "for_user_id": (
                "Whose data it works on: gone with their account. Not user_id: the job is not "
                "theirs to read."
            ),
            "attempts": "Times a worker claimed it.",
            "lease_owner": "The worker holding it.",
            "lease_expires_at": "Until when the worker holds it: an expired lease is swept.",
            "started_at": "The latest claim.",
            "last_error": "The latest failure.",
        },
    ),
    "job_schedules": (
        (
            "Infrastructure (no story: the job queue's own bookkeeping): the last period each "
            "periodic task was queued for, so that it is queued at most once per period "
            "however many workers look."
        ),
        {
            "name": "The periodic task's name.",
            "queued_for": "The last period it was queued for.",
        },
    ),
    "job_workers": (
        (
            "Infrastructure (no story: the job queue's own bookkeeping): each worker process "
            "that is running, or was, with its heartbeat; a worker not seen for long is taken "
            "for dead and its row deleted."
        ),
        {
            "id": "The worker's id: host, process id and a random suffix.",
            "hostname": "The machine it runs on.",
            "pid": "Its process id.",
            "concurrency": "How many jobs it runs at a time.",
            "started_at": "When it started.",
            "last_seen_at": "Its latest heartbeat.",
        },
    ),
    "lesson_dialog_lines": (
        (
            "A line of a lesson dialog, in order by seq, said by one of its roles "
            "((dialog_id, role) is a foreign key to the role's (dialog_id, name)): what a "
            "learner playing the role should say, its translation, other ways of saying it "
            "that are as good, and the words it teaches. Replaced whole with the roles when "
            "the script changes."
        ),
        {
            "dialog_id": "The dialog; its lines go with it.",
            "seq": "1, 2, 3...; unique within the dialog.",
            "role": "The name of the role that says it, a role of the same dialog.",
            "text": "What a learner playing the role should say, 1..1000 characters.",
            "translation": "The line's translation, 1..1000 characters.",
            "variants": "Other ways of saying the line that are as good.",
            "target_words": "The words the line teaches.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
        },
    ),
    "lesson_dialog_roles": (
        (
            "A character of a lesson dialog, and whether learners may play it. Replaced whole "
            "with the dialog's lines when its script changes (a new version)."
        ),
        {
            "dialog_id": "The dialog; its roles go with it.",
            "position": "1, 2, 3...; unique within the dialog.",
            "name": "The character's name, 1..60 characters; unique within the dialog.",
            "description": "At most 4000 characters.",
            "playable": "Whether learners may play it.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
        },
    ),
    "lesson_dialogs": (
        (
            "A scripted dialog a learner practises by playing one of its roles (story 000's "
            "lesson_dialogs; docs/tutoring.md). Nobody owns it: every caller reads it "
            "(learners see published dialogs), staff write it. version grows whenever its "
            "roles or lines change. A dialog someone practised is archived, and only a staff "
            "purge deletes it."
        ),
        {
            "key": "What content files match by, 1..100 characters, unique.",
            "title": "1..200 characters.",
            "language": "A BCP 47 tag, 2..35 characters: es.",
            "level": "A1, A2, B1, B2, C1 or C2 (CHECK).",
            "description": "At most 4000 characters.",
            "status": (
                "draft (staff only), published (open to learners) or archived (no new "
                "sessions) (CHECK)."
            ),
            "version": "Grows whenever the dialog's roles or lines change, from 1.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "updated_at": "When the row last changed: kept current by a trigger on every UPDATE.",
            "created_at": "When the row was created.",
        },
    ),
    "library_texts": (
        (
            "A text of the reading library, read aloud sentence by sentence in reading "
            "practice (docs/tutoring.md). Nobody owns it: every caller reads it (learners see "
            "texts not archived), staff write it. A text read in sessions is archived, never "
            "deleted."
        ),
        {
            "key": "What content files match by, 1..100 characters, unique.",
            "title": "1..200 characters.",
            "language": "A BCP 47 tag, 2..35 characters: es.",
            "level": "A1, A2, B1, B2, C1 or C2 (CHECK).",
            "body": "What is read aloud, sentence by sentence, 1..20,000 characters.",
            "version": "Grows when the body changes, from 1.",
            "archived_at": (
                "Set when the text is archived: a text read in sessions is archived, not deleted."
            ),
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "updated_at": "When the row last changed: kept current by a trigger on every UPDATE.",
            "created_at": "When the row was created.",
        },
    ),
    "message_tallies": (
        (
            "How many user messages each signed-in user has written, in all their "
            "conversations: the analysis trigger (docs/analysis.md). Counted by the statement "
            "that stores each message, which locks this row, so concurrent appends each get a "
            "number of their own and exactly one analysis job is queued per 25."
        ),
        {
            "user_messages": (
                "User messages the user has written, in all their conversations: counted by "
                "the statement that stores each message."
            ),
            "user_id": "The user whose user messages are counted: one row per user.",
        },
    ),
    "messages": (
        (
            "One row per message, numbered 1, 2, 3... per conversation by seq: story 001's "
            "conversation_history array, story 003's ConversationMessage and story 004's "
            "conversations rows. Owned by the conversation's owner. UNIQUE (conversation_id, "
            "seq) serves the latest page and after/before reads; UNIQUE (conversation_id, "
            "client_message_id) makes retries idempotent; ix_messages_unanalysed (a user's "
            "user messages not yet analysed) serves an analysis's batch."
        ),
        {
            "conversation_id": "The conversation it belongs to; deleted with it.",
            "seq": "Its number in the conversation: 1, 2, 3... with no gaps and no duplicates.",
            "role": "user, assistant or system (CHECK).",
            "content": "The message's text.",
            "metadata": "The app's metadata for the message, a JSON object.",
            "client_message_id": (
                "The client's idempotency key: a retried append with the same key returns the "
                "message stored first."
            ),
            "analysis_included": "Whether an analysis has included this message.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": "The conversation's owner, copied onto each message.",
            "created_at": "When the row was created.",
        },
    ),
    "onboarding_events": (
        (
            "Each onboarding session's append-only log: what the staff funnel counts, keeping "
            "the original of whatever was repaired, upgraded or quarantined. UNIQUE (user_id, "
            "dedup_key): a device record quarantined once is not logged again. On PostgreSQL "
            "a user's role may read and add to their own log only (SELECT, INSERT); staff may "
            "also change a row (the clean-up empties the copies of purged answers); no "
            "service role deletes one."
        ),
        {
            "session_id": (
                "The session it happened to; null only for a quarantined device record that "
                "named none."
            ),
            "session_version": (
                "The session's version after what the event records: a session's events in order."
            ),
            "kind": (
                "started, phase_entered, phase_completed, answers_saved, completed, "
                "abandoned, resumed, upgraded, repaired, imported, quarantined or purged "
                "(CHECK)."
            ),
            "flow_key": "The session's flow, at most 63 characters.",
            "flow_version": "The version of the session's flow, from 1.",
            "phase": "The phase it concerns, at most 63 characters.",
            "data": (
                "What the event records (the original of what was repaired, upgraded or "
                "quarantined...); at most 256 KiB as text (CHECK)."
            ),
            "dedup_key": (
                "Set for a device record imported or quarantined, 1..200 characters: unique "
                "per user, so it is logged once."
            ),
            "created_at": "When it happened.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
        },
    ),
    "onboarding_sessions": (
        (
            "Story 003's OnboardingSession, kept on the server: one user's way through a "
            "versioned onboarding flow (docs/onboarding.md): the phase it is at, its answers "
            "per phase, the goals and context gathered, and its onboarding conversation. "
            "version grows with every change (the ETag writes name in If-Match). At most one "
            "active session per user (ix_onboarding_sessions_one_active); a device's session "
            "is imported once per user; the clean-up job abandons idle sessions and later "
            "purges their answers."
        ),
        {
            "flow_key": "The flow followed, 1..63 characters: running-coach of running-coach@2.",
            "flow_version": "The version of the flow followed, from 1.",
            "current_phase": "The phase the session is at, at most 63 characters.",
            "progress": (
                "0..100 (CHECK), derived: the phases done of those that apply; 100 once completed."
            ),
            "status": "active, completed or abandoned (CHECK).",
            "answers": (
                "The answers, as {phase: {field: answer}}; at most 256 KiB as text (CHECK), "
                "and the service keeps it within 64 KiB, 16 KiB per phase."
            ),
            "goals": "The goals the answers name, and a device's; at most 16 KiB as text (CHECK).",
            "context": (
                "The conversation's context (a device's coachingStyle...); at most 64 KiB as "
                "text (CHECK)."
            ),
            "conversation_id": (
                "The onboarding conversation (kind onboarding); SET NULL: a new one is "
                "started if its user deletes it."
            ),
            "client_session_id": (
                "The device session it was imported from, 1..64 characters; unique per user."
            ),
            "version": "Grows with every change, from 1: the ETag writes name in If-Match.",
            "last_activity_at": "The user's last change: a session idle too long is abandoned.",
            "completed_at": "When it was completed; set exactly when status is completed (CHECK).",
            "abandoned_at": "When it was abandoned; set exactly when status is abandoned (CHECK).",
            "answers_purged_at": (
                "When an abandoned session's answers were purged; only on abandoned sessions "
                "(CHECK)."
            ),
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
            "updated_at": "When the row last changed: kept current by a trigger on every UPDATE.",
            "created_at": "When the row was created.",
        },
    ),
    "personas": (
        (
            "The AI characters users talk to: story 001's characters and story 002's "
            "personas, one concept. A persona someone has talked to is deactivated (is_active "
            "false; DELETE /v1/personas/{id} does that), never deleted from under its "
            "conversations. The index (specialization, skill_level) serves the filtered list."
        ),
        {
            "name": "A stable slug, unique.",
            "display_name": "The name shown to users.",
            "personality_config": (
                "The AI parameters, validated: system_prompt (text) and temperature (0..2) "
                "required, traits and max_response_tokens optional, other keys allowed."
            ),
            "avatar_url": "Where the persona's picture is.",
            "specialization": "What the persona specialises in; general by default.",
            "description": "A short description shown to users.",
            "backstory": "The persona's backstory.",
            "skill_level": "beginner, intermediate, advanced or expert (CHECK).",
            "conversation_style": (
                "friendly, supportive, analytical, socratic or competitive (CHECK)."
            ),
            "is_active": "Whether users see the persona: DELETE /v1/personas/{id} sets it false.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "updated_at": "When the row last changed: kept current by a trigger on every UPDATE.",
            "created_at": "When the row was created.",
        },
    ),
    "rate_limits": (
        (
            "Infrastructure (no story: request limits): fixed-window counters of requests per "
            "key (a token, or the address guest sessions start from), kept in the database so "
            "that every worker process counts against the same limit. UNLOGGED on PostgreSQL: "
            "counters start again after a crash."
        ),
        {
            "key": (
                "What is counted: a token (token:<role>:<owner id>) or an address guest "
                "sessions start from (guest-sessions:<address>)."
            ),
            "window_start": "When the current window began.",
            "hits": "Hits in the current window.",
        },
    ),
    "review_cards": (
        (
            "What one learner is to go over again, and when FSRS next wants it reviewed "
            "(docs/reviews.md): a question they got wrong in an assessment, a word they "
            "missed or misspelled in tutoring practice, or a card of their own. A source adds "
            "its card once per learner (UNIQUE (user_id, source_kind, source_key)). On "
            "PostgreSQL convobase_app reaches the caller's own rows and convobase_staff every "
            "row; the service scopes every statement to the caller's own, staff's too. The "
            "partial index ix_review_cards_due serves what is due."
        ),
        {
            "source_kind": (
                "What it comes from, 1..40 characters: assessment_question, tutoring_word, "
                "own (the learner's own card)..."
            ),
            "source_key": (
                "Which one of its kind, stably, 1..200 characters: "
                "<assessment_id>:<question_id>; unique with user_id and source_kind."
            ),
            "prompt": "What the learner is asked, 1..4000 characters.",
            "answer": (
                "What they should recall, 1..4000 characters; null for an assessment's "
                "questions, whose keys learners never see."
            ),
            "context": (
                "Shown with the prompt (a question's choices), with ids back to the source; "
                "at most 64 KiB as text (CHECK), and the service keeps it within 16 KiB."
            ),
            "state": "learning, review or relearning (CHECK).",
            "step": "The learning or relearning step, 0..100; null exactly in review (CHECK).",
            "stability": (
                "FSRS's stability in days (> 0); null exactly until the first review (CHECK)."
            ),
            "difficulty": "FSRS's difficulty, 1..10; null exactly until the first review (CHECK).",
            "due_at": "When it is due next.",
            "last_reviewed_at": "When it was last reviewed; null until the first review.",
            "suspended": "A suspended card is never due.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
            "updated_at": "When the row last changed: kept current by a trigger on every UPDATE.",
            "created_at": "When the row was created.",
        },
    ),
    "review_logs": (
        (
            "Each review card's append-only history: one review, with the card's schedule "
            "after it (the card's CHECKs). A retry with the same client_review_id finds the "
            "review made first. On PostgreSQL the service's roles may read and add to it only "
            "(SELECT, INSERT): no row is changed or deleted but with its card or its user."
        ),
        {
            "card_id": "The card reviewed; its history goes with it.",
            "client_review_id": (
                "The client's key for the review, 1..128 characters; unique per learner: a "
                "retry finds the review made first."
            ),
            "rating": "1 (again), 2 (hard), 3 (good) or 4 (easy).",
            "reviewed_at": "When it was reviewed, by the server's clock.",
            "review_duration_ms": "How long the learner took, 0..86,400,000 milliseconds.",
            "state": "The card's state after the review: learning, review or relearning (CHECK).",
            "step": "The card's step after the review, 0..100; null exactly in review (CHECK).",
            "stability": "The card's stability after the review, in days.",
            "difficulty": "The card's difficulty after the review, 1..10.",
            "due_at": "When the card is due next, as the review scheduled it.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
        },
    ),
    "section_completions": (
        (
            "A section one learner completed, once: UNIQUE (user_id, section_id) makes a "
            "repeated completion change nothing. A section someone completed is withdrawn "
            "from its course, never deleted (RESTRICT)."
        ),
        {
            "course_id": "The section's course; RESTRICT.",
            "section_id": (
                "The section completed; RESTRICT: a section someone completed is withdrawn, "
                "never deleted."
            ),
            "completed_at": "When the learner completed it.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
        },
    ),
    "turn_evaluations": (
        (
            "One turn of a tutor session: what the learner said for the line expected, how it "
            "was evaluated (score, verdict, the words missing, extra and misspelled, the "
            "target words used) and by which evaluator. A retried turn with the same "
            "client_turn_id finds the first."
        ),
        {
            "session_id": "The tutor session; its turns go with it.",
            "turn": "1, 2, 3... per session; unique with it.",
            "line_seq": "The seq of the line expected.",
            "attempt": "The try at that line, from 1.",
            "message_id": (
                "The turn's message in the transcript; SET NULL: the learner may delete the "
                "transcript, and the evaluation stays."
            ),
            "client_turn_id": (
                "The client's key for the turn, 1..100 characters; unique per session: a "
                "retried turn finds the first."
            ),
            "said": "What the learner said, 1..2000 characters.",
            "expected": "The line's text then, 1..1000 characters.",
            "score": "How well the line was said, 0..100.",
            "verdict": "pass or retry (CHECK).",
            "moved_on": "The last try at a line the session went on from; only with retry (CHECK).",
            "details": (
                "The accepted text matched, the similarity, the words missing, extra and "
                "misspelled, the target words used and missed; at most 64 KiB as text "
                "(CHECK)."
            ),
            "evaluator": "The evaluator's name and version, 1..200 characters.",
            "created_at": "When the turn was evaluated.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
        },
    ),
    "tutor_sessions": (
        (
            "Story 000's tutor_sessions: one learner's practice of a lesson dialog, playing "
            "selected_role, or of a library text, with the story's columns, plus the "
            "transcript conversation, the content version it follows, the line expected next, "
            "the turns taken and the score once completed. Revision 0013 creates the table as "
            "it stood before the story, 0014 is the story's migration, 0015 adds the rest. A "
            "session practises a dialog or a text, not both (CHECK). The story's indexes "
            "idx_tutor_sessions_dialog_id and idx_tutor_sessions_user_dialog serve the "
            "sessions of a dialog and whether a user practised one."
        ),
        {
            "text_id": (
                "The library text read, for reading practice; null for a dialog. No ON "
                "DELETE, as the story has it: a text with sessions is archived."
            ),
            "dialog_id": (
                "References the lesson dialog being practiced (NULL for library text sessions)"
            ),
            "level": "A1..C2 (CHECK): the dialog's or text's.",
            "selected_role": 'The character name the user chose to play (e.g., "María", "Carlos")',
            "created_at": "When the session started.",
            "completed_at": "When the last line was said.",
            "conversation_id": (
                "The transcript (kind roleplay); SET NULL: the learner may delete it, and the "
                "next turn starts another."
            ),
            "content_version": "The version of the dialog or text it follows.",
            "expected_seq": "The seq of the line to say next; null once completed (CHECK).",
            "turns": "Turns taken, retries included.",
            "score": "0..100, once completed: the mean of each of the learner's lines' best score.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
        },
    ),
    "user_progress": (
        (
            "Story 001's user_progress: one learner's progress through one course, UNIQUE "
            "(user_id, course_id). Every column but the times is derived by the service from "
            "the learner's completed sections and graded attempts, or from their heartbeats "
            "(docs/learning.md#progress); a client never sets one. The row is also what a "
            "learner's attempts at the course's assessments queue on (FOR UPDATE). The index "
            "(user_id, last_accessed, id) serves the dashboard."
        ),
        {
            "course_id": (
                "The course; RESTRICT: a course someone studied is archived, never deleted."
            ),
            "completion_rate": (
                "Story 001's DECIMAL(5,2), 0..100 (CHECK): the sections completed and "
                "assessments passed, of the course's active ones, rounded down (a third is "
                "33.33)."
            ),
            "current_section_id": (
                "Story 001's current_section: the first active section not completed; null "
                "once all are."
            ),
            "next_assessment_id": (
                "The first active assessment not passed (by title); null once all are."
            ),
            "test_scores": (
                "{assessment id: {attempts, scores, grade, grade_method, passed}}: attempts "
                "started, the latest 100 graded scores in the order submitted (fewer when the "
                "column would pass its bound), the grade by the assessment's grade method, "
                "and whether it reaches the pass threshold; at most 256 KiB as text (CHECK)."
            ),
            "study_time_minutes": "0..10,000,000 (CHECK): credited from heartbeats.",
            "study_seconds_carry": "0..59 (CHECK): the seconds credited beyond the whole minutes.",
            "last_accessed": (
                "The learner's last write to the course: a completion, a heartbeat, a start "
                "or submit."
            ),
            "last_heartbeat_at": "The next heartbeat is credited the time since this one.",
            "completed_at": (
                "When every active section and assessment was first done; kept if the course "
                "grows later."
            ),
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
            "updated_at": "When the row last changed: kept current by a trigger on every UPDATE.",
            "created_at": "When the row was created.",
        },
    ),
    "users": (
        (
            "The identity provider's user (story 004's users): id is the token's sub, and the "
            "row is created on the first authenticated request. A guest session has an "
            "anonymous user (is_anonymous, id = the session's id) that owns the guest's rows "
            "until a signed-in user claims them; it is deleted then. Deleting a user deletes "
            "every row they own."
        ),
        {
            "id": (
                "The identity provider's user id (the token's sub); a guest session's id for "
                "an anonymous user."
            ),
            "email": "From the token's email claim, if any.",
            "goals": (
                "The user's goals, each once, at most 50: what the analysis looks for in "
                "their messages."
            ),
            "stage": (
                "The user's stage, 1..3 (CHECK): milestones move them up, and at the last "
                "stage they graduate."
            ),
            "profile": "The user's profile: a JSON object of the app's own keys.",
            "preferences": "The user's preferences: a JSON object of the app's own keys.",
            "last_active": "When the user last made a request: refreshed at most every 5 minutes.",
            "graduation_date": "When the user graduated from the last stage; null until then.",
            "is_anonymous": "A guest session's owner, not a person's account.",
            "updated_at": "When the row last changed: kept current by a trigger on every UPDATE.",
            "created_at": "When the row was created.",
        },
    ),
    "word_mistakes": (
        (
            "The words each learner missed or misspelled in their turns, once per language "
            "and word (compared without case or accents), with how often, the last "
            "misspelling, and the line it was last met in. The index (user_id, last_seen_at, "
            "id) serves the learner's list."
        ),
        {
            "language": "The line's language, 2..35 characters.",
            "word": (
                "The word normalised (without case or accents): unique with user_id and language."
            ),
            "display": "The word as the line writes it.",
            "missed": "Times the learner missed it, at least 0.",
            "misspelled": (
                "Times the learner misspelled it, at least 0; with missed, at least one (CHECK)."
            ),
            "last_said": "The last misspelling.",
            "example": "The line it was last met in.",
            "example_translation": "That line's translation.",
            "first_seen_at": "When the word was first missed or misspelled.",
            "last_seen_at": "When the word was last missed or misspelled.",
            "id": "The row's id: a random UUID (version 4) made by the service.",
            "user_id": (
                "The user who owns the row (a guest's rows belong to its session's anonymous "
                "user); the row is deleted with them."
            ),
        },
    ),
}


def _literal(comment: str | None) -> str:
    """`comment` as an SQL string literal (NULL for none): quotes doubled, and colons
    escaped from `op.execute`'s text(), which would read `:name` as a bind parameter."""
    if comment is None:
        return "NULL"
    return "'" + comment.replace("'", "''").replace(":", "\\:") + "'"


def _comment(table: str, column: str | None, comment: str | None) -> None:
    target = f"TABLE {table}" if column is None else f"COLUMN {table}.{column}"
    op.execute(f"COMMENT ON {target} IS {_literal(comment)}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, (table_comment, columns) in COMMENTS.items():
        _comment(table, None, table_comment)
        for column, comment in columns.items():
            _comment(table, column, comment)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, (_, columns) in COMMENTS.items():
        _comment(table, None, None)
        for column in columns:
            _comment(table, column, STORY_COMMENTS.get((table, column)))
