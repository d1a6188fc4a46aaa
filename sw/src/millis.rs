//! Times on the wire: milliseconds since the epoch, written as whole numbers. Records written by
//! earlier versions with a fraction (`1764061234567.891`) still read, rounded.

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(ms: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    // `as` saturates, and turns -0.4's rounding (-0.0) into 0: no negative zero is written.
    serializer.serialize_i64(ms.round() as i64)
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    f64::deserialize(deserializer).map(f64::round)
}

/// The same for an optional time: `None` is null (or left out, where the field says so).
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => super::serialize(ms, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.map(f64::round))
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct At {
        #[serde(with = "super")]
        at: f64,
        #[serde(with = "super::option")]
        then: Option<f64>,
    }

    fn read(text: &str) -> Option<At> {
        serde_json::from_str(text).ok()
    }

    #[test]
    fn times_read_from_any_number_as_whole_milliseconds() {
        let at = |n: &str| read(&format!(r#"{{"at":{n},"then":null}}"#)).map(|a| a.at);
        assert_eq!(at("1764061234567.891"), Some(1_764_061_234_568.0));
        assert_eq!(at("1764061234567.4"), Some(1_764_061_234_567.0));
        assert_eq!(at("1764061234567"), Some(1_764_061_234_567.0));
        assert_eq!(at("1.764061234567891e12"), Some(1_764_061_234_568.0));
        assert_eq!(at("1.5e3"), Some(1_500.0));
        assert_eq!(at("-2.5"), Some(-3.0));
        assert_eq!(at("1e-400"), Some(0.0));
        assert_eq!(at("1e400"), None);
        assert_eq!(at(r#""1""#), None);
        assert_eq!(read(r#"{"at":1,"then":2.5}"#).and_then(|a| a.then), Some(3.0));
    }

    #[test]
    fn times_are_written_whole_and_never_as_negative_zero() {
        let text = |at: f64, then: Option<f64>| serde_json::to_string(&At { at, then }).unwrap();
        assert_eq!(text(1_764_061_234_567.891, Some(-2.5)), r#"{"at":1764061234568,"then":-3}"#);
        assert_eq!(text(-0.4, None), r#"{"at":0,"then":null}"#);
        assert_eq!(text(0.5, Some(0.0)), r#"{"at":1,"then":0}"#);
    }
}
