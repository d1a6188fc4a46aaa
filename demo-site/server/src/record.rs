//! What every synced collection shares: the record envelope (id, timestamps, version, change
//! sequence number, tombstone flag), its SQL, and the write rules — creates with client ids,
//! full replaces, merge patches and soft deletes, each guarded by an optional `If-Match`.
//!
//! The SQL is written once for SQLite and PostgreSQL (`$n` placeholders, `ON CONFLICT … DO
//! UPDATE`, `RETURNING`), and runs through [`Rows`].

use serde::Serialize;
use serde_json::Value;

use crate::cell::{Cell, Cells, Corrupt};
use crate::error::{ApiError, Current};
use crate::input::{self, Object};
use crate::rows::{DbError, Rows};
use offline_sync_server::pull::{IfMatch, Sequenced};

/// The editable part of a record, one implementation per collection.
pub trait Kind: Serialize + Sized + Send + Sync + 'static {
    /// The table, which is also the URL segment under `/api/`.
    const TABLE: &'static str;
    /// What one record is called in error messages.
    const NOUN: &'static str;
    /// The editable columns, in the order of [`Kind::from_cells`] and [`Kind::to_cells`].
    const COLUMNS: &'static [&'static str];

    /// Reads a full set of fields; absent or `null` fields take their defaults.
    fn parse(input: &Object) -> Result<Self, ApiError>;

    /// The fields as the target of a merge patch: [`Kind::parse`] must read it back unchanged.
    fn to_object(&self) -> Object {
        match serde_json::to_value(self) {
            Ok(Value::Object(object)) => object,
            _ => Object::new(),
        }
    }

    /// Rewrites a patch before it is merged (tasks turn `done` into `status`).
    fn prepare_patch(&self, _patch: &mut Object) -> Result<(), ApiError> {
        Ok(())
    }

    /// Reads the editable columns, in the order of [`Kind::COLUMNS`].
    fn from_cells(cells: &Cells<'_>) -> Result<Self, Corrupt>;

    fn to_cells(&self) -> Vec<Cell>;
}

/// One record as the API shows it: `id` first, then the editable fields, then the sync
/// metadata. A deleted record stays as a tombstone so that pull sync can report it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record<K> {
    pub id: String,
    #[serde(flatten)]
    pub fields: K,
    pub created_at: i64,
    pub updated_at: i64,
    /// 1 on create, +1 on every change.
    pub version: i64,
    /// The server-wide change sequence number of the last change.
    pub seq: i64,
    pub deleted: bool,
}

impl<K> Sequenced for Record<K> {
    fn seq(&self) -> i64 {
        self.seq
    }
}

impl<K: Kind> Record<K> {
    pub fn current(&self) -> Current {
        Current {
            record: serde_json::to_value(self).unwrap_or(Value::Null),
            version: self.version,
        }
    }

    /// Counts a change made at `now`: a new version and a new place in the change sequence.
    async fn touch(&mut self, rows: &mut impl Rows, now: i64) -> Result<(), DbError> {
        self.version += 1;
        self.updated_at = now;
        self.seq = next_seq(rows).await?;
        Ok(())
    }
}

/// What a write was given besides its URL.
pub struct Change<'a> {
    pub body: &'a [u8],
    pub now: i64,
    pub if_match: Option<&'a IfMatch>,
}

const META: [&str; 5] = ["created_at", "updated_at", "version", "seq", "deleted"];

fn columns<K: Kind>() -> String {
    std::iter::once("id")
        .chain(K::COLUMNS.iter().copied())
        .chain(META)
        .collect::<Vec<_>>()
        .join(", ")
}

fn names<K: Kind>() -> Vec<&'static str> {
    std::iter::once("id")
        .chain(K::COLUMNS.iter().copied())
        .chain(META)
        .collect()
}

fn from_cells<K: Kind>(cells: &[Cell]) -> Result<Record<K>, DbError> {
    let names = names::<K>();
    let cells = Cells::new(cells, &names);
    let meta = cells.rest(1 + K::COLUMNS.len());
    let read = || -> Result<Record<K>, Corrupt> {
        Ok(Record {
            id: cells.text(0)?,
            fields: K::from_cells(&cells.rest(1))?,
            created_at: meta.int(0)?,
            updated_at: meta.int(1)?,
            version: meta.int(2)?,
            seq: meta.int(3)?,
            deleted: meta.flag(4)?,
        })
    };
    read().map_err(|Corrupt(why)| DbError::Corrupt(format!("{}: {why}", K::TABLE)))
}

/// The next change sequence number. Taken inside the transaction that makes the change: the
/// number and the change then commit (or roll back) together, and no reader sees a number
/// whose change is not there yet.
async fn next_seq(rows: &mut impl Rows) -> Result<i64, DbError> {
    let found = rows
        .query(
            "UPDATE sync_state SET seq = seq + 1 WHERE id = 1 RETURNING seq",
            &[],
        )
        .await?;
    match found.first().and_then(|row| row.first()) {
        Some(Cell::Int(seq)) => Ok(*seq),
        _ => Err(DbError::Corrupt("sync_state has no counter row".into())),
    }
}

async fn select<K: Kind>(rows: &mut impl Rows, id: &str) -> Result<Option<Record<K>>, DbError> {
    let sql = format!("SELECT {} FROM {} WHERE id = $1", columns::<K>(), K::TABLE);
    let found = rows.query(&sql, &[Cell::Text(id.to_owned())]).await?;
    found.first().map(|row| from_cells(row)).transpose()
}

/// Inserts or overwrites the whole row.
async fn save<K: Kind>(rows: &mut impl Rows, record: &Record<K>) -> Result<(), DbError> {
    let mut values = vec![Cell::Text(record.id.clone())];
    values.extend(record.fields.to_cells());
    values.extend([
        Cell::Int(record.created_at),
        Cell::Int(record.updated_at),
        Cell::Int(record.version),
        Cell::Int(record.seq),
        Cell::Int(record.deleted.into()),
    ]);
    let placeholders: Vec<String> = (1..=values.len()).map(|i| format!("${i}")).collect();
    let updates: Vec<String> = K::COLUMNS
        .iter()
        .chain(&META)
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {}",
        K::TABLE,
        columns::<K>(),
        placeholders.join(", "),
        updates.join(", ")
    );
    rows.execute(&sql, &values).await.map(|_| ())
}

/// Live records, oldest first.
pub async fn list<K: Kind>(rows: &mut impl Rows) -> Result<Vec<Record<K>>, DbError> {
    let sql = format!(
        "SELECT {} FROM {} WHERE deleted = 0 ORDER BY created_at, id",
        columns::<K>(),
        K::TABLE
    );
    rows.query(&sql, &[])
        .await?
        .iter()
        .map(|row| from_cells(row))
        .collect()
}

/// Up to `limit` records (tombstones included) changed after `since`, in change order, and
/// whether more follow.
pub async fn changes<K: Kind>(
    rows: &mut impl Rows,
    since: i64,
    limit: usize,
) -> Result<(Vec<Record<K>>, bool), DbError> {
    let sql = format!(
        "SELECT {} FROM {} WHERE seq > $1 ORDER BY seq LIMIT $2",
        columns::<K>(),
        K::TABLE
    );
    let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
    let mut records: Vec<Record<K>> = rows
        .query(&sql, &[Cell::Int(since), Cell::Int(fetch)])
        .await?
        .iter()
        .map(|row| from_cells(row))
        .collect::<Result<_, _>>()?;
    let more = records.len() > limit;
    records.truncate(limit);
    Ok((records, more))
}

/// A body's `id` may repeat the URL's, never contradict it.
fn check_id(body: &Object, id: &str) -> Result<(), ApiError> {
    match body.get("id") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(given)) if given == id => Ok(()),
        Some(_) => Err(ApiError::BadRequest("id does not match the URL".into())),
    }
}

/// The live record a write may change: 404 when missing or deleted, 409 when `If-Match`
/// names another version.
async fn writable<K: Kind>(
    rows: &mut impl Rows,
    id: &str,
    if_match: Option<&IfMatch>,
) -> Result<Record<K>, ApiError> {
    let record = select::<K>(rows, id).await?.ok_or(ApiError::NotFound)?;
    if record.deleted {
        return Err(ApiError::Deleted {
            noun: K::NOUN,
            id: record.id.clone(),
            current: record.current(),
        });
    }
    if if_match.is_some_and(|expected| !expected.matches(record.version)) {
        return Err(ApiError::VersionConflict(record.current()));
    }
    Ok(record)
}

/// `POST`: the client may choose the id (offline clients do, so that a queued create and
/// the later server copy are the same record).
pub async fn create<K: Kind>(
    rows: &mut impl Rows,
    change: &Change<'_>,
) -> Result<Record<K>, ApiError> {
    let body = input::object(change.body)?;
    let id = match body.get("id") {
        None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
        Some(Value::String(id)) if id.trim().is_empty() => {
            return Err(ApiError::BadRequest("id must not be empty".into()));
        }
        Some(Value::String(id)) => id.clone(),
        Some(_) => return Err(ApiError::BadRequest("id must be a string".into())),
    };
    let fields = K::parse(&body)?;
    if let Some(existing) = select::<K>(rows, &id).await? {
        return Err(ApiError::Duplicate {
            noun: K::NOUN,
            id,
            current: existing.current(),
        });
    }
    let record = Record {
        id,
        fields,
        created_at: change.now,
        updated_at: change.now,
        version: 1,
        seq: next_seq(rows).await?,
        deleted: false,
    };
    save(rows, &record).await?;
    Ok(record)
}

/// `PUT`: every editable field is replaced; those not given go back to their defaults.
pub async fn replace<K: Kind>(
    rows: &mut impl Rows,
    id: &str,
    change: &Change<'_>,
) -> Result<Record<K>, ApiError> {
    let body = input::object(change.body)?;
    check_id(&body, id)?;
    let fields = K::parse(&body)?;
    let mut record = writable::<K>(rows, id, change.if_match).await?;
    record.fields = fields;
    record.touch(rows, change.now).await?;
    save(rows, &record).await?;
    Ok(record)
}

/// `PATCH`: a JSON Merge Patch over the editable fields; `null` resets a field to its default.
pub async fn patch<K: Kind>(
    rows: &mut impl Rows,
    id: &str,
    change: &Change<'_>,
) -> Result<Record<K>, ApiError> {
    let mut patch = input::object(change.body)?;
    check_id(&patch, id)?;
    patch.remove("id");
    let mut record = writable::<K>(rows, id, change.if_match).await?;
    record.fields.prepare_patch(&mut patch)?;
    let mut merged = Value::Object(record.fields.to_object());
    input::merge_patch(&mut merged, &Value::Object(patch));
    let Value::Object(merged) = merged else {
        return Err(ApiError::BadRequest("body must be a JSON object".into()));
    };
    record.fields = K::parse(&merged)?;
    record.touch(rows, change.now).await?;
    save(rows, &record).await?;
    Ok(record)
}

/// `DELETE`: the record becomes a tombstone, kept so that pull sync reports the deletion.
pub async fn delete<K: Kind>(
    rows: &mut impl Rows,
    id: &str,
    change: &Change<'_>,
) -> Result<Record<K>, ApiError> {
    let mut record = writable::<K>(rows, id, change.if_match).await?;
    record.deleted = true;
    record.touch(rows, change.now).await?;
    save(rows, &record).await?;
    Ok(record)
}
