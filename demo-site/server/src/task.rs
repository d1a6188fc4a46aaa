//! Tasks: their editable fields, defaults and validation.
//!
//! `done` is kept for older clients: it is always `status == "done"`. Input may give either;
//! when both are given, `status` wins.

use serde::Serialize;
use serde_json::Value;

use crate::cell::{self, Cell, Cells, Corrupt};
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

    fn from_cells(cells: &Cells<'_>) -> Result<Self, Corrupt> {
        let status =
            Status::parse(&cells.text(2)?).ok_or_else(|| Corrupt("unknown status".into()))?;
        let priority =
            Priority::parse(&cells.text(5)?).ok_or_else(|| Corrupt("unknown priority".into()))?;
        let tags =
            serde_json::from_str(&cells.text(6)?).map_err(|_| Corrupt("tags not a list".into()))?;
        Ok(Self {
            title: cells.text(0)?,
            description: cells.text(1)?,
            status,
            done: status == Status::Done,
            due_date: cells.optional_text(4)?,
            priority,
            tags,
            project_id: cells.optional_text(7)?,
        })
    }

    fn to_cells(&self) -> Vec<Cell> {
        vec![
            cell::text(&self.title),
            cell::text(&self.description),
            cell::text(self.status.as_str()),
            Cell::Int(self.done.into()),
            cell::optional_text(&self.due_date),
            cell::text(self.priority.as_str()),
            Cell::Text(serde_json::to_string(&self.tags).unwrap_or_else(|_| "[]".into())),
            cell::optional_text(&self.project_id),
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
