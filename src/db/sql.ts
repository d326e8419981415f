import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';

/**
 * A thin, typed way to run parameterised SQL through Sequelize ($1, $2 ... binds, never string concatenation).
 * Repositories use it; nothing above src/db sees Sequelize.
 */
export class Db {
  constructor(readonly sequelize: Sequelize) {}

  async rows<T extends object>(sql: string, bind: unknown[] = [], t?: Transaction): Promise<T[]> {
    return this.sequelize.query<T>(sql, { bind, type: QueryTypes.SELECT, transaction: t });
  }

  async one<T extends object>(sql: string, bind: unknown[] = [], t?: Transaction): Promise<T | undefined> {
    const r = await this.rows<T>(sql, bind, t);
    return r[0];
  }

  async exec(sql: string, bind: unknown[] = [], t?: Transaction): Promise<number> {
    // Sequelize answers a raw write with the affected row count either as a number or in pg's result object.
    const [, meta] = (await this.sequelize.query(sql, { bind, transaction: t })) as [unknown, number | { rowCount?: number }];
    return typeof meta === 'number' ? meta : (meta?.rowCount ?? 0);
  }

  /** Runs fn in a transaction; nested calls join the outer one (CLS is not used: pass `t` down). */
  async tx<T>(fn: (t: Transaction) => Promise<T>): Promise<T> {
    return this.sequelize.transaction(fn);
  }

  async close(): Promise<void> {
    await this.sequelize.close();
  }
}

export type { Transaction };
