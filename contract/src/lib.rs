//! offline-sync's server contract, checked from the outside: point [`check`] (or the
//! `offline-sync-contract` binary) at a collection URL of a running server.

mod checks;
mod client;

pub use checks::{RULES, Rule, Target};

/// How one rule went.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// What was seen.
    Pass(String),
    /// What was expected, and what came instead.
    Fail(String),
    Skipped,
}

/// Checks every rule not named in `skip`, in order.
pub fn check(target: &Target, skip: &[String]) -> Vec<(&'static Rule, Verdict)> {
    let client = client::Client::new();
    RULES
        .iter()
        .map(|rule| {
            let verdict = if skip.iter().any(|s| s == rule.name) {
                Verdict::Skipped
            } else {
                match (rule.check)(&client, target) {
                    Ok(seen) => Verdict::Pass(seen),
                    Err(why) => Verdict::Fail(why),
                }
            };
            (rule, verdict)
        })
        .collect()
}
