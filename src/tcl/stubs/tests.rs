//! The stubs layer against the real headers of Tcl 8.6 and 9.0.

use super::*;
use std::ffi::CStr;

/// A foreign table (not Tcl 8's or 9's magic) is refused with Tcl's
/// own message, set the way Tcl_InitStubs sets it, without calling
/// through the table.
#[test]
fn refuses_a_foreign_stubs_table() {
    for magic in [0xFCA3_BACB_u32, 0xFCA3_BAD7, 0] {
        let table = StubsHead {
            magic: magic as c_int,
            hooks: ptr::null(),
        };
        let mut head = InterpHead {
            result: c"".as_ptr(),
            free_proc: std::ptr::NonNull::<c_void>::dangling().as_ptr(),
            error_line: 0,
            stub_table: &table,
        };
        // SAFETY: `head` mirrors an interpreter's public head, which
        // is all `init` reads before it refuses a foreign table.
        let rc = unsafe { init((&mut head as *mut InterpHead).cast()) };
        assert!(rc.is_err());
        // SAFETY: `init` set `result` to a static NUL-terminated string.
        assert_eq!(unsafe { CStr::from_ptr(head.result) }, INCOMPATIBLE);
        assert!(head.free_proc.is_null());
    }
    let mut head = InterpHead {
        result: c"".as_ptr(),
        free_proc: ptr::null(),
        error_line: 0,
        stub_table: ptr::null(),
    };
    // SAFETY: as above; a null table is refused before anything else.
    assert!(unsafe { init((&mut head as *mut InterpHead).cast()) }.is_err());
    assert_eq!(
        // SAFETY: as above.
        unsafe { CStr::from_ptr(head.result) }.to_str().unwrap(),
        "interpreter uses an incompatible stubs mechanism"
    );
}

#[test]
fn magic_numbers() {
    assert_eq!(Abi::of_magic(0xFCA3_BACF_u32 as c_int), Some(Abi::Tcl8));
    assert_eq!(Abi::of_magic(0xFCA3_BAD3_u32 as c_int), Some(Abi::Tcl9));
    assert_eq!(Abi::of_magic(0), None);
}

/// Where a Tcl 9 `tclDecls.h` is: `$TCL9_ROOT` (default `/opt/tcl9`,
/// where `.ci/tcl9.sh` unpacks Debian 13's packages), else the system's.
fn tcl9_header() -> String {
    let root = std::env::var("TCL9_ROOT").unwrap_or_else(|_| "/opt/tcl9".into());
    let unpacked = format!("{root}/usr/include/tcl9.0/tclDecls.h");
    if std::path::Path::new(&unpacked).exists() {
        unpacked
    } else {
        "/usr/include/tcl9.0/tclDecls.h".into()
    }
}

/// The slots common to both Tcls match both headers; the `v8` ones the
/// 8.6 header and the `v9` ones the 9.0 header.
#[test]
fn slots_match_tcldecls_h() {
    let tcl8 = "/usr/include/tcl8.6/tclDecls.h".to_string();
    let tcl9 = tcl9_header();
    check_slots(&tcl8, "apt-get install tcl-dev", &[SLOTS, sized::v8::SLOTS]);
    check_slots(&tcl9, "bash .ci/tcl9.sh", &[SLOTS, sized::v9::SLOTS]);
}

/// Every slot number used here matches the `/* N */` comment of the
/// member in `struct TclStubs` of the `tclDecls.h` at `path`, and its
/// parameters the member's: the same count, and a `Size` exactly where
/// the header has a `Tcl_Size` (an `int` in its place would pass half a
/// length). CI installs both headers; on a machine without one the test
/// says so and checks nothing, but under CI (the `CI` variable set) it
/// fails.
fn check_slots(path: &str, how: &str, sets: &[&[(&str, usize, &[&str])]]) {
    let Ok(header) = std::fs::read_to_string(path) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{path} is missing: CI must install it ({how})"
        );
        println!("{path} not installed ({how}): slot check not done");
        return;
    };
    let start = header
        .find("typedef struct TclStubs {")
        .expect("struct TclStubs");
    let end = start
        + header[start..]
            .find("} TclStubs;")
            .expect("end of TclStubs");
    let body = &header[start..end];
    for &(name, slot, types) in sets.iter().copied().flatten() {
        // Member names are `tcl_` + the name without its `Tcl_` prefix,
        // except TclFreeObj, whose member is `tclFreeObj`.
        let member = match name.strip_prefix("Tcl_") {
            Some(rest) => format!("(*tcl_{rest})"),
            None => format!("(*tcl{})", &name[3..]),
        };
        let line = body
            .lines()
            .find(|l| l.contains(&member))
            .unwrap_or_else(|| panic!("{path}: {name}: {member} not in struct TclStubs"));
        let comment = line.rsplit("/*").next().unwrap();
        let number: usize = comment
            .trim_end()
            .trim_end_matches("*/")
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}: no slot comment in {line:?}"));
        assert_eq!(number, slot, "{path}: {name}");
        // The parameter list: between the parentheses after the member.
        let after = &line[line.find(&member).unwrap() + member.len()..];
        let list = after
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(list, _)| list.trim())
            .unwrap_or_else(|| panic!("{name}: no parameter list in {line:?}"));
        let params: Vec<&str> = match list {
            "void" | "" => Vec::new(),
            list => list.split(',').map(str::trim).collect(),
        };
        assert_eq!(
            params.len(),
            types.len(),
            "{path}: {name}: parameters in {line:?}"
        );
        for (c, rust) in params.iter().zip(types) {
            let c_size = c.starts_with("Tcl_Size ");
            let c_int = c.starts_with("int ");
            let rust_size = rust.ends_with("Size");
            let rust_int = rust.ends_with("c_int");
            assert_eq!(
                (c_size, c_int),
                (rust_size, rust_int),
                "{path}: {name}: C parameter {c:?} declared as {rust}"
            );
        }
    }
}
