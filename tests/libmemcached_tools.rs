//! libmemcached's command-line tools (Debian's libmemcached-tools):
//! `memccp` stores files that this library reads back byte for byte with
//! their flags, and `memccat` prints exactly what this library stored
//! (text as its UTF-8, bytes as they are; memccat adds a line end). A
//! machine without them fails this test under CI, and elsewhere passes
//! saying why.

mod support;

use std::process::Command;
use std::time::Duration;

use memcache::{Client, Status};
use support::{run_with_limit, Memcached, TempDir};

fn tool(name: &str) -> Option<Command> {
    if support::which(name).is_none() {
        let why = format!("{name} not found (Debian: apt-get install libmemcached-tools)");
        assert!(std::env::var_os("CI").is_none(), "{why}");
        println!("skipped: {why}");
        return None;
    }
    Some(Command::new(name))
}

#[test]
fn memccp_and_memccat_agree_with_this_library() {
    let (Some(mut cp), Some(mut cp_flagged)) = (tool("memccp"), tool("memccp")) else {
        return;
    };
    let m = Memcached::tcp();
    let servers = format!("--servers={}", m.spec());
    let dir = TempDir::new("memccp");
    let binary: Vec<u8> = (0..25_600).map(|i| (i % 256) as u8).collect();
    std::fs::write(dir.path().join("blob.bin"), &binary).unwrap();
    let text = "Gr\u{fc}\u{df}e \u{2713}\n".repeat(100);
    std::fs::write(dir.path().join("note.txt"), &text).unwrap();
    cp.arg(&servers).arg(dir.path().join("blob.bin"));
    let run = run_with_limit(cp, Duration::from_secs(30));
    assert!(run.status.success(), "memccp: {}{}", run.stdout, run.stderr);
    cp_flagged
        .arg(&servers)
        .args(["--flags=16"])
        .arg(dir.path().join("note.txt"));
    let run = run_with_limit(cp_flagged, Duration::from_secs(30));
    assert!(run.status.success(), "memccp: {}{}", run.stdout, run.stderr);

    let c = Client::new(&[m.spec()]).unwrap();
    let blob = c.get(b"blob.bin").unwrap().unwrap();
    assert_eq!((blob.value.len(), blob.flags), (binary.len(), 0));
    assert!(blob.value == binary);
    let note = c.get(b"note.txt").unwrap().unwrap();
    assert_eq!((note.value.as_slice(), note.flags), (text.as_bytes(), 16));

    // memccat prints exactly what was stored.
    let stored = "caf\u{e9} \u{1F600}\r\nEND\r\n";
    assert_eq!(
        c.set(b"ours-text", stored.as_bytes(), 16, 0),
        Ok(Status::Stored)
    );
    assert_eq!(c.set(b"ours-bytes", &binary, 0, 0), Ok(Status::Stored));
    for (key, want) in [
        ("ours-text", stored.as_bytes()),
        ("ours-bytes", &binary[..]),
    ] {
        let out = tool("memccat")
            .unwrap()
            .arg(&servers)
            .arg(key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "memccat {key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // memccat ends each value it prints with a line end of its own.
        let mut printed = want.to_vec();
        printed.push(b'\n');
        assert!(
            out.stdout == printed,
            "memccat {key}: {} bytes",
            out.stdout.len()
        );
    }
}
