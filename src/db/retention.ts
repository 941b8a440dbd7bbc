/**
 * Retention pruning (SPEC 4.4). With H a run's greatest applied ts, data older than H − horizon − longest window
 * can no longer affect a servable answer. Hour tiles are kept for `key_retention`, since per-key recency reads them
 * (and, whatever `key_retention` says, at least up to the window cutoff, since windows read them too).
 * Deletes run in small chunks so that apply is never blocked for long.
 */
import type { Pool } from './pool';
import type { FeaturePolicy } from '../core/policy';
import { MICROS_PER_HOUR, floorTo } from '../core/time';
import { RECENCY_GRANULARITY } from '../core/windows';

export interface PruneResult {
  contributions: number;
  tiles: number;
}

/**
 * Prunes per (run, group): H is taken over the streams the group reads, which is never later than the H of any
 * request that reads the group (requests read at least those streams), so nothing servable is removed.
 */
export async function pruneRetention(
  pool: Pool,
  policy: FeaturePolicy,
  onProgress?: () => void,
): Promise<PruneResult> {
  const result: PruneResult = { contributions: 0, tiles: 0 };
  const { rows: runs } = await pool.query(`SELECT DISTINCT run_key FROM partition_watermarks`);
  for (const run of runs) {
    for (const group of policy.groups) {
      const { rows } = await pool.query(
        `SELECT max(max_ts_us) AS h FROM partition_watermarks WHERE run_key = $1 AND stream = ANY($2::text[])`,
        [run.run_key, group.streams],
      );
      if (rows[0].h === null) continue;
      const h = Number(rows[0].h);
      const windowCutoff = floorTo(h - policy.horizonMicros - policy.longestWindowMicros, MICROS_PER_HOUR);
      // Hour tiles serve windows too: with a key_retention shorter than horizon + longest window they must still be
      // kept up to the window cutoff, or pruning would empty the oldest hours of servable windows.
      const hourCutoff = Math.min(
        windowCutoff,
        floorTo(h - policy.keyRetentionMicros, MICROS_PER_HOUR) - MICROS_PER_HOUR,
      );
      const scope = [run.run_key, group.name, group.version];
      for (;;) {
        const c = await pool.query(
          `DELETE FROM contributions WHERE ctid = ANY (ARRAY(
             SELECT c.ctid FROM contributions c JOIN series s ON s.id = c.series_id
              WHERE s.run_key = $1 AND s.group_name = $2 AND s.group_version = $3 AND c.ts_us < $4 LIMIT 5000))`,
          [...scope, windowCutoff],
        );
        result.contributions += c.rowCount ?? 0;
        onProgress?.();
        if ((c.rowCount ?? 0) < 5000) break;
      }
      for (;;) {
        const t = await pool.query(
          `DELETE FROM tiles t USING (
             SELECT t2.series_id, t2.granularity_us, t2.start_us FROM tiles t2 JOIN series s ON s.id = t2.series_id
              WHERE s.run_key = $1 AND s.group_name = $2 AND s.group_version = $3
                AND ((t2.granularity_us < $6 AND t2.start_us + t2.granularity_us <= $4)
                  OR (t2.granularity_us = $6 AND t2.start_us + t2.granularity_us <= $5)) LIMIT 5000) d
           WHERE t.series_id = d.series_id AND t.granularity_us = d.granularity_us AND t.start_us = d.start_us`,
          [...scope, windowCutoff, hourCutoff, RECENCY_GRANULARITY],
        );
        result.tiles += t.rowCount ?? 0;
        onProgress?.();
        if ((t.rowCount ?? 0) < 5000) break;
      }
    }
  }
  return result;
}
