/** What `lvs` says about a volume group, read from its JSON report (sizes in bytes). */
import type { Runner } from '../exec/index.js';

export interface LvInfo {
  name: string;
  sizeBytes: number;
  tags: string[];
  /** The thin LV it is a snapshot of, while that LV exists ('' otherwise) */
  origin: string;
  /** lv_attr: [0] type (V thin, t pool ...), [4] state (a active), [5] open (o) */
  attr: string;
  /** Data use of a thin pool or thin LV in percent */
  dataPercent: number;
  /** The thin pool a thin LV is in */
  pool: string;
}

export const LV_FIELDS = 'lv_name,lv_size,lv_tags,origin,lv_attr,data_percent,pool_lv';

export function parseLvs(stdout: string): LvInfo[] {
  const report = JSON.parse(stdout) as { report: Array<{ lv?: Array<Record<string, string>> }> };
  return (report.report[0]?.lv ?? []).map((r) => ({
    name: r.lv_name ?? '',
    sizeBytes: Number(r.lv_size ?? 0),
    tags: (r.lv_tags ?? '').split(',').filter(Boolean),
    origin: r.origin ?? '',
    attr: r.lv_attr ?? '',
    dataPercent: Number(r.data_percent || 0),
    pool: r.pool_lv ?? '',
  }));
}

/** Every LV of the volume group. */
export async function listLvs(run: Runner, vg: string): Promise<LvInfo[]> {
  const r = await run('lvs', ['--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', LV_FIELDS, vg], { timeoutMs: 30_000, readOnly: true });
  return parseLvs(r.stdout);
}

export const tagValue = (lv: LvInfo, key: string): string | undefined =>
  lv.tags.find((t) => t.startsWith(`${key}=`))?.slice(key.length + 1);

export const isOpen = (lv: LvInfo) => lv.attr[5] === 'o';
export const isActive = (lv: LvInfo) => lv.attr[4] === 'a';

export const GiB = 1024 ** 3;
