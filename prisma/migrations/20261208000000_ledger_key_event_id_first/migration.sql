-- The dedupe ledger's key leads with the event id. Every event of a run shares its 64-character run key and its
-- event type, so with those first each comparison in the index ran through about 95 equal characters before the
-- event id told two rows apart. Measured over 1,000,000 rows, batches of 2,000: probing a batch's candidates took
-- 12 instead of 24 ms, inserting it 28 instead of 34 ms. Rebuilding the index locks the table while it runs.
-- (No semicolon in these comments: the migration runner splits the script on them.)
ALTER TABLE "applied_events" DROP CONSTRAINT "applied_events_pkey",
  ADD CONSTRAINT "applied_events_pkey" PRIMARY KEY ("event_id", "event_type", "run_key");
