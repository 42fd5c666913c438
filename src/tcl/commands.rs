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

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use super::args::{
    arity, data_and_flags, data_obj, index, invalid, key_bytes, key_error, list_of, not_found,
    seconds, string_match, u32_arg, u64_arg, u64_obj, value_bytes, TEXT_FLAG,
};
use super::config::{self, Opt};
use super::interp::{CmdResult, Interp};
use super::obj::{IndexTable, Obj, ObjBuf, ObjRef};
use super::{CmdFn, Subcommand};
use crate::client::{Client, Options, Status};
use crate::daemon;
use crate::error::Kind;
use crate::key;
use crate::registry;

/// Every subcommand, sorted by name.
pub static SUBCOMMANDS: &[Subcommand] = &[
    sub("add", add),
    sub("append", append),
    sub("cas", cas),
    sub("configure", configure),
    sub("create", create),
    sub("decr", decr),
    sub("delete", delete),
    sub("flags", flags),
    sub("flush", flush),
    sub("forgetdead", forgetdead),
    sub("get", get),
    sub("gets", gets),
    sub("incr", incr),
    sub("list", list),
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
    sub("valid", valid),
    sub("version", version),
];

const fn sub(name: &'static str, run: CmdFn) -> Subcommand {
    Subcommand { name, run }
}

/// The client of the handle named by `word`.
fn handle(word: ObjRef<'_>) -> Result<Arc<Client>, super::CmdError> {
    // A handle name is ASCII, the same in Tcl's form: no conversion then.
    match std::str::from_utf8(word.tcl_string()) {
        Ok(name) if name.is_ascii() => Ok(registry::lookup(name)?),
        _ => Ok(registry::lookup(&word.to_string_lossy())?),
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
fn lead<'a>(
    interp: Interp,
    objv: &[ObjRef<'a>],
    partial: bool,
) -> Result<(Lead<'a>, Vec<ObjRef<'a>>), super::CmdError> {
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
    let mut rest = Vec::with_capacity(objv.len() + 1 - i.min(objv.len()));
    rest.push(objv[0]);
    rest.extend_from_slice(objv.get(i..).unwrap_or(&[]));
    Ok((found, rest))
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

// ----- handles -----

/// `create ?-option value ...? ?--? server ?server ...?`
fn create(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    const USAGE: &str = "?-option value ...? server ?server ...?";
    let mut i = 1;
    let mut option_words = Vec::new();
    while let Some(&word) = objv.get(i) {
        let text = word.tcl_string();
        if text == b"--" {
            i += 1;
            break;
        }
        if !text.starts_with(b"-") {
            break;
        }
        option_words.push(word);
        if let Some(&value) = objv.get(i + 1) {
            option_words.push(value);
        }
        i += 2;
    }
    let mut options = Options::default();
    config::apply(interp, &mut options, &option_words)?;
    let specs: Vec<Cow<'_, str>> = objv
        .get(i..)
        .unwrap_or(&[])
        .iter()
        .map(|w| w.to_string_lossy())
        .collect();
    if specs.is_empty() {
        return Err(interp.wrong_num_args(1, objv, USAGE));
    }
    let id = registry::create(&specs, options)?;
    interp.set_result_text(&registry::name(id));
    Ok(())
}

/// `delete all`, `delete ?handle ...?`
fn delete(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let words = &objv[1..];
    if words.len() == 1 && words[0].tcl_string() == b"all" {
        let count = registry::clear();
        interp.set_result_int(i64::try_from(count).unwrap_or(i64::MAX));
        return Ok(());
    }
    // Every name is checked first: an unknown one deletes nothing.
    let mut ids = Vec::with_capacity(words.len());
    for word in words {
        let id = registry::parse_name(&word.to_string_lossy())?;
        registry::get(id)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    // Another thread may delete one meanwhile: count what this call did.
    let count = ids
        .into_iter()
        .filter(|&id| registry::remove(id).is_ok())
        .count();
    interp.set_result_int(i64::try_from(count).unwrap_or(i64::MAX));
    Ok(())
}

/// `list ?pattern?`
fn list(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 0, 1, "?pattern?")?;
    let pattern = objv.get(1).copied();
    let names = registry::ids()
        .into_iter()
        .map(registry::name)
        .filter(|name| pattern.is_none_or(|p| string_match(p, name)))
        .map(|name| Obj::new_text(&name));
    interp.set_result_list(names);
    Ok(())
}

/// `configure handle ?option? ?value option value ...?`
fn configure(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(
        interp,
        objv,
        1,
        usize::MAX,
        "mchandle ?option? ?value option value ...?",
    )?;
    let client = handle(objv[1])?;
    let words = &objv[2..];
    match words.len() {
        0 => {
            let options = client.options();
            interp.set_result_dict(config::ALL.iter().map(|o| (o.name(), o.get(&options))));
        }
        1 => {
            let opt = Opt::from_word(interp, words[0])?;
            interp.set_result(opt.get(&client.options()));
        }
        _ => {
            client.update_options(|options| config::apply(interp, options, words))?;
            interp.reset_result();
        }
    }
    Ok(())
}

/// `servers handle`
fn servers(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 1, "mchandle")?;
    let client = handle(objv[1])?;
    interp.set_result_list(client.servers().map(|s| Obj::new_text(&s.name)));
    Ok(())
}

/// `serverof ?-place value? handle key`: the name of the server the key
/// (or the placement value) belongs to, dead or not.
fn serverof(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle key")?;
    let client = handle(objv[1])?;
    let n = client
        .at(lead.place.as_deref())
        .server_for(&key_bytes(objv[2]))?;
    interp.set_result_text(&client.server(n)?.name);
    Ok(())
}

/// `setservers handle server ?server ...?`: a new server list for the
/// handle (its settings stay); socket files get daemons as at `create`.
fn setservers(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 2, usize::MAX, "mchandle server ?server ...?")?;
    let client = handle(objv[1])?;
    let specs: Vec<Cow<'_, str>> = objv[2..].iter().map(|w| w.to_string_lossy()).collect();
    daemon::replace_servers(&client, &specs)?;
    interp.reset_result();
    Ok(())
}

/// `forgetdead handle`: clears the dead marks of the handle's servers.
fn forgetdead(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 1, "mchandle")?;
    handle(objv[1])?.forget_dead();
    interp.reset_result();
    Ok(())
}

// ----- storing -----

/// `put ?-place value? handle data`, `put ?-place value? handle key data ?ttl? ?flags?`
fn put(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    store_any(interp, objv, false)
}

/// `append ?-place value? handle data`, `append ?-place value? handle key data ?ttl? ?flags?`
fn append(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    store_any(interp, objv, true)
}

/// `put` and `append`: two forms, an empty key means a new unique key.
fn store_any(interp: Interp, objv: &[ObjRef<'_>], append: bool) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 5, "mchandle ?key? data ?ttl? ?flags?")?;
    let client = handle(objv[1])?;
    let at = client.at(lead.place.as_deref());
    let (key_word, data_word) = if objv.len() == 3 {
        (None, objv[2])
    } else {
        (Some(objv[2]), objv[3])
    };
    let given = key_word.map(key_bytes).filter(|k| !k.is_empty());
    let value = data_word.value();
    let ttl = ttl_or_default(objv, 4, &client)?;
    let flags = data_and_flags(&value, flags_or_zero(objv, 5)?);
    let made = if given.is_none() {
        Some(key::unique()?)
    } else {
        None
    };
    let key: &[u8] = match (&given, &made) {
        (Some(k), _) => k,
        (None, Some(m)) => m.as_bytes(),
        (None, None) => unreachable!("a key is given or made"),
    };
    let status = if append {
        at.append_or_add(key, value.bytes(), flags, ttl)?
    } else {
        at.set(key, value.bytes(), flags, ttl)?
    };
    if status != Status::Stored {
        let why = if append {
            "not stored: key KEY kept changing while appending to it"
        } else {
            "not stored: the server refused to store key KEY"
        };
        return Err(key_error(Kind::NotStored, key, why));
    }
    match (made, key_word) {
        (Some(made), _) => interp.set_result_text(&made),
        (None, Some(word)) => interp.set_result(word.to_obj()),
        (None, None) => unreachable!("a key is given or made"),
    }
    Ok(())
}

/// `add handle key data ?ttl? ?flags?`
fn add(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    store_if(interp, objv, true)
}

/// `replace handle key data ?ttl? ?flags?`
fn replace(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    store_if(interp, objv, false)
}

/// `add` (only without data) and `replace` (only with data).
fn store_if(interp: Interp, objv: &[ObjRef<'_>], add: bool) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 3, 5, "mchandle key data ?ttl? ?flags?")?;
    let client = handle(objv[1])?;
    let at = client.at(lead.place.as_deref());
    let key = key_bytes(objv[2]);
    let value = objv[3].value();
    let ttl = ttl_or_default(objv, 4, &client)?;
    let flags = data_and_flags(&value, flags_or_zero(objv, 5)?);
    let status = if add {
        at.add(&key, value.bytes(), flags, ttl)?
    } else {
        at.replace(&key, value.bytes(), flags, ttl)?
    };
    if status != Status::Stored {
        let why = if add {
            "not stored: key KEY already has data"
        } else {
            "not stored: key KEY has no data"
        };
        return Err(key_error(Kind::NotStored, &key, why));
    }
    interp.set_result(objv[2].to_obj());
    Ok(())
}

/// `prepend handle key data`
fn prepend(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 3, 3, "mchandle key data")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let value = objv[3].value();
    if client
        .at(lead.place.as_deref())
        .prepend(&key, value.bytes())?
        != Status::Stored
    {
        return Err(key_error(
            Kind::NotStored,
            &key,
            "not stored: key KEY has no data",
        ));
    }
    interp.set_result(objv[2].to_obj());
    Ok(())
}

/// `cas handle key data casid ?ttl? ?flags?`
fn cas(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 4, 6, "mchandle key data casid ?ttl? ?flags?")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let value = objv[3].value();
    let casid = u64_arg(objv[4], "casid")?;
    let ttl = ttl_or_default(objv, 5, &client)?;
    let flags = data_and_flags(&value, flags_or_zero(objv, 6)?);
    match client
        .at(lead.place.as_deref())
        .cas(&key, value.bytes(), flags, ttl, casid)?
    {
        Status::Stored => {}
        Status::Exists => {
            return Err(key_error(
                Kind::Exists,
                &key,
                "not stored: the data of key KEY changed since it was read",
            ))
        }
        Status::NotFound => return Err(not_found(&key)),
        Status::NotStored => {
            return Err(key_error(
                Kind::NotStored,
                &key,
                "not stored: the server refused to store key KEY",
            ))
        }
    }
    interp.set_result(objv[2].to_obj());
    Ok(())
}

/// `mput handle dict ?ttl? ?flags?`: returns the keys not stored.
fn mput(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 4, "mchandle dict ?ttl? ?flags?")?;
    let client = handle(objv[1])?;
    let words = list_of(interp, objv[2])?;
    if words.len() % 2 != 0 {
        return Err(invalid("bad dict: missing value to go with key"));
    }
    let ttl = ttl_or_default(objv, 3, &client)?;
    let flags = flags_or_zero(objv, 4)?;
    let items: Vec<_> = words
        .chunks(2)
        .map(|pair| {
            let value = pair[1].as_obj().value();
            let flags = data_and_flags(&value, flags);
            (key_bytes(pair[0].as_obj()), value_bytes(value), flags)
        })
        .collect();
    let outcomes = client.at(lead.place.as_deref()).set_many(&items, ttl)?;
    let failed = words
        .chunks(2)
        .zip(outcomes)
        .filter(|(_, outcome)| *outcome != Ok(Status::Stored))
        .map(|(pair, _)| pair[0].clone());
    interp.set_result_list(failed);
    Ok(())
}

// ----- reading -----

/// `get handle key ?listindex?`
fn get(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 3, "mchandle key ?listindex?")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let at = objv.get(3).map(|&w| index(w)).transpose()?;
    let data = fetch(&client, lead.place.as_deref(), &key)?.0;
    match at {
        None => interp.set_result(data),
        Some(at) => {
            let elements = list_of(interp, data.as_obj())?;
            match at.resolve(elements.len()) {
                Some(i) => interp.set_result(elements[i].clone()),
                None => interp.reset_result(),
            }
        }
    }
    Ok(())
}

/// `gets handle key`: {data casid}.
fn gets(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle key")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let (data, cas) = fetch(&client, lead.place.as_deref(), &key)?;
    interp.set_result_list([data, u64_obj(cas)]);
    Ok(())
}

/// The data of `key` (from the server `place` picks) as a Tcl value, read
/// straight into it (see [`ObjBuf`]), and its casid; `NOTFOUND` if none.
fn fetch(client: &Client, place: Option<&[u8]>, key: &[u8]) -> Result<(Obj, u64), super::CmdError> {
    let (buf, _flags, cas) = client
        .at(place)
        .get_with(key, |len, flags| ObjBuf::new(len, flags & TEXT_FLAG != 0))?
        .ok_or_else(|| not_found(key))?;
    Ok((buf.into_obj(), cas))
}

/// `mget ?-place value? ?-partial varName? handle keylist`: a dict of the
/// hits, in keylist order. With `-partial`, servers that fail do not fail
/// the command: their keys are left out and their error messages go to
/// the variable (a list, empty when every server answered).
fn mget(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, true)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle keylist")?;
    let client = handle(objv[1])?;
    let words = list_of(interp, objv[2])?;
    let keys: Vec<Cow<'_, [u8]>> = words.iter().map(|w| key_bytes(w.as_obj())).collect();
    let at = client.at(lead.place.as_deref());
    // Each hit's value goes at its key's place in the keylist. A server
    // answers in the order asked, so the place is usually further on: a
    // cursor finds it, and a map is built only for a hit out of that order
    // (from another server). A key given twice is put in the dict twice,
    // so it keeps its first place and the last value, as `dict` does.
    let mut values: Vec<Option<Obj>> = vec![None; keys.len()];
    let mut cursor = 0;
    let mut places: Option<HashMap<&[u8], usize>> = None;
    let each = |key: &[u8], flags, _cas, data: &[u8]| {
        let at = match keys[cursor..].iter().position(|k| k.as_ref() == key) {
            Some(ahead) => {
                cursor += ahead + 1;
                cursor - 1
            }
            None => match places.get_or_insert_with(|| first_places(&keys)).get(key) {
                Some(&at) => at,
                None => return,
            },
        };
        values[at] = Some(data_obj(data, flags));
    };
    match lead.partial {
        None => at.get_many_with(&keys, each)?,
        Some(var) => {
            let errors = at.get_many_partial_with(&keys, each)?;
            let messages = errors.iter().map(|e| Obj::new_text(e.message()));
            interp.set_var(var, Obj::new_list(messages))?;
        }
    }
    let pairs = words
        .iter()
        .zip(keys.iter())
        .zip(values)
        .filter_map(|((word, key), value)| {
            // The key as given, unless it was binary (then its bytes as text).
            let key = if word.as_obj().is_pure_bytearray() {
                Obj::new_text_utf8(key)
            } else {
                word.clone()
            };
            Some((key, value?))
        });
    interp.set_result_dict(pairs);
    Ok(())
}

/// Where each key first appears in `keys`.
fn first_places<'k>(keys: &'k [Cow<'_, [u8]>]) -> HashMap<&'k [u8], usize> {
    let mut places = HashMap::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        places.entry(key.as_ref()).or_insert(i);
    }
    places
}

/// `valid handle key`: 1 or 0.
fn valid(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle key")?;
    let client = handle(objv[1])?;
    let exists = client
        .at(lead.place.as_deref())
        .exists(&key_bytes(objv[2]))?;
    interp.set_result_bool(exists);
    Ok(())
}

/// `ttl handle key`: seconds left, -1 for none.
fn ttl(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle key")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let left = client
        .at(lead.place.as_deref())
        .ttl(&key)?
        .ok_or_else(|| not_found(&key))?;
    interp.set_result_int(left);
    Ok(())
}

/// `flags handle key`: the flags stored, with the text flag.
fn flags(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle key")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let flags = client
        .at(lead.place.as_deref())
        .flags(&key)?
        .ok_or_else(|| not_found(&key))?;
    interp.set_result_int(i64::from(flags));
    Ok(())
}

// ----- changing, removing -----

/// `incr handle key ?delta?`
fn incr(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arith(interp, objv, true)
}

/// `decr handle key ?delta?`
fn decr(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arith(interp, objv, false)
}

fn arith(interp: Interp, objv: &[ObjRef<'_>], up: bool) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 3, "mchandle key ?delta?")?;
    let client = handle(objv[1])?;
    let at = client.at(lead.place.as_deref());
    let key = key_bytes(objv[2]);
    let delta = objv.get(3).map_or(Ok(1), |&w| u64_arg(w, "delta"))?;
    let result = if up {
        at.incr(&key, delta)?
    } else {
        at.decr(&key, delta)?
    };
    interp.set_result(u64_obj(result.ok_or_else(|| not_found(&key))?));
    Ok(())
}

/// `touch handle key ttl`
fn touch(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 3, 3, "mchandle key ttl")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let ttl = seconds(objv[3], "ttl")?;
    if !client.at(lead.place.as_deref()).touch(&key, ttl)? {
        return Err(not_found(&key));
    }
    interp.reset_result();
    Ok(())
}

/// `remove handle key ?ttl?`: now (no ttl, or 0), or in ttl seconds.
fn remove(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 3, "mchandle key ?ttl?")?;
    let client = handle(objv[1])?;
    let at = client.at(lead.place.as_deref());
    let key = key_bytes(objv[2]);
    let ttl = objv.get(3).map_or(Ok(0), |&w| seconds(w, "ttl"))?;
    let had = if ttl == 0 {
        at.delete(&key)?
    } else {
        at.touch(&key, ttl)?
    };
    if !had {
        return Err(not_found(&key));
    }
    interp.reset_result();
    Ok(())
}

/// `mremove handle keylist`: how many had data.
fn mremove(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle keylist")?;
    let client = handle(objv[1])?;
    let words = list_of(interp, objv[2])?;
    let keys: Vec<Cow<'_, [u8]>> = words.iter().map(|w| key_bytes(w.as_obj())).collect();
    let found = client.at(lead.place.as_deref()).delete_many(&keys)?;
    let count = found.into_iter().filter(|&had| had).count();
    interp.set_result_int(i64::try_from(count).unwrap_or(i64::MAX));
    Ok(())
}

/// `flush handle ?delay?`
fn flush(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 2, "mchandle ?delay?")?;
    let client = handle(objv[1])?;
    let delay = objv.get(2).map(|&w| seconds(w, "delay")).transpose()?;
    client.flush_all(delay)?;
    interp.reset_result();
    Ok(())
}

// ----- servers -----

/// A `stats` reply as a dict.
fn stats_dict(stats: Vec<(String, String)>) -> Obj {
    Obj::new_dict(
        stats
            .into_iter()
            .map(|(name, value)| (Obj::new_text(&name), Obj::new_text(&value))),
    )
}

/// `status handle`: a dict, or a list of dicts for several servers.
fn status(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 1, "mchandle")?;
    let client = handle(objv[1])?;
    let mut all = client.stats(None)?;
    if all.len() == 1 {
        interp.set_result(stats_dict(all.remove(0)));
    } else {
        interp.set_result_list(all.into_iter().map(stats_dict));
    }
    Ok(())
}

/// `stats handle ?group?`: server name -> dict.
fn stats(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 2, "mchandle ?group?")?;
    let client = handle(objv[1])?;
    let group = objv.get(2).map(|w| w.to_string_lossy());
    let group = group.as_deref().filter(|g| !g.is_empty());
    let all = client.stats(group)?;
    let pairs: Vec<(Obj, Obj)> = client
        .servers()
        .zip(all)
        .map(|(server, stats)| (Obj::new_text(&server.name), stats_dict(stats)))
        .collect();
    interp.set_result_dict(pairs);
    Ok(())
}

/// `version handle`: server name -> version.
fn version(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 1, "mchandle")?;
    let client = handle(objv[1])?;
    let versions = client.version()?;
    let pairs: Vec<(Obj, Obj)> = client
        .servers()
        .zip(versions)
        .map(|(server, v)| (Obj::new_text(&server.name), Obj::new_text(&v)))
        .collect();
    interp.set_result_dict(pairs);
    Ok(())
}

/// `start handle`: 1, 0 or -1.
fn start(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 1, "mchandle")?;
    let client = handle(objv[1])?;
    interp.set_result_int(i64::from(daemon::start(&client).code()));
    Ok(())
}

/// `stop handle`: 1, 0 or -1.
fn stop(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 1, "mchandle")?;
    let client = handle(objv[1])?;
    interp.set_result_int(i64::from(daemon::stop(&client).code()));
    Ok(())
}
