/**
 * SQL fragments with their bound values, composed safely: `sql\`r.state = ${v}\`` binds v (never pastes it into
 * the text), a fragment inside a fragment is inlined with its own values, and `render` numbers the binds $1..$n
 * once the whole statement is put together. Text that is SQL (column names, expressions of a resource's
 * declaration) enters only through `raw`, which declarations write as constants, never from a request.
 */
export class Sql {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}
}

export function sql(strings: TemplateStringsArray | readonly string[], ...values: unknown[]): Sql {
  return new Sql([...strings], values);
}

/** Trusted SQL text: a column, an expression or a keyword written in code. */
export function raw(text: string): Sql {
  return new Sql([text], []);
}

export function join(parts: Sql[], separator: string): Sql {
  if (!parts.length) return raw('');
  const strings = ['', ...parts.slice(1).map(() => separator), ''];
  return new Sql(strings, parts);
}

/**
 * SQL text made by code that numbers its own parameters (a repository's rule shared with the engine):
 * `build` gets `param(v)`, which answers a placeholder for v, as often as it likes, in any order.
 */
export function sqlText(build: (param: (v: unknown) => string) => string): Sql {
  const given: unknown[] = [];
  const text = build((v) => `\u0001${given.push(v) - 1}\u0002`);
  const strings: string[] = [];
  const values: unknown[] = [];
  let last = 0;
  for (const m of text.matchAll(/\u0001(\d+)\u0002/g)) {
    strings.push(text.slice(last, m.index));
    values.push(given[Number(m[1])]);
    last = m.index! + m[0].length;
  }
  strings.push(text.slice(last));
  return new Sql(strings, values);
}

/** ANDs conditions; none is TRUE. */
export function and(parts: Sql[]): Sql {
  return parts.length ? sql`((${join(parts, ') AND (')}))` : raw('TRUE');
}

/** ORs conditions; none is FALSE. */
export function or(parts: Sql[]): Sql {
  return parts.length ? sql`((${join(parts, ') OR (')}))` : raw('FALSE');
}

/** The statement text with $1..$n and the values to bind to them. */
export function render(fragment: Sql): { text: string; bind: unknown[] } {
  const bind: unknown[] = [];
  const walk = (f: Sql): string => {
    let text = f.strings[0]!;
    f.values.forEach((v, i) => {
      if (v instanceof Sql) text += walk(v);
      else {
        bind.push(v);
        text += `$${bind.length}`;
      }
      text += f.strings[i + 1]!;
    });
    return text;
  };
  return { text: walk(fragment), bind };
}
