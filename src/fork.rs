//! `fork()`: a child must be able to use every handle, whatever the
//! parent's other threads were doing in the library at that moment.
//!
//! A child has only the thread that forked. A lock another thread held at
//! that moment stays held in the child for ever, and the data under it may
//! be half changed. So the library does what the C library does for
//! `malloc`: a `pthread_atfork` prepare handler takes every lock of every
//! registered handle (the registry, then each client's settings and server
//! list, then each server's pool and dead mark: the library's lock order),
//! which waits only for critical sections already under way (no lock is
//! held across I/O); the parent and child handlers release them. The child
//! also counts a new fork generation, so a pooled connection inherited
//! from the parent (whose socket the parent still uses) is closed unused.
//!
//! The locks are `std::sync`'s on purpose: their release is an atomic
//! store and at most a futex wake on the lock's own word, so releasing
//! them in the child touches nothing another thread could have held.
//! (parking_lot's release of a lock with waiters goes through a shared
//! table whose bucket locks another thread may hold at the fork.)
//!
//! A `Client` a Rust program keeps outside the registry is not covered: it
//! is registered with [`crate::registry::insert`] to be.

use std::any::Any;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Incremented in every child right after `fork()`, so a connection can tell
/// it was inherited without a `getpid` system call per request.
static GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The locks the prepare handler took, in the forking thread.
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// The current fork generation. The first call installs the fork handlers.
pub fn generation() -> u64 {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: the handlers are `extern "C"` functions that never
        // unwind: they take and release std locks and touch a thread-local
        // and an atomic.
        unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    });
    GENERATION.load(Ordering::Relaxed)
}

extern "C" fn prepare() {
    let mut held = Held::default();
    crate::registry::hold_locks(&mut held);
    let _ = HELD.try_with(|h| *h.borrow_mut() = Some(held));
}

extern "C" fn parent() {
    let _ = HELD.try_with(|h| h.borrow_mut().take());
}

extern "C" fn child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
    let _ = HELD.try_with(|h| h.borrow_mut().take());
}

/// Lock guards held across a fork, each after the `Arc` that keeps its
/// lock alive; released in the reverse order of taking.
#[derive(Default)]
pub struct Held {
    items: Vec<Box<dyn Any>>,
}

impl Held {
    /// Keeps `item` (a guard of a static lock) until the release.
    pub fn keep<T: 'static>(&mut self, item: T) {
        self.items.push(Box::new(item));
    }

    /// Keeps `owner` and the guard `take` returns for a lock inside it.
    pub fn keep_with<O: 'static, G: 'static>(
        &mut self,
        owner: Arc<O>,
        take: impl FnOnce(&'static O) -> G,
    ) {
        // SAFETY: `owner` is kept in `items` before the guard, and `items`
        // are dropped last first (see Drop), so the `O` this reference
        // points into outlives every use of it by the guard.
        let target: &'static O = unsafe { &*Arc::as_ptr(&owner) };
        self.items.push(Box::new(owner));
        let guard = take(target);
        self.items.push(Box::new(guard));
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        while let Some(item) = self.items.pop() {
            drop(item);
        }
    }
}

/// `mutex` locked. A panic in another thread while it held the lock (a
/// bug, reported to that thread's caller) does not make the data unusable
/// for every later caller: the library's critical sections leave their
/// data consistent at every step.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// `rwlock` read-locked (poisoning ignored, as [`lock`]).
pub fn read<T>(rwlock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    rwlock.read().unwrap_or_else(|e| e.into_inner())
}

/// `rwlock` write-locked (poisoning ignored, as [`lock`]).
pub fn write<T>(rwlock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    rwlock.write().unwrap_or_else(|e| e.into_inner())
}
