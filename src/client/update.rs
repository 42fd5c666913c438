//! CGI state without lost writes: a read-modify-write that retries when
//! another writer got there first (CAS), and locks that a crashed holder
//! cannot keep (a lifetime) and that an old holder cannot release for a
//! new one (an owner-checked delete).

use std::time::{Duration, Instant};

use super::replies::unexpected;
use super::route::Resend;
use super::{Item, Key, Placed, Snapshot, Status};
use crate::error::{Error, Kind, Result};
use crate::key;
use crate::protocol::{self, MetaCode, MetaDelete, Reply};

/// How often an update reads and tries again after losing to another
/// writer before it gives up (a CONFLICT error).
pub const UPDATE_TRIES: u32 = 64;

/// The longest pause between two tries (of an update or a lock): they
/// start at a millisecond and double, each a random part of that.
const MAX_BACKOFF: Duration = Duration::from_millis(32);

/// What an update does with the item it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Store this value with these flags: with the CAS value read, or with
    /// `add` when there was no item, so another writer's store in between
    /// makes this try fail and run again.
    Store { value: Vec<u8>, flags: u32 },
    /// Remove the item, if it is still the one read.
    Remove,
    /// Store nothing.
    Keep,
}

impl Placed<'_> {
    /// Reads the item under `key` (`None`: no item), asks `change` what to
    /// do with it, and does it only if no other writer changed the item
    /// meanwhile; when one did, reads again and asks again, up to
    /// [`UPDATE_TRIES`] times with a growing random pause, then fails with
    /// [`Kind::Conflict`]. An error of `change` stops at once: nothing is
    /// stored. Returns the change that was made (`ttl` is the stored
    /// item's lifetime).
    pub fn update<E: From<Error>>(
        &self,
        key: &[u8],
        ttl: u32,
        mut change: impl FnMut(Option<&Item>) -> std::result::Result<Change, E>,
    ) -> std::result::Result<Change, E> {
        let mut pause = Pause::new();
        for _ in 0..UPDATE_TRIES {
            let current = self.get(key)?;
            let wanted = change(current.as_ref())?;
            let landed = match (&wanted, &current) {
                (Change::Keep, _) | (Change::Remove, None) => true,
                (Change::Store { value, flags }, Some(item)) => {
                    self.cas(key, value, *flags, ttl, item.cas)? == Status::Stored
                }
                (Change::Store { value, flags }, None) => {
                    self.add(key, value, *flags, ttl)? == Status::Stored
                }
                (Change::Remove, Some(item)) => self.delete_if(key, item.cas)?,
            };
            if landed {
                return Ok(wanted);
            }
            pause.wait(None);
        }
        Err(Error::new(
            Kind::Conflict,
            format!(
                "not stored: key \"{}\" was changed by other writers {UPDATE_TRIES} times in a row",
                key::show(key)
            ),
        )
        .into())
    }

    /// Deletes `key` only while its CAS value is still `cas` (meta delete,
    /// memcached 1.6 or later): false when the item changed or is gone.
    fn delete_if(&self, key: &[u8], cas: u64) -> Result<bool> {
        let encode = |_: &Snapshot, buf: &mut Vec<u8>, full: &Key<'_>| {
            let how = MetaDelete {
                cas: Some(cas),
                ..MetaDelete::default()
            };
            protocol::meta_delete(buf, full.meta(), how);
            Ok(())
        };
        let deleted = |reply: Reply<'_>| match reply {
            Reply::Meta {
                code: MetaCode::Hd, ..
            } => Ok(true),
            Reply::Meta {
                code: MetaCode::Ex | MetaCode::Nf,
                ..
            } => Ok(false),
            other => Err(unexpected(other)),
        };
        self.one_line(key, Resend::Never, encode, deleted)
    }

    /// Takes the lock `name` (an item of that key): returns its token, a
    /// random 32-digit hex string only this holder knows, once the lock was
    /// free (`add`). While another holds it, tries again with a growing
    /// random pause until `wait` has passed, then fails with
    /// [`Kind::Conflict`]. The lock lives `ttl` seconds at most (at least
    /// 1), so a holder that crashed cannot keep it.
    pub fn lock(&self, name: &[u8], ttl: u32, wait: Duration) -> Result<String> {
        if ttl == 0 {
            return Err(Error::new(
                Kind::Invalid,
                "a lock needs a lifetime of at least 1 second, so that a crashed holder cannot keep it",
            ));
        }
        let token = key::unique()?;
        let deadline = Instant::now() + wait;
        let mut pause = Pause::new();
        loop {
            if self.add(name, token.as_bytes(), 0, ttl)? == Status::Stored {
                return Ok(token);
            }
            if Instant::now() >= deadline {
                return Err(Error::new(
                    Kind::Conflict,
                    format!(
                        "lock \"{}\" is held by another holder: not taken within {} ms",
                        key::show(name),
                        wait.as_millis()
                    ),
                ));
            }
            pause.wait(Some(deadline));
        }
    }

    /// Releases the lock `name` if `token` still holds it: true. False if
    /// it was no longer held by `token` (it expired, and maybe another
    /// holder took it: that one keeps it).
    pub fn unlock(&self, name: &[u8], token: &str) -> Result<bool> {
        match self.get(name)? {
            Some(item) if item.value == token.as_bytes() => self.delete_if(name, item.cas),
            _ => Ok(false),
        }
    }
}

/// The pauses between tries: random, up to a bound that starts at a
/// millisecond and doubles to [`MAX_BACKOFF`], so that writers that
/// collided do not collide again in step.
pub(super) struct Pause {
    bound: Duration,
    seed: u64,
}

impl Pause {
    pub(super) fn new() -> Pause {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let here = &nanos as *const u32 as u64;
        Pause {
            bound: Duration::from_millis(1),
            seed: (u64::from(nanos) ^ here.rotate_left(32) ^ u64::from(std::process::id())) | 1,
        }
    }

    /// Sleeps a random part of the bound (never past `until`), then
    /// doubles the bound.
    pub(super) fn wait(&mut self, until: Option<Instant>) {
        // xorshift64: enough to spread writers apart, no entropy needed.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let nanos = self.bound.as_nanos() as u64;
        let mut sleep = Duration::from_nanos(self.seed % nanos.max(1) + nanos / 4);
        if let Some(until) = until {
            sleep = sleep.min(until.saturating_duration_since(Instant::now()));
        }
        std::thread::sleep(sleep);
        self.bound = (self.bound * 2).min(MAX_BACKOFF);
    }
}

/// The same with the client's own placement (each key by its hash).
impl super::Client {
    pub fn update<E: From<Error>>(
        &self,
        key: &[u8],
        ttl: u32,
        change: impl FnMut(Option<&Item>) -> std::result::Result<Change, E>,
    ) -> std::result::Result<Change, E> {
        self.at(None).update(key, ttl, change)
    }

    pub fn lock(&self, name: &[u8], ttl: u32, wait: Duration) -> Result<String> {
        self.at(None).lock(name, ttl, wait)
    }

    pub fn unlock(&self, name: &[u8], token: &str) -> Result<bool> {
        self.at(None).unlock(name, token)
    }
}
