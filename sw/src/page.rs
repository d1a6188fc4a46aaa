//! A page's message: what answering it takes, in order, and what the page is answered with.
//! The shell carries out the steps; the first that fails ends them, and the page gets its error.

use crate::protocol::Request;
use crate::state::State;

/// One thing the worker does for a page's message.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Puts a dead letter back in the queue at its old place.
    Revive(u64),
    Discard(u64),
    /// Tells every page the status the steps before led to.
    TellStatus,
    /// Replays to the end (a page's ask means the network may be back), or joins the replay
    /// under way.
    Replay,
}

/// What the page is answered with once the steps are done.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reply {
    /// The status, after everything the steps made the pages hear: the page that asked reads its
    /// news before its answer.
    Status,
    /// The entries waiting, read at once (a replay under way does not hold it back).
    Pending,
    DeadLetters,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub reply: Reply,
}

impl State {
    /// What answering `request` takes. Fresh replay headers take effect here, before the replay
    /// they are for.
    pub fn answer(&mut self, request: Request) -> Plan {
        let (steps, reply) = match request {
            Request::GetStatus => (Vec::new(), Reply::Status),
            Request::GetPending => (Vec::new(), Reply::Pending),
            Request::GetDeadLetters => (Vec::new(), Reply::DeadLetters),
            Request::Replay | Request::Online => (vec![Step::Replay], Reply::Status),
            Request::RetryDeadLetter(id) => (vec![Step::Revive(id), Step::TellStatus, Step::Replay], Reply::Status),
            Request::DiscardDeadLetter(id) => (vec![Step::Discard(id), Step::TellStatus], Reply::Status),
            Request::SetReplayHeaders(headers) => {
                self.set_replay_headers(headers);
                (vec![Step::Replay], Reply::Status)
            }
        };
        Plan { steps, reply }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_dead_letter_goes_back_in_line_the_pages_hear_of_it_and_a_replay_sends_it() {
        let plan = State::default().answer(Request::RetryDeadLetter(4));
        assert_eq!(plan, Plan { steps: vec![Step::Revive(4), Step::TellStatus, Step::Replay], reply: Reply::Status });
    }

    #[test]
    fn reads_are_answered_at_once_and_asks_with_the_status_they_led_to() {
        let mut s = State::default();
        assert_eq!(s.answer(Request::GetPending), Plan { steps: Vec::new(), reply: Reply::Pending });
        assert_eq!(s.answer(Request::GetDeadLetters).reply, Reply::DeadLetters);
        for ask in [Request::Replay, Request::Online] {
            assert_eq!(s.answer(ask), Plan { steps: vec![Step::Replay], reply: Reply::Status });
        }
        assert_eq!(s.answer(Request::DiscardDeadLetter(2)).steps, [Step::Discard(2), Step::TellStatus], "a discard replays nothing");
    }

    #[test]
    fn fresh_headers_lift_the_hold_before_the_replay_they_are_for() {
        let mut s = State::default();
        s.hold();
        let plan = s.answer(Request::SetReplayHeaders(vec![("Authorization".into(), "Bearer new".into())]));
        assert_eq!(plan.steps, [Step::Replay]);
        assert!(!s.status(1, 0).auth_required);
        assert_eq!(s.replay_headers()[0].1, "Bearer new");
    }
}
