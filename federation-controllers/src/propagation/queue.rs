//! The work queue of the propagation controller: each object at most once in the queue and
//! at most once in flight; a change that arrives while an object is being reconciled runs it
//! again afterwards (so no change is lost and no object is reconciled twice at once).

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

/// FIFO of distinct keys with in-flight tracking.
///
/// ```
/// use federation_controllers::propagation::queue::WorkQueue;
/// let mut q = WorkQueue::default();
/// q.push("a");
/// q.push("a");
/// let a = q.pop().unwrap();
/// q.push("a"); // changed while running: queued again when done
/// assert!(q.pop().is_none());
/// q.done(&a);
/// assert_eq!(q.pop(), Some("a"));
/// ```
#[derive(Debug)]
pub struct WorkQueue<K> {
    order: VecDeque<K>,
    queued: HashSet<K>,
    running: HashSet<K>,
    again: HashSet<K>,
}

impl<K> Default for WorkQueue<K> {
    fn default() -> Self {
        Self {
            order: VecDeque::new(),
            queued: HashSet::new(),
            running: HashSet::new(),
            again: HashSet::new(),
        }
    }
}

impl<K: Clone + Eq + Hash> WorkQueue<K> {
    /// Adds a key unless it is queued already; a running key is queued again when done.
    pub fn push(&mut self, k: K) {
        if self.running.contains(&k) {
            self.again.insert(k);
        } else if self.queued.insert(k.clone()) {
            self.order.push_back(k);
        }
    }

    /// The next key to work on; it counts as running until [`WorkQueue::done`].
    pub fn pop(&mut self) -> Option<K> {
        let k = self.order.pop_front()?;
        self.queued.remove(&k);
        self.running.insert(k.clone());
        Some(k)
    }

    /// Marks a key finished; requeues it when it changed meanwhile.
    pub fn done(&mut self, k: &K) {
        self.running.remove(k);
        if self.again.remove(k) {
            self.push(k.clone());
        }
    }

    /// Keys waiting.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deduplicated_in_order() {
        let mut q = WorkQueue::default();
        for k in [1, 2, 1, 3, 2] {
            q.push(k);
        }
        assert_eq!(q.len(), 3);
        assert_eq!((q.pop(), q.pop(), q.pop(), q.pop()), (Some(1), Some(2), Some(3), None));
    }

    #[test]
    fn a_running_key_is_never_handed_out_twice() {
        let mut q = WorkQueue::default();
        q.push(1);
        assert_eq!(q.pop(), Some(1));
        q.push(1);
        q.push(1);
        assert_eq!(q.pop(), None);
        q.done(&1);
        assert_eq!(q.pop(), Some(1));
        q.done(&1);
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn done_without_changes_does_not_requeue() {
        let mut q = WorkQueue::default();
        q.push("x");
        let x = q.pop();
        q.done(&"x");
        assert_eq!(x, Some("x"));
        assert!(q.is_empty());
    }
}
