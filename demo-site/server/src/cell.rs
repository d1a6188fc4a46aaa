//! One column's value as both databases keep it: text, a whole number, or nothing. The
//! collections read and write their fields as cells, so they know neither SQLite nor
//! PostgreSQL.

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Null,
}

/// A row read back that this server could not have written.
#[derive(Debug)]
pub struct Corrupt(pub String);

/// The cells of one row, read in column order with the column's name in every error.
pub struct Cells<'a> {
    cells: &'a [Cell],
    names: &'a [&'a str],
}

impl<'a> Cells<'a> {
    pub fn new(cells: &'a [Cell], names: &'a [&'a str]) -> Self {
        Self { cells, names }
    }

    fn at(&self, i: usize) -> Result<&'a Cell, Corrupt> {
        self.cells.get(i).ok_or_else(|| {
            Corrupt(format!(
                "column {} is missing",
                self.names.get(i).unwrap_or(&"?")
            ))
        })
    }

    fn wrong(&self, i: usize, wanted: &str) -> Corrupt {
        Corrupt(format!(
            "column {} is not {wanted}",
            self.names.get(i).unwrap_or(&"?")
        ))
    }

    pub fn text(&self, i: usize) -> Result<String, Corrupt> {
        match self.at(i)? {
            Cell::Text(s) => Ok(s.clone()),
            _ => Err(self.wrong(i, "text")),
        }
    }

    pub fn optional_text(&self, i: usize) -> Result<Option<String>, Corrupt> {
        match self.at(i)? {
            Cell::Text(s) => Ok(Some(s.clone())),
            Cell::Null => Ok(None),
            Cell::Int(_) => Err(self.wrong(i, "text")),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64, Corrupt> {
        match self.at(i)? {
            Cell::Int(n) => Ok(*n),
            _ => Err(self.wrong(i, "a whole number")),
        }
    }

    /// A stored flag: 0 or 1.
    pub fn flag(&self, i: usize) -> Result<bool, Corrupt> {
        match self.int(i)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.wrong(i, "0 or 1")),
        }
    }

    pub fn rest(&self, from: usize) -> Cells<'a> {
        Cells {
            cells: self.cells.get(from..).unwrap_or(&[]),
            names: self.names.get(from..).unwrap_or(&[]),
        }
    }
}

pub fn text(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

pub fn optional_text(s: &Option<String>) -> Cell {
    s.as_deref().map_or(Cell::Null, text)
}
