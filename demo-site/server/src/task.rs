//! Tasks: their editable fields, defaults and validation.
//!
//! `done` is kept for older clients: it is always `status == "done"`. Input may give either;
//! when both are given, `status` wins.

use rusqlite::Row;
use rusqlite::types::{Type, Value as SqlValue};
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::input::{Choice, Object, Reader};
use crate::record::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Todo,
    InProgress,
    Done,
}

impl Choice for Status {
    const ALL: &'static [Self] = &[Self::Todo, Self::InProgress, Self::Done];

    fn as_str(self) -> &'static str {
        match self {
            Self::Todo => "todo",
            Self::InProgress => "in_progress",
            Self::Done => "done",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Medium,
    High,
}

impl Choice for Priority {
    const ALL: &'static [Self] = &[Self::Low, Self::Medium, Self::High];

    fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub title: String,
    pub description: String,
    pub status: Status,
    /// Derived: `status == Done`.
    pub done: bool,
    pub due_date: Option<String>,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub project_id: Option<String>,
}

/// A column that holds something this server never writes.
fn corrupt(column: usize, why: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, Type::Text, why.into())
}

impl Kind for Task {
    const TABLE: &'static str = "tasks";
    const NOUN: &'static str = "task";
    const COLUMNS: &'static [&'static str] = &[
        "title",
        "description",
        "status",
        "done",
        "due_date",
        "priority",
        "tags",
        "project_id",
    ];

    fn parse(input: &Object) -> Result<Self, ApiError> {
        let fields = Reader(input);
        let title = fields.required_string("title")?;
        let done = fields.bool("done")?;
        let status = match fields.choice::<Status>("status")? {
            Some(status) => status,
            None if done == Some(true) => Status::Done,
            None => Status::Todo,
        };
        Ok(Self {
            title,
            description: fields.string("description")?.unwrap_or_default(),
            status,
            done: status == Status::Done,
            due_date: fields.string("dueDate")?,
            priority: fields.choice("priority")?.unwrap_or(Priority::Medium),
            tags: fields.strings("tags")?.unwrap_or_default(),
            project_id: fields.string("projectId")?,
        })
    }

    /// Without `done`, which `status` already says: a patch that resets `status` with
    /// `null` must not find a stale `done` to derive it from.
    fn to_object(&self) -> Object {
        let mut object = match serde_json::to_value(self) {
            Ok(Value::Object(object)) => object,
            _ => Object::new(),
        };
        object.remove("done");
        object
    }

    /// A patch with `done` and no `status` means: done, or no longer done (back to `todo`
    /// if it was done; any other status stays).
    fn prepare_patch(&self, patch: &mut Object) -> Result<(), ApiError> {
        if patch.contains_key("status") {
            return Ok(());
        }
        let Some(done) = patch.remove("done") else {
            return Ok(());
        };
        match done {
            Value::Bool(true) => {
                patch.insert("status".into(), Status::Done.as_str().into());
            }
            Value::Bool(false) | Value::Null => {
                if self.status == Status::Done {
                    patch.insert("status".into(), Status::Todo.as_str().into());
                }
            }
            _ => return Err(ApiError::BadRequest("done must be true or false".into())),
        }
        Ok(())
    }

    fn from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<Self> {
        let status: String = row.get(first + 2)?;
        let status = Status::parse(&status).ok_or_else(|| corrupt(first + 2, "unknown status"))?;
        let priority: String = row.get(first + 5)?;
        let priority =
            Priority::parse(&priority).ok_or_else(|| corrupt(first + 5, "unknown priority"))?;
        let tags: String = row.get(first + 6)?;
        let tags =
            serde_json::from_str(&tags).map_err(|_| corrupt(first + 6, "tags not a list"))?;
        Ok(Self {
            title: row.get(first)?,
            description: row.get(first + 1)?,
            status,
            done: status == Status::Done,
            due_date: row.get(first + 4)?,
            priority,
            tags,
            project_id: row.get(first + 7)?,
        })
    }

    fn to_sql(&self) -> Vec<SqlValue> {
        let text = |s: &str| SqlValue::Text(s.to_owned());
        let optional = |s: &Option<String>| s.as_deref().map_or(SqlValue::Null, text);
        vec![
            text(&self.title),
            text(&self.description),
            text(self.status.as_str()),
            SqlValue::Integer(self.done.into()),
            optional(&self.due_date),
            text(self.priority.as_str()),
            SqlValue::Text(serde_json::to_string(&self.tags).unwrap_or_else(|_| "[]".into())),
            optional(&self.project_id),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Result<Task, ApiError> {
        match value {
            Value::Object(object) => Task::parse(&object),
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn defaults_and_done_status_agreement() {
        let task = parse(json!({"title": "t"})).expect("valid");
        assert_eq!(
            serde_json::to_value(&task).expect("json"),
            json!({"title":"t","description":"","status":"todo","done":false,"dueDate":null,
                   "priority":"medium","tags":[],"projectId":null})
        );
        assert_eq!(
            parse(json!({"title": "t", "done": true}))
                .expect("valid")
                .status,
            Status::Done
        );
        let both =
            parse(json!({"title": "t", "done": true, "status": "in_progress"})).expect("valid");
        assert_eq!(
            (both.status, both.done),
            (Status::InProgress, false),
            "status wins"
        );
        assert!(
            parse(json!({"title": "t", "status": "done"}))
                .expect("valid")
                .done
        );
    }
}
