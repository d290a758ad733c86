// A small client over the types openapi-typescript generates from convobase's OpenAPI
// document (`npm run generate` writes them to src/convobase.d.ts). tests/clients/
// type-checks it against the running app's document: if the document stops saying
// what this file relies on (an operation, a status, problem+json), tsc fails.

import type { components, operations } from "./convobase";

export type Persona = components["schemas"]["PersonaRead"];
export type Problem = components["schemas"]["Problem"];
export type MessageRole = components["schemas"]["MessageRole"];
export type Appended = components["schemas"]["MessageAppended"];

type Append = operations["appendMessage"];
type AppendBody = Append["requestBody"]["content"]["application/json"];
// Every error an append can answer, as the document declares it.
type AppendProblem =
  | Append["responses"][401]["content"]["application/problem+json"]
  | Append["responses"][403]["content"]["application/problem+json"]
  | Append["responses"][404]["content"]["application/problem+json"]
  | Append["responses"][409]["content"]["application/problem+json"]
  | Append["responses"][422]["content"]["application/problem+json"];
type ReadPersona = operations["readPersona"];
type PersonaProblem = ReadPersona["responses"][404]["content"]["application/problem+json"];

const PROBLEM = "application/problem+json";

/** An error answer, with its problem details: match on `problem.code`. */
export class ConvobaseError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${problem.code}: ${problem.detail}`);
  }
}

export class Convobase {
  constructor(
    private readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  /** One persona; a missing one throws ConvobaseError with code `not_found`. */
  async readPersona(personaId: string): Promise<Persona> {
    const response = await this.send("GET", `/v1/personas/${encodeURIComponent(personaId)}`);
    if (!response.ok) {
      const problem: PersonaProblem = await this.problem(response);
      throw new ConvobaseError(response.status, problem);
    }
    const persona: ReadPersona["responses"][200]["content"]["application/json"] =
      await response.json();
    return persona;
  }

  /** Append a message; a retry with the same client message id answers the first. */
  async appendMessage(
    conversationId: string,
    role: MessageRole,
    content: string,
    clientMessageId?: string,
  ): Promise<Appended> {
    const body: AppendBody = { role, content };
    if (clientMessageId !== undefined) {
      body.client_message_id = clientMessageId;
    }
    const path = `/v1/conversations/${encodeURIComponent(conversationId)}/messages`;
    const response = await this.send("POST", path, body);
    if (response.status === 200 || response.status === 201) {
      const appended: Append["responses"][201]["content"]["application/json"] =
        await response.json();
      return appended;
    }
    const problem: AppendProblem = await this.problem(response);
    if (problem.code === "guest_limit_reached") {
      // An app would ask the guest to sign up here.
    }
    for (const error of problem.errors ?? []) {
      console.warn(`${error.loc.join(".")}: ${error.msg}`);
    }
    throw new ConvobaseError(response.status, problem);
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined) {
      headers["Authorization"] = `Bearer ${this.token}`;
    }
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(`${this.baseUrl}${path}`, init);
  }

  private async problem(response: Response): Promise<Problem> {
    if (response.headers.get("Content-Type") !== PROBLEM) {
      throw new Error(`${response.status} without problem details`);
    }
    const problem: Problem = await response.json();
    return problem;
  }
}
