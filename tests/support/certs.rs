//! Certificates made for a test run (rcgen): a CA, server certificates
//! signed by it (good, expired, for another name), a client certificate,
//! and a second CA nobody trusts, written as PEM files into a temporary
//! directory. Nothing is committed: every run makes its own keys.

use std::path::PathBuf;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::{Memcached, TempDir};

/// The files of one set of test certificates.
pub struct Pki {
    dir: TempDir,
}

/// A CA: its certificate's parameters and key, to sign with.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

fn ca(dir: &TempDir, name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("memcache test {name}"));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.path().join(format!("{name}.pem")), cert.pem()).unwrap();
    Ca {
        issuer: Issuer::new(params, key),
    }
}

impl Ca {
    /// Writes `<file>.pem` and `<file>.key`: a certificate for `names`,
    /// signed by this CA, valid from `from` to `to` (years).
    fn sign(&self, dir: &TempDir, file: &str, names: &[&str], years: (i32, i32)) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, file);
        params.not_before = date_time_ymd(years.0, 1, 1);
        params.not_after = date_time_ymd(years.1, 1, 1);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(dir.path().join(format!("{file}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.path().join(format!("{file}.key")), key.serialize_pem()).unwrap();
    }
}

impl Pki {
    /// `ca.pem` and `other-ca.pem`; `server`, `expired` and `wrongname`
    /// (for other.example), signed by the CA, for localhost and 127.0.0.1;
    /// `client` signed by the CA and `rogue` by the other one (each a
    /// `.pem` and a `.key`).
    pub fn new() -> Pki {
        let dir = TempDir::new("pki");
        let ca_ = ca(&dir, "ca");
        let other = ca(&dir, "other-ca");
        let here = ["localhost", "127.0.0.1"];
        ca_.sign(&dir, "server", &here, (2020, 2100));
        ca_.sign(&dir, "expired", &here, (2010, 2011));
        ca_.sign(&dir, "wrongname", &["other.example"], (2020, 2100));
        ca_.sign(&dir, "client", &["memcache-client"], (2020, 2100));
        other.sign(&dir, "rogue", &["memcache-client"], (2020, 2100));
        Pki { dir }
    }

    /// The file `name` (`ca.pem`, `client.key`, ...).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The path of `name` as text.
    pub fn file(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

impl Memcached {
    /// memcached serving TLS (`-Z`) on a free port with the certificate
    /// `cert` of `pki` (`server`, `expired`, `wrongname`); with
    /// `require_client`, it requires a client certificate signed by the
    /// CA (`ssl_verify_mode` 2). `extra` goes after.
    pub fn tls(pki: &Pki, cert: &str, require_client: bool, extra: &[&str]) -> Memcached {
        let settings = format!(
            "ssl_chain_cert={},ssl_key={},ssl_ca_cert={},ssl_verify_mode={}",
            pki.file(&format!("{cert}.pem")),
            pki.file(&format!("{cert}.key")),
            pki.file("ca.pem"),
            if require_client { 2 } else { 0 }
        );
        let mut args = vec!["-Z", "-o", &settings];
        args.extend_from_slice(extra);
        // Not `tcp_checked`: its check speaks plain text. The listener is
        // still checked to be this daemon's (`try_start`).
        Memcached::tcp_with(&args)
    }
}
