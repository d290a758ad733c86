// A small typed fetch client over the types openapi-typescript generates from
// convobase's OpenAPI document (./convobase.d.ts). `request` reaches every operation,
// typed by its path and method; the methods below it are the ones most apps call.
// Every error answer is problem+json and becomes a ConvobaseError: match on `code`.

import type { paths } from "./convobase";
import type {
  GuestSessionCreated,
  Message,
  MessageAppended,
  NewMessage,
  Page,
  Persona,
  Problem,
} from "./index";

const PROBLEM = "application/problem+json";

type Method = "get" | "put" | "post" | "delete" | "patch";
type SuccessStatus = 200 | 201 | 202 | 204;

/** Every path of the API, as the document writes it: `/v1/personas/{persona_id}`. */
export type Path = keyof paths;

/** The methods `P` answers: `MethodOf<"/v1/conversations">` is `"get" | "post"`. */
export type MethodOf<P extends Path> = {
  [M in Method]: paths[P] extends { [K in M]: { responses: unknown } } ? M : never;
}[Method];

/** The operation at `method path`, as openapi-typescript describes it. */
export type Operation<P extends Path, M extends MethodOf<P>> = Extract<
  paths[P][M & keyof paths[P]],
  { responses: unknown }
>;

type Parameters<O> = O extends { parameters: infer P } ? P : never;
type ParameterGroup<O, Where extends "path" | "query" | "header"> =
  Parameters<O> extends { [K in Where]?: infer Group } ? Group : never;
type JsonBody<R> = R extends { content: { "application/json": infer Body } } ? Body : never;
type RequestBody<O> = O extends { requestBody?: infer R } ? JsonBody<R> : never;

/** A parameter group as an option: absent when the operation has none, required when
 * the operation requires one of its parameters. */
type GroupOption<O, Where extends "path" | "query" | "header"> = [
  ParameterGroup<O, Where>,
] extends [never]
  ? unknown
  : Parameters<O> extends { [K in Where]: unknown }
    ? { [K in Where]: ParameterGroup<O, Where> }
    : { [K in Where]?: ParameterGroup<O, Where> };

/** What calling operation `O` takes: `path`, `query` and `header` parameters, `body`. */
export type OptionsOf<O> = GroupOption<O, "path"> &
  GroupOption<O, "query"> &
  GroupOption<O, "header"> &
  ([RequestBody<O>] extends [never]
    ? unknown
    : O extends { requestBody: unknown }
      ? { body: RequestBody<O> }
      : { body?: RequestBody<O> });

type Responses<O> = O extends { responses: infer R } ? R : never;
type SuccessBody<R> = R extends { content: { "application/json": infer Body } } ? Body : undefined;
type ProblemBody<R> = R extends { content: { [PROBLEM]: infer Body } } ? Body : never;

/** What operation `O` answers on success (`undefined` for a 204). */
export type SuccessOf<O> = {
  [S in keyof Responses<O>]: S extends SuccessStatus ? SuccessBody<Responses<O>[S]> : never;
}[keyof Responses<O>];

/** The error statuses the document declares for operation `O`. */
export type ErrorStatusOf<O> = {
  [S in keyof Responses<O>]: S extends SuccessStatus ? never : S;
}[keyof Responses<O>];

/** The problem+json bodies the document declares for operation `O`'s errors. */
export type ProblemOf<O> = {
  [S in keyof Responses<O>]: S extends SuccessStatus ? never : ProblemBody<Responses<O>[S]>;
}[keyof Responses<O>];

/** The options argument: optional when the operation needs none. */
type OptionsArgument<O> = object extends OptionsOf<O>
  ? [options?: OptionsOf<O>]
  : [options: OptionsOf<O>];

interface AnyOptions {
  path?: Record<string, string | number>;
  query?: Record<string, unknown>;
  header?: Record<string, string | null | undefined>;
  body?: unknown;
}

/** An error answer, with its problem details: match on `code` (`error.code`). */
export class ConvobaseError extends Error {
  override readonly name = "ConvobaseError";

  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${problem.code}: ${problem.detail}`);
  }

  /** The problem's stable code: `not_found`, `guest_limit_reached`, ... */
  get code(): string {
    return this.problem.code;
  }
}

/** An error answer without problem details: from something in front of convobase
 * (a proxy's 502, say), never from convobase itself. */
export class UnexpectedResponse extends Error {
  override readonly name = "UnexpectedResponse";

  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`${status} without problem details`);
  }
}

export class Convobase {
  constructor(
    private readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  /** The same client sending `token`: a guest's, after `startGuestSession`. */
  withToken(token: string): Convobase {
    return new Convobase(this.baseUrl, token);
  }

  /** Call any operation, typed by its path and method:
   * `request("get", "/v1/conversations/{conversation_id}", { path: { conversation_id } })`.
   * Throws ConvobaseError for every error answer. */
  async request<P extends Path, M extends MethodOf<P>>(
    method: M,
    path: P,
    ...[options]: OptionsArgument<Operation<P, M>>
  ): Promise<SuccessOf<Operation<P, M>>> {
    const { path: pathParameters, query, header, body }: AnyOptions = options ?? {};
    const url = new URL(this.baseUrl + fillPath(path, pathParameters ?? {}));
    for (const [name, value] of Object.entries(query ?? {})) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (item !== undefined && item !== null) {
          url.searchParams.append(name, String(item));
        }
      }
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(header ?? {})) {
      if (value !== undefined && value !== null) {
        headers[name] = value;
      }
    }
    if (this.token !== undefined) {
      headers["Authorization"] = `Bearer ${this.token}`;
    }
    const init: RequestInit = { method: method.toUpperCase(), headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    if (!response.ok) {
      throw await failure(response);
    }
    if (response.status === 204) {
      return undefined as SuccessOf<Operation<P, M>>;
    }
    const answer: SuccessOf<Operation<P, M>> = await response.json();
    return answer;
  }

  /** One page of the active personas; anyone may list them. */
  async listPersonas(
    query: OptionsOf<Operation<"/v1/personas", "get">>["query"] = {},
  ): Promise<Page<Persona>> {
    return this.request("get", "/v1/personas", { query });
  }

  /** One persona; a missing one throws ConvobaseError with code `not_found`. */
  async readPersona(personaId: string): Promise<Persona> {
    return this.request("get", "/v1/personas/{persona_id}", {
      path: { persona_id: personaId },
    });
  }

  /** Start a chat without an account; `withToken(created.token)` continues it. */
  async startGuestSession(personaId: string): Promise<GuestSessionCreated> {
    return this.request("post", "/v1/guest-sessions", { body: { persona_id: personaId } });
  }

  /** One page of a conversation's messages, in `seq` order. */
  async listMessages(
    conversationId: string,
    query: OptionsOf<Operation<"/v1/conversations/{conversation_id}/messages", "get">>["query"] = {},
  ): Promise<Page<Message>> {
    return this.request("get", "/v1/conversations/{conversation_id}/messages", {
      path: { conversation_id: conversationId },
      query,
    });
  }

  /** Append a message; a retry with the same `client_message_id` answers the first
   * one instead of storing it twice. A guest past its limit gets ConvobaseError with
   * code `guest_limit_reached`. */
  async appendMessage(conversationId: string, message: NewMessage): Promise<MessageAppended> {
    return this.request("post", "/v1/conversations/{conversation_id}/messages", {
      path: { conversation_id: conversationId },
      body: message,
    });
  }
}

function fillPath(template: string, parameters: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = parameters[name];
    if (value === undefined) {
      throw new TypeError(`${template} needs the path parameter ${name}`);
    }
    return encodeURIComponent(String(value));
  });
}

async function failure(response: Response): Promise<Error> {
  const mediaType = response.headers.get("Content-Type")?.split(";")[0]?.trim();
  if (mediaType === PROBLEM) {
    const problem: Problem = await response.json();
    return new ConvobaseError(response.status, problem);
  }
  return new UnexpectedResponse(response.status, await response.text());
}
