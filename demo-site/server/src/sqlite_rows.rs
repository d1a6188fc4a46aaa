//! [`Rows`] on SQLite: the embedded default.

use offline_sync_server::{SqliteConn, SqliteStore};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, params_from_iter};
use tokio::sync::OwnedMutexGuard;

use crate::cell::Cell;
use crate::rows::{Backend, DbError, Rows};

pub struct SqliteRows<'a>(&'a mut Connection);

fn failed(e: rusqlite::Error) -> DbError {
    DbError::Failed(e.to_string())
}

fn value(cell: &Cell) -> Value {
    match cell {
        Cell::Text(s) => Value::Text(s.clone()),
        Cell::Int(n) => Value::Integer(*n),
        Cell::Null => Value::Null,
    }
}

fn cell(value: ValueRef<'_>) -> Result<Cell, DbError> {
    match value {
        ValueRef::Null => Ok(Cell::Null),
        ValueRef::Integer(n) => Ok(Cell::Int(n)),
        ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec())
            .map(Cell::Text)
            .map_err(|_| DbError::Corrupt("a text column is not UTF-8".into())),
        ValueRef::Real(_) | ValueRef::Blob(_) => {
            Err(DbError::Corrupt("a column holds a real or a blob".into()))
        }
    }
}

impl Rows for SqliteRows<'_> {
    async fn execute(&mut self, sql: &str, params: &[Cell]) -> Result<u64, DbError> {
        let changed = self
            .0
            .execute(sql, params_from_iter(params.iter().map(value)))
            .map_err(failed)?;
        Ok(changed as u64)
    }

    async fn query(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Vec<Cell>>, DbError> {
        let mut statement = self.0.prepare(sql).map_err(failed)?;
        let width = statement.column_count();
        let mut found = statement
            .query(params_from_iter(params.iter().map(value)))
            .map_err(failed)?;
        let mut rows = Vec::new();
        while let Some(row) = found.next().map_err(failed)? {
            rows.push(
                (0..width)
                    .map(|i| row.get_ref(i).map_err(failed).and_then(cell))
                    .collect::<Result<_, _>>()?,
            );
        }
        Ok(rows)
    }

    async fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.0.execute_batch(sql).map_err(failed)
    }
}

impl Backend for SqliteStore {
    type Rows<'a> = SqliteRows<'a>;
    type Reader = OwnedMutexGuard<Connection>;

    fn rows(conn: &mut SqliteConn) -> SqliteRows<'_> {
        SqliteRows(conn)
    }

    async fn reader(&self) -> Result<Self::Reader, DbError> {
        Ok(self.lock().await)
    }

    fn reader_rows(reader: &mut Self::Reader) -> SqliteRows<'_> {
        SqliteRows(reader)
    }
}
