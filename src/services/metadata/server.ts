/**
 * The instance metadata service's HTTP side: its own server (no SigV4, no API middleware), fed the connections
 * the network backend accepted in each VPC (NetworkBackend.serveMetadata). Who asks is (VPC, source address) of
 * the connection, which the switch makes unforgeable (a port's packets pass only with its own MAC and IPs); no
 * header or path the guest sends changes it.
 *
 * As AWS's IMDS: GET/HEAD read the tree (v1, or v2 with `X-aws-ec2-metadata-token`); `PUT /latest/api/token` with
 * `X-aws-ec2-metadata-token-ttl-seconds` (1..21600, else 400) gives a token, refused (403) when the request carries
 * `X-Forwarded-For` (it came through a proxy); a wrong or expired token is 401, no token when HttpTokens=required
 * is 401; HttpEndpoint=disabled is 403; other methods 405. A request body over 64 KiB is refused (413) and the
 * connection closed, headers over 8 KiB are 431 (Node's own check).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { MetadataAcceptor } from '../../ports/index.js';
import { buildTree, lookup, type DocumentSigner, type InstanceMetadata } from './tree.js';
import { parseTokenTtl, TokenIssuer } from './tokens.js';

/** Finds the instance whose ENI has `ip` in `vpcId` (running or pending), or nothing. */
export interface MetadataSource {
  byAddress(vpcId: string, ip: string): Promise<InstanceMetadata | undefined>;
}

/** NetworkBackend.limitMetadataHops: the TTL of the router's packets on one connection, until released. */
export type HopLimiter = (vpcId: string, peer: { address: string; port: number }, hops: number) => Promise<() => Promise<void>>;

export interface MetadataServerOptions {
  signer?: DocumentSigner;
  tokens?: TokenIssuer;
  /** Enforces HttpPutResponseHopLimit on token answers (without it the limit is recorded only). */
  limitHops?: HopLimiter;
  log?: { warn(msg: string, fields?: Record<string, unknown>): void };
}

const VERSIONS = ['1.0', '2007-01-19', '2007-03-01', '2007-08-29', '2007-10-10', '2007-12-15', '2008-02-01', '2008-09-01', '2009-04-04', '2011-01-01', '2011-05-01', '2012-01-12', '2014-02-25', '2014-11-05', '2015-10-20', '2016-04-19', '2016-06-30', '2016-09-02', '2018-03-28', '2018-08-17', '2018-09-24', '2019-10-01', '2020-10-27', '2021-01-03', '2021-03-23', '2021-07-15', '2022-09-24', '2024-04-11', 'latest'];
const VERSION = /^(latest|1\.0|\d{4}-\d{2}-\d{2})$/;
const TOKEN_PATH = '/latest/api/token';
const MAX_BODY = 64 * 1024;
const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 413: 'Request Entity Too Large', 500: 'Internal Server Error' };

export class MetadataServer {
  readonly http: Server;
  readonly tokens: TokenIssuer;
  private readonly vpcOf = new WeakMap<Socket, string>();
  /** The hop limit in force on a connection (set at its first token answer). */
  private readonly hopsOf = new WeakMap<Socket, number>();

  constructor(private readonly source: MetadataSource, private readonly opts: MetadataServerOptions = {}) {
    this.tokens = opts.tokens ?? new TokenIssuer();
    this.http = createServer({ maxHeaderSize: 8192 }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        opts.log?.warn('metadata request failed', { error: e instanceof Error ? e.message : String(e) });
        if (!res.headersSent) this.error(res, 500);
        else res.destroy();
      });
    });
  }

  /** Hand this to NetworkBackend.serveMetadata. */
  readonly accept: MetadataAcceptor = (vpcId, socket) => {
    this.vpcOf.set(socket, vpcId);
    socket.setTimeout(30_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    this.http.emit('connection', socket);
  };

  close(): void {
    this.http.closeAllConnections();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('Server', 'EC2ws');
    const tooBig = Number(req.headers['content-length'] ?? 0) > MAX_BODY || !(await drain(req));
    if (tooBig) {
      res.setHeader('Connection', 'close');
      this.error(res, 413);
      res.on('finish', () => req.socket.destroy());
      return;
    }
    const vpcId = this.vpcOf.get(req.socket);
    const ip = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const instance = vpcId ? await this.source.byAddress(vpcId, ip) : undefined;
    // Nobody we know (the router itself, an address no ENI has): nothing to say to it.
    if (!instance) return this.error(res, 404);
    if (instance.options.httpEndpoint === 'disabled') return this.error(res, 403);

    const path = (req.url ?? '/').split('?')[0]!.replace(/\/{2,}/g, '/');
    const method = req.method ?? '';
    if (method === 'PUT') {
      if (path !== TOKEN_PATH) return this.error(res, 405, 'GET, HEAD');
      if (req.headers['x-forwarded-for'] !== undefined) return this.error(res, 403);
      const ttl = parseTokenTtl(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (ttl === undefined) return this.error(res, 400);
      res.setHeader('X-aws-ec2-metadata-token-ttl-seconds', String(ttl));
      await this.limitHops(req.socket, vpcId!, ip, instance.options.httpPutResponseHopLimit);
      return this.send(res, 200, this.tokens.issue(instance.instanceId, ttl), method);
    }
    if (method !== 'GET' && method !== 'HEAD') return this.error(res, 405, path === TOKEN_PATH ? 'PUT' : 'GET, HEAD, PUT');
    if (path === TOKEN_PATH) return this.error(res, 405, 'PUT');

    const token = req.headers['x-aws-ec2-metadata-token'];
    if (token !== undefined) {
      if (!this.tokens.valid(token, instance.instanceId)) return this.error(res, 401);
    } else if (instance.options.httpTokens === 'required') {
      return this.error(res, 401);
    }

    if (path === '/') return this.send(res, 200, VERSIONS.join('\n'), method);
    const m = /^\/([^/]+)(?:\/(.*))?$/.exec(path);
    if (!m || !VERSION.test(m[1]!)) return this.error(res, 404);
    const found = lookup(buildTree(instance, this.opts.signer), m[2] ?? '');
    if (found.status === 404) return this.error(res, 404);
    return this.send(res, 200, found.body, method);
  }

  /**
   * HttpPutResponseHopLimit, as AWS: the token answer's IP TTL is the limit, so it dies that many hops away (a
   * container behind the instance is one hop more). Set once per connection, released when it closes. If the
   * backend cannot set it, the answer still goes (logged): the limit is a hardening, not the token's validity.
   */
  private async limitHops(socket: Socket, vpcId: string, ip: string, hops: number): Promise<void> {
    const limit = this.opts.limitHops;
    // One limit per connection (a changed option applies to the next connection).
    if (!limit || this.hopsOf.has(socket) || socket.remotePort === undefined) return;
    this.hopsOf.set(socket, hops);
    try {
      const release = await limit(vpcId, { address: ip, port: socket.remotePort }, hops);
      if (socket.destroyed) await release();
      else socket.once('close', () => void release().catch(() => undefined));
    } catch (e) {
      this.opts.log?.warn('could not set the metadata hop limit', { vpcId, ip, error: e instanceof Error ? e.message : String(e) });
    }
  }

  private send(res: ServerResponse, status: number, body: string | Buffer, method: string): void {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/plain');
    res.setHeader('Content-Length', buf.length);
    res.end(method === 'HEAD' ? undefined : buf);
  }

  private error(res: ServerResponse, status: number, allow?: string): void {
    const text = `${status} - ${REASONS[status] ?? 'Error'}`;
    if (allow) res.setHeader('Allow', allow);
    const body =
      '<?xml version="1.0" encoding="iso-8859-1"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' +
      `<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n <head>\n  <title>${text}</title>\n </head>\n <body>\n  <h1>${text}</h1>\n </body>\n</html>\n`;
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/html');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  }
}

/** Reads and drops the request body; false as soon as it passes MAX_BODY (the rest is not read). */
function drain(req: IncomingMessage): Promise<boolean> {
  return new Promise((resolve) => {
    let n = 0;
    const done = (ok: boolean) => {
      req.removeAllListeners('data');
      resolve(ok);
    };
    req.on('data', (chunk: Buffer) => {
      n += chunk.length;
      if (n > MAX_BODY) {
        req.pause();
        done(false);
      }
    });
    req.on('end', () => done(true));
    req.on('error', () => done(false));
    if (req.complete) done(true);
  });
}
