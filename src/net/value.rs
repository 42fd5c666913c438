//! Where a value's data goes: the caller's own memory, filled straight
//! from the socket, so a large value is never copied in user space.

use std::mem::MaybeUninit;

/// What [`super::Connection::read_value`] read: a value (its buffer, flags and
/// CAS unique), or what its `other` handler made of another reply.
pub enum Fetched<B, T> {
    Value {
        value: B,
        flags: u32,
        cas: Option<u64>,
    },
    Other(T),
}

/// Memory for one value's data, which [`super::Connection::read_value`] fills:
/// the caller's final buffer (a `malloc` block for C, a `Vec` for Rust).
pub trait ValueBuf {
    /// The memory to fill, exactly the value's size, maybe uninitialised.
    fn slots(&mut self) -> &mut [MaybeUninit<u8>];

    /// Called once every slot has been written.
    ///
    /// # Safety
    /// Every byte of [`slots`](Self::slots) must have been initialised.
    unsafe fn set_filled(&mut self);
}

/// A value read into a `Vec<u8>` of its exact size.
pub struct VecBuf(Vec<u8>, usize);

impl VecBuf {
    pub fn new(len: usize) -> VecBuf {
        VecBuf(Vec::with_capacity(len), len)
    }

    /// The value (empty unless it was filled).
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

impl ValueBuf for VecBuf {
    fn slots(&mut self) -> &mut [MaybeUninit<u8>] {
        &mut self.0.spare_capacity_mut()[..self.1]
    }

    unsafe fn set_filled(&mut self) {
        // SAFETY: the capacity is at least `self.1`, and the caller
        // guarantees those bytes are initialised.
        unsafe { self.0.set_len(self.1) };
    }
}
