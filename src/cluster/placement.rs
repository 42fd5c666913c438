//! Which server a hash goes to, for one server list and distribution, and
//! where it goes when that server is dead (failover). Pure.

use super::hash::{ketama_hash, ketama_name, modula_hash, Distribution, Hash, PyInt};
use crate::error::Result;
use crate::md5;
use crate::server::Server;

/// How many servers python-memcached tries for one key (its
/// `_SERVER_RETRIES`) before it gives up.
pub const MODULA_TRIES: usize = 10;

/// Ketama points per server at equal weights: libmemcached's
/// `MEMCACHED_POINTS_PER_SERVER_KETAMA`.
const KETAMA_POINTS: f32 = 160.0;

/// Which server each key goes to, for one server list and distribution.
/// Built once when the servers or the distribution change.
#[derive(Debug, Clone)]
pub struct Placement {
    distribution: Distribution,
    count: usize,
    /// Ketama: (point, server index), sorted by point then index.
    continuum: Vec<(u32, u32)>,
    /// Modula: cumulative weights; bucket b is server
    /// `cumulative.partition_point(|&c| c <= b)`.
    cumulative: Vec<u64>,
}

impl Placement {
    /// The placement of `servers` (ketama name from [`ketama_name`], weight)
    /// in that order.
    pub fn new(distribution: Distribution, servers: &[(String, u32)]) -> Placement {
        let mut cumulative = Vec::with_capacity(servers.len());
        let mut total = 0u64;
        for (_, weight) in servers {
            total += u64::from((*weight).max(1));
            cumulative.push(total);
        }
        let continuum = match distribution {
            Distribution::Ketama if servers.len() > 1 => continuum(servers, total),
            _ => Vec::new(),
        };
        Placement {
            distribution,
            count: servers.len(),
            continuum,
            cumulative,
        }
    }

    /// The placement of parsed servers.
    pub fn of_servers(distribution: Distribution, servers: &[Server]) -> Placement {
        let named: Vec<(String, u32)> =
            servers.iter().map(|s| (ketama_name(s), s.weight)).collect();
        Placement::new(distribution, &named)
    }

    pub fn distribution(&self) -> Distribution {
        self.distribution
    }

    /// The number of servers.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The ketama continuum: (point, server index), sorted. Empty in
    /// modula mode and for a single server.
    pub fn points(&self) -> &[(u32, u32)] {
        &self.continuum
    }

    /// The hash of a key (as sent, key prefix included).
    pub fn hash_key(&self, key: &[u8]) -> Hash {
        if self.count <= 1 {
            // libmemcached skips hashing for one server; any hash picks it.
            return Hash::Modula(0);
        }
        match self.distribution {
            Distribution::Ketama => Hash::Ketama(ketama_hash(key)),
            Distribution::Modula => Hash::Modula(modula_hash(key)),
        }
    }

    /// The hash of a placement value given apart from the key (libmemcached's
    /// `group_key` of the `_by_key` calls, python-memcached's `hashvalue`).
    /// Ketama: hashed like a key. Modula: a decimal integer is used as
    /// python-memcached uses an integer hash value; other text is hashed
    /// like a key.
    pub fn hash_place(&self, place: &[u8]) -> Hash {
        if self.count > 1 && self.distribution == Distribution::Modula {
            if let Some(n) = PyInt::parse(place) {
                return Hash::Given(n);
            }
        }
        self.hash_key(place)
    }

    /// The server `hash` belongs to, dead or not.
    pub fn home(&self, hash: &Hash) -> usize {
        if self.count <= 1 {
            return 0;
        }
        match hash {
            Hash::Ketama(h) => self.continuum[self.point_at(*h)].1 as usize,
            Hash::Modula(h) => self.bucket_server(u64::from(*h) % self.total()),
            Hash::Given(n) => self.bucket_server(n.rem(self.total())),
        }
    }

    /// The servers to try for `hash`, in order, the first being its home:
    /// ketama, each server in the order of its first point at or after the
    /// hash (every server once); modula, python-memcached's 10 tries (the
    /// home, then a server per rehash; a server can come more than once).
    pub fn candidates(&self, hash: &Hash) -> Vec<usize> {
        if self.count <= 1 {
            return vec![0; self.count];
        }
        match hash {
            Hash::Ketama(h) => {
                let start = self.point_at(*h);
                let mut seen = vec![false; self.count];
                let mut order = Vec::with_capacity(self.count);
                let points = self.continuum.len();
                for k in 0..points {
                    let server = self.continuum[(start + k) % points].1 as usize;
                    if !seen[server] {
                        seen[server] = true;
                        order.push(server);
                        if order.len() == self.count {
                            break;
                        }
                    }
                }
                order
            }
            Hash::Modula(_) | Hash::Given(_) => {
                // python-memcached's _get_server: try buckets[h % n]; on a
                // dead server, h = hash(str(h) + str(i)).
                let total = self.total();
                let (first, mut text) = match hash {
                    Hash::Given(n) => (n.rem(total), n.text()),
                    Hash::Modula(h) => (u64::from(*h) % total, h.to_string()),
                    Hash::Ketama(_) => unreachable!("matched above"),
                };
                let mut order = Vec::with_capacity(MODULA_TRIES);
                order.push(self.bucket_server(first));
                for i in 0..MODULA_TRIES - 1 {
                    let next = modula_hash(format!("{text}{i}").as_bytes());
                    order.push(self.bucket_server(u64::from(next) % total));
                    text = next.to_string();
                }
                order
            }
        }
    }

    /// Chooses the server for `hash`. `admit(n)` says whether server `n`
    /// may be used now (not dead), or why not. Without failover that is
    /// the home server or its error; with failover the first admitted of
    /// [`Placement::candidates`], else the home server's error.
    pub fn route(
        &self,
        hash: &Hash,
        failover: bool,
        mut admit: impl FnMut(usize) -> Result<()>,
    ) -> Result<usize> {
        let home = self.home(hash);
        let refused = match admit(home) {
            Ok(()) => return Ok(home),
            Err(e) => e,
        };
        if failover {
            for n in self.candidates(hash).into_iter().skip(1) {
                if admit(n).is_ok() {
                    return Ok(n);
                }
            }
        }
        Err(refused)
    }

    fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(1)
    }

    fn bucket_server(&self, bucket: u64) -> usize {
        self.cumulative.partition_point(|&c| c <= bucket)
    }

    /// The index of the first point >= `h`, wrapping to 0 (libmemcached's
    /// `dispatch_host`).
    fn point_at(&self, h: u32) -> usize {
        let at = self.continuum.partition_point(|&(point, _)| point < h);
        if at == self.continuum.len() {
            0
        } else {
            at
        }
    }
}

/// libmemcached 1.1.4's `update_continuum` for weighted ketama, every
/// server live: its float arithmetic (`f32`) included, so the point counts
/// are the same to the last one.
fn continuum(servers: &[(String, u32)], total: u64) -> Vec<(u32, u32)> {
    let live = servers.len() as f32;
    let mut points = Vec::new();
    for (index, (name, weight)) in servers.iter().enumerate() {
        let pct = (*weight).max(1) as f32 / total as f32;
        let per_server =
            ((pct * KETAMA_POINTS / 4.0 * live + 0.000_000_000_1_f32).floor() as u32) * 4;
        for n in 0..per_server / 4 {
            let digest = md5::digest(format!("{name}-{n}").as_bytes());
            for quarter in digest.chunks_exact(4) {
                let point = u32::from_le_bytes([quarter[0], quarter[1], quarter[2], quarter[3]]);
                points.push((point, index as u32));
            }
        }
    }
    points.sort_unstable();
    points
}
