/**
 * The operation registry. An action is added by describing its handler: the protocol layer has already
 * parsed and typed the input from the service model and will serialize the output from it, so a handler
 * holds no parsing or XML code.
 *
 * The dispatcher runs `validate` (shape checks, id checks, existence, state and permission checks), then
 * answers DryRunOperation when DryRun=true, and only otherwise runs `handle` with what `validate` returned. So
 * every implemented action honours DryRun with no side effect, and refuses a DryRun as it would the real call.
 */
import type { Operations, OperationName } from '../protocol/generated/types.js';
import type { Services } from '../services/index.js';

export interface RequestContext {
  requestId: string;
  accountId: string;
  region: string;
  services: Services;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
}

/**
 * `validate` may return what it loaded and checked (the instances of the request, a launch plan ...); the
 * dispatcher hands it to `handle` as its third argument, so that a rule is checked in one place and the real
 * call and its DryRun are refused alike.
 */
export interface Handler<Op extends OperationName, V = void> {
  operation: Op;
  validate?: (input: Operations[Op]['input'], ctx: RequestContext) => Promise<V> | V;
  handle: (input: Operations[Op]['input'], ctx: RequestContext, validated: V) => Promise<Operations[Op]['output']>;
}

export type AnyHandler = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [Op in OperationName]: Handler<Op, any>;
}[OperationName];

export function defineHandler<Op extends OperationName, V = void>(operation: Op, h: Omit<Handler<Op, V>, 'operation'>): Handler<Op, V> {
  return { operation, ...h };
}

export class Registry {
  private readonly handlers = new Map<string, AnyHandler>();

  add(...hs: AnyHandler[]): this {
    for (const h of hs) {
      if (this.handlers.has(h.operation)) throw new Error(`duplicate handler for ${h.operation}`);
      this.handlers.set(h.operation, h);
    }
    return this;
  }

  get(operation: string): AnyHandler | undefined {
    return this.handlers.get(operation);
  }

  operations(): string[] {
    return [...this.handlers.keys()].sort();
  }
}
