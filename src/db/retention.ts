/**
 * Retention pruning (SPEC 4.4). With H a run's greatest applied ts, data older than H − horizon − longest window
 * can no longer affect a servable answer. Hour tiles are kept for `key_retention`, since per-key recency reads them.
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

export async function pruneRetention(pool: Pool, policy: FeaturePolicy, onProgress?: () => void): Promise<PruneResult> {
  const result: PruneResult = { contributions: 0, tiles: 0 };
  const { rows: runs } = await pool.query(`SELECT run_key, max(max_ts_us) AS h FROM partition_watermarks GROUP BY run_key`);
  for (const run of runs) {
    const h = Number(run.h);
    const windowCutoff = floorTo(h - policy.horizonMicros - policy.longestWindowMicros, MICROS_PER_HOUR);
    const recencyCutoff = floorTo(h - policy.keyRetentionMicros, MICROS_PER_HOUR) - MICROS_PER_HOUR;
    for (;;) {
      const c = await pool.query(
        `DELETE FROM contributions WHERE ctid = ANY (ARRAY(
           SELECT c.ctid FROM contributions c JOIN series s ON s.id = c.series_id
            WHERE s.run_key = $1 AND c.ts_us < $2 LIMIT 5000))`,
        [run.run_key, windowCutoff],
      );
      result.contributions += c.rowCount ?? 0;
      onProgress?.();
      if ((c.rowCount ?? 0) < 5000) break;
    }
    for (;;) {
      const t = await pool.query(
        `DELETE FROM tiles t USING (
           SELECT t2.series_id, t2.granularity_us, t2.start_us FROM tiles t2 JOIN series s ON s.id = t2.series_id
            WHERE s.run_key = $1 AND ((t2.granularity_us < $4 AND t2.start_us + t2.granularity_us <= $2)
                                   OR (t2.granularity_us = $4 AND t2.start_us + t2.granularity_us <= $3)) LIMIT 5000) d
         WHERE t.series_id = d.series_id AND t.granularity_us = d.granularity_us AND t.start_us = d.start_us`,
        [run.run_key, windowCutoff, recencyCutoff, RECENCY_GRANULARITY],
      );
      result.tiles += t.rowCount ?? 0;
      onProgress?.();
      if ((t.rowCount ?? 0) < 5000) break;
    }
  }
  return result;
}
