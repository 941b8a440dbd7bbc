-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "runs" (
    "run_key" TEXT NOT NULL,
    "platform_run_id" TEXT NOT NULL,
    "scenario_run_id" TEXT NOT NULL,
    "scenario_id" TEXT NOT NULL,
    "manifest_fingerprint" TEXT NOT NULL,
    "parameter_hash" TEXT NOT NULL,
    "seed" DECIMAL(20,0) NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "runs_pkey" PRIMARY KEY ("run_key")
);

-- CreateTable
CREATE TABLE "checkpoints" (
    "stream" TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "next_offset" BIGINT NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'RUNNING',
    "stalled_offset" BIGINT,
    "stalled_class" TEXT,
    "stalled_reason" TEXT,
    "records_read" BIGINT NOT NULL DEFAULT 0,
    "applied" BIGINT NOT NULL DEFAULT 0,
    "duplicates" BIGINT NOT NULL DEFAULT 0,
    "anomalies" BIGINT NOT NULL DEFAULT 0,
    "irrelevant" BIGINT NOT NULL DEFAULT 0,
    "quarantined" BIGINT NOT NULL DEFAULT 0,
    "last_applied_ts_us" BIGINT,
    "end_offset" BIGINT NOT NULL DEFAULT 0,
    "end_ts_us" BIGINT,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "checkpoints_pkey" PRIMARY KEY ("stream","partition")
);

-- CreateTable
CREATE TABLE "partition_watermarks" (
    "run_key" TEXT NOT NULL,
    "stream" TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "max_ts_us" BIGINT NOT NULL,

    CONSTRAINT "partition_watermarks_pkey" PRIMARY KEY ("run_key","stream","partition")
);

-- CreateTable
CREATE TABLE "applied_events" (
    "run_key" TEXT NOT NULL,
    "event_type" TEXT NOT NULL,
    "event_id" TEXT NOT NULL,
    "payload_hash" CHAR(64) NOT NULL,
    "stream" TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" BIGINT NOT NULL,
    "ts_us" BIGINT NOT NULL,

    CONSTRAINT "applied_events_pkey" PRIMARY KEY ("run_key","event_type","event_id")
);

-- CreateTable
CREATE TABLE "series" (
    "id" BIGSERIAL NOT NULL,
    "run_key" TEXT NOT NULL,
    "group_name" TEXT NOT NULL,
    "group_version" TEXT NOT NULL,
    "key_id" TEXT NOT NULL,
    "field" TEXT NOT NULL,

    CONSTRAINT "series_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "contributions" (
    "series_id" BIGINT NOT NULL,
    "ts_us" BIGINT NOT NULL,
    "stream" TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" BIGINT NOT NULL,
    "value" DECIMAL NOT NULL
);

-- CreateTable
CREATE TABLE "tiles" (
    "series_id" BIGINT NOT NULL,
    "granularity_us" BIGINT NOT NULL,
    "start_us" BIGINT NOT NULL,
    "count" BIGINT NOT NULL,
    "sum" DECIMAL NOT NULL,
    "min" DECIMAL NOT NULL,
    "max" DECIMAL NOT NULL,
    "max_ts_us" BIGINT NOT NULL,

    CONSTRAINT "tiles_pkey" PRIMARY KEY ("series_id","granularity_us","start_us")
);

-- CreateTable
CREATE TABLE "quarantine" (
    "id" BIGSERIAL NOT NULL,
    "stream" TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" BIGINT NOT NULL,
    "class" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "raw" TEXT NOT NULL,
    "run_key" TEXT,
    "event_type" TEXT,
    "event_id" TEXT,
    "first_stream" TEXT,
    "first_partition" INTEGER,
    "first_offset" BIGINT,
    "cross_partition" BOOLEAN NOT NULL DEFAULT false,
    "resolution" TEXT NOT NULL DEFAULT 'quarantine',
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "quarantine_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "cross_partition_copies" (
    "stream" TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" BIGINT NOT NULL,
    "run_key" TEXT NOT NULL,
    "event_type" TEXT NOT NULL,
    "event_id" TEXT NOT NULL,
    "class" TEXT NOT NULL,

    CONSTRAINT "cross_partition_copies_pkey" PRIMARY KEY ("stream","partition","offset")
);

-- CreateIndex
CREATE UNIQUE INDEX "series_run_key_group_name_group_version_key_id_field_key" ON "series"("run_key", "group_name", "group_version", "key_id", "field");

-- CreateIndex
CREATE INDEX "contributions_series_id_ts_us_idx" ON "contributions"("series_id", "ts_us");

-- CreateIndex
CREATE INDEX "quarantine_run_key_stream_idx" ON "quarantine"("run_key", "stream");

-- CreateIndex
CREATE UNIQUE INDEX "quarantine_stream_partition_offset_key" ON "quarantine"("stream", "partition", "offset");

