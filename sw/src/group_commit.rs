//! Group commit: mutations that arrive while a commit is under way wait for it, then go together
//! in the next transaction; a lone mutation goes at once, so nothing is delayed to wait for company.

/// The mutations waiting for the next commit, and whether commits are under way.
#[derive(Debug)]
pub struct Commits<T> {
    waiting: Vec<T>,
    busy: bool,
}

impl<T> Default for Commits<T> {
    fn default() -> Self {
        Commits { waiting: Vec::new(), busy: false }
    }
}

impl<T> Commits<T> {
    /// Adds a mutation to the next commit: `true` when no commit is under way, so the caller
    /// starts them.
    pub fn offer(&mut self, mutation: T) -> bool {
        self.waiting.push(mutation);
        !std::mem::replace(&mut self.busy, true)
    }

    /// What the next commit holds (all that waits), or `None`: nothing does, and the commits are
    /// over until the next offer.
    pub fn next_commit(&mut self) -> Option<Vec<T>> {
        if self.waiting.is_empty() {
            self.busy = false;
            return None;
        }
        Some(std::mem::take(&mut self.waiting))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_mutation_goes_at_once_and_those_arriving_meanwhile_go_together_next() {
        let mut c = Commits::default();
        assert!(c.offer(1), "nothing under way: it starts the commits");
        assert_eq!(c.next_commit(), Some(vec![1]));
        assert!(!c.offer(2), "a commit is under way: it waits");
        assert!(!c.offer(3));
        assert_eq!(c.next_commit(), Some(vec![2, 3]), "together, in arrival order");
        assert_eq!(c.next_commit(), None, "nothing left: the commits are over");
        assert!(c.offer(4), "the next one starts them again");
    }
}
