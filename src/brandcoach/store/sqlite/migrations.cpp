#include "brandcoach/store/sqlite/migrations.hpp"

#include <fmt/format.h>

namespace brandcoach::store::sqlite {

namespace {

struct Migration {
  int version;
  const char* sql;
};

// Append only: a released migration is never edited, a change is a new migration.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'))
);
CREATE TABLE messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
  text TEXT NOT NULL,
  assistant TEXT NOT NULL DEFAULT '',
  route_json TEXT NOT NULL DEFAULT '{}',
  citations_json TEXT NOT NULL DEFAULT '[]',
  usage_json TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  session_no INTEGER NOT NULL DEFAULT 1,
  UNIQUE (user_id, seq)
);
CREATE TABLE facts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  category TEXT NOT NULL,
  source_message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
  confidence REAL NOT NULL DEFAULT 1.0,
  status TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'rejected', 'pending_confirmation')),
  supersedes_id INTEGER REFERENCES facts(id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL,
  confirmed_at INTEGER
);
CREATE INDEX facts_by_user ON facts (user_id, status, key);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object TEXT NOT NULL,
  before_json TEXT,
  after_json TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX audit_by_user ON audit (user_id, at);
CREATE TABLE summaries (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  upto_seq INTEGER NOT NULL,
  text TEXT NOT NULL
);
CREATE TABLE stores (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('knowledge', 'user')),
  owner_user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
  metadata TEXT NOT NULL DEFAULT '{}',
  embedder TEXT NOT NULL DEFAULT '',
  chunking_json TEXT NOT NULL DEFAULT '{}',
  version INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX knowledge_store_names ON stores (name) WHERE kind = 'knowledge';
CREATE TABLE files (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  store_id INTEGER NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
  filename TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  external_id TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL DEFAULT '',
  format TEXT NOT NULL DEFAULT '',
  attributes_json TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'completed' CHECK (status IN ('in_progress', 'completed', 'failed', 'cancelled')),
  chunks INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  UNIQUE (store_id, filename)
);
CREATE INDEX files_by_content ON files (store_id, sha256);
CREATE TABLE chunks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  store_id INTEGER NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
  ord INTEGER NOT NULL,
  heading TEXT NOT NULL DEFAULT '',
  page INTEGER NOT NULL DEFAULT 0,
  text TEXT NOT NULL,
  tokens INTEGER NOT NULL,
  heading_terms TEXT NOT NULL DEFAULT '',
  terms TEXT NOT NULL DEFAULT '',
  vector BLOB
);
CREATE INDEX chunks_by_file ON chunks (file_id, ord);
CREATE INDEX chunks_by_store ON chunks (store_id);
-- The index holds the chunk's terms as the text module stems them (the same function the query
-- side uses), so index and query can never disagree about what a word is.
CREATE VIRTUAL TABLE chunks_fts USING fts5(
  heading_terms, terms, content = 'chunks', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts (rowid, heading_terms, terms) VALUES (new.id, new.heading_terms, new.terms);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts (chunks_fts, rowid, heading_terms, terms)
    VALUES ('delete', old.id, old.heading_terms, old.terms);
END;
CREATE TRIGGER chunks_fts_update AFTER UPDATE OF heading_terms, terms ON chunks BEGIN
  INSERT INTO chunks_fts (chunks_fts, rowid, heading_terms, terms)
    VALUES ('delete', old.id, old.heading_terms, old.terms);
  INSERT INTO chunks_fts (rowid, heading_terms, terms) VALUES (new.id, new.heading_terms, new.terms);
END;
CREATE TABLE responses (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  previous_id TEXT,
  request_json TEXT NOT NULL,
  output_json TEXT NOT NULL,
  usage_json TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);
CREATE INDEX responses_by_user ON responses (user_id, created_at);
CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL DEFAULT '',
  hash TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE TABLE usage (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  day TEXT NOT NULL,
  assistant TEXT NOT NULL,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, day, assistant)
);
)sql"},
    // How many chunks hold each indexed term, read straight from the FTS index (nothing is stored):
    // lexical search uses it to leave out terms whose posting lists would cost more than they add.
    {2, R"sql(
CREATE VIRTUAL TABLE chunks_fts_vocab USING fts5vocab(chunks_fts, 'row');
)sql"},
    // Memory: imported messages keep their source id, speaker and time text; every message is
    // searchable by its stems (tier 3 recall); a user can ask for a new session explicitly.
    // Messages written before this version get their terms from the store on open.
    {3, R"sql(
ALTER TABLE messages ADD COLUMN external_id TEXT;
ALTER TABLE messages ADD COLUMN speaker TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN ts_text TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN terms TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX messages_by_external_id ON messages (user_id, external_id) WHERE external_id IS NOT NULL;
ALTER TABLE users ADD COLUMN new_session_requested INTEGER NOT NULL DEFAULT 0;
CREATE INDEX facts_by_source ON facts (source_message_id);
CREATE VIRTUAL TABLE messages_fts USING fts5(
  terms, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts (rowid, terms) VALUES (new.id, new.terms);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, terms) VALUES ('delete', old.id, old.terms);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF terms ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, terms) VALUES ('delete', old.id, old.terms);
  INSERT INTO messages_fts (rowid, terms) VALUES (new.id, new.terms);
END;
)sql"},
    // Messages waiting for the model's fact extraction: written in the message's own transaction,
    // so a restart loses none; a claim is a lease (not_before moves forward), so a worker that dies
    // mid-job leaves it to be claimed again.
    {4, R"sql(
CREATE TABLE extraction_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX extraction_jobs_due ON extraction_jobs (not_before);
)sql"},
    // The OpenAI Files and Vector Stores API: users' own stores share the stores table with the
    // knowledge stores (so one retrieval engine serves both) under names unique across kinds;
    // uploads are kept whole so they can be read back; a vector store file that could not be read
    // says why.
    {5, R"sql(
DROP INDEX knowledge_store_names;
CREATE UNIQUE INDEX store_names ON stores (name);
CREATE INDEX stores_by_owner ON stores (owner_user_id) WHERE owner_user_id IS NOT NULL;
ALTER TABLE files ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE files ADD COLUMN chunking_json TEXT NOT NULL DEFAULT '';
-- A vector store file's filename column holds "<file id>/<name>" (names are unique per store, and two
-- uploads may share a name); the name alone is what is shown.
ALTER TABLE files ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
CREATE INDEX files_by_external_id ON files (store_id, external_id);
CREATE TABLE uploads (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  filename TEXT NOT NULL,
  purpose TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  content BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX uploads_by_user ON uploads (user_id, created_at);
)sql"},
    // Analytics and the active-user gauges read replies by time.
    {6, R"sql(
CREATE INDEX messages_by_time ON messages (created_at) WHERE role = 'assistant';
)sql"},
    // A chunk's row and its full-text entry are written by two single-row statements instead of a
    // trigger: a statement that fires a trigger into FTS5 runs under a statement savepoint, and FTS5
    // writes its pending terms out as a new segment at every savepoint, so a batch of a thousand chunks
    // made a thousand tiny segments to merge. Without the trigger FTS5 keeps the batch's terms in memory
    // and writes them once at commit.
    {7, R"sql(
DROP TRIGGER chunks_fts_insert;
)sql"},
    // The same for a message: a chat turn's batch of messages (see the store's group commit) then
    // makes one FTS5 segment, not one per message.
    {8, R"sql(
DROP TRIGGER messages_fts_insert;
)sql"},
};

Result<int> current_version(Connection& connection) {
  if (auto status = connection.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
                                    "applied_at INTEGER NOT NULL)");
      !status) {
    return status.error();
  }
  auto stmt = connection.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  if (!stmt) return stmt.error();
  auto row = (*stmt)->step();
  if (!row) return row.error();
  return static_cast<int>((*stmt)->column_int(0));
}

}  // namespace

int latest_version() {
  return kMigrations[std::size(kMigrations) - 1].version;
}

Result<int> migrate(Connection& connection) {
  auto version = current_version(connection);
  if (!version) return version;
  if (*version > latest_version()) {
    return Error::config(fmt::format("database schema version {} is newer than this build supports ({}); "
                                     "upgrade brandcoach",
                                     *version, latest_version()),
                         "storage.url");
  }
  for (const auto& migration : kMigrations) {
    if (migration.version <= *version) continue;
    // Re-read the version under the write lock: another process may have migrated meanwhile.
    auto tx = Transaction::begin(connection);
    if (!tx) return tx.error();
    auto locked_version = current_version(connection);
    if (!locked_version) return locked_version;
    if (*locked_version >= migration.version) {
      *version = *locked_version;
      continue;
    }
    if (auto status = connection.exec(migration.sql); !status) return status.error();
    auto record = connection.prepare("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)");
    if (!record) return record.error();
    if (auto status = (*record)->bind(1, int64_t{migration.version}).bind(2, unix_millis()).run(); !status) {
      return status.error();
    }
    if (auto status = tx->commit(); !status) return status.error();
    *version = migration.version;
  }
  return *version;
}

}  // namespace brandcoach::store::sqlite
