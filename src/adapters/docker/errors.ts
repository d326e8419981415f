/** Helpers for the errors dockerode raises: an Error with the HTTP `statusCode` and Docker's JSON body. */
import { errorText } from '../../errors/text.js';

export function isStatus(e: unknown, status: number): boolean {
  return typeof e === 'object' && e !== null && (e as { statusCode?: unknown }).statusCode === status;
}

/** Docker's own message (from the JSON body) rather than dockerode's "(HTTP code 409) unexpected - ..." */
export function dockerMessage(e: unknown): string {
  const json = (e as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message;
  return errorText(e).split('\n')[0]!;
}
