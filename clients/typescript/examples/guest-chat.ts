// A guest chat, as a front end would write it with the types and the client: pick a
// persona, start a guest session, send messages until the guest limit, read them back.
// It is type-checked (`npm run check`, and tests/clients/), never run there.

import {
  Convobase,
  ConvobaseError,
  type ErrorStatusOf,
  type Message,
  type MessageAppended,
  type operations,
  type Page,
  type Problem,
  type ProblemOf,
} from "../src/index";

export async function guestChat(baseUrl: string, lines: string[]): Promise<Message[]> {
  const anonymous = new Convobase(baseUrl);
  const personas = await anonymous.listPersonas({ limit: 10 });
  const persona = personas.items[0];
  if (persona === undefined) {
    throw new Error("no persona to talk to");
  }
  const guest = await anonymous.startGuestSession(persona.id);
  const chat = anonymous.withToken(guest.token);

  for (const content of lines) {
    let appended: MessageAppended;
    try {
      // The same client_message_id on a retry answers the message stored first.
      appended = await chat.appendMessage(guest.conversation_id, {
        role: "user",
        content,
        client_message_id: crypto.randomUUID(),
      });
    } catch (error) {
      if (error instanceof ConvobaseError && error.code === "guest_limit_reached") {
        break; // Ask the guest to sign up, then POST /v1/guest-sessions/claim.
      }
      if (error instanceof ConvobaseError && error.code === "validation_error") {
        for (const invalid of error.problem.errors ?? []) {
          // A field of the request (`loc`), or a place in a document it carries (`path`).
          const where = "loc" in invalid ? invalid.loc.join(".") : invalid.path;
          console.warn(`${where}: ${"msg" in invalid ? invalid.msg : invalid.message}`);
        }
      }
      throw error;
    }
    if (appended.safety.flagged) {
      for (const resource of appended.safety.resources ?? []) {
        console.info(resource.name);
      }
    }
  }

  // Any other operation, typed by its path and method.
  const session = await chat.request("get", "/v1/guest-sessions/current");
  console.info(`${session.messages_remaining} of ${session.message_limit} messages left`);
  const page: Page<Message> = await chat.listMessages(guest.conversation_id, { limit: 50 });
  return page.items;
}

// What the client relies on the document to say; tsc fails when it stops saying it.
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type AppendMessage = operations["appendMessage"];
/** Every error of an append is problem+json with the Problem schema... */
export const appendErrorsAreProblems: Equal<ProblemOf<AppendMessage>, Problem> = true;
/** ...among them the 403 of a guest past its limit and the 409 of a reused id. */
export const appendCanRefuse: [403 | 409] extends [ErrorStatusOf<AppendMessage>] ? true : false =
  true;
