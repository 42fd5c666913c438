//! Helpers the test files share: an error as (kind, message), server
//! statistics, a child program's "ok N checks", stopping and continuing a
//! daemon with signals.

use std::fmt::Debug;
use std::thread;
use std::time::{Duration, Instant};

use memcache::{Client, Kind};

use super::{Memcached, Output};

/// The error of `r`, which must have failed, as (kind, message).
pub fn fail<T: Debug>(r: memcache::Result<T>) -> (Kind, String) {
    let e = r.unwrap_err();
    (e.kind(), e.message().to_string())
}

/// Statistic `name` of every server of `c`, in server order.
pub fn stat_each(c: &Client, name: &str) -> Vec<String> {
    c.stats(None)
        .unwrap()
        .into_iter()
        .map(|stats| {
            stats
                .into_iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no stat {name}"))
                .1
        })
        .collect()
}

/// Numeric statistic `name` of every server of `c`, in server order.
pub fn stat_each_u64(c: &Client, name: &str) -> Vec<u64> {
    stat_each(c, name)
        .into_iter()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("stat {name}: {v}")))
        .collect()
}

/// Numeric statistic `name` of the first (usually only) server of `c`.
pub fn stat_u64(c: &Client, name: &str) -> u64 {
    stat_each_u64(c, name)[0]
}

/// The first `LINES` lines of `text`, enough to read in a failure.
fn head(text: &str) -> String {
    const LINES: usize = 200;
    let mut out: Vec<&str> = text.lines().take(LINES).collect();
    let more = text.lines().count().saturating_sub(LINES);
    let tail = format!("... and {more} more lines");
    if more > 0 {
        out.push(&tail);
    }
    out.join("\n")
}

/// Checks a run of a test program: exit status 0, and "ok N checks"
/// (N > 0) as its last line. Returns N.
pub fn expect_ok(what: &str, run: &Output) -> u64 {
    let checks = run
        .stdout
        .lines()
        .last()
        .and_then(|line| line.strip_prefix("ok "))
        .and_then(|rest| rest.strip_suffix(" checks"))
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|&n| n > 0);
    match checks {
        Some(n) if run.status.success() => {
            println!("{what}: ok {n} checks");
            n
        }
        _ => panic!(
            "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.status,
            head(&run.stdout),
            head(&run.stderr)
        ),
    }
}

/// Sends `sig` to the daemon `m` runs.
pub fn signal(m: &Memcached, sig: libc::c_int) {
    let pid = m.pid().expect("running") as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// Stops the daemon (SIGSTOP) and waits until every one of its threads is
/// stopped: kill(2) returns before a thread busy on another CPU stops.
pub fn pause(m: &Memcached) {
    signal(m, libc::SIGSTOP);
    let tasks = format!("/proc/{}/task", m.pid().unwrap());
    let start = Instant::now();
    loop {
        let all_stopped = std::fs::read_dir(&tasks).unwrap().all(|task| {
            let stat = std::fs::read_to_string(task.unwrap().path().join("stat")).unwrap();
            // "pid (comm) S ...": the state follows the last ')'.
            stat.rsplit(')')
                .next()
                .unwrap()
                .trim_start()
                .starts_with('T')
        });
        if all_stopped {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "daemon did not stop"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// Lets a paused daemon run again (SIGCONT).
pub fn resume(m: &Memcached) {
    signal(m, libc::SIGCONT);
}
