//! The command line, parsed by hand: three flags do not need a parser crate.

use std::path::PathBuf;

use crate::error::StartError;

pub const USAGE: &str = "usage: demo-server [--port N] [--db PATH] [--static DIR]...
  --port N      port on 127.0.0.1 (default 0: pick a free one)
  --db PATH     SQLite file (default: in memory)
  --static DIR  serve DIR at /; repeatable, the first dir holding a file wins";

#[derive(Debug, Default, PartialEq)]
pub struct Config {
    pub port: u16,
    pub db: Option<PathBuf>,
    pub static_dirs: Vec<PathBuf>,
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
        let value = match flag.as_str() {
            "--port" | "--db" | "--static" => args
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
            _ => config.static_dirs.push(value.into()),
        }
    }
    Ok(Command::Serve(config))
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
            "--port", "8080", "--db", "x.db", "--static", "a", "--static", "b",
        ]));
        let expected = Config {
            port: 8080,
            db: Some("x.db".into()),
            static_dirs: vec!["a".into(), "b".into()],
        };
        assert_eq!(parsed.ok(), Some(Command::Serve(expected)));
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
    }
}
