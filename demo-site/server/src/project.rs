//! Projects: a name and a color; tasks point at them with `projectId`.

use rusqlite::Row;
use rusqlite::types::Value as SqlValue;
use serde::Serialize;

use crate::error::ApiError;
use crate::input::{Object, Reader};
use crate::record::Kind;

pub const DEFAULT_COLOR: &str = "#3b82f6";

#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub name: String,
    pub color: String,
}

impl Kind for Project {
    const TABLE: &'static str = "projects";
    const NOUN: &'static str = "project";
    const COLUMNS: &'static [&'static str] = &["name", "color"];

    fn parse(input: &Object) -> Result<Self, ApiError> {
        let fields = Reader(input);
        Ok(Self {
            name: fields.required_string("name")?,
            color: fields
                .string("color")?
                .unwrap_or_else(|| DEFAULT_COLOR.into()),
        })
    }

    fn from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<Self> {
        Ok(Self {
            name: row.get(first)?,
            color: row.get(first + 1)?,
        })
    }

    fn to_sql(&self) -> Vec<SqlValue> {
        vec![
            SqlValue::Text(self.name.clone()),
            SqlValue::Text(self.color.clone()),
        ]
    }
}
