//! The block a multi-get hands to C: its hits, written straight into one
//! `malloc` block as they are read.

use std::ptr;

use crate::error::{Error, Kind, Result};

use super::boundary::*;
use super::types::*;

/// The hits of a multi-get, written as they are read straight into the
/// one `malloc` block handed out (the only copy in user space after the
/// read buffer): room for one `mc_hit` per key asked first (a key is
/// answered at most once, so there are never more hits), then each hit's
/// key and value, NUL-terminated, one after the other. A hit's record is
/// written with it, its pointers as offsets from the block's start (the
/// block may still move); [`Found::give`] makes them pointers (callgrind:
/// a list of the hits kept beside the block cost 30 instructions a hit
/// more, C mget100).
pub(super) struct Found {
    block: *mut u8,
    /// The block's size, and how much of it is used (the records' room
    /// included).
    capacity: usize,
    used: usize,
    /// The records written, and the room for them.
    hits: usize,
    room: usize,
    /// A failure to grow the block (out of memory), reported at the end.
    failed: Option<Error>,
}

impl Found {
    pub(super) fn for_keys(keys: usize) -> Result<Found> {
        let head = keys
            .checked_mul(std::mem::size_of::<mc_hit>())
            .ok_or_else(|| Error::new(Kind::Invalid, "too many keys"))?;
        let capacity = head + keys * 128;
        Ok(Found {
            block: alloc(capacity)?,
            capacity,
            used: head,
            hits: 0,
            room: keys,
            failed: None,
        })
    }

    pub(super) fn add(&mut self, key: &[u8], flags: u32, cas: u64, value: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        let need = key.len() + value.len() + 2;
        if let Err(e) = self.reserve(need) {
            self.failed = Some(e);
            return;
        }
        assert!(self.hits < self.room, "more hits than keys asked");
        let at = self.used;
        // SAFETY: `reserve` made room for `need` bytes after `used` in the
        // live block, and there is room for record `hits` at its start
        // (checked above); the sources are borrowed slices outside it.
        unsafe {
            let to = self.block.add(at);
            ptr::copy_nonoverlapping(key.as_ptr(), to, key.len());
            *to.add(key.len()) = 0;
            ptr::copy_nonoverlapping(value.as_ptr(), to.add(key.len() + 1), value.len());
            *to.add(need - 1) = 0;
            self.block.cast::<mc_hit>().add(self.hits).write(mc_hit {
                key: ptr::without_provenance(at),
                value: ptr::without_provenance(at + key.len() + 1),
                value_len: value.len(),
                flags,
                cas,
            });
        }
        self.used += need;
        self.hits += 1;
    }

    /// Room for `more` bytes after what is used: the block is doubled (by
    /// `realloc`, which keeps its content) when it is short.
    fn reserve(&mut self, more: usize) -> Result<()> {
        let need = self
            .used
            .checked_add(more)
            .ok_or_else(|| Error::new(Kind::Invalid, "a multi-get result too large"))?;
        if need <= self.capacity {
            return Ok(());
        }
        let capacity = need.max(self.capacity.saturating_mul(2));
        // SAFETY: `block` is a live malloc block this struct owns; on
        // failure realloc leaves it as it was (still ours, freed on drop).
        let grown = unsafe { libc::realloc(self.block.cast(), capacity) }.cast::<u8>();
        if grown.is_null() {
            return Err(Error::new(
                Kind::Invalid,
                format!("out of memory allocating {capacity} bytes"),
            ));
        }
        self.block = grown;
        self.capacity = capacity;
        Ok(())
    }

    /// Fills in the records and hands the block out.
    ///
    /// # Safety
    /// `hits` and `count` are valid for a write.
    pub(super) unsafe fn give(
        mut self,
        hits: *mut *mut mc_hit,
        count: *mut usize,
    ) -> Result<mc_result> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let array = self.block.cast::<mc_hit>();
        for i in 0..self.hits {
            // SAFETY: records 0..hits were written by `add`, their
            // pointers offsets into the block, which no longer moves.
            unsafe {
                let hit = &mut *array.add(i);
                hit.key = self.block.add(hit.key.addr()).cast();
                hit.value = self.block.add(hit.value.addr());
            }
        }
        let n = self.hits;
        self.block = ptr::null_mut(); // handed out: not freed on drop
                                      // SAFETY: `hits` and `count` are valid for a write (the contract).
        unsafe {
            hits.write(array);
            count.write(n);
        }
        Ok(mc_result::MC_OK)
    }
}

impl Drop for Found {
    fn drop(&mut self) {
        // SAFETY: null, or the malloc block this struct still owns.
        unsafe { libc::free(self.block.cast()) }
    }
}
