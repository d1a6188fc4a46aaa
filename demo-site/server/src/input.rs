//! Request bodies read by hand, field by field, so that every validation error names the
//! field at fault. A `null` field counts as absent: it means "the default".

use serde_json::{Map, Value};

use crate::error::ApiError;

pub type Object = Map<String, Value>;

fn bad(why: String) -> ApiError {
    ApiError::BadRequest(why)
}

/// The body as a JSON object.
pub fn object(body: &[u8]) -> Result<Object, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(bad("body must be a JSON object".into())),
        Err(e) => Err(bad(format!("invalid body: {e}"))),
    }
}

/// A closed set of string values (a status, a priority).
pub trait Choice: Copy + PartialEq + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == text)
    }
}

/// The fields of one JSON object, read with their names.
pub struct Reader<'a>(pub &'a Object);

impl Reader<'_> {
    fn present(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    pub fn required_string(&self, name: &str) -> Result<String, ApiError> {
        self.string(name)?
            .ok_or_else(|| bad(format!("{name} is required")))
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("{name} must be a string"))),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(bad(format!("{name} must be true or false"))),
        }
    }

    pub fn choice<C: Choice>(&self, name: &str) -> Result<Option<C>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(s)) if C::parse(s).is_some() => Ok(C::parse(s)),
            Some(_) => {
                let allowed: Vec<String> =
                    C::ALL.iter().map(|c| format!("{:?}", c.as_str())).collect();
                Err(bad(format!("{name} must be one of {}", allowed.join(", "))))
            }
        }
    }

    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(value) = self.present(name) else {
            return Ok(None);
        };
        let Value::Array(items) = value else {
            return Err(bad(format!("{name} must be an array of strings")));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(bad(format!("{name}[{i}] must be a string"))),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

/// RFC 7396 JSON Merge Patch: objects merge key by key, `null` removes a key, anything else
/// replaces the target.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(fields) = target {
        for (name, value) in changes {
            if value.is_null() {
                fields.remove(name);
            } else {
                merge_patch(fields.entry(name.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_follows_the_rfc_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (mut target, patch, expected) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected, "patch {patch}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let body = json!({"title": 5, "tags": ["a", 1], "flag": "yes"});
        let Value::Object(object) = body else {
            panic!()
        };
        let fields = Reader(&object);
        let message = |e: ApiError| match e {
            ApiError::BadRequest(why) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            message(fields.required_string("title").unwrap_err()),
            "title must be a string"
        );
        assert_eq!(
            message(fields.required_string("name").unwrap_err()),
            "name is required"
        );
        assert_eq!(
            message(fields.strings("tags").unwrap_err()),
            "tags[1] must be a string"
        );
        assert_eq!(
            message(fields.bool("flag").unwrap_err()),
            "flag must be true or false"
        );
    }
}
