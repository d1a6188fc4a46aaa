//! Worker options: parsed from the registration URL's query or from `self.offlineSync`.
//!
//! A bad value never stops the worker: it is reported (naming the option) and the default is kept.

use crate::protocol;
use serde_json::{Number, Value};
use std::fmt;

const KNOWN: [&str; 14] = [
    "prefix",
    "methods",
    "maxRetentionTime",
    "syncTag",
    "maxBodyBytes",
    "maxAttempts",
    "persistAuthorization",
    "coalesce",
    "queueFirst",
    "fetchListener",
    "debug",
    "batchUrl",
    "batchSize",
    "replayConcurrency",
];

/// Stands for "every intercepted prefix" until the options are all read.
const COALESCE_ALL: &str = "*";
/// Where mutations are handled, and merged, unless the options say otherwise.
const DEFAULT_PREFIX: &str = "/api/";

/// Methods the worker may take over. Safe methods (GET, HEAD) never mutate, so they are not offered.
pub const MUTATING_METHODS: [&str; 4] = ["POST", "PUT", "PATCH", "DELETE"];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Same-origin path prefixes whose mutations are handled.
    pub prefixes: Vec<String>,
    /// Upper-case method names, a subset of [`MUTATING_METHODS`].
    pub methods: Vec<String>,
    /// How long a queued entry may wait before it is dropped, in milliseconds.
    pub max_retention_ms: f64,
    /// Background Sync tag the worker registers and answers to.
    pub sync_tag: String,
    /// Larger bodies are not queued (the page gets 413): the queue is no place for uploads.
    pub max_body_bytes: u64,
    /// Retryable server answers an entry may get before it becomes a dead letter.
    pub max_attempts: u32,
    /// Whether `Authorization` and `Cookie` headers are written to IndexedDB.
    pub persist_authorization: bool,
    /// Path prefixes under which queued operations on one record merge while they wait.
    pub coalesce: Vec<String>,
    /// Write every mutation to the queue before sending it, not only when the network fails.
    pub queue_first: bool,
    /// Add the worker's own `fetch` listener; off, the app's handler calls `handle()` itself.
    pub fetch_listener: bool,
    /// Log each decision to the console, like Workbox's development logs.
    pub debug: bool,
    /// Where the server takes many mutations in one request (`POST`), if it does.
    pub batch_url: Option<String>,
    /// Most entries one batch carries.
    pub batch_size: u32,
    /// Most requests a replay has out at once (without a batch endpoint). Above 1, order is kept
    /// only per record and per URL (see `lanes`), so it is for servers whose records are
    /// independent: a task could then reach the server before the project it names.
    pub replay_concurrency: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prefixes: vec![DEFAULT_PREFIX.to_owned()],
            methods: MUTATING_METHODS.iter().map(|m| (*m).to_owned()).collect(),
            max_retention_ms: 24.0 * 60.0 * 60_000.0,
            sync_tag: "offline-sync".to_owned(),
            max_body_bytes: 10 * 1024 * 1024,
            max_attempts: 5,
            persist_authorization: false,
            coalesce: vec![DEFAULT_PREFIX.to_owned()],
            queue_first: false,
            fetch_listener: true,
            debug: false,
            batch_url: None,
            batch_size: 50,
            replay_concurrency: 1,
        }
    }
}

/// One rejected option; the worker logs it and keeps the default.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionError {
    pub option: String,
    pub reason: String,
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offline-sync: option '{}' {}; using the default", self.option, self.reason)
    }
}

/// An option's raw value, whichever way it arrived.
enum Raw<'a> {
    Text(Vec<&'a str>),
    Json(&'a Value),
}

impl Config {
    /// Options from a query string such as `?maxRetentionTime=60&prefix=/api/&prefix=/v2/`.
    /// List options also take comma-separated values.
    pub fn from_query(query: &str) -> (Config, Vec<OptionError>) {
        let mut names: Vec<String> = Vec::new();
        let mut values: Vec<Vec<String>> = Vec::new();
        for pair in query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (name, value) = (percent_decode(name), percent_decode(value));
            match names.iter().position(|n| *n == name) {
                Some(i) => values[i].push(value),
                None => {
                    names.push(name);
                    values.push(vec![value]);
                }
            }
        }
        let mut config = Config::default();
        let mut errors = Vec::new();
        for (name, vals) in names.iter().zip(&values) {
            let parts = vals.iter().flat_map(|v| v.split(',')).map(str::trim).collect();
            config.apply(name, Raw::Text(parts), &mut errors);
        }
        (config.settled(), errors)
    }

    /// Options from a JSON object (what a PWA puts in `self.offlineSync`).
    pub fn from_json(options: &Value) -> (Config, Vec<OptionError>) {
        let mut config = Config::default();
        let mut errors = Vec::new();
        match options {
            Value::Null => {}
            Value::Object(members) => {
                for (name, value) in members {
                    config.apply(name, Raw::Json(value), &mut errors);
                }
            }
            _ => errors.push(OptionError {
                option: "offlineSync".into(),
                reason: "must be an object of options".into(),
            }),
        }
        (config.settled(), errors)
    }

    /// Coalescing follows the prefixes unless it was narrowed or turned off.
    fn settled(mut self) -> Config {
        if self.coalesce == [DEFAULT_PREFIX] || self.coalesce == [COALESCE_ALL] {
            self.coalesce = self.prefixes.clone();
        }
        self
    }

    /// Where queued operations on `path` may merge.
    pub fn coalesces(&self, path: &str) -> bool {
        self.coalesce.iter().any(|p| path.starts_with(p.as_str()))
    }

    fn apply(&mut self, name: &str, raw: Raw<'_>, errors: &mut Vec<OptionError>) {
        let result = match name {
            "prefix" | "prefixes" => parse_prefixes(&raw).map(|p| self.prefixes = p),
            "methods" | "method" => parse_methods(&raw).map(|m| self.methods = m),
            "maxRetentionTime" => parse_minutes(&raw).map(|ms| self.max_retention_ms = ms),
            "syncTag" | "tag" => parse_tag(&raw).map(|t| self.sync_tag = t),
            "maxBodyBytes" => parse_count(&raw, 1).map(|n| self.max_body_bytes = n),
            "maxAttempts" => parse_count(&raw, 1).and_then(|n| {
                u32::try_from(n).map(|n| self.max_attempts = n).map_err(|_| "is too large".to_owned())
            }),
            "persistAuthorization" => parse_bool(&raw).map(|b| self.persist_authorization = b),
            "queueFirst" => parse_bool(&raw).map(|b| self.queue_first = b),
            "fetchListener" => parse_bool(&raw).map(|b| self.fetch_listener = b),
            "debug" => parse_bool(&raw).map(|b| self.debug = b),
            "batchUrl" => match parse_prefixes(&raw) {
                Ok(mut urls) if urls.len() == 1 => {
                    self.batch_url = urls.pop();
                    Ok(())
                }
                Ok(_) => Err("must be one path".into()),
                Err(e) => Err(e),
            },
            "replayConcurrency" => parse_small_count(&raw, 16).map(|n| self.replay_concurrency = n),
            "batchSize" => parse_small_count(&raw, 500).map(|n| self.batch_size = n),
            // `true` follows the prefixes (applied once all options are read), `false` turns it off.
            "coalesce" => match parse_bool(&raw) {
                Ok(on) => {
                    self.coalesce = if on { vec![COALESCE_ALL.to_owned()] } else { Vec::new() };
                    Ok(())
                }
                Err(_) => parse_prefixes(&raw).map(|p| self.coalesce = p),
            },
            _ => Err(format!("is not a known option (known: {})", known_options())),
        };
        if let Err(reason) = result {
            errors.push(OptionError { option: name.to_owned(), reason });
        }
    }

    /// Whether the worker takes over this request. Everything else goes to the network untouched.
    pub fn intercepts(&self, method: &str, url: &str, worker_origin: &str) -> bool {
        let Some(path) = same_origin_path(url, worker_origin) else {
            return false;
        };
        self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
            && self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }
}

/// Whether an app's own fetch handler that hands this request over (`offlineSyncWorker.handle`)
/// has it protected: any same-origin mutation, whatever its path or the `methods` option, since
/// the app chose it. Anything else is simply fetched.
pub fn protects_handed_over(method: &str, url: &str, worker_origin: &str) -> bool {
    MUTATING_METHODS.iter().any(|m| m.eq_ignore_ascii_case(method)) && same_origin_path(url, worker_origin).is_some()
}

/// `KNOWN`, comma-separated (a loop: `join`'s generic code is large for this one message).
fn known_options() -> String {
    let mut list = String::new();
    for name in KNOWN {
        if !list.is_empty() {
            list.push_str(", ");
        }
        list.push_str(name);
    }
    list
}

/// The path of `url` when it belongs to `origin` (both as the browser serialises them).
fn same_origin_path<'u>(url: &'u str, origin: &str) -> Option<&'u str> {
    let rest = url.strip_prefix(origin)?;
    match rest.as_bytes().first() {
        Some(b'/') => Some(rest),
        _ => None,
    }
}

fn strings<'a>(raw: &'a Raw<'a>) -> Result<Vec<&'a str>, String> {
    match raw {
        Raw::Text(parts) => Ok(parts.clone()),
        Raw::Json(Value::String(s)) => Ok(vec![s.as_str()]),
        Raw::Json(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(|| format!("must hold strings, found {}", protocol::to_json(v))))
            .collect(),
        // Quoted as JSON, by the one writer the worker has.
        Raw::Json(other) => Err(format!("must be a string or an array of strings, found {}", protocol::to_json(other))),
    }
}

fn parse_prefixes(raw: &Raw<'_>) -> Result<Vec<String>, String> {
    let list = strings(raw)?;
    if list.is_empty() || list.iter().any(|p| p.is_empty()) {
        return Err("must name at least one path prefix".into());
    }
    if let Some(bad) = list.iter().find(|p| !p.starts_with('/')) {
        return Err(format!("must be paths starting with '/', found '{bad}'"));
    }
    Ok(list.into_iter().map(str::to_owned).collect())
}

fn parse_methods(raw: &Raw<'_>) -> Result<Vec<String>, String> {
    let list = strings(raw)?;
    if list.is_empty() || list.iter().all(|m| m.is_empty()) {
        return Err("must name at least one method".into());
    }
    let mut methods = Vec::new();
    for m in list {
        let upper = m.to_ascii_uppercase();
        if !MUTATING_METHODS.contains(&upper.as_str()) {
            return Err(format!("may only hold POST, PUT, PATCH, DELETE, found '{m}'"));
        }
        if !methods.contains(&upper) {
            methods.push(upper);
        }
    }
    Ok(methods)
}

/// Text in JSON's number grammar, read by the one JSON reader the worker has (for `Value`).
fn json_number(text: &str) -> Option<Number> {
    match serde_json::from_str(text).ok()? {
        Value::Number(n) => Some(n),
        _ => None,
    }
}

/// A single number, given as a JSON number or as text in JSON's number grammar, times `scale`,
/// rounded to a whole number; `true` if nothing was rounded away.
fn number(raw: &Raw<'_>, scale: u64) -> Option<(i64, bool)> {
    let number = match raw {
        Raw::Json(Value::Number(n)) => n.clone(),
        Raw::Json(Value::String(s)) => json_number(s)?,
        Raw::Text(parts) if parts.len() == 1 => json_number(parts[0])?,
        _ => return None,
    };
    let scaled = number.as_f64()? * scale as f64;
    // Beyond ±2^63 a whole number no longer fits the counts and times it becomes.
    if !scaled.is_finite() || scaled.abs() >= 9.2e18 {
        return None;
    }
    let whole = scaled.round();
    Some((whole as i64, whole == scaled))
}

/// Minutes, possibly fractional (`0.5`), as whole milliseconds.
fn parse_minutes(raw: &Raw<'_>) -> Result<f64, String> {
    match number(raw, 60_000) {
        Some((ms, _)) if ms > 0 => Ok(ms as f64),
        _ => Err("must be a positive number of minutes".into()),
    }
}

/// A whole number no smaller than `min`.
fn parse_count(raw: &Raw<'_>, min: u64) -> Result<u64, String> {
    match number(raw, 1) {
        Some((n, true)) if n >= 0 && n as u64 >= min => Ok(n as u64),
        _ => Err(format!("must be a whole number of at least {min}")),
    }
}

/// A whole number from 1 to `max`.
fn parse_small_count(raw: &Raw<'_>, max: u32) -> Result<u32, String> {
    match parse_count(raw, 1)? {
        n if n <= u64::from(max) => Ok(n as u32),
        _ => Err(format!("must be at most {max}")),
    }
}

fn parse_bool(raw: &Raw<'_>) -> Result<bool, String> {
    match raw {
        Raw::Json(Value::Bool(b)) => Ok(*b),
        Raw::Json(Value::String(s)) => text_bool(s),
        Raw::Text(parts) if parts.len() == 1 => text_bool(parts[0]),
        _ => Err("must be true or false".into()),
    }
}

fn text_bool(text: &str) -> Result<bool, String> {
    match text {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

fn parse_tag(raw: &Raw<'_>) -> Result<String, String> {
    match strings(raw)?.as_slice() {
        [tag] if !tag.trim().is_empty() => Ok((*tag).to_owned()),
        _ => Err("must be one non-empty string".into()),
    }
}

/// `application/x-www-form-urlencoded` decoding; malformed escapes are kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    const ORIGIN: &str = "https://app.example";

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = Config::default();
        assert_eq!(c.prefixes, ["/api/"]);
        assert_eq!(c.methods, ["POST", "PUT", "PATCH", "DELETE"]);
        assert_eq!(c.max_retention_ms, 86_400_000.0);
        assert_eq!(c.sync_tag, "offline-sync");
        assert_eq!(c.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(c.max_attempts, 5);
        assert!(!c.persist_authorization);
        assert_eq!(c.coalesce, ["/api/"]);
    }

    #[test]
    fn batching_is_off_unless_a_batch_url_is_given() {
        assert_eq!(Config::default().batch_url, None);
        let (c, e) = Config::from_query("batchUrl=/api/_batch&batchSize=100");
        assert!(e.is_empty(), "{e:?}");
        assert_eq!((c.batch_url.as_deref(), c.batch_size), (Some("/api/_batch"), 100));
        let (c, e) = Config::from_query("batchUrl=api/_batch&batchSize=501");
        assert_eq!((c.batch_url, c.batch_size, e.len()), (None, 50, 2));
    }

    #[test]
    fn replay_is_strictly_in_order_unless_concurrency_is_asked_for() {
        assert_eq!(Config::default().replay_concurrency, 1);
        let (c, e) = Config::from_query("replayConcurrency=4");
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(c.replay_concurrency, 4);
        for bad in ["replayConcurrency=0", "replayConcurrency=17", "replayConcurrency=two"] {
            let (c, e) = Config::from_query(bad);
            assert_eq!((c.replay_concurrency, e.len()), (1, 1), "{bad}");
            assert!(e[0].to_string().contains("replayConcurrency"), "{bad}: {}", e[0]);
        }
    }

    #[test]
    fn integration_options_are_switches() {
        let d = Config::default();
        assert_eq!((d.queue_first, d.fetch_listener, d.debug), (false, true, false));
        let (c, e) = Config::from_query("queueFirst=true&fetchListener=false&debug=1");
        assert!(e.is_empty(), "{e:?}");
        assert_eq!((c.queue_first, c.fetch_listener, c.debug), (true, false, true));
        let (c, e) = Config::from_json(&json(r#"{"queueFirst": "yes"}"#));
        assert_eq!((c.queue_first, e[0].option.as_str()), (false, "queueFirst"));
    }

    #[test]
    fn coalescing_follows_the_prefixes_or_is_narrowed_or_off() {
        let (c, _) = Config::from_query("prefix=/v2/");
        assert!(c.coalesces("/v2/tasks/1") && !c.coalesces("/api/tasks/1"));
        let (c, e) = Config::from_query("prefix=/api/,/rpc/&coalesce=/api/tasks/");
        assert!(e.is_empty());
        assert!(c.coalesces("/api/tasks/1") && !c.coalesces("/api/projects/1") && !c.coalesces("/rpc/x/1"));
        let (c, _) = Config::from_query("coalesce=false");
        assert!(!c.coalesces("/api/tasks/1"));
        let (c, _) = Config::from_json(&json(r#"{"coalesce": true, "prefixes": ["/a/"]}"#));
        assert_eq!(c.coalesce, ["/a/"]);
        let (c, e) = Config::from_query("coalesce=sometimes");
        assert_eq!((c.coalesce, e.len()), (vec!["/api/".to_owned()], 1));
    }

    #[test]
    fn reliability_options_are_read_and_checked() {
        let (c, errors) = Config::from_query("maxBodyBytes=1024&maxAttempts=3&persistAuthorization=true");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!((c.max_body_bytes, c.max_attempts, c.persist_authorization), (1024, 3, true));
        let (c, errors) = Config::from_json(&json(r#"{"maxBodyBytes": 2048, "maxAttempts": "7", "persistAuthorization": false}"#));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!((c.max_body_bytes, c.max_attempts), (2048, 7));
        let (c, errors) =
            Config::from_query("maxBodyBytes=0&maxAttempts=2.5&persistAuthorization=yes&maxAttempts=99999999999");
        assert_eq!(c, Config::default());
        let named: Vec<&str> = errors.iter().map(|e| e.option.as_str()).collect();
        assert_eq!(named, ["maxBodyBytes", "maxAttempts", "persistAuthorization"]);
    }

    #[test]
    fn intercepts_same_origin_mutations_under_the_prefix_only() {
        let c = Config::default();
        assert!(c.intercepts("POST", "https://app.example/api/tasks", ORIGIN));
        assert!(c.intercepts("patch", "https://app.example/api/tasks/1?x=1", ORIGIN));
        assert!(c.intercepts("DELETE", "https://app.example/api/", ORIGIN));
        assert!(!c.intercepts("GET", "https://app.example/api/tasks", ORIGIN));
        assert!(!c.intercepts("HEAD", "https://app.example/api/tasks", ORIGIN));
        assert!(!c.intercepts("POST", "https://app.example/apix/tasks", ORIGIN));
        assert!(!c.intercepts("POST", "https://app.example/api", ORIGIN));
        assert!(!c.intercepts("POST", "https://app.example/v1/api/tasks", ORIGIN));
        assert!(!c.intercepts("POST", "https://other.example/api/tasks", ORIGIN));
        assert!(!c.intercepts("POST", "https://app.example:8443/api/tasks", ORIGIN));
        assert!(!c.intercepts("POST", "https://app.example.evil/api/tasks", ORIGIN));
        assert!(!c.intercepts("POST", "http://app.example/api/tasks", ORIGIN));
    }

    #[test]
    fn a_handed_over_request_is_protected_when_it_is_a_same_origin_mutation_on_any_path() {
        assert!(protects_handed_over("put", "https://app.example/v1/tasks/1", ORIGIN));
        assert!(protects_handed_over("DELETE", "https://app.example/", ORIGIN));
        assert!(!protects_handed_over("GET", "https://app.example/api/tasks", ORIGIN));
        assert!(!protects_handed_over("POST", "https://other.example/api/tasks", ORIGIN));
        assert!(!protects_handed_over("POST", "https://app.example.evil/api/tasks", ORIGIN));
    }

    #[test]
    fn query_options_are_read_with_repeats_and_commas() {
        let (c, errors) =
            Config::from_query("?maxRetentionTime=0.5&prefix=/api/&prefix=/v2/,/rpc/&methods=post,put&syncTag=q1");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.max_retention_ms, 30_000.0);
        assert_eq!(c.prefixes, ["/api/", "/v2/", "/rpc/"]);
        assert_eq!(c.methods, ["POST", "PUT"]);
        assert_eq!(c.sync_tag, "q1");
        assert!(c.intercepts("POST", "https://app.example/rpc/x", ORIGIN));
        assert!(!c.intercepts("DELETE", "https://app.example/api/x", ORIGIN));
    }

    #[test]
    fn query_values_are_percent_decoded() {
        let (c, errors) = Config::from_query("prefix=%2Fdata%20set%2F&syncTag=a+b");
        assert!(errors.is_empty());
        assert_eq!(c.prefixes, ["/data set/"]);
        assert_eq!(c.sync_tag, "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn bad_values_name_the_option_and_keep_the_default() {
        let (c, errors) = Config::from_query(
            "maxRetentionTime=soon&methods=GET&prefix=api&syncTag=&colour=red",
        );
        assert_eq!(c, Config::default());
        let named: Vec<&str> = errors.iter().map(|e| e.option.as_str()).collect();
        assert_eq!(named, ["maxRetentionTime", "methods", "prefix", "syncTag", "colour"]);
        let text = errors[0].to_string();
        assert!(text.contains("'maxRetentionTime'") && text.contains("default"), "{text}");
        let unknown = &errors[4].reason;
        assert!(unknown.starts_with("is not a known option (known: prefix, methods, "), "{unknown}");
        assert!(unknown.ends_with(&format!(", {})", KNOWN[KNOWN.len() - 1])), "{unknown}");
        for bad in ["0", "-5", "inf", "NaN", ""] {
            let (c, errors) = Config::from_query(&format!("maxRetentionTime={bad}"));
            assert_eq!(c.max_retention_ms, Config::default().max_retention_ms, "{bad}");
            assert_eq!(errors.len(), 1, "{bad}");
        }
    }

    #[test]
    fn json_options_accept_lists_numbers_and_numeric_strings() {
        let (c, errors) = Config::from_json(&json(r#"{
            "prefixes": ["/api/", "/v2/"], "methods": ["POST"], "maxRetentionTime": "90", "syncTag": "t"
        }"#));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.prefixes, ["/api/", "/v2/"]);
        assert_eq!(c.methods, ["POST"]);
        assert_eq!(c.max_retention_ms, 90.0 * 60_000.0);
        assert_eq!(c.sync_tag, "t");
        assert_eq!(Config::from_json(&Value::Null), (Config::default(), vec![]));
    }

    #[test]
    fn bad_json_options_are_reported_one_by_one() {
        let (c, errors) = Config::from_json(&json(r#"{
            "prefixes": [1], "methods": [], "maxRetentionTime": false, "syncTag": ["a", "b"]
        }"#));
        assert_eq!(c, Config::default());
        assert_eq!(errors.len(), 4);
        let (_, errors) = Config::from_json(&json(r#""fast""#));
        assert_eq!(errors[0].option, "offlineSync");
    }

    #[test]
    fn bad_json_values_are_quoted_as_json() {
        let (_, errors) = Config::from_json(&json(r#"{"prefixes": ["/a/", 1.50], "methods": {"a": "b\"c"}}"#));
        let reasons: Vec<&str> = errors.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(reasons, ["must hold strings, found 1.5", r#"must be a string or an array of strings, found {"a":"b\"c"}"#]);
    }

    #[test]
    fn numbers_are_read_in_any_json_form() {
        let (c, errors) = Config::from_json(&json(r#"{"maxRetentionTime": 1.5, "maxAttempts": 7.0, "maxBodyBytes": "1e3"}"#));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!((c.max_retention_ms, c.max_attempts, c.max_body_bytes), (90_000.0, 7, 1_000));
        let (c, _) = Config::from_query("maxRetentionTime=1e1");
        assert_eq!(c.max_retention_ms, 600_000.0);
        for bad in ["maxAttempts=2.5", "maxAttempts=-3", "maxBodyBytes=1e400", "maxRetentionTime=1e-9", "maxAttempts=%2B5", "maxAttempts=.5", "maxAttempts=5.", "maxAttempts=0x10", "maxAttempts=05"] {
            let (c, errors) = Config::from_query(bad);
            assert_eq!((c, errors.len()), (Config::default(), 1), "{bad}");
        }
    }
}
