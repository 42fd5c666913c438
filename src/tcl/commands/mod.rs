//! The subcommands of the `memcache` ensemble (see `doc/memcache.n`).
//!
//! To add one, write its implementation, a [`CmdFn`](super::CmdFn)
//! (`fn(Interp, &[ObjRef<'_>]) -> CmdResult`), here or in a module of
//! `src/tcl/`, and add its line `sub("name", f)` to [`SUBCOMMANDS`],
//! keeping the table sorted by name. `Memcache_Init` creates it as
//! `::memcache::<name>`, exports it, and the `memcache` ensemble picks it up.
//!
//! Each one converts its words ([`super::args`]), calls the core
//! ([`Client`], [`registry`], [`daemon`]) and converts the result; a miss
//! or a refused store becomes a Tcl error only where the manual says so.
//! `objv[0]` is the subcommand's own word, `objv[1]` usually the handle.

mod fetch;
mod handles;
mod keys;
mod lease;
mod servers;
mod state;
mod store;

use fetch::*;
use handles::*;
use keys::*;
use servers::*;
use state::*;
use store::*;

use super::args::{invalid, key_bytes, seconds, u32_arg};
use super::interp::Interp;
use super::obj::{IndexTable, ObjRef};
use super::{CmdFn, Subcommand};
use crate::client::Client;
use crate::registry;
use std::borrow::Cow;
use std::sync::Arc;

/// Every subcommand, sorted by name.
pub static SUBCOMMANDS: &[Subcommand] = &[
    sub("add", add),
    sub("append", append),
    sub("cas", cas),
    sub("configure", configure),
    sub("create", create),
    sub("decr", decr),
    sub("delete", delete),
    sub("fetch", lease::fetch),
    sub("flags", flags),
    sub("flush", flush),
    sub("forgetdead", forgetdead),
    sub("get", get),
    sub("gets", gets),
    sub("incr", incr),
    sub("invalidate", lease::invalidate),
    sub("list", list),
    sub("lock", lock),
    sub("mget", mget),
    sub("mput", mput),
    sub("mremove", mremove),
    sub("prepend", prepend),
    sub("put", put),
    sub("remove", remove),
    sub("replace", replace),
    sub("serverof", serverof),
    sub("servers", servers),
    sub("setservers", setservers),
    sub("start", start),
    sub("stats", stats),
    sub("status", status),
    sub("stop", stop),
    sub("touch", touch),
    sub("ttl", ttl),
    sub("unlock", unlock),
    sub("update", update),
    sub("valid", valid),
    sub("version", version),
];

const fn sub(name: &'static str, run: CmdFn) -> Subcommand {
    Subcommand { name, run }
}

/// The client of the handle named by `word`.
fn handle(word: ObjRef<'_>) -> Result<Arc<Client>, super::CmdError> {
    // A handle name is ASCII, the same in Tcl's form: no conversion. The
    // error names the word as the script has it.
    match registry::lookup(word.tcl_string()) {
        Ok(client) => Ok(client),
        Err(_) => Ok(registry::get(registry::parse_name(
            &word.to_string_lossy(),
        )?)?),
    }
}

/// The options a key subcommand takes before its handle (a handle never
/// starts with "-"): `-place value`, and for `mget` `-partial varName`.
struct Lead<'a> {
    /// The placement value: the keys go to the server it picks.
    place: Option<Cow<'a, [u8]>>,
    /// `mget`: the variable that receives the failed servers' errors.
    partial: Option<ObjRef<'a>>,
}

static PLACE_OPTION: IndexTable = IndexTable::new(&[c"-place".as_ptr(), std::ptr::null()]);

static MGET_OPTIONS: IndexTable =
    IndexTable::new(&[c"-partial".as_ptr(), c"-place".as_ptr(), std::ptr::null()]);

/// Takes the leading options off `objv`: the options, and the words
/// without them (the subcommand's word first, as before).
fn lead<'s, 'a>(
    interp: Interp,
    objv: &'s [ObjRef<'a>],
    partial: bool,
) -> Result<(Lead<'a>, Cow<'s, [ObjRef<'a>]>), super::CmdError> {
    let mut found = Lead {
        place: None,
        partial: None,
    };
    let mut i = 1;
    while let Some(&word) = objv.get(i) {
        if !word.tcl_string().starts_with(b"-") {
            break;
        }
        let table = if partial {
            &MGET_OPTIONS
        } else {
            &PLACE_OPTION
        };
        let which = word
            .get_index(interp, table, c"option", false)
            .map_err(|e| super::args::tcl_invalid(interp, e))?;
        let Some(&value) = objv.get(i + 1) else {
            return Err(invalid(format!(
                "value for \"{}\" missing",
                word.to_string_lossy()
            )));
        };
        match (partial, which) {
            (true, 0) => found.partial = Some(value),
            _ => found.place = Some(key_bytes(value)),
        }
        i += 2;
    }
    if i == 1 {
        // No options (the usual call): the words as they are, not a copy.
        return Ok((found, Cow::Borrowed(objv)));
    }
    let mut rest = Vec::with_capacity(objv.len() + 1 - i.min(objv.len()));
    rest.push(objv[0]);
    rest.extend_from_slice(objv.get(i..).unwrap_or(&[]));
    Ok((found, Cow::Owned(rest)))
}

/// The optional ttl at `objv[i]`, else the handle's default.
fn ttl_or_default(objv: &[ObjRef<'_>], i: usize, client: &Client) -> Result<u32, super::CmdError> {
    match objv.get(i) {
        Some(&word) => seconds(word, "ttl"),
        None => Ok(client.default_ttl()),
    }
}

/// The optional flags at `objv[i]`, else 0.
fn flags_or_zero(objv: &[ObjRef<'_>], i: usize) -> Result<u32, super::CmdError> {
    objv.get(i).map_or(Ok(0), |&word| u32_arg(word, "flags"))
}
