//! [`Rows`] on PostgreSQL, for several instances on one database.

use bytes::BytesMut;
use deadpool_postgres::Object;
use offline_sync_server::{PgConn, PgStore};
use tokio_postgres::Client;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::cell::Cell;
use crate::rows::{Backend, DbError, Rows};

pub struct PgRows<'a>(&'a Client);

/// A broken connection (no SQLSTATE, or class 08 / 57P: the server went away) is worth
/// retrying; anything else is a failed statement.
fn classify(e: tokio_postgres::Error) -> DbError {
    let code = e.code().map(|c| c.code().to_owned());
    match code {
        None => DbError::Unavailable(e.to_string()),
        Some(code) if code.starts_with("08") || code.starts_with("57P") => {
            DbError::Unavailable(e.to_string())
        }
        Some(_) => DbError::Failed(e.to_string()),
    }
}

impl ToSql for Cell {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Cell::Text(s) => s.as_str().to_sql(ty, out),
            Cell::Int(n) => n.to_sql(ty, out),
            Cell::Null => Ok(IsNull::Yes),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <&str as ToSql>::accepts(ty) || <i64 as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

fn cells(row: &tokio_postgres::Row) -> Result<Vec<Cell>, DbError> {
    let corrupt = |e: tokio_postgres::Error| DbError::Corrupt(e.to_string());
    (0..row.len())
        .map(|i| {
            let ty = row.columns()[i].type_();
            if *ty == Type::INT8 {
                Ok(row
                    .try_get::<_, Option<i64>>(i)
                    .map_err(corrupt)?
                    .map_or(Cell::Null, Cell::Int))
            } else if *ty == Type::INT4 {
                Ok(row
                    .try_get::<_, Option<i32>>(i)
                    .map_err(corrupt)?
                    .map_or(Cell::Null, |n| Cell::Int(n.into())))
            } else {
                Ok(row
                    .try_get::<_, Option<String>>(i)
                    .map_err(corrupt)?
                    .map_or(Cell::Null, Cell::Text))
            }
        })
        .collect()
}

fn params(cells: &[Cell]) -> Vec<&(dyn ToSql + Sync)> {
    cells.iter().map(|c| c as &(dyn ToSql + Sync)).collect()
}

impl Rows for PgRows<'_> {
    async fn execute(&mut self, sql: &str, values: &[Cell]) -> Result<u64, DbError> {
        self.0.execute(sql, &params(values)).await.map_err(classify)
    }

    async fn query(&mut self, sql: &str, values: &[Cell]) -> Result<Vec<Vec<Cell>>, DbError> {
        self.0
            .query(sql, &params(values))
            .await
            .map_err(classify)?
            .iter()
            .map(cells)
            .collect()
    }

    async fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.0.batch_execute(sql).await.map_err(classify)
    }
}

impl Backend for PgStore {
    type Rows<'a> = PgRows<'a>;
    type Reader = Object;

    fn rows(conn: &mut PgConn) -> PgRows<'_> {
        PgRows(conn)
    }

    async fn reader(&self) -> Result<Object, DbError> {
        self.client()
            .await
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    fn reader_rows(reader: &mut Object) -> PgRows<'_> {
        PgRows(reader)
    }
}
