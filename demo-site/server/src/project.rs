//! Projects: a name and a color; tasks point at them with `projectId`.

use serde::Serialize;

use crate::cell::{self, Cell, Cells, Corrupt};
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

    fn from_cells(cells: &Cells<'_>) -> Result<Self, Corrupt> {
        Ok(Self {
            name: cells.text(0)?,
            color: cells.text(1)?,
        })
    }

    fn to_cells(&self) -> Vec<Cell> {
        vec![cell::text(&self.name), cell::text(&self.color)]
    }
}
