//! CGI and FastCGI behind a real web server (lighttpd from Debian's
//! packages), started on a free loopback port: `examples/cart.tcl` as a
//! CGI program (a tclsh per request) and `examples/cart-fcgi.c` as a
//! FastCGI program (libfcgi) with 4 workers forked after it made its
//! memcache handle. 8 clients at once add items to carts through both;
//! every item must be in its cart exactly once, and the first request
//! starts the daemon.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use memcache::Client;
use support::{compile_c, free_port, library_path, TempDir};

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// lighttpd, stopped (with its FastCGI program) when dropped.
struct WebServer {
    child: Child,
    port: u16,
}

impl Drop for WebServer {
    fn drop(&mut self) {
        // SIGTERM: lighttpd stops its FastCGI program too (SIGKILL would
        // leave it running).
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// Stops the daemon serving a socket file when dropped (also when the
/// test fails), so no test leaves one behind.
struct StopDaemon(String);

impl Drop for StopDaemon {
    fn drop(&mut self) {
        if let Ok(c) = Client::new(&[&self.0]) {
            memcache::daemon::stop(&c);
        }
    }
}

/// The Tcl package as installed: pkgIndex.tcl beside the library under
/// test, in `dir`.
fn tcl_package(dir: &Path) -> PathBuf {
    let pkg = dir.join("memcache");
    std::fs::create_dir_all(&pkg).unwrap();
    for file in ["pkgIndex.tcl", "memcache.tcl"] {
        std::fs::copy(Path::new(CRATE).join("tcl").join(file), pkg.join(file)).unwrap();
    }
    std::os::unix::fs::symlink(library_path(), pkg.join("libmemcache.so")).unwrap();
    dir.to_path_buf()
}

fn start_lighttpd(dir: &Path) -> WebServer {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::copy(
        Path::new(CRATE).join("examples/cart.tcl"),
        www.join("cart.tcl"),
    )
    .unwrap();
    let lib = library_path();
    let libdir = lib.parent().unwrap();
    let fcgi = dir.join("cart-fcgi");
    let rpath = format!("-Wl,-rpath,{}", libdir.display());
    let lflag = format!("-L{}", libdir.display());
    let extra: [&std::ffi::OsStr; 4] = [
        lflag.as_ref(),
        rpath.as_ref(),
        "-lmemcache".as_ref(),
        "-lfcgi".as_ref(),
    ];
    compile_c("examples/cart-fcgi.c", &fcgi, &extra);
    let packages = tcl_package(&dir.join("tcl"));
    let tclsh = std::env::var("TCLSH").unwrap_or_else(|_| "tclsh".into());
    let tclsh = support::which(&tclsh).unwrap_or_else(|| panic!("{tclsh} not found"));
    let carts = dir.join("cart.sock");
    let port = free_port();
    let conf = format!(
        r#"server.document-root = "{www}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/error.log"
server.modules = ("mod_setenv", "mod_cgi", "mod_fastcgi")
setenv.add-environment = ("TCLLIBPATH" => "{packages}", "CART_SOCKET" => "{carts}")
cgi.assign = (".tcl" => "{tclsh}")
fastcgi.server = ("/fcgi" => ((
    "bin-path" => "{fcgi} 4",
    "socket" => "{dir}/fcgi.sock",
    "max-procs" => 1,
    "check-local" => "disable",
    "bin-environment" => ("CART_SOCKET" => "{carts}")
)))
"#,
        www = www.display(),
        dir = dir.display(),
        packages = packages.display(),
        carts = carts.display(),
        tclsh = tclsh.display(),
        fcgi = fcgi.display(),
    );
    let conf_path = dir.join("lighttpd.conf");
    std::fs::write(&conf_path, conf).unwrap();
    // Its output (and its programs') to a file: an inherited pipe of this
    // test would keep cargo waiting for as long as any of them lives.
    let log = std::fs::File::create(dir.join("lighttpd.out")).unwrap();
    let child = Command::new("lighttpd")
        .arg("-D")
        .arg("-f")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("lighttpd (apt-get install lighttpd)");
    let server = WebServer { child, port };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "lighttpd did not start: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// GET `path` (HTTP/1.0): the status line and the body.
fn get(port: u16, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn carts_through_cgi_and_fastcgi_lose_no_item() {
    if Command::new("lighttpd").arg("-v").output().is_err() {
        panic!("lighttpd is not installed (apt-get install lighttpd libfcgi-dev)");
    }
    let dir = TempDir::new("web");
    let carts = dir.path().join("cart.sock");
    let _stop = StopDaemon(carts.display().to_string());
    let web = start_lighttpd(dir.path());
    assert!(!carts.exists(), "no daemon before the first request");
    // The first request starts the daemon.
    let (status, body) = get(web.port, "/cart.tcl?user=first&item=one");
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.0 200 OK", "first: 1 items: one\n")
    );
    assert!(carts.exists());
    let clients = 8;
    let requests = 50;
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let port = web.port;
            std::thread::spawn(move || {
                for r in 0..requests {
                    // Two carts shared by all clients; every other request
                    // through the FastCGI program.
                    let user = ["alice", "bob"][r % 2];
                    let path = if (c + r) % 2 == 0 {
                        "/cart.tcl"
                    } else {
                        "/fcgi"
                    };
                    let (status, body) = get(port, &format!("{path}?user={user}&item=c{c}r{r}"));
                    assert_eq!(status, "HTTP/1.0 200 OK", "{path}: {body}");
                    assert!(body.starts_with(&format!("{user}: ")), "{path}: {body}");
                    // cart.tcl counts the items; the C program lists them.
                    assert_eq!(body.contains(" items: "), path == "/cart.tcl", "{body}");
                    assert!(body.contains(&format!("c{c}r{r}")), "{path}: {body}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let client = Client::new(&[carts.display().to_string()]).unwrap();
    let mut all = Vec::new();
    for user in ["alice", "bob"] {
        let cart = client
            .get(format!("cart:{user}").as_bytes())
            .unwrap()
            .unwrap();
        // Tcl writes a list, the C program words separated by spaces: the
        // same for these items.
        let text = String::from_utf8(cart.value).unwrap();
        let items: Vec<&str> = text.split(' ').collect();
        assert_eq!(items.len(), clients * requests / 2, "{user}: {text}");
        all.extend(items.into_iter().map(str::to_string));
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), clients * requests, "every item once");
    drop(web);
    // The daemon the first request started outlives the web server.
    assert_eq!(client.get(b"cart:first").unwrap().unwrap().value, b"one");
    assert_eq!(memcache::daemon::stop(&client).code(), 1);
}
