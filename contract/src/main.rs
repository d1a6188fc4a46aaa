//! `offline-sync-contract URL`: checks the server behind a collection URL against
//! offline-sync's server contract, one line per rule, and exits 1 if any rule fails.

use std::process::ExitCode;

use offline_sync_contract::{RULES, Target, Verdict, check};
use serde_json::Value;

const USAGE: &str = "usage: offline-sync-contract URL [--body JSON] [--batch URL] [--max-body BYTES] [--skip RULE,...]
  URL              a collection, e.g. http://127.0.0.1:3000/api/tasks
  --body JSON      a JSON object that creates a record there (default {\"title\":\"offline-sync contract\"});
                   each create gets a fresh \"id\"
  --batch URL      the batch endpoint (default: _batch beside the collection)
  --max-body BYTES the server's body limit, for the 413 rule (default 1048576)
  --skip RULES     rules to leave out, comma-separated (see the names in the output)";

fn parse(args: Vec<String>) -> Result<(Target, Vec<String>), String> {
    let mut args = args.into_iter();
    let collection = args
        .next()
        .filter(|a| !a.starts_with("--"))
        .ok_or("the first argument is the collection URL")?;
    if !collection.starts_with("http://") && !collection.starts_with("https://") {
        return Err(format!("not an http(s) URL: {collection}"));
    }
    let mut target = Target::new(&collection);
    let mut skip = Vec::new();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--body" => match serde_json::from_str(&value) {
                Ok(Value::Object(body)) => target.body = body,
                _ => return Err(format!("--body must be a JSON object, not {value}")),
            },
            "--batch" => target.batch = value,
            "--max-body" => {
                target.max_body = value
                    .parse()
                    .map_err(|_| format!("--max-body: not a byte count: {value}"))?
            }
            "--skip" => skip.extend(value.split(',').map(|s| s.trim().to_owned())),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if let Some(unknown) = skip
        .iter()
        .find(|s| !RULES.iter().any(|r| r.name == s.as_str()))
    {
        return Err(format!("--skip: no rule named {unknown}"));
    }
    Ok((target, skip))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (target, skip) = match parse(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("offline-sync-contract: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    println!("offline-sync contract, against {}", target.collection);
    let mut failed = 0;
    for (rule, verdict) in check(&target, &skip) {
        match verdict {
            Verdict::Skipped => println!("SKIP {:<20} {}", rule.name, rule.says),
            Verdict::Pass(seen) => println!("PASS {:<20} {} ({seen})", rule.name, rule.says),
            Verdict::Fail(why) => {
                failed += 1;
                println!("FAIL {:<20} {}\n     {why}", rule.name, rule.says);
            }
        }
    }
    if failed == 0 {
        println!("all rules pass");
        ExitCode::SUCCESS
    } else {
        println!("{failed} rule(s) failed");
        ExitCode::FAILURE
    }
}
