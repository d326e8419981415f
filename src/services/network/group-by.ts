/**
 * Rows grouped by what they belong to (a VPC, a route table, a group, an ACL), in one pass, so that building each
 * owner's part of the data plane's model is a lookup, not a scan of every row. A null key leaves the row out.
 */
export function groupBy<T>(rows: Iterable<T>, key: (r: T) => string | null): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    if (k === null) continue;
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}
