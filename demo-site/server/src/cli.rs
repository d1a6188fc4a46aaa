//! The command line, parsed by hand: four flags do not need a parser crate.

use std::path::PathBuf;

use axum::http::{HeaderName, HeaderValue};

use crate::error::StartError;

pub const USAGE: &str =
    "usage: demo-server [--port N] [--db PATH] [--static DIR]... [--header 'NAME: VALUE']... [--test-hooks]
  --port N      port on 127.0.0.1 (default 0: pick a free one)
  --db PATH     SQLite file (default: in memory, or DATABASE_URL if set), or a postgres:// URL
                (several servers may share one PostgreSQL database)
  --static DIR  serve DIR at /; repeatable, the first dir holding a file wins
  --header 'NAME: VALUE'
                add this header to every static-file response (e.g. a Content-Security-Policy);
                repeatable
  --allow-origin ORIGIN
                accept mutations (and answer CORS) from this origin too, e.g. a dev server's
                http://127.0.0.1:5173; repeatable. Other sites' mutations get 403
  --test-hooks  serve /_test/ (request log, fault injection, reset) for the test suites; off, as
                any page the user visits could reach them";

#[derive(Debug, Default, PartialEq)]
pub struct Config {
    pub port: u16,
    pub db: Option<PathBuf>,
    pub static_dirs: Vec<PathBuf>,
    /// Added to every static-file response, in this order (`--header`).
    pub static_headers: Vec<(HeaderName, HeaderValue)>,
    /// Origins besides the server's own that may call the API (`--allow-origin`).
    pub allowed_origins: Vec<String>,
    /// Serve `/_test/` and keep the request log (`--test-hooks`): only the tests ask for it.
    pub test_hooks: bool,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    Serve(Config),
    Help,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, StartError> {
    let mut config = Config::default();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(Command::Help);
        }
        if flag == "--test-hooks" {
            config.test_hooks = true;
            continue;
        }
        let value = match flag.as_str() {
            "--port" | "--db" | "--static" | "--header" | "--allow-origin" => args
                .next()
                .ok_or_else(|| StartError::Usage(format!("{flag} needs a value")))?,
            other => return Err(StartError::Usage(format!("unknown argument {other:?}"))),
        };
        match flag.as_str() {
            "--port" => {
                config.port = value.parse().map_err(|_| {
                    StartError::Usage(format!("--port: not a port number: {value:?}"))
                })?;
            }
            "--db" => config.db = Some(value.into()),
            "--header" => config.static_headers.push(parse_header(&value)?),
            "--allow-origin" => config.allowed_origins.push(parse_origin(&value)?),
            _ => config.static_dirs.push(value.into()),
        }
    }
    Ok(Command::Serve(config))
}

/// `scheme://host[:port]`, as a browser sends it in `Origin`: no path, no trailing slash.
fn parse_origin(text: &str) -> Result<String, StartError> {
    let bad = || {
        StartError::Usage(format!(
            "--allow-origin {text:?}: expected an origin like http://127.0.0.1:5173"
        ))
    };
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(bad)?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(bad());
    }
    Ok(text.to_owned())
}

/// `"Name: value"`: split at the first colon, both sides trimmed, each checked as HTTP allows.
fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), StartError> {
    let bad = |why: &str| StartError::Usage(format!("--header {text:?}: {why}"));
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| bad("expected 'NAME: VALUE'"))?;
    let name =
        HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad("not a header name"))?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| bad("not a header value"))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_all_flags() {
        let parsed = parse(args(&[
            "--port",
            "8080",
            "--db",
            "x.db",
            "--static",
            "a",
            "--static",
            "b",
            "--header",
            "Content-Security-Policy: default-src 'self'",
            "--header",
            "x-extra:  two words ",
            "--allow-origin",
            "http://127.0.0.1:5173",
            "--test-hooks",
        ]));
        let expected = Config {
            port: 8080,
            db: Some("x.db".into()),
            static_dirs: vec!["a".into(), "b".into()],
            static_headers: vec![
                (
                    HeaderName::from_static("content-security-policy"),
                    HeaderValue::from_static("default-src 'self'"),
                ),
                (
                    HeaderName::from_static("x-extra"),
                    HeaderValue::from_static("two words"),
                ),
            ],
            allowed_origins: vec!["http://127.0.0.1:5173".into()],
            test_hooks: true,
        };
        assert_eq!(parsed.ok(), Some(Command::Serve(expected)));
    }

    #[test]
    fn the_test_hooks_are_off_unless_asked_for() {
        let Ok(Command::Serve(config)) = parse(args(&["--port", "8080"])) else {
            panic!("serves")
        };
        assert!(!config.test_hooks);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            parse(args(&["--port", "http"])),
            Err(StartError::Usage(_))
        ));
        assert!(matches!(parse(args(&["--db"])), Err(StartError::Usage(_))));
        assert!(matches!(
            parse(args(&["--verbose"])),
            Err(StartError::Usage(_))
        ));
        for header in ["no colon", ": no name", "bad name: x", "x-ok: line\nbreak"] {
            assert!(
                matches!(
                    parse(args(&["--header", header])),
                    Err(StartError::Usage(_))
                ),
                "{header:?}"
            );
        }
        for origin in [
            "127.0.0.1:5173",
            "http://",
            "http://a.test/",
            "https://a.test/path",
            "ftp://a.test",
        ] {
            assert!(
                matches!(
                    parse(args(&["--allow-origin", origin])),
                    Err(StartError::Usage(_))
                ),
                "{origin:?}"
            );
        }
    }
}
