//! A request buffer per thread, reused from call to call, so that a
//! one-key request costs no allocation: a `malloc` and a `free` were a
//! twentieth of a get's instructions (measured with `make bench`'s
//! callgrind count).

use std::cell::Cell;
use std::ops::{Deref, DerefMut};

/// The most a buffer keeps between calls: one that grew larger (a value
/// copied into its request) is freed, not kept by the thread.
const KEEP: usize = 64 * 1024;

thread_local! {
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// The thread's request buffer, empty, lent until dropped. A second one
/// taken meanwhile (a request made while another is being sent) is a new
/// buffer: nothing is shared.
pub(super) struct Scratch(Vec<u8>);

impl Scratch {
    pub(super) fn take() -> Scratch {
        let mut buf = SPARE.try_with(Cell::take).unwrap_or_default();
        buf.clear();
        Scratch(buf)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.0.capacity() <= KEEP {
            let buf = std::mem::take(&mut self.0);
            // Gone at thread exit: then the buffer is simply freed.
            let _ = SPARE.try_with(|spare| spare.set(buf));
        }
    }
}

impl Deref for Scratch {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_empty_and_not_shared() {
        let mut first = Scratch::take();
        first.extend_from_slice(b"get a\r\n");
        let ptr = first.as_ptr();
        // Taken while the first is lent: another buffer.
        let second = Scratch::take();
        assert!(second.is_empty());
        drop(second);
        drop(first);
        // The first came back (the second, returned earlier, was replaced).
        let again = Scratch::take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr);
        drop(again);
        // Too large to keep: freed.
        let mut big = Scratch::take();
        big.reserve(KEEP + 1);
        drop(big);
        assert_eq!(Scratch::take().capacity(), 0);
    }
}
