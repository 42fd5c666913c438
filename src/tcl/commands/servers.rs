//! The servers themselves: `status`, `stats`, `version`, `start`, `stop`.

use super::*;
use crate::daemon;
use crate::tcl::args::arity;
use crate::tcl::interp::{CmdResult, Interp};
use crate::tcl::obj::{Obj, ObjRef};

/// A `stats` reply as a dict.
pub(super) fn stats_dict(stats: Vec<(String, String)>) -> Obj {
    Obj::new_dict(
        stats
            .into_iter()
            .map(|(name, value)| (Obj::new_text(&name), Obj::new_text(&value))),
    )
}

/// `status handle`: a dict, or a list of dicts for several servers.
pub(super) fn status(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
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
pub(super) fn stats(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
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
pub(super) fn version(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
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
pub(super) fn start(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 1, "mchandle")?;
    let client = handle(objv[1])?;
    interp.set_result_int(i64::from(daemon::start(&client).code()));
    Ok(())
}

/// `stop handle`: 1, 0 or -1.
pub(super) fn stop(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 1, "mchandle")?;
    let client = handle(objv[1])?;
    interp.set_result_int(i64::from(daemon::stop(&client).code()));
    Ok(())
}
