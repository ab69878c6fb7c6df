// Errors an HTTP request can end with, and their OpenAI-shaped body {"error":{"message","type","param","code"}}.
import { KilnError } from "../util/index.js";

export type ApiErrorType =
  | "invalid_request_error" | "authentication_error" | "not_found_error" | "unavailable_error" | "server_error" | "not_supported_error" | "server_overloaded";

/** A request the server answers with an error status (never a stack trace: message is one line for the client). */
export class ApiError extends KilnError {
  readonly code = "E_API";
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    message: string,
    readonly param: string | null = null,
    /** Extra response headers (Retry-After). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: number } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.status } };
  }
}

export const badRequest = (message: string, param: string | null = null) => new ApiError(400, "invalid_request_error", message, param);

/** A field the server does not implement yet: refused, never silently ignored. */
export const notSupported = (param: string, what = `\`${param}\``) =>
  new ApiError(400, "invalid_request_error", `${what} is not supported by kiln serve yet`, param);
