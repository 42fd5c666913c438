//! Whole-server commands (`flush_all`, `verbosity`, `stats`, `version`),
//! and where lifetimes over 30 days are turned into the server's time: the
//! 30-day rule and the 2038 limit live here.

use std::time::Instant;

use super::replies::{expect_ok, unexpected};
use super::{Client, Snapshot, MAX_RELATIVE_TTL, MAX_UNIX_TIME};
use crate::error::{Error, Kind, Result};
use crate::protocol::{self, Reply};

/// The most a `stats` reply may hold (names and values): memcached's
/// largest, `stats cachedump`, stops at 2 MiB. More is not kept.
const MAX_STATS: usize = 8 << 20;

/// Statistics of one server: name/value pairs in the server's order.
pub type Stats = Vec<(String, String)>;

impl Client {
    /// Invalidates every item on every server, now or after `delay`
    /// seconds. A delay over 30 days is sent as the server's time + delay,
    /// as TTLs are; one that ends after 2038 is an `Invalid` error.
    pub fn flush_all(&self, delay: Option<u32>) -> Result<()> {
        let snap = self.snapshot();
        let delays = match delay {
            Some(delay) => snap.exptimes(delay)?.into_iter().map(Some).collect(),
            None => vec![None; snap.topology.nodes.len()],
        };
        snap.on_servers(
            None,
            |buf, n| {
                protocol::flush_all(buf, delays[n], false);
                Ok(())
            },
            |conn, deadline| conn.read_reply(deadline, expect_ok)?,
        )
        .map(drop)
    }

    /// Sets the servers' logging verbosity.
    pub fn verbosity(&self, level: u32) -> Result<()> {
        self.snapshot()
            .on_servers(
                None,
                |buf, _| {
                    protocol::verbosity(buf, level, false);
                    Ok(())
                },
                |conn, deadline| conn.read_reply(deadline, expect_ok)?,
            )
            .map(drop)
    }

    /// Each server's statistics (`stats` or `stats <group>`), one list per
    /// server in server order.
    pub fn stats(&self, group: Option<&str>) -> Result<Vec<Stats>> {
        self.snapshot().stats_of(None, group)
    }

    /// The statistics of server `n` alone (in [`Client::servers`] order).
    pub fn server_stats(&self, n: usize, group: Option<&str>) -> Result<Stats> {
        Ok(self.snapshot().stats_of(Some(n), group)?.remove(0))
    }

    /// Each server's version string, in server order.
    pub fn version(&self) -> Result<Vec<String>> {
        self.snapshot().version_of(None)
    }

    /// The version string of server `n` alone.
    pub fn server_version(&self, n: usize) -> Result<String> {
        Ok(self.snapshot().version_of(Some(n))?.remove(0))
    }
}

impl Snapshot {
    /// The statistics of server `only`, or of every server. A group with a
    /// control character is refused by the protocol encoder, before
    /// anything is sent.
    fn stats_of(&self, only: Option<usize>, group: Option<&str>) -> Result<Vec<Stats>> {
        let group = group.map(str::as_bytes);
        self.on_servers(
            only,
            |buf, _| protocol::stats(buf, group),
            |conn, deadline| {
                let mut stats = Vec::new();
                let mut size = 0;
                loop {
                    let done = conn.read_reply(deadline, |reply| match reply {
                        Reply::Stat { name, value } => {
                            size += name.len() + value.len();
                            if size > MAX_STATS {
                                return Err(Error::new(
                                    Kind::Protocol,
                                    format!(
                                        "stats reply larger than {} MiB: not kept",
                                        MAX_STATS >> 20
                                    ),
                                ));
                            }
                            stats.push((
                                String::from_utf8_lossy(name).into_owned(),
                                String::from_utf8_lossy(value).into_owned(),
                            ));
                            Ok(false)
                        }
                        Reply::End => Ok(true),
                        other => Err(unexpected(other)),
                    })??;
                    if done {
                        return Ok(stats);
                    }
                }
            },
        )
    }

    fn version_of(&self, only: Option<usize>) -> Result<Vec<String>> {
        self.on_servers(
            only,
            |buf, _| {
                protocol::version(buf);
                Ok(())
            },
            |conn, deadline| {
                conn.read_reply(deadline, |reply| match reply {
                    Reply::Version(v) => Ok(String::from_utf8_lossy(v).into_owned()),
                    other => Err(unexpected(other)),
                })?
            },
        )
    }

    /// The exptime to send to server `n` for a lifetime of `ttl` seconds
    /// (0: none). memcached reads an exptime over 30 days as a Unix time,
    /// so a longer lifetime is sent as the server's own time plus `ttl`
    /// (its clock, learned from its `time` stat: the host's may differ,
    /// and memcached's lags it by up to a second). One that ends after
    /// [`MAX_UNIX_TIME`] is an `Invalid` error, never an item that is
    /// already gone.
    pub(super) fn exptime(&self, n: usize, ttl: u32) -> Result<u32> {
        if ttl <= MAX_RELATIVE_TTL {
            return Ok(ttl);
        }
        let now = match self.topology.nodes[n].server_time() {
            Some(now) => now,
            None => self.learn_time(n)?,
        };
        let at = now + u64::from(ttl);
        if at > MAX_UNIX_TIME {
            return Err(Error::new(
                Kind::Invalid,
                format!(
                    "a lifetime of {ttl} seconds ends after 2038-01-19 03:14:07 UTC, the last \
                     time memcached can keep (today at most {} seconds)",
                    MAX_UNIX_TIME - now
                ),
            ));
        }
        Ok(at as u32)
    }

    /// [`Snapshot::exptime`] for the server of a key (or of `place`),
    /// which is looked for only when the lifetime needs its clock: the key
    /// is not hashed twice for the usual, shorter lifetimes.
    pub(super) fn key_exptime(
        &self,
        place: Option<&[u8]>,
        full_key: &[u8],
        ttl: u32,
    ) -> Result<u32> {
        if ttl <= MAX_RELATIVE_TTL {
            return Ok(ttl);
        }
        self.exptime(self.topology.home(place, full_key), ttl)
    }

    /// [`Snapshot::exptime`] for every server, by index.
    pub(super) fn exptimes(&self, ttl: u32) -> Result<Vec<u32>> {
        (0..self.topology.nodes.len())
            .map(|n| self.exptime(n, ttl))
            .collect()
    }

    /// Asks server `n` for its clock (`stats`) and records it; its time now.
    fn learn_time(&self, n: usize) -> Result<u64> {
        let node = &self.topology.nodes[n];
        let stats = self.stats_of(Some(n), None)?.remove(0);
        let read = Instant::now();
        let time = stats
            .iter()
            .find(|(name, _)| name == "time")
            .and_then(|(_, value)| value.parse::<u64>().ok())
            .ok_or_else(|| {
                Error::new(
                    Kind::Protocol,
                    format!("{}: no \"time\" in its stats", node.server),
                )
            })?;
        node.learn_time(time, read);
        node.server_time().ok_or_else(|| {
            Error::new(
                Kind::Protocol,
                format!("{}: a bad \"time\" stat", node.server),
            )
        })
    }
}
