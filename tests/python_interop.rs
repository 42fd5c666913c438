//! Interoperability with the real python-memcached package: data stored
//! by one client reads back right in the other (text as text, bytes as
//! bytes, python-memcached's flags), and with three servers in the same
//! order both clients put every key on the same server (python-memcached's
//! crc32 hash rule, `-distribution modula`). A second test does the same
//! with server weights, `(hashvalue, key)` tuples (placement values) and a
//! server down (python-memcached's rehash against this client's failover),
//! with `tests/python/distribution.py` as the Python side. A third has
//! pylibmc, pymemcache and python-memcached store text and bytes, short
//! and compressed (`tests/python/peers.py`), read back in Tcl
//! (`peers.tcl`) and C (`tests/c/peers.c`), and the reverse.
//!
//! The Python side is `tests/python/interop.py`, the Tcl side
//! `tests/python/interop.tcl`; they run in turn against the same servers:
//! Python stores, Tcl checks and stores, Python checks. python-memcached
//! runs in a virtual environment this test makes (see [`python`]); a
//! machine that cannot make one fails this test (it is never skipped).

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use support::{expect_ok, library_path, run_with_limit, tcl_list_element, Memcached, Output};

/// The crate's root.
const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// How long one script may run.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// The Python that runs the Python side: `$PYTHON` if set (it must import
/// python-memcached: nothing is installed into it), else the interpreter of
/// a virtual environment this test makes under `target/tmp/` from
/// `python3` and installs python-memcached into with its own pip, so the
/// system's site-packages are never touched (and a Python that refuses pip,
/// PEP 668, is no obstacle).
fn python() -> String {
    static PYTHON: OnceLock<Result<String, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| match std::env::var("PYTHON") {
            Ok(given) => match has_python_memcached(&given)? {
                true => Ok(given),
                false => Err(format!(
                    "PYTHON={given} cannot import python-memcached, pylibmc and pymemcache: install them there, or \
                     unset PYTHON to let this test make a virtual environment"
                )),
            },
            Err(_) => venv_with_python_memcached(),
        })
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Does `python` import python-memcached (the module `memcache` with its
/// `Client` and `cmemcache_hash`), pylibmc and pymemcache?
fn has_python_memcached(python: &str) -> Result<bool, String> {
    let probe = "import memcache, pylibmc, pymemcache, sys; \
                 sys.exit(0 if hasattr(memcache, 'Client') and hasattr(memcache, 'cmemcache_hash') else 3)";
    let out = Command::new(python)
        .args(["-c", probe])
        .output()
        .map_err(|e| format!("cannot run {python}: {e} (install Python 3 or set PYTHON)"))?;
    Ok(out.status.success())
}

/// `target/tmp/python-venv/bin/python`, made (with python-memcached) if
/// it is not there yet.
fn venv_with_python_memcached() -> Result<String, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-venv");
    let python = dir.join("bin/python").display().to_string();
    if has_python_memcached(&python).unwrap_or(false) {
        return Ok(python);
    }
    let run = |program: &str, args: &[&str], what: &str| -> Result<(), String> {
        let out = Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {program}: {e} ({what})"))?;
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "`{program} {}` failed ({}; {what})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    };
    let venv = dir.display().to_string();
    run(
        "python3",
        &["-m", "venv", &venv],
        "Debian: apt-get install python3-venv",
    )?;
    run(
        &python,
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "python-memcached",
            "pylibmc",
            "pymemcache",
        ],
        "the package registry must be reachable",
    )?;
    match has_python_memcached(&python)? {
        true => Ok(python),
        false => Err(format!(
            "python-memcached was installed in {venv}, but it does not import"
        )),
    }
}

fn run_python(phase: &str, args: &[String]) -> Output {
    let mut command = Command::new(python());
    command
        .current_dir(CRATE)
        .arg(Path::new(CRATE).join("tests/python/interop.py"))
        .arg(phase)
        .args(args);
    run_with_limit(command, TIME_LIMIT)
}

fn run_tcl(args: &[String]) -> Output {
    let tclsh = std::env::var("TCLSH").unwrap_or_else(|_| "tclsh".to_string());
    let mut command = Command::new(tclsh);
    command
        .current_dir(CRATE)
        .arg(Path::new(CRATE).join("tests/python/interop.tcl"))
        .args(args)
        .env("MEMCACHE_LIBRARY", library_path())
        .env(
            "TCLLIBPATH",
            tcl_list_element(&Path::new(CRATE).join("tcl")),
        );
    run_with_limit(command, TIME_LIMIT)
}

#[test]
fn python_memcached_interop() {
    let servers = [
        Memcached::tcp_checked(&[]),
        Memcached::tcp_checked(&[]),
        Memcached::tcp_checked(&[]),
        Memcached::tcp_checked(&[]),
    ];
    let args: Vec<String> = servers.iter().map(Memcached::spec).collect();

    expect_ok("python-memcached stores", &run_python("store", &args));
    expect_ok("Tcl reads Python's data, stores its own", &run_tcl(&args));
    expect_ok(
        "python-memcached reads Tcl's data",
        &run_python("check", &args),
    );
}

/// pylibmc's, pymemcache's and python-memcached's values, compressed
/// (flag 8) and not, text and bytes, read back exactly in Tcl and in C (the
/// python value format); Tcl's and C's compressed values read back exactly
/// by all three.
#[test]
fn python_clients_values_both_ways() {
    let m = Memcached::tcp_checked(&[]);
    let spec = m.spec();
    let peers = |phase: &str| {
        let mut command = Command::new(python());
        command
            .arg(Path::new(CRATE).join("tests/python/peers.py"))
            .args([phase, &spec]);
        run_with_limit(command, TIME_LIMIT)
    };
    let stored = expect_ok("the Python clients store", &peers("store"));
    assert_eq!(stored, 12);
    let tclsh = std::env::var("TCLSH").unwrap_or_else(|_| "tclsh".to_string());
    let mut tcl = Command::new(tclsh);
    tcl.arg(Path::new(CRATE).join("tests/python/peers.tcl"))
        .arg(&spec)
        .env("MEMCACHE_LIBRARY", library_path());
    let run = run_with_limit(tcl, TIME_LIMIT);
    assert_eq!(expect_ok("Tcl reads them, stores its own", &run), 29);
    assert_eq!(
        support::run_c("peers", std::slice::from_ref(&spec), &[]),
        42
    );
    let read = expect_ok("the Python clients read Tcl's and C's", &peers("check"));
    assert_eq!(read, 12);
}

fn run_distribution_py(phase: &str, specs: &[String]) -> Output {
    let mut command = Command::new(python());
    command
        .current_dir(CRATE)
        .arg(Path::new(CRATE).join("tests/python/distribution.py"))
        .arg(phase)
        .args(specs);
    run_with_limit(command, TIME_LIMIT)
}

/// python-memcached's hash values of `tests/python/distribution.py`, as
/// placement values (Python's `str()` of each).
const HASHVALUES: [&str; 10] = [
    "0",
    "1",
    "2",
    "7",
    "42",
    "12345",
    "-1",
    "-7",
    "1180591620717411303427",
    "-36893488147419103232",
];

/// With `modula`, weights and the same server list, this client and the
/// real python-memcached put every key on the same server: each finds all
/// of the other's keys, `(hashvalue, key)` tuples included; and with a
/// server down, python-memcached's rehash and this client's failover agree.
#[test]
fn python_memcached_modula_with_weights_placement_and_rehash() {
    use memcache::{Client, Distribution, Status};
    let servers = [
        Memcached::tcp_checked(&[]),
        Memcached::tcp_checked(&[]),
        Memcached::tcp_checked(&[]),
    ];
    let weights = [1, 3, 2];
    let specs: Vec<String> = servers
        .iter()
        .zip(weights)
        .map(|(m, w)| format!("{}*{w}", m.spec()))
        .collect();
    let client = Client::new(&specs).unwrap();
    client.set_distribution(Distribution::Modula).unwrap();
    let direct: Vec<Client> = servers
        .iter()
        .map(|m| Client::new(&[m.spec()]).unwrap())
        .collect();

    // python-memcached stores; every key is on our server for it, and we
    // find them all.
    expect_ok(
        "python-memcached stores over weights 1, 3, 2",
        &run_distribution_py("store", &specs),
    );
    let keys: Vec<String> = (0..2000).map(|i| format!("py-dist-{i}")).collect();
    let mut per_server = vec![0u64; 3];
    for k in &keys {
        per_server[client.server_for(k.as_bytes()).unwrap()] += 1;
    }
    let mut placed_per_server = vec![0u64; 3];
    for i in 0..200 {
        placed_per_server[client.server_for_place(HASHVALUES[i % 10].as_bytes())] += 1;
    }
    let items: Vec<u64> = direct
        .iter()
        .map(|d| {
            d.stats(None).unwrap()[0]
                .iter()
                .find(|(n, _)| n == "curr_items")
                .unwrap()
                .1
                .parse()
                .unwrap()
        })
        .collect();
    let want: Vec<u64> = per_server
        .iter()
        .zip(&placed_per_server)
        .map(|(a, b)| a + b)
        .collect();
    assert_eq!(items, want);
    println!("python-memcached's keys per server (weights 1, 3, 2): {per_server:?}");
    let hits = client.get_many(&keys).unwrap();
    assert_eq!(hits.len(), keys.len());
    for h in hits {
        let key = String::from_utf8(h.key).unwrap();
        assert_eq!(h.item.value, format!("py {key}").into_bytes());
        assert_eq!(h.item.flags, 16, "python-memcached's text flag");
    }
    for i in 0..200 {
        let hv = HASHVALUES[i % 10];
        let key = format!("py-placed-{i}");
        let item = client
            .placed(hv.as_bytes())
            .get(key.as_bytes())
            .unwrap()
            .unwrap_or_else(|| panic!("({hv}, {key}) not found"));
        assert_eq!(item.value, format!("py {hv} {key}").into_bytes());
    }

    // We store; python-memcached finds them all.
    let ours: Vec<(String, String, u32)> = (0..2000)
        .map(|i| {
            let k = format!("rust-dist-{i}");
            let v = format!("rust {k}");
            (k, v, 16)
        })
        .collect();
    assert_eq!(
        client.set_many(&ours, 0).unwrap(),
        vec![Ok(Status::Stored); ours.len()]
    );
    for i in 0..200 {
        let hv = HASHVALUES[i % 10];
        let key = format!("rust-placed-{i}");
        assert_eq!(
            client.placed(hv.as_bytes()).set(
                key.as_bytes(),
                format!("rust {hv} {key}").as_bytes(),
                16,
                0
            ),
            Ok(Status::Stored)
        );
    }
    expect_ok(
        "python-memcached reads this client's keys",
        &run_distribution_py("check", &specs),
    );

    // A fourth server, down: python-memcached marks it dead and rehashes
    // its keys; this client with failover sends them to the same servers.
    let down = format!("127.0.0.1:{}*2", support::free_port());
    let mut with_down = specs.clone();
    with_down.insert(1, down);
    expect_ok(
        "python-memcached stores with a server down",
        &run_distribution_py("store-rehash", &with_down),
    );
    let failing = Client::new(&with_down).unwrap();
    failing
        .update_options(|o| {
            o.distribution = Distribution::Modula;
            o.failover = true;
            Ok::<(), memcache::Error>(())
        })
        .unwrap();
    let keys: Vec<String> = (0..500).map(|i| format!("py-rehash-{i}")).collect();
    let rehashed = keys
        .iter()
        .filter(|k| failing.server_for(k.as_bytes()).unwrap() == 1)
        .count();
    println!(
        "{rehashed} of {} keys were rehashed away from the server that is down",
        keys.len()
    );
    assert!(rehashed > 50, "{rehashed}");
    let hits = failing.get_many(&keys).unwrap();
    assert_eq!(hits.len(), keys.len());
    for k in &keys {
        let item = failing.get(k.as_bytes()).unwrap().unwrap();
        assert_eq!(item.value, format!("py {k}").into_bytes());
    }
    let ours: Vec<(String, String, u32)> = (0..500)
        .map(|i| {
            let k = format!("rust-rehash-{i}");
            let v = format!("rust {k}");
            (k, v, 16)
        })
        .collect();
    assert_eq!(
        failing.set_many(&ours, 0).unwrap(),
        vec![Ok(Status::Stored); ours.len()]
    );
    expect_ok(
        "python-memcached reads this client's failed-over keys",
        &run_distribution_py("check-rehash", &with_down),
    );
}
