/**
 * The operation registry. An action is added by describing its handler: the protocol layer has already
 * parsed and typed the input from the service model and will serialize the output from it, so a handler
 * holds no parsing or XML code.
 *
 * The dispatcher runs `validate` (shape checks, id checks, existence and permission checks), then answers
 * DryRunOperation when DryRun=true, and only otherwise runs `handle`. So every implemented action honours
 * DryRun with no side effect.
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

export interface Handler<Op extends OperationName> {
  operation: Op;
  validate?: (input: Operations[Op]['input'], ctx: RequestContext) => Promise<void> | void;
  handle: (input: Operations[Op]['input'], ctx: RequestContext) => Promise<Operations[Op]['output']>;
}

export type AnyHandler = {
  [Op in OperationName]: Handler<Op>;
}[OperationName];

export function defineHandler<Op extends OperationName>(operation: Op, h: Omit<Handler<Op>, 'operation'>): Handler<Op> {
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
