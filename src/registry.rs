//! The process-wide registry of handles: `memcache0`, `memcache1`, ... each
//! naming one shared [`Client`].
//!
//! The library's main global state (`lib.rs` lists the rest, with why). C
//! programs hold a handle's
//! number, Tcl scripts its name; both resolve it here on every call, so a
//! deleted handle is an error (`Kind::BadHandle`), never a dangling pointer,
//! and a handle made in one thread, interpreter or language is usable from
//! all of them. Operations in flight keep their `Arc<Client>`: deleting a
//! handle closes its connections once the last of them finishes.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::client::{Client, Options};
use crate::daemon;
use crate::error::{Error, Kind, Result};
use crate::fork::{read, write, Held};

/// Handle names are this prefix and the handle's number.
pub const PREFIX: &str = "memcache";

struct Registry {
    next: u64,
    handles: BTreeMap<u64, Arc<Client>>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    next: 0,
    handles: BTreeMap::new(),
});

/// Creates a handle for the servers named by `specs` with `options`:
/// parses them, starts a daemon behind every socket-file server nothing
/// answers on (seed 000: a named socket is set up if it does not exist),
/// and registers the client. What `mc_create` and `memcache create` do.
pub fn create<S: AsRef<str>>(specs: &[S], options: Options) -> Result<u64> {
    let client = Client::new(specs)?;
    client.set_options(options)?;
    daemon::autostart(&client)?;
    Ok(insert(client))
}

/// Registers `client`; returns its number. Numbers are never reused within
/// a process, so a stale number cannot reach a newer handle.
pub fn insert(client: Client) -> u64 {
    crate::fork::generation();
    let mut registry = write(&REGISTRY);
    let id = registry.next;
    registry.next += 1;
    registry.handles.insert(id, Arc::new(client));
    id
}

/// Takes the registry's lock and every lock of every registered client, in
/// the library's lock order, into `held` (see [`crate::fork`]).
pub(crate) fn hold_locks(held: &mut Held) {
    let registry = write(&REGISTRY);
    let clients: Vec<Arc<Client>> = registry.handles.values().cloned().collect();
    held.keep(registry);
    for client in clients {
        client.hold_locks(held);
    }
}

/// The client of handle `id`.
pub fn get(id: u64) -> Result<Arc<Client>> {
    read(&REGISTRY)
        .handles
        .get(&id)
        .cloned()
        .ok_or_else(|| bad_handle(&name(id)))
}

/// The client of the handle called `name` (`memcache7`), given as bytes:
/// a Tcl word is looked up without a UTF-8 check of its own (a name that
/// is not a handle's is an error either way).
pub fn lookup(name: &[u8]) -> Result<Arc<Client>> {
    match number(name) {
        Some(id) => get(id),
        None => Err(bad_handle(&String::from_utf8_lossy(name))),
    }
}

/// The number of the handle called `name`, if that is a handle name at all
/// (whether or not it is registered).
pub fn parse_name(name: &str) -> Result<u64> {
    number(name.as_bytes()).ok_or_else(|| bad_handle(name))
}

/// The number in a handle name. Only the name a handle was given names
/// it: no sign, no leading zero ("memcache007" is not "memcache7").
fn number(name: &[u8]) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX.as_bytes())?;
    match digits {
        [] => None,
        [b'0', _, ..] => None,
        _ => digits.iter().try_fold(0u64, |n, &b| {
            let digit = b.wrapping_sub(b'0');
            (digit <= 9).then_some(())?;
            n.checked_mul(10)?.checked_add(u64::from(digit))
        }),
    }
}

/// The name of handle `id`.
pub fn name(id: u64) -> String {
    format!("{PREFIX}{id}")
}

/// Deletes handle `id`; an error if there is none.
pub fn remove(id: u64) -> Result<()> {
    let client = write(&REGISTRY).handles.remove(&id);
    match client {
        Some(client) => {
            client.disconnect_all();
            Ok(())
        }
        None => Err(bad_handle(&name(id))),
    }
}

/// Deletes every handle; returns how many there were.
pub fn clear() -> usize {
    let handles = std::mem::take(&mut write(&REGISTRY).handles);
    let count = handles.len();
    for client in handles.values() {
        client.disconnect_all();
    }
    count
}

/// The numbers of all handles, oldest first.
pub fn ids() -> Vec<u64> {
    read(&REGISTRY).handles.keys().copied().collect()
}

fn bad_handle(name: &str) -> Error {
    Error::new(
        Kind::BadHandle,
        format!("invalid memcache handle \"{name}\": no such handle, or deleted"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name(12), "memcache12");
        assert_eq!(parse_name("memcache12"), Ok(12));
        assert_eq!(parse_name("memcache0"), Ok(0));
        for bad in [
            "memcache",
            "memcache-1",
            "memcache1x",
            "x1",
            "",
            "memcache00",
            "memcache007",
            "memcache+7",
            "memcache 7",
            "memcache99999999999999999999",
        ] {
            let e = parse_name(bad).unwrap_err();
            assert_eq!(e.kind(), Kind::BadHandle);
            assert_eq!(
                e.message(),
                format!("invalid memcache handle \"{bad}\": no such handle, or deleted")
            );
        }
    }

    #[test]
    fn insert_get_remove() {
        let id = insert(Client::new(&["127.0.0.1:1"]).unwrap());
        assert!(ids().contains(&id));
        assert_eq!(lookup(name(id).as_bytes()).unwrap().servers().count(), 1);
        assert_eq!(remove(id), Ok(()));
        assert_eq!(get(id).unwrap_err().kind(), Kind::BadHandle);
        assert_eq!(remove(id).unwrap_err().kind(), Kind::BadHandle);
        let next = insert(Client::new(&["127.0.0.1:1"]).unwrap());
        assert!(next > id, "numbers are not reused");
        remove(next).unwrap();
    }
}
