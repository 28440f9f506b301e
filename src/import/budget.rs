//! Import, helper: the two bounds on what the parallel import holds between walking and storing.
//!
//! A [`Window`] bounds the chunks of files walked but not yet stored, so the writer's
//! reorder buffer holds at most that many. A [`Budget`] bounds the bytes of file content
//! read but not yet stored, shared by all readers, so memory does not grow with file
//! size times thread count.
//!
//! Deadlock is avoided by one rule: the chunk the writer waits for (the head of the line)
//! may always take one more file's bytes while it holds less than a piece's worth (its
//! piece in the making); every other chunk waits while the budget is spent. The head
//! hands its pieces on as they fill, the writer stores them and gives their bytes back,
//! so the head always moves, and with it the line; and the head itself holds at most a
//! piece and one file more than the budget allows.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// At most `limit` chunks between the walker and the writer.
pub struct Window {
    limit: usize,
    state: Mutex<WindowState>,
    changed: Condvar,
}

#[derive(Default)]
struct WindowState {
    open: usize,
    closed: bool,
}

impl Window {
    pub fn new(limit: usize) -> Self {
        Window {
            limit: limit.max(1),
            state: Mutex::new(WindowState::default()),
            changed: Condvar::new(),
        }
    }

    /// Take a place for one more chunk, waiting while the window is full; false once
    /// the window is closed (the import stops).
    pub fn enter(&self) -> bool {
        let mut state = lock(&self.state);
        while state.open >= self.limit && !state.closed {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.open += 1;
        !state.closed
    }

    /// A chunk was stored: its place is free.
    pub fn leave(&self) {
        let mut state = lock(&self.state);
        state.open = state.open.saturating_sub(1);
        self.changed.notify_all();
    }

    /// Wake and turn away everyone waiting, now and later.
    pub fn close(&self) {
        lock(&self.state).closed = true;
        self.changed.notify_all();
    }
}

/// Bytes of file content held between reading and storing, at most `limit` except for
/// the head of the line (see the module's documentation).
pub struct Budget {
    limit: u64,
    /// What the head may hold and still overdraw: the size of a piece.
    head_allowance: u64,
    state: Mutex<BudgetState>,
    changed: Condvar,
}

#[derive(Default)]
struct BudgetState {
    spent: u64,
    /// The chunk the writer stores next.
    head: usize,
    /// Bytes taken and not yet given back, by chunk (only chunks holding some).
    by_chunk: BTreeMap<usize, u64>,
    closed: bool,
}

impl BudgetState {
    fn grants(&self, budget: &Budget, chunk: usize, bytes: u64) -> bool {
        let held = self.by_chunk.get(&chunk).copied().unwrap_or(0);
        let head_may_overdraw = chunk == self.head && held < budget.head_allowance;
        bytes == 0 || head_may_overdraw || self.spent.saturating_add(bytes) <= budget.limit
    }

    fn give_back(&mut self, chunk: usize, bytes: u64) {
        self.spent = self.spent.saturating_sub(bytes);
        if let Some(held) = self.by_chunk.get_mut(&chunk) {
            *held = held.saturating_sub(bytes);
            if *held == 0 {
                self.by_chunk.remove(&chunk);
            }
        }
    }
}

impl Budget {
    /// `limit` bytes for all chunks; the head overdraws while it holds less than `head_allowance`.
    pub fn new(limit: u64, head_allowance: u64) -> Self {
        Budget {
            limit,
            head_allowance: head_allowance.max(1),
            state: Mutex::new(BudgetState::default()),
            changed: Condvar::new(),
        }
    }

    /// Take `bytes` for a file of `chunk`, waiting until the budget allows it; `None`
    /// once the budget is closed (the import stops). The bytes come back when the
    /// [`Charge`] is dropped, after the writer stored what they were taken for.
    pub fn take(&self, chunk: usize, bytes: u64) -> Option<Charge<'_>> {
        let mut state = lock(&self.state);
        while !state.closed && !state.grants(self, chunk, bytes) {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.closed {
            return None;
        }
        state.spent = state.spent.saturating_add(bytes);
        if bytes > 0 {
            *state.by_chunk.entry(chunk).or_default() += bytes;
        }
        Some(Charge {
            budget: self,
            chunk,
            bytes,
        })
    }

    /// The writer now waits for `chunk`: it may overdraw.
    pub fn set_head(&self, chunk: usize) {
        lock(&self.state).head = chunk;
        self.changed.notify_all();
    }

    /// Wake and turn away everyone waiting, now and later.
    pub fn close(&self) {
        lock(&self.state).closed = true;
        self.changed.notify_all();
    }

    fn give_back(&self, chunk: usize, bytes: u64) {
        if bytes == 0 {
            return;
        }
        lock(&self.state).give_back(chunk, bytes);
        self.changed.notify_all();
    }

    /// Bytes taken and not given back, for tests.
    #[cfg(test)]
    fn spent(&self) -> u64 {
        lock(&self.state).spent
    }
}

/// Bytes taken from a [`Budget`] for one chunk; given back when dropped.
pub struct Charge<'b> {
    budget: &'b Budget,
    chunk: usize,
    bytes: u64,
}

impl Charge<'_> {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Keep only `bytes` of the charge (what a file turned out to hold), giving the rest back.
    pub fn shrink_to(&mut self, bytes: u64) {
        if bytes < self.bytes {
            self.budget.give_back(self.chunk, self.bytes - bytes);
            self.bytes = bytes;
        }
    }

    /// Hold `other`'s bytes in this charge too (both of the same chunk).
    pub fn absorb(&mut self, mut other: Charge<'_>) {
        debug_assert_eq!(self.chunk, other.chunk);
        self.bytes += std::mem::take(&mut other.bytes);
    }
}

impl Drop for Charge<'_> {
    fn drop(&mut self) {
        self.budget.give_back(self.chunk, self.bytes);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// Runs `work` on a thread, checks that it is still waiting after a moment, calls
    /// `unblock`, and returns what `work` then returned.
    fn waits_until<T: Send>(work: impl FnOnce() -> T + Send, unblock: impl FnOnce()) -> T {
        std::thread::scope(|scope| {
            let (done, finished) = mpsc::channel();
            scope.spawn(move || done.send(work()));
            assert!(
                finished.recv_timeout(Duration::from_millis(100)).is_err(),
                "should wait"
            );
            unblock();
            finished.recv().unwrap()
        })
    }

    #[test]
    fn the_head_overdraws_once_and_others_wait_while_the_budget_is_spent() {
        let budget = Budget::new(100, 1);
        let head = budget.take(0, 500).unwrap();
        assert_eq!(
            budget.spent(),
            500,
            "the head may take a file larger than the budget"
        );
        assert_eq!(budget.take(1, 0).unwrap().bytes(), 0);
        let more_of_head = waits_until(|| budget.take(0, 10).unwrap(), || drop(head));
        assert_eq!(more_of_head.bytes(), 10);
        drop(more_of_head);
        assert_eq!(budget.spent(), 0);
    }

    #[test]
    fn a_charge_shrinks_and_merges_and_gives_everything_back() {
        let budget = Budget::new(100, 1);
        let mut piece = budget.take(3, 40).unwrap();
        piece.shrink_to(10);
        assert_eq!(budget.spent(), 10);
        piece.absorb(budget.take(3, 90).unwrap());
        assert_eq!((piece.bytes(), budget.spent()), (100, 100));
        let other = waits_until(|| budget.take(4, 1).map(|c| c.bytes()), || drop(piece));
        assert_eq!(other, Some(1));
        assert_eq!(budget.spent(), 0);
    }

    #[test]
    fn a_new_head_overdraws_and_closing_turns_everyone_away() {
        let budget = Budget::new(10, 1);
        let held = budget.take(0, 10).unwrap();
        let next = waits_until(
            || budget.take(1, 50).map(|c| c.bytes()),
            || budget.set_head(1),
        );
        assert_eq!(next, Some(50));
        let turned_away = waits_until(|| budget.take(2, 1).is_none(), || budget.close());
        assert!(turned_away);
        drop(held);
    }

    #[test]
    fn the_window_holds_at_most_its_limit_until_closed() {
        let window = Window::new(2);
        assert!(window.enter() && window.enter());
        assert!(waits_until(|| window.enter(), || window.leave()));
        assert!(!waits_until(|| window.enter(), || window.close()));
    }
}
