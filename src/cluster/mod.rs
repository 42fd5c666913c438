//! The servers of a handle: which one a key goes to, which ones are marked
//! dead, and each one's pool of idle connections.
//!
//! Two distributions, chosen per handle, each exactly another client's so
//! that programs in other languages sharing the pool find the same keys:
//!
//! - [`Distribution::Ketama`] (the default): consistent hashing as
//!   libmemcached's `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED` (PHP's Memcached
//!   with `OPT_LIBKETAMA_COMPATIBLE`, pylibmc's `ketama_weighted`). Each
//!   server owns `floor(weight / total * 40 * servers) * 4` points on a
//!   32-bit circle, 4 from each MD5 digest of `"host-N"` (port 11211),
//!   `"host:port-N"` (other ports) or `"path:0-N"` (Unix sockets); a key
//!   goes to the first point at or after the little-endian u32 of its MD5
//!   digest. Adding a fourth server to three moves about a quarter of the
//!   keys.
//! - [`Distribution::Modula`]: python-memcached's. Each server appears
//!   `weight` times in a bucket list, in order; a key goes to bucket
//!   `((crc32(key) >> 16) & 0x7fff) % buckets`. Adding a server moves most
//!   keys.
//!
//! With failover on, a key whose server is dead goes where those clients
//! send it: ketama, the server of the next point owned by a live server;
//! modula, python-memcached's rehash (`hash(str(h) + str(i))`, 10 tries).
//!
//! [`Placement`] is pure (built once per server list, no I/O); [`Node`]
//! holds a server's connections and dead mark.
//!
//! `hash`: the distributions' hashes (pure); `placement`: which server
//! a hash goes to, with failover (pure); `node`: a server at run time,
//! its idle connections, dead mark and clock.

mod hash;
mod node;
mod placement;
#[cfg(test)]
mod tests;

pub use hash::{bucket, ketama_hash, ketama_name, modula_hash, Distribution, Hash, PyInt};
pub use node::Node;
pub use placement::{Placement, MODULA_TRIES};
