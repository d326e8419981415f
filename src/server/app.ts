/**
 * The Koa application: one middleware chain for every action.
 *   envelope (request id, error XML, logging) -> read params -> authenticate -> dispatch (parse, validate,
 *   DryRun, handle, serialize)
 * The outermost middleware catches everything: a client sees an EC2 error document, never Koa's text/plain.
 */
import Koa from 'koa';
import { randomUUID } from 'node:crypto';
import { Ec2Error, internalError, invalidAction, dryRunOperation, missingParameter } from '../errors/index.js';
import { model } from '../protocol/model.js';
import { parseInput, paramsFromSearch, type Params } from '../protocol/query-parser.js';
import { hasStreamedList, serializeError, serializeResult, serializeResultStream } from '../protocol/serializer.js';
import { Readable } from 'node:stream';
import { verifySigV4 } from '../protocol/sigv4.js';
import { errorText } from '../errors/text.js';
import { parseId } from '../ids/index.js';
import type { Registry, RequestContext } from './registry.js';
import type { Services } from '../services/index.js';
import type { Logger } from './log.js';

export interface AppOptions {
  registry: Registry;
  services: Services;
  region: string;
  authEnabled: boolean;
  /** The account used when authentication is off. */
  defaultAccountId: string;
  lookupCredentials: (accessKeyId: string) => Promise<{ accountId: string; secretAccessKey: string } | undefined>;
  log: Logger;
  maxBodyBytes?: number;
}

/**
 * The one route beside the EC2 API: where an instance's graphical console (VNC) listens, which EC2 has no
 * action for. Authenticated like every request (SigV4 headers or a presigned URL), answered as JSON:
 *   GET /thecloud/v1/instance-console?InstanceId=i-...  ->  {"instanceId":"i-...","vnc":"vnc://127.0.0.1:5901"}
 */
export const CONSOLE_PATH = '/thecloud/v1/instance-console';

interface State {
  requestId: string;
  params: Params;
  rawBody: string;
  accountId?: string;
  action?: string;
}

async function readBody(req: Koa.Request['req'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Ec2Error('RequestEntityTooLarge', 'Request body is too large', 413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Up to this much of a streamed answer is gathered first: a smaller answer is sent whole, as any other. */
const STREAM_AFTER_CHARS = 1024 * 1024;

/**
 * The body of an answer with a streamed list. Its first MiB is written before anything is sent, so a small
 * answer goes out whole (with its length) and a failure there is still an EC2 error document; a larger one is
 * sent as it is written, a chunk at a time as the client reads. A failure after that can only cut the
 * connection (the client sees a truncated answer, never a complete-looking wrong one) and is logged.
 */
async function streamBody(chunks: AsyncGenerator<string>, onError: (e: Error) => void): Promise<string | Readable> {
  const head: string[] = [];
  let size = 0;
  for (;;) {
    const next = await chunks.next();
    if (next.done) return head.join('');
    head.push(next.value);
    size += next.value.length;
    if (size >= STREAM_AFTER_CHARS) break;
  }
  async function* rest(): AsyncGenerator<Buffer> {
    yield Buffer.from(head.join(''), 'utf8');
    head.length = 0;
    try {
      for await (const c of { [Symbol.asyncIterator]: () => chunks }) yield Buffer.from(c, 'utf8');
    } catch (e) {
      onError(e as Error);
      throw e;
    }
  }
  return Readable.from(rest(), { objectMode: false });
}

export function createApp(opts: AppOptions): Koa {
  const app = new Koa();
  app.proxy = false;
  const { log } = opts;

  // 1. Envelope: request id, error document, access log.
  app.use(async (ctx, next) => {
    const state = ctx.state as State;
    state.requestId = randomUUID();
    const started = process.hrtime.bigint();
    ctx.set('x-amzn-requestid', state.requestId);
    try {
      await next();
    } catch (err) {
      const e = err instanceof Ec2Error ? err : internalError();
      if (!(err instanceof Ec2Error)) {
        log.error('internal error', { requestId: state.requestId, action: state.action, error: errorText(err, { stack: true }) });
      }
      ctx.status = e.status;
      ctx.type = 'text/xml;charset=UTF-8';
      ctx.body = serializeError(e.code, e.message, state.requestId);
      ctx.state.errorCode = e.code;
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.debug('request', { requestId: state.requestId, action: state.action, status: ctx.status, code: ctx.state.errorCode, ms: Math.round(ms * 10) / 10 });
    }
  });

  // 2. Parameters: POST form body or GET query string.
  app.use(async (ctx, next) => {
    const state = ctx.state as State;
    if (ctx.method !== 'POST' && ctx.method !== 'GET') {
      throw new Ec2Error('InvalidHttpRequest', `The HTTP method ${ctx.method} is not supported`, 405);
    }
    if (ctx.path !== '/' && ctx.path !== CONSOLE_PATH) throw new Ec2Error('InvalidHttpRequest', `Unknown path ${ctx.path}`, 404);
    state.rawBody = ctx.method === 'POST' ? await readBody(ctx.req, opts.maxBodyBytes ?? 10 * 1024 * 1024) : '';
    const search = new URLSearchParams(ctx.querystring);
    if (ctx.method === 'POST') for (const [k, v] of new URLSearchParams(state.rawBody)) search.append(k, v);
    state.params = paramsFromSearch(search);
    state.action = state.params.get('Action');
    await next();
  });

  // 3. Authentication: SigV4 (header or presigned), attributing the request to an account.
  app.use(async (ctx, next) => {
    const state = ctx.state as State;
    if (!opts.authEnabled) {
      state.accountId = opts.defaultAccountId;
      return next();
    }
    let accountId: string | undefined;
    await verifySigV4(
      {
        method: ctx.method,
        path: ctx.path,
        query: ctx.querystring,
        headers: ctx.headers,
        body: state.rawBody,
      },
      {
        lookup: async (akid) => {
          const c = await opts.lookupCredentials(akid);
          accountId = c?.accountId;
          return c && { accessKeyId: akid, secretAccessKey: c.secretAccessKey };
        },
      },
    );
    state.accountId = accountId;
    return next();
  });

  // 4. Dispatch.
  app.use(async (ctx) => {
    const state = ctx.state as State;
    if (ctx.path === CONSOLE_PATH) {
      const id = parseId('instance', state.params.get('InstanceId') ?? '');
      const info = await opts.services.instances.console(id, state.accountId!);
      ctx.type = 'application/json';
      ctx.body = JSON.stringify({ instanceId: id, vnc: info.vncUrl ?? null });
      return;
    }
    const action = state.action;
    if (!action) throw missingParameter('Action');
    const handler = opts.registry.get(action);
    const op = model.operations[action];
    if (!handler || !op) throw invalidAction(action);
    const input = parseInput(op.input, state.params) as Record<string, unknown>;
    const rctx: RequestContext = {
      requestId: state.requestId,
      accountId: state.accountId!,
      region: opts.region,
      services: opts.services,
      log: (level, msg, extra) => log[level](msg, { requestId: state.requestId, action, ...extra }),
    };
    const h = handler as unknown as {
      validate?: (i: unknown, c: RequestContext) => Promise<unknown> | unknown;
      handle: (i: unknown, c: RequestContext, validated: unknown) => Promise<unknown>;
    };
    const validated = h.validate ? await h.validate(input, rctx) : undefined;
    if (input.DryRun === true) throw dryRunOperation();
    const result = await h.handle(input, rctx, validated);
    if (hasStreamedList(result)) {
      ctx.body = await streamBody(serializeResultStream(action, op.output, result, state.requestId), (e) =>
        log.error('response failed while streaming', { requestId: state.requestId, action, error: errorText(e, { stack: true }) }),
      );
    } else {
      ctx.body = serializeResult(action, op.output, result, state.requestId);
    }
    ctx.status = 200;
    ctx.type = 'text/xml;charset=UTF-8';
  });

  app.on('error', () => {
    /* every error is answered by the envelope above; Koa's own printer would only add noise */
  });
  return app;
}
