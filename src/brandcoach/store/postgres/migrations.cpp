#include "brandcoach/store/postgres/migrations.hpp"

#include <fmt/format.h>

#include <iterator>

#include "brandcoach/store/postgres/connection.hpp"

namespace brandcoach::store::postgres {

namespace {

struct Migration {
  int version;
  const char* sql;
};

// Append only: a released migration is never edited, a change is a new migration.
//
// The same data model as the SQLite store (DESIGN §3). Every table that holds one user's data is
// PARTITION BY HASH (user_id) into 10 partitions (the seed's shard count), so a distributed
// PostgreSQL can place them by user without a schema change. PostgreSQL wants the partition key in
// every unique constraint of a partitioned table, so their keys are (user_id, id), and rows of
// partitioned tables are linked to each other by (user_id, id) in queries rather than by foreign
// keys; erase_user deletes from each of them explicitly.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE users (
  id BIGSERIAL PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  new_session_requested BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE messages (
  id BIGSERIAL,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
  text TEXT NOT NULL,
  assistant TEXT NOT NULL DEFAULT '',
  route_json TEXT NOT NULL DEFAULT '{}',
  citations_json TEXT NOT NULL DEFAULT '[]',
  usage_json TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  session_no BIGINT NOT NULL DEFAULT 1,
  external_id TEXT,
  speaker TEXT NOT NULL DEFAULT '',
  ts_text TEXT NOT NULL DEFAULT '',
  -- The message's stems as the text module makes them (the query side uses the same function), so
  -- the 'simple' configuration only splits them: PostgreSQL's own stemming never disagrees with ours.
  terms TEXT NOT NULL DEFAULT '',
  search tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, terms)) STORED,
  PRIMARY KEY (user_id, id),
  UNIQUE (user_id, seq),
  UNIQUE (user_id, external_id)
) PARTITION BY HASH (user_id);
CREATE INDEX messages_search ON messages USING GIN (search);
CREATE INDEX messages_by_time ON messages (created_at) WHERE role = 'assistant';

CREATE TABLE facts (
  id BIGSERIAL,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  category TEXT NOT NULL,
  source_message_id BIGINT,
  confidence DOUBLE PRECISION NOT NULL DEFAULT 1.0,
  status TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'rejected', 'pending_confirmation')),
  supersedes_id BIGINT,
  created_at BIGINT NOT NULL,
  confirmed_at BIGINT,
  PRIMARY KEY (user_id, id)
) PARTITION BY HASH (user_id);
CREATE INDEX facts_by_user ON facts (user_id, status, key);

CREATE TABLE audit (
  id BIGSERIAL,
  user_id BIGINT NOT NULL DEFAULT 0,  -- 0: an action about no user (admin actions)
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object TEXT NOT NULL,
  before_json TEXT,
  after_json TEXT,
  at BIGINT NOT NULL,
  PRIMARY KEY (user_id, id)
) PARTITION BY HASH (user_id);
CREATE INDEX audit_by_user ON audit (user_id, at);

CREATE TABLE summaries (
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  upto_seq BIGINT NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (user_id)
) PARTITION BY HASH (user_id);

CREATE TABLE usage (
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  day TEXT NOT NULL,
  assistant TEXT NOT NULL,
  input_tokens BIGINT NOT NULL DEFAULT 0,
  output_tokens BIGINT NOT NULL DEFAULT 0,
  cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, day, assistant)
) PARTITION BY HASH (user_id);

-- Messages waiting for the model's fact extraction, written in the message's own transaction; a
-- claim is a lease (not_before moves forward) taken with SKIP LOCKED, so nodes never share a job.
CREATE TABLE extraction_jobs (
  id BIGSERIAL,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  message_id BIGINT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  not_before BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (user_id, id)
) PARTITION BY HASH (user_id);
CREATE INDEX extraction_jobs_due ON extraction_jobs (not_before, id);

CREATE TABLE uploads (
  id TEXT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  filename TEXT NOT NULL,
  purpose TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  content BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, id)
) PARTITION BY HASH (user_id);
CREATE INDEX uploads_by_user ON uploads (user_id, created_at);

CREATE TABLE responses (
  id TEXT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  previous_id TEXT,
  request_json TEXT NOT NULL,
  output_json TEXT NOT NULL,
  usage_json TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, id)
) PARTITION BY HASH (user_id);

CREATE TABLE api_keys (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL DEFAULT '',
  hash TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);

-- Knowledge stores and users' own vector stores (kind 'user'), under names unique across kinds.
CREATE TABLE stores (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('knowledge', 'user')),
  owner_user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
  metadata TEXT NOT NULL DEFAULT '{}',
  embedder TEXT NOT NULL DEFAULT '',
  chunking_json TEXT NOT NULL DEFAULT '{}',
  version BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE INDEX stores_by_owner ON stores (owner_user_id) WHERE owner_user_id IS NOT NULL;

CREATE TABLE files (
  id BIGSERIAL PRIMARY KEY,
  store_id BIGINT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
  filename TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  external_id TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL DEFAULT '',
  format TEXT NOT NULL DEFAULT '',
  attributes_json TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'completed' CHECK (status IN ('in_progress', 'completed', 'failed', 'cancelled')),
  chunks BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  chunking_json TEXT NOT NULL DEFAULT '',
  -- A vector store file's filename holds "<file id>/<name>" (names are unique per store and two
  -- uploads may share a name); the name alone is what is shown.
  display_name TEXT NOT NULL DEFAULT '',
  UNIQUE (store_id, filename)
);
CREATE INDEX files_by_content ON files (store_id, sha256);
CREATE INDEX files_by_external_id ON files (store_id, external_id);

CREATE TABLE chunks (
  id BIGSERIAL PRIMARY KEY,
  file_id BIGINT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  store_id BIGINT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
  ord INTEGER NOT NULL,
  heading TEXT NOT NULL DEFAULT '',
  page INTEGER NOT NULL DEFAULT 0,
  text TEXT NOT NULL,
  tokens BIGINT NOT NULL,
  heading_terms TEXT NOT NULL DEFAULT '',
  terms TEXT NOT NULL DEFAULT '',
  vector BYTEA,
  -- Heading words weigh more (weight A) than body words, as the SQLite store's BM25 column weights.
  search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple'::regconfig, heading_terms), 'A') || to_tsvector('simple'::regconfig, terms)
  ) STORED
);
CREATE INDEX chunks_by_file ON chunks (file_id, ord);
CREATE INDEX chunks_by_store ON chunks (store_id, id);
CREATE INDEX chunks_search ON chunks USING GIN (search);
)sql"},
};

// One hash partition per remainder for every per-user table.
constexpr const char* kPartitionedTables[] = {"messages", "facts",           "audit",   "summaries",
                                              "usage",    "extraction_jobs", "uploads", "responses"};
constexpr int kPartitions = 10;

std::string partitions_sql() {
  std::string sql;
  for (const char* table : kPartitionedTables) {
    for (int remainder = 0; remainder < kPartitions; ++remainder) {
      sql += fmt::format(
          "CREATE TABLE {0}_p{1} PARTITION OF {0} FOR VALUES WITH (MODULUS {2}, REMAINDER {1});\n", table,
          remainder, kPartitions);
    }
  }
  return sql;
}

// Any fixed number: the key of the advisory lock that serialises migrations across processes.
constexpr int64_t kMigrationLock = 0x6272616e64636f61;  // "brandcoa"

int current_version(pqxx::transaction_base& tx) {
  tx.exec0(
      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at BIGINT NOT NULL)");
  return tx.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0].as<int>();
}

}  // namespace

int latest_version() {
  return kMigrations[std::size(kMigrations) - 1].version;
}

Result<int> migrate(pqxx::connection& connection) {
  pqxx::work tx(connection);
  // One row (of type void): the lock is held from here to commit.
  tx.exec_params1("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
  int version = current_version(tx);
  if (version > latest_version()) {
    return Error::config(fmt::format("database schema version {} is newer than this build supports ({}); "
                                     "upgrade brandcoach",
                                     version, latest_version()),
                         "storage.url");
  }
  for (const auto& migration : kMigrations) {
    if (migration.version <= version) continue;
    tx.exec0(migration.sql);
    if (migration.version == 1) tx.exec0(partitions_sql());
    tx.exec_params0("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)", migration.version,
                    unix_millis());
    version = migration.version;
  }
  // DDL is transactional in PostgreSQL: every migration lands, or none does.
  tx.commit();
  return version;
}

}  // namespace brandcoach::store::postgres
