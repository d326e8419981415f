import { createHash } from 'node:crypto';
import type { Sequelize, Transaction } from 'sequelize';

/**
 * A thin, typed way to run parameterised SQL ($1, $2 ... binds, never string concatenation) on Sequelize's
 * connections and transactions. Repositories use it; nothing above src/db sees Sequelize.
 */
export class Db {
  constructor(readonly sequelize: Sequelize) {}

  async rows<T extends object>(sql: string, bind: unknown[] = [], t?: Transaction): Promise<T[]> {
    return (await this.direct(sql, bind, t)).rows as T[];
  }

  /**
   * A statement straight to a pg client of Sequelize's: the transaction's connection, or one from its pool (the
   * same clients, with Sequelize's type parsers). Sequelize's own query path is left out: it cost more CPU than
   * the query itself on small statements (~1 ms per describe call, measured by bench/poll-cost.ts). Binds are
   * $1, $2 ... as pg takes them.
   */
  private async direct(sql: string, bind: unknown[], t?: Transaction): Promise<PgResult> {
    // Without binds, the simple protocol (as Sequelize sends it): it takes several statements in one text.
    const send = (c: PgClient) => (bind.length ? c.query({ text: sql, values: bind, name: statementName(sql) }) : c.query({ text: sql }));
    if (t) return send((t as unknown as { connection: PgClient }).connection);
    const cm = this.sequelize.connectionManager as unknown as PooledConnections;
    const connection = await cm.getConnection({ type: 'write' });
    try {
      return await send(connection);
    } finally {
      cm.releaseConnection(connection);
    }
  }

  async one<T extends object>(sql: string, bind: unknown[] = [], t?: Transaction): Promise<T | undefined> {
    const r = await this.rows<T>(sql, bind, t);
    return r[0];
  }

  async exec(sql: string, bind: unknown[] = [], t?: Transaction): Promise<number> {
    return (await this.direct(sql, bind, t)).rowCount ?? 0;
  }

  /** Runs fn in a transaction; nested calls join the outer one (CLS is not used: pass `t` down). */
  async tx<T>(fn: (t: Transaction) => Promise<T>): Promise<T> {
    return this.sequelize.transaction(fn);
  }

  async close(): Promise<void> {
    await this.sequelize.close();
  }
}

/**
 * A statement's SQL text is a prepared statement on each connection that runs it (PostgreSQL then plans it once:
 * a describe's page query takes longer to plan than to run, ~1 ms against ~0.5 ms). The texts are the describe
 * engine's and the repositories', a bounded set, but filters combine: past MAX_PREPARED distinct texts, the
 * rest run unprepared, so no connection holds more than that many.
 */
const MAX_PREPARED = 500;
const prepared = new Map<string, string>();
function statementName(text: string): string | undefined {
  let name = prepared.get(text);
  if (name === undefined && prepared.size < MAX_PREPARED) {
    name = `tc_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    prepared.set(text, name);
  }
  return name;
}

interface PgResult {
  rows: unknown[];
  rowCount: number | null;
}
/** What is used of a pg client (pg's Client.query). */
interface PgClient {
  query(q: { text: string; values?: unknown[]; name?: string }): Promise<PgResult>;
}
/** The part of Sequelize's connection manager used above (its pool of pg clients). */
interface PooledConnections {
  getConnection(opts: { type: 'read' | 'write' }): Promise<PgClient>;
  releaseConnection(connection: PgClient): void;
}

export type { Transaction };
