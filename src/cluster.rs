//! The servers of a handle: which one a key goes to, and each one's pool of
//! idle connections.
//!
//! Server choice is python-memcached's: `crc32(key) >> 16 & 0x7fff`, modulo
//! the number of servers. It is stable across processes, languages and
//! restarts (unlike `DefaultHasher`, which is seeded per process), and a
//! python-memcached client with the same server list finds the same keys.

use std::time::Duration;

use parking_lot::Mutex;

use crate::connection::Connection;
use crate::error::Result;
use crate::server::Server;

/// Idle connections kept per server; more are closed when returned. Enough
/// for as many threads as a machine has cores to share one handle.
const MAX_IDLE: usize = 64;

/// One server and its idle connections.
pub struct Node {
    pub server: Server,
    idle: Mutex<Vec<Connection>>,
}

impl Node {
    pub fn new(server: Server) -> Node {
        Node {
            server,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle connection, or a new one. The flag says whether it was used
    /// before (and so may have been closed by the server meanwhile).
    /// Connections inherited through `fork()` are closed, never used.
    pub fn checkout(
        &self,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<(Connection, bool)> {
        loop {
            let conn = self.idle.lock().pop();
            match conn {
                Some(conn) if conn.is_inherited() => {
                    self.close_all();
                    drop(conn);
                }
                Some(conn) => return Ok((conn, true)),
                None => break,
            }
        }
        let conn = Connection::open(&self.server.address, connect_timeout, io_timeout)
            .map_err(|e| e.context(&self.server))?;
        Ok((conn, false))
    }

    /// Returns a connection that finished its operation cleanly; one with
    /// unread bytes is closed instead.
    pub fn checkin(&self, conn: Connection) {
        if !conn.is_drained() {
            return;
        }
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Closes every idle connection: after one failed, or after a fork, the
    /// others are suspect too.
    pub fn close_all(&self) {
        let stale = std::mem::take(&mut *self.idle.lock());
        drop(stale);
    }
}

/// The bucket of `key` among `count` servers, as python-memcached computes it.
pub fn bucket(key: &[u8], count: usize) -> usize {
    ((crc32(key) >> 16) & 0x7fff) as usize % count
}

/// CRC-32 (IEEE 802.3, as zlib's `crc32`), bitwise over a 256-entry table.
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_zlib() {
        // zlib.crc32 values, checked with Python's binascii.crc32.
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b"foo"), 0x8c73_6521);
    }

    #[test]
    fn buckets_match_python_memcached() {
        // python-memcached: serverhash = ((crc32(key) & 0xffffffff) >> 16) & 0x7fff
        assert_eq!((crc32(b"foo") >> 16) & 0x7fff, 0x0c73);
        assert_eq!(bucket(b"foo", 3), 0x0c73 % 3);
        assert_eq!(bucket(b"anything", 1), 0);
    }
}
