//! The schema and its upgrades, on SQLite and on PostgreSQL.
//!
//! Upgrades only add: a table or column that is missing is created (`ADD COLUMN` with a
//! default), so a database file written by an older server opens as it is. A fresh database
//! takes the same path: the first `tasks` table is created, then upgraded like an old one.

use rusqlite::{Connection, Transaction};

/// Tables as the first server created them, plus the tables added since.
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- One row: the last change sequence number handed out, across all collections.
CREATE TABLE IF NOT EXISTS sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO sync_state (id, seq) VALUES (1, 0) ON CONFLICT DO NOTHING;
";

/// Sync metadata every collection has; `seq = 0` marks a row from before sync existed.
const SYNC_COLUMNS: [(&str, &str); 3] = [
    ("version", "INTEGER NOT NULL DEFAULT 1"),
    ("seq", "INTEGER NOT NULL DEFAULT 0"),
    ("deleted", "INTEGER NOT NULL DEFAULT 0"),
];

const TASK_COLUMNS: [(&str, &str); 6] = [
    ("description", "TEXT NOT NULL DEFAULT ''"),
    ("status", "TEXT NOT NULL DEFAULT 'todo'"),
    ("due_date", "TEXT"),
    ("priority", "TEXT NOT NULL DEFAULT 'medium'"),
    ("tags", "TEXT NOT NULL DEFAULT '[]'"),
    ("project_id", "TEXT"),
];

const PROJECT_COLUMNS: [(&str, &str); 1] = [("color", "TEXT NOT NULL DEFAULT '#3b82f6'")];

/// The key table older servers kept, before offline-sync-server's own.
const OLD_KEYS_COLUMNS: [(&str, &str); 1] = [("etag", "TEXT")];

/// Moves each key an older server stored into offline-sync-server's table, its content type
/// and ETag becoming the stored headers.
const MOVE_OLD_KEYS: &str = "
INSERT OR IGNORE INTO offline_sync_keys (key, method, path, body_sha256, status, headers, body, created_at)
SELECT key, method, path, body_sha256, status,
    CASE
        WHEN content_type IS NULL AND etag IS NULL THEN '[]'
        WHEN etag IS NULL THEN json_array(json_array('content-type', content_type))
        WHEN content_type IS NULL THEN json_array(json_array('etag', etag))
        ELSE json_array(json_array('content-type', content_type), json_array('etag', etag))
    END,
    response, created_at
FROM idempotency;
DROP TABLE idempotency;
";

const SYNCED: [&str; 2] = ["tasks", "projects"];

/// Creates whatever is missing, in one transaction.
pub fn upgrade(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(TABLES)?;
    let added = add_columns(&tx, "tasks", &TASK_COLUMNS)?;
    if added.contains(&"status") {
        // Older rows only knew `done`.
        tx.execute("UPDATE tasks SET status = 'done' WHERE done != 0", [])?;
    }
    add_columns(&tx, "projects", &PROJECT_COLUMNS)?;
    tx.execute_batch(&offline_sync_server::sqlite::migration())?;
    let has_old_keys: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'idempotency')",
        [],
        |row| row.get(0),
    )?;
    if has_old_keys {
        add_columns(&tx, "idempotency", &OLD_KEYS_COLUMNS)?;
        tx.execute_batch(MOVE_OLD_KEYS)?;
    }
    for table in SYNCED {
        add_columns(&tx, table, &SYNC_COLUMNS)?;
        tx.execute_batch(&format!(
            "CREATE INDEX IF NOT EXISTS {table}_seq ON {table} (seq);"
        ))?;
    }
    for table in SYNCED {
        // Never hand out a number already used, even if the counter row was lost.
        tx.execute(
            &format!(
                "UPDATE sync_state SET seq = MAX(seq, (SELECT COALESCE(MAX(seq), 0) FROM {table}))"
            ),
            [],
        )?;
    }
    for table in SYNCED {
        number_unsequenced(&tx, table)?;
    }
    tx.commit()
}

/// The same tables and columns on PostgreSQL, each created if missing. Whole numbers are
/// `BIGINT` there, as SQLite's `INTEGER` is 64-bit. Instances starting together take turns.
pub fn postgres() -> String {
    let big = |sql: &str| sql.replace("INTEGER", "BIGINT");
    let mut ddl = format!(
        "BEGIN; SELECT pg_advisory_xact_lock(7356001); {}",
        big(TABLES)
    );
    let columns = [
        ("tasks", &TASK_COLUMNS[..]),
        ("projects", &PROJECT_COLUMNS[..]),
    ];
    for (table, columns) in columns
        .into_iter()
        .chain(SYNCED.map(|t| (t, &SYNC_COLUMNS[..])))
    {
        for (name, definition) in columns {
            ddl.push_str(&format!(
                "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {};\n",
                big(definition)
            ));
        }
    }
    for table in SYNCED {
        ddl.push_str(&format!(
            "CREATE INDEX IF NOT EXISTS {table}_seq ON {table} (seq);\n"
        ));
    }
    ddl.push_str(&offline_sync_server::postgres::migration());
    ddl.push_str("COMMIT;");
    ddl
}

/// Adds each missing column; returns the names added.
fn add_columns<'c>(
    tx: &Transaction<'_>,
    table: &str,
    columns: &[(&'c str, &str)],
) -> rusqlite::Result<Vec<&'c str>> {
    let existing: Vec<String> = tx
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut added = Vec::new();
    for &(name, definition) in columns {
        if !existing.iter().any(|e| e.eq_ignore_ascii_case(name)) {
            tx.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {name} {definition};"
            ))?;
            added.push(name);
        }
    }
    Ok(added)
}

/// Gives rows from before sync a place in the change sequence, oldest first, so that a pull
/// from the beginning sees them.
fn number_unsequenced(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<()> {
    let ids: Vec<String> = tx
        .prepare(&format!(
            "SELECT id FROM {table} WHERE seq = 0 ORDER BY created_at, id"
        ))?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        let seq: i64 = tx.query_row(
            "UPDATE sync_state SET seq = seq + 1 WHERE id = 1 RETURNING seq",
            [],
            |row| row.get(0),
        )?;
        tx.execute(
            &format!("UPDATE {table} SET seq = ?1 WHERE id = ?2"),
            rusqlite::params![seq, id],
        )?;
    }
    Ok(())
}

/// Empties every collection and restarts the sequence (for `/_test/reset`).
pub const RESET: &str = "
DELETE FROM tasks;
DELETE FROM projects;
DELETE FROM offline_sync_keys;
UPDATE sync_state SET seq = 0;
";
