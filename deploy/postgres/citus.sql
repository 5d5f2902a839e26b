-- Distributes brandcoach's PostgreSQL schema over a Citus cluster.
--
-- What it does:
--   * the per-user tables (messages, facts, audit, summaries, usage, extraction_jobs, uploads,
--     responses), each PARTITION BY HASH (user_id) with 10 partitions, become distributed tables
--     on user_id, all co-located: every row of one user is on one worker;
--   * users, api_keys, stores, files and chunks become reference tables (a full copy on every
--     node), so the per-user tables can keep their foreign keys to users.
--
-- Citus distributes a partitioned table through its parent: create_distributed_table() on the
-- parent distributes every partition with it (a partition cannot be distributed on its own, and
-- a partition must not itself be partitioned). Each partition is then split into
-- citus.shard_count shards, so one logical table has 10 x shard_count shard tables; on a
-- worker, each shard of a parent is itself a partitioned table over the shards of the
-- partitions. PostgreSQL's partition hash and Citus's shard hash are independent; both are
-- computed from user_id, so queries filtered by user_id still reach one shard on one worker.
--
-- Before running it (docs/deploy.md, "Distributed PostgreSQL (Citus)"):
--   1. Citus (12.1 or later) on PostgreSQL 15 on the coordinator and every worker, with
--      shared_preload_libraries = 'citus'; the database and CREATE EXTENSION citus on each;
--      the workers added on the coordinator with citus_set_coordinator_host() and
--      citus_add_node().
--   2. One brandcoach node started once against the coordinator, so its migrations created the
--      schema; then every node stopped (nothing may write while this runs).
--   3. A backup of the coordinator's database.
--
-- Run it on the coordinator as the owner of the tables (the brandcoach role), in one session:
--   psql -v ON_ERROR_STOP=1 -h COORDINATOR -U brandcoach -d brandcoach -f citus.sql
--
-- Known limit: the extraction queue (memory.llm_extraction) claims the next due job of any user
-- with a multi-shard SELECT ... FOR UPDATE SKIP LOCKED, which Citus is not expected to run; keep
-- memory.llm_extraction off on Citus until that query is changed (docs/deploy.md, 13.3).
--
-- It stops at the first error. Foreign keys are dropped in step 2 and added back in step 6;
-- if it stops in between, their definitions are in brandcoach_citus.saved_fkeys: fix the cause,
-- then finish the remaining steps by hand.

\set ON_ERROR_STOP on

-- ---------------------------------------------------------------------------------------------
-- 0. Look before changing anything.

SELECT extversion AS citus_version FROM pg_extension WHERE extname = 'citus';
SELECT nodename, nodeport, groupid, noderole, isactive FROM pg_dist_node ORDER BY groupid;

-- The per-user tables must exist, be PARTITION BY HASH (user_id) with 10 partitions and have a
-- NOT NULL user_id (Citus refuses a row whose distribution column is NULL). The shared tables
-- must exist. Anything else means the schema is not what this file was written for: stop.
DO $$
DECLARE
  t text;
  parts int;
BEGIN
  FOREACH t IN ARRAY ARRAY['messages', 'facts', 'audit', 'summaries', 'usage', 'extraction_jobs',
                           'uploads', 'responses'] LOOP
    IF to_regclass('public.' || t) IS NULL THEN
      RAISE EXCEPTION 'table public.% is missing: has a brandcoach node migrated this database?', t;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_partitioned_table
                   WHERE partrelid = ('public.' || t)::regclass
                     AND pg_get_partkeydef(partrelid) = 'HASH (user_id)') THEN
      RAISE EXCEPTION 'table public.% is not PARTITION BY HASH (user_id)', t;
    END IF;
    SELECT count(*) INTO parts FROM pg_inherits WHERE inhparent = ('public.' || t)::regclass;
    IF parts <> 10 THEN
      RAISE EXCEPTION 'table public.% has % partitions, expected 10', t, parts;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_attribute
               WHERE attrelid = ('public.' || t)::regclass AND attname = 'user_id' AND NOT attnotnull) THEN
      RAISE EXCEPTION 'public.%.user_id allows NULL; Citus cannot place such rows', t;
    END IF;
  END LOOP;
  FOREACH t IN ARRAY ARRAY['users', 'api_keys', 'stores', 'files', 'chunks'] LOOP
    IF to_regclass('public.' || t) IS NULL THEN
      RAISE EXCEPTION 'table public.% is missing', t;
    END IF;
  END LOOP;
  IF EXISTS (SELECT 1 FROM pg_dist_partition
             WHERE logicalrelid::text IN ('users', 'api_keys', 'stores', 'files', 'chunks', 'messages',
                                          'facts', 'audit', 'summaries', 'usage', 'extraction_jobs',
                                          'uploads', 'responses')) THEN
    RAISE EXCEPTION 'some of these tables are Citus tables already: this file is for a database not yet distributed';
  END IF;
END
$$;

-- For the record: every foreign key, as PostgreSQL will recreate it in step 6. Citus accepts
--   distributed -> reference      (e.g. messages (user_id) -> users (id))
--   reference   -> reference      (e.g. files (store_id) -> stores (id))
--   distributed -> distributed    only between co-located tables and only when both sides
--                                 include user_id (none in the first schema version: per-user
--                                 rows refer to each other by (user_id, id) without a key)
-- and refuses reference -> distributed. A key Citus refuses makes step 6 stop on it.
SELECT conrelid::regclass AS table_name, conname, pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE contype = 'f' AND conparentid = 0 AND connamespace = 'public'::regnamespace
ORDER BY 1, 2;

-- ---------------------------------------------------------------------------------------------
-- 1. Save the foreign keys (on parents and plain tables; the copies PostgreSQL keeps on
--    partitions come back with their parent's key).

CREATE SCHEMA brandcoach_citus;
CREATE TABLE brandcoach_citus.saved_fkeys AS
SELECT conrelid::regclass::text AS table_name, conname, pg_get_constraintdef(oid) AS definition
FROM pg_constraint c
WHERE contype = 'f' AND conparentid = 0 AND connamespace = 'public'::regnamespace
  AND NOT (SELECT relispartition FROM pg_class WHERE oid = c.conrelid);

-- ---------------------------------------------------------------------------------------------
-- 2. Drop them, so the tables can be distributed in any order (the way Citus's documentation
--    gives for schemas whose foreign keys do not allow a distribution order).

SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', table_name, conname)
FROM brandcoach_citus.saved_fkeys
\gexec

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace) THEN
    RAISE EXCEPTION 'foreign keys remain (defined on partitions?); drop them by hand and add them to brandcoach_citus.saved_fkeys';
  END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- 3. Shared tables: reference tables, replicated to every node (writes go to all of them in
--    one distributed transaction). chunks holds the knowledge base with its vectors (about
--    2 KiB per chunk with the default 512-dimension embedder): every worker gets the whole of
--    it. If that is too much, see docs/deploy.md for keeping it on the coordinator instead.

SELECT create_reference_table('users');
SELECT create_reference_table('api_keys');
SELECT create_reference_table('stores');
SELECT create_reference_table('files');
SELECT create_reference_table('chunks');

-- ---------------------------------------------------------------------------------------------
-- 4. Per-user tables: distributed on user_id, co-located with messages.
--
-- Shards per partition. 10 partitions x 16 = 160 shards per table, 1,280 for the eight tables;
-- enough to spread over a few dozen worker cores and to move shards when workers are added.

SET citus.shard_count = 16;

SELECT create_distributed_table('messages', 'user_id');
SELECT create_distributed_table('facts', 'user_id', colocate_with => 'messages');
SELECT create_distributed_table('audit', 'user_id', colocate_with => 'messages');
SELECT create_distributed_table('summaries', 'user_id', colocate_with => 'messages');
SELECT create_distributed_table('usage', 'user_id', colocate_with => 'messages');
SELECT create_distributed_table('extraction_jobs', 'user_id', colocate_with => 'messages');
SELECT create_distributed_table('uploads', 'user_id', colocate_with => 'messages');
SELECT create_distributed_table('responses', 'user_id', colocate_with => 'messages');

-- ---------------------------------------------------------------------------------------------
-- 5. The rows were copied into shards; the coordinator's local copies are no longer read.
--    Free their space (Citus prints this hint for every table that had rows).

SELECT truncate_local_data_after_distributing_table(t)
FROM unnest(ARRAY['users', 'api_keys', 'stores', 'files', 'chunks', 'messages', 'facts', 'audit',
                  'summaries', 'usage', 'extraction_jobs', 'uploads', 'responses']::regclass[]) AS t;

-- ---------------------------------------------------------------------------------------------
-- 6. Put the foreign keys back, each in its own transaction (Citus checks and propagates them).

SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', table_name, conname, definition)
FROM brandcoach_citus.saved_fkeys
ORDER BY table_name, conname
\gexec

DROP SCHEMA brandcoach_citus CASCADE;

-- ---------------------------------------------------------------------------------------------
-- 7. Check.

-- Thirteen tables: five reference, eight distributed on user_id in one co-location group.
SELECT t.table_name, t.citus_table_type, t.distribution_column, t.colocation_id, t.shard_count
FROM citus_tables t
JOIN pg_class c ON c.oid = t.table_name
WHERE NOT c.relispartition
ORDER BY t.citus_table_type, t.table_name::text;

-- Tables left local on the coordinator (brandcoach's migration bookkeeping, and any table a
-- newer migration added): a later migration that adds a per-user table needs its own
-- create_distributed_table() call.
SELECT c.oid::regclass AS local_table
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid)
ORDER BY 1;
