// What front ends import: the types of convobase's API under the names an app uses,
// and a small typed fetch client (./client.ts). Every alias points into the types
// openapi-typescript generated from the committed document (./convobase.d.ts, from
// ../openapi.json), so `tsc` fails here if a schema is renamed or removed.
// Regenerate both with the command in ../README.md; tests/clients/ fails when they
// differ from what the app's code says.

import type { components, operations, paths } from "./convobase";

export type { components, operations, paths };
export {
  Convobase,
  ConvobaseError,
  UnexpectedResponse,
  type ErrorStatusOf,
  type MethodOf,
  type Operation,
  type OptionsOf,
  type Path,
  type ProblemOf,
  type SuccessOf,
} from "./client";

/** Every schema of the document, by its name there. */
export type Schemas = components["schemas"];
/** One schema by its name in the document: `Schema<"MessageRead">`. */
export type Schema<Name extends keyof Schemas> = Schemas[Name];
/** An operation by its `operationId` (`appendMessage`, `readMe`, ...). */
export type OperationId = keyof operations;

// Errors: every error answer is application/problem+json; match on `code`, which is
// stable (`not_found`, `validation_error`, `guest_limit_reached`, ...; docs/api.md).
export type Problem = Schemas["Problem"];
/** One invalid field of the request, in a validation problem's `errors`. */
export type FieldError = Schemas["FieldError"];
/** One problem in a document the request carries (`path` is a JSON pointer into it). */
export type DocumentError = Schemas["DocumentError"];

/** One page of a list; pass `next_cursor` back as `?cursor=` for the next one. */
export type Page<Item> = Omit<Schemas["PageRead_MessageRead_"], "items"> & { items: Item[] };

// Conversations and their messages.
export type Conversation = Schemas["ConversationRead"];
export type ConversationKind = Schemas["ConversationKind"];
export type NewConversation = Schemas["ConversationCreate"];
export type ConversationUpdate = Schemas["ConversationUpdate"];
export type Message = Schemas["MessageRead"];
export type MessageRole = Schemas["MessageRole"];
export type NewMessage = Schemas["MessageCreate"];
/** What appending a message answers: the message and its crisis screening. */
export type MessageAppended = Schemas["MessageAppended"];
export type Safety = Schemas["Safety"];

// Guest sessions: chats without an account.
export type GuestSession = Schemas["GuestSessionRead"];
/** A guest session just started: with its guest `token`. */
export type GuestSessionCreated = Schemas["GuestSessionCreated"];

// Personas: the AI characters users talk to.
export type Persona = Schemas["PersonaRead"];
/** A persona as staff see it: with its configuration. */
export type StaffPersona = Schemas["PersonaStaffRead"];
export type PersonalityConfig = Schemas["PersonalityConfig"];
export type SkillLevel = Schemas["SkillLevel"];
export type ConversationStyle = Schemas["ConversationStyle"];

// The signed-in user and their progress.
export type User = Schemas["UserRead"];
export type UserUpdate = Schemas["UserUpdate"];
export type Analysis = Schemas["AnalysisRead"];
export type Progress = Schemas["ProgressRead"];
export type WordMistake = Schemas["WordMistakeRead"];
export type AccountExport = Schemas["AccountExport"];

// Onboarding.
export type OnboardingSession = Schemas["OnboardingRead"];
export type OnboardingStatus = Schemas["OnboardingStatus"];

// Courses, assessments and attempts.
export type Course = Schemas["CourseRead"];
/** A course with its sections in order and its active assessments. */
export type CourseDetail = Schemas["CourseDetail"];
export type CourseProgress = Schemas["CourseProgressRead"];
export type Section = Schemas["SectionRead"];
export type Assessment = Schemas["AssessmentRead"];
export type Attempt = Schemas["AttemptRead"];
/** An attempt with its questions as the learner sees them and the answers saved. */
export type AttemptDetail = Schemas["AttemptDetail"];
export type AttemptStatus = Schemas["AttemptStatus"];
export type SavedAnswer = Schemas["SavedAnswerRead"];

// Spaced review.
export type ReviewCard = Schemas["ReviewCardRead"];
export type ReviewCardState = Schemas["ReviewCardState"];
export type Review = Schemas["ReviewRead"];
export type ReviewRating = Schemas["ReviewRating"];
export type ReviewResult = Schemas["ReviewResult"];
export type DueReviews = Schemas["DueReviews"];

// Crisis safety.
export type CrisisEvent = Schemas["CrisisEventRead"];
export type CrisisEventDetail = Schemas["CrisisEventDetail"];
/** A crisis event as staff see it. */
export type StaffCrisisEvent = Schemas["StaffCrisisEventRead"];
export type CrisisSeverity = Schemas["CrisisSeverity"];
export type CrisisResource = Schemas["CrisisResource"];

// Tutoring: lesson dialogs, texts, sessions and their turns.
export type TutorSession = Schemas["TutorSessionRead"];
export type TutorSessionDetail = Schemas["TutorSessionDetail"];
export type TutorSessionStarted = Schemas["TutorSessionStarted"];
export type Turn = Schemas["TurnRead"];
export type TurnResult = Schemas["TurnResult"];
export type LessonDialog = Schemas["LessonDialogRead"];
export type LibraryText = Schemas["LibraryTextRead"];

// Background jobs (staff).
export type Job = Schemas["JobRead"];
