//! Tasks: the one resource of the demo API, its JSON shapes and its SQL.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub title: String,
    pub done: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `POST /api/tasks`: the client may choose the id (offline clients do, so a queued create
/// and the later server copy are the same task).
#[derive(Deserialize)]
struct NewTask {
    id: Option<String>,
    title: String,
    #[serde(default)]
    done: bool,
}

/// `PUT /api/tasks/{id}`: a full replace; a missing `done` means not done.
#[derive(Deserialize)]
struct Replacement {
    title: String,
    #[serde(default)]
    done: bool,
}

/// `PATCH /api/tasks/{id}`: only the fields given change.
#[derive(Deserialize)]
struct Changes {
    title: Option<String>,
    done: Option<bool>,
}

const COLUMNS: &str = "id, title, done, created_at, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: row.get(0)?,
        title: row.get(1)?,
        done: row.get(2)?,
        created_at: row.get(3)?,
        updated_at: row.get(4)?,
    })
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Task>> {
    let mut statement = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM tasks ORDER BY created_at, id"
    ))?;
    statement.query_map([], from_row)?.collect()
}

pub fn create(conn: &Connection, body: &[u8], now: i64) -> Result<Task, ApiError> {
    let new: NewTask = parse(body)?;
    let id = match new.id {
        Some(id) if id.trim().is_empty() => {
            return Err(ApiError::BadRequest("id must not be empty".into()));
        }
        Some(id) => id,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let inserted = conn
        .execute(
            "INSERT INTO tasks (id, title, done, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (id) DO NOTHING",
            params![id, new.title, new.done, now],
        )
        .map_err(ApiError::Database)?;
    if inserted == 0 {
        return Err(ApiError::Duplicate(id));
    }
    Ok(Task {
        id,
        title: new.title,
        done: new.done,
        created_at: now,
        updated_at: now,
    })
}

pub fn replace(conn: &Connection, id: &str, body: &[u8], now: i64) -> Result<Task, ApiError> {
    let new: Replacement = parse(body)?;
    conn.query_row(
        &format!("UPDATE tasks SET title = ?1, done = ?2, updated_at = ?3 WHERE id = ?4 RETURNING {COLUMNS}"),
        params![new.title, new.done, now, id],
        from_row,
    )
    .optional()
    .map_err(ApiError::Database)?
    .ok_or(ApiError::NotFound)
}

pub fn update(conn: &Connection, id: &str, body: &[u8], now: i64) -> Result<Task, ApiError> {
    let changes: Changes = parse(body)?;
    conn.query_row(
        &format!(
            "UPDATE tasks SET title = COALESCE(?1, title), done = COALESCE(?2, done), updated_at = ?3
             WHERE id = ?4 RETURNING {COLUMNS}"
        ),
        params![changes.title, changes.done, now, id],
        from_row,
    )
    .optional()
    .map_err(ApiError::Database)?
    .ok_or(ApiError::NotFound)
}

pub fn delete(conn: &Connection, id: &str) -> Result<(), ApiError> {
    match conn
        .execute("DELETE FROM tasks WHERE id = ?1", [id])
        .map_err(ApiError::Database)?
    {
        0 => Err(ApiError::NotFound),
        _ => Ok(()),
    }
}
