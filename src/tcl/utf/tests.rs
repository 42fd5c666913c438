//! The conversions against hand-made cases and against the installed
//! tclsh (8.6).

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Eight bytes a step, and from 32 bytes the whole-value check (32 bytes a
/// compare where the CPU has AVX2, an overlapping last block) first: every
/// length to 100, a byte outside 1..=0x7F at every place, and 0x7F (plain)
/// there; plain ASCII is borrowed as it is.
#[test]
fn plain_prefixes() {
    for len in 0..=100 {
        let mut buf = vec![b'a'; len];
        assert_eq!(plain_prefix(&buf), len);
        assert!(matches!(
            text_to_tcl(&buf, Abi::Tcl8),
            Some(Cow::Borrowed(_))
        ));
        for at in 0..len {
            for odd in [0u8, 0x80, 0xC0, 0xF0, 0xFF] {
                buf[at] = odd;
                assert_eq!(plain_prefix(&buf), at, "len {len}, {odd:#x} at {at}");
                buf[at] = 0x7F;
                assert_eq!(plain_prefix(&buf), len, "len {len}, 0x7f at {at}");
                buf[at] = b'a';
            }
        }
    }
}

/// Converts both ways and checks both results.
fn both(utf8: &str, tcl: &str) {
    let (utf8, tcl) = (hex(utf8), hex(tcl));
    assert_eq!(
        &*utf8_to_tcl(&utf8, Abi::Tcl8),
        &tcl[..],
        "utf8_to_tcl({utf8:02x?}, Abi::Tcl8)"
    );
    assert_eq!(
        &*tcl_to_utf8(&tcl, Abi::Tcl8),
        &utf8[..],
        "tcl_to_utf8({tcl:02x?}, Abi::Tcl8)"
    );
}

#[test]
fn ascii_is_borrowed() {
    assert!(matches!(
        utf8_to_tcl(b"hello", Abi::Tcl8),
        Cow::Borrowed(b"hello")
    ));
    assert!(matches!(
        tcl_to_utf8(b"hello", Abi::Tcl8),
        Cow::Borrowed(b"hello")
    ));
    assert!(matches!(str_to_tcl("", Abi::Tcl8), Cow::Borrowed(b"")));
}

#[test]
fn text_includes_unpaired_surrogates() {
    assert!(is_text(b"plain"));
    assert!(is_text("caf\u{e9} \u{1F600}".as_bytes()));
    assert!(is_text(&hex("eda080")));
    assert!(is_text(&hex("61edb08062")));
    assert!(!is_text(&hex("c080")));
    assert!(!is_text(&hex("ff")));
    assert!(!is_text(&hex("e9")));
    assert!(!is_text(&hex("eda0")));
}

/// Tcl 9 keeps a supplementary character as its UTF-8; NUL is still
/// `C0 80`; and both forms read back as the same UTF-8.
#[test]
fn tcl9_form() {
    let utf8 = "a\u{1F600}\0b".as_bytes();
    let tcl9 = utf8_to_tcl(utf8, Abi::Tcl9);
    assert_eq!(&*tcl9, &hex("61F09F9880C08062")[..]);
    assert_eq!(&*tcl_to_utf8(&tcl9, Abi::Tcl9), utf8);
    // Two surrogates stay two characters (three bytes each) in Tcl 9.
    let pair = hex("EDA0BDEDB880");
    assert!(matches!(tcl_to_utf8(&pair, Abi::Tcl9), Cow::Borrowed(_)));
    assert_eq!(&*utf8_to_tcl(&pair, Abi::Tcl9), &pair[..]);
    assert!(is_text(&pair));
    assert!(matches!(
        utf8_to_tcl("\u{1F600}".as_bytes(), Abi::Tcl9),
        Cow::Borrowed(_)
    ));
}

/// The fast path gives what the general conversion gives.
#[test]
fn text_to_tcl_is_utf8_to_tcl_for_text() {
    for input in [
        "plain ascii".as_bytes(),
        "caf\u{e9} \u{20ac}".as_bytes(),
        "a\0b".as_bytes(),
        "smile \u{1F600}".as_bytes(),
        &hex("EDA0BD41"),
        &[0x41; 200],
    ] {
        for abi in [Abi::Tcl8, Abi::Tcl9] {
            let fast = text_to_tcl(input, abi).expect("text");
            assert_eq!(fast, utf8_to_tcl(input, abi), "{input:02x?} {abi:?}");
        }
    }
    assert!(matches!(
        text_to_tcl(b"abc", Abi::Tcl8),
        Some(Cow::Borrowed(_))
    ));
    assert_eq!(text_to_tcl(&hex("41FF"), Abi::Tcl8), None);
    assert_eq!(text_to_tcl(&hex("C080"), Abi::Tcl9), None);
    let mut long = vec![b'x'; 130];
    long[129] = 0;
    assert!(matches!(text_to_tcl(&long, Abi::Tcl9), Some(Cow::Owned(_))));
    long[129] = 0xF0;
    assert_eq!(text_to_tcl(&long, Abi::Tcl9), None);
    // In a whole 32-byte block, not only in the tail.
    let smile = format!("{}\u{1F600}{}", "x".repeat(40), "x".repeat(60));
    assert!(matches!(
        text_to_tcl(smile.as_bytes(), Abi::Tcl8),
        Some(Cow::Owned(_))
    ));
    assert!(matches!(
        text_to_tcl(smile.as_bytes(), Abi::Tcl9),
        Some(Cow::Borrowed(_))
    ));
    let nul = format!("{}\0{}", "x".repeat(5), "x".repeat(95));
    for abi in [Abi::Tcl8, Abi::Tcl9] {
        assert!(matches!(
            text_to_tcl(nul.as_bytes(), abi),
            Some(Cow::Owned(_))
        ));
    }
}

#[test]
fn nul() {
    both("00", "c080");
    both("610062", "61c08062");
    both("0000", "c080c080");
}

#[test]
fn bmp_is_unchanged_and_borrowed() {
    both("c3a9", "c3a9"); // U+00E9
    both("e282ac", "e282ac"); // U+20AC
    assert!(matches!(
        str_to_tcl("caf\u{e9} 5\u{20ac}", Abi::Tcl8),
        Cow::Borrowed(_)
    ));
    assert!(matches!(
        tcl_to_utf8("caf\u{e9} 5\u{20ac}".as_bytes(), Abi::Tcl8),
        Cow::Borrowed(_)
    ));
}

#[test]
fn supplementary_is_a_surrogate_pair() {
    both("f09f9880", "eda0bdedb880"); // U+1F600
    both("f0908080", "eda080edb080"); // U+10000
    both("f48fbfbf", "edafbfedbfbf"); // U+10FFFF
    assert_eq!(
        &*str_to_tcl("a\u{1F600}\0b", Abi::Tcl8),
        &hex("61eda0bdedb880c08062")[..]
    );
}

#[test]
fn all_together_round_trip() {
    let s = "x\0\u{e9}\u{20ac}\u{1F600}\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}";
    let tcl = str_to_tcl(s, Abi::Tcl8);
    assert!(!tcl.contains(&0), "no NUL byte in Tcl's form");
    assert_eq!(&*tcl_to_utf8(&tcl, Abi::Tcl8), s.as_bytes());
}

/// Malformed UTF-8 from the wire: each offending byte becomes U+00xx, as
/// `encoding convertfrom utf-8` does in Tcl 8.6.13.
#[test]
fn invalid_utf8_input() {
    let cases = [
        ("80", "c280"),                   // stray continuation byte
        ("ff", "c3bf"),                   // never valid
        ("c0", "c380"),                   // truncated
        ("c328", "c38328"),               // lead byte without continuation
        ("e282", "c3a2c282"),             // truncated 3-byte sequence
        ("c1bf", "c381c2bf"),             // overlong U+007F
        ("e08080", "c3a0c280c280"),       // overlong 3-byte
        ("f08f8080", "c3b0c28fc280c280"), // overlong 4-byte
        ("f4908080", "c3b4c290c280c280"), // above U+10FFFF
        ("f8888080", "c3b8c288c280c280"), // 5-byte form
        ("f09f98", "c3b0c29fc298"),       // truncated 4-byte sequence
        ("c080", "c080"),                 // overlong NUL is accepted as NUL
        ("eda080", "eda080"),             // lone surrogate kept
        ("eda080edb080", "eda080edb080"), // CESU-8 pair kept as a pair
    ];
    for (input, want) in cases {
        assert_eq!(
            &*utf8_to_tcl(&hex(input), Abi::Tcl8),
            &hex(want)[..],
            "input {input}"
        );
    }
}

/// Odd bytes in Tcl's form (possible via `encoding convertfrom
/// identity`): converted as `encoding convertto utf-8` does.
#[test]
fn invalid_tcl_input() {
    let cases = [
        ("80", "c280"),
        ("c0", "c380"),
        ("00", "00"), // a raw NUL passes through
        ("c080", "00"),
        ("eda080", "eda080"),                     // lone high surrogate
        ("edb080", "edb080"),                     // lone low surrogate
        ("edb080eda080", "edb080eda080"),         // pair in the wrong order
        ("eda080eda080edb080", "eda080f0908080"), // high, then a pair
        ("f09f9880", "f09f9880"),                 // real 4-byte form passes through
        ("f09f", "c3b0c29f"),
        ("e282", "c3a2c282"),
    ];
    for (input, want) in cases {
        assert_eq!(
            &*tcl_to_utf8(&hex(input), Abi::Tcl8),
            &hex(want)[..],
            "input {input}"
        );
    }
}

/// Whether `input` ends with a 4-byte lead byte and exactly two
/// continuation bytes. Tcl 8.6.13's `encoding convertfrom utf-8` reads
/// one byte past the end there, so its answer depends on memory contents
/// (`f09f98` alone gives a high surrogate, `41 f09f98` gives three stray
/// bytes); that is not mirrored: such input is three stray bytes here.
fn ends_in_truncated_4_byte_sequence(input: &[u8]) -> bool {
    matches!(input, [.., 0xF0..=0xF7, c1, c2] if c1 & 0xC0 == 0x80 && c2 & 0xC0 == 0x80)
}

/// Whether `input` has an unpaired high surrogate (`ED A0..AF xx`)
/// followed somewhere by a continuation byte that starts no sequence.
/// Tcl 8.6.13 keeps "last character was a high surrogate" as state and
/// reads three continuation bytes with matching bits after it as the low
/// half (a side effect of how it splits 4-byte sequences when
/// `TCL_UTF_MAX` is 3): `ED AF 80 80 80 80` becomes a pair. Such bytes
/// never come out of Tcl's own conversions; here they stay stray bytes.
fn has_high_surrogate_then_stray_continuation(input: &[u8]) -> bool {
    let mut seen_high = false;
    let mut i = 0;
    while i < input.len() {
        match next_char(&input[i..]) {
            Char::Seq { cp, len } => {
                seen_high |= is_high_surrogate(cp);
                i += len;
            }
            Char::Stray(b) => {
                if seen_high && b & 0xC0 == 0x80 {
                    return true;
                }
                i += 1;
            }
        }
    }
    false
}

/// Compares both functions with the installed tclsh (which the tests
/// need anyway) on many random inputs. Two Tcl 8.6.13
/// quirks on malformed input are not mirrored (see the two functions
/// above); inputs that hit them are skipped.
#[test]
fn matches_tclsh() {
    use std::fmt::Write as _;
    use std::io::Write as _;
    const BYTES: &[u8] = &[
        0x00, 0x01, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xaf, 0xb0, 0xbf, 0xc0, 0xc1, 0xc2,
        0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff,
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for _ in 0..20000 {
        let len = (rand() % 12) as usize;
        inputs.push(
            (0..len)
                .map(|_| BYTES[(rand() % BYTES.len() as u64) as usize])
                .collect(),
        );
    }
    for s in ["\u{1F600}", "\u{10000}\u{10ffff}", "\u{d7ff}\u{e000}"] {
        inputs.push(s.as_bytes().to_vec());
    }
    let mut script = String::from(
        "proc hex b {binary scan $b H* h; return $h}\n\
         while {[gets stdin line] >= 0} {\n\
           set b [binary format H* $line]\n\
           set from [encoding convertto identity [encoding convertfrom utf-8 $b]]\n\
           set to [encoding convertto utf-8 [encoding convertfrom identity $b]]\n\
           puts \"[hex $from] [hex $to]\"\n\
         }\n",
    );
    let dir = std::env::temp_dir().join(format!("memcache-utf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cmp.tcl");
    std::fs::write(&path, &script).unwrap();
    script.clear();
    for input in &inputs {
        for b in input {
            write!(script, "{b:02x}").unwrap();
        }
        script.push('\n');
    }
    let mut child = std::process::Command::new("tclsh")
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("tclsh");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), inputs.len());
    let mut failures = 0;
    let mut skipped = 0;
    for (input, line) in inputs.iter().zip(lines) {
        let (from, to) = line.split_once(' ').unwrap_or((line, ""));
        let from = from.trim();
        let to = to.trim();
        let got_from: String = utf8_to_tcl(input, Abi::Tcl8)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let got_to: String = tcl_to_utf8(input, Abi::Tcl8)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let quirk = ends_in_truncated_4_byte_sequence(input)
            || has_high_surrogate_then_stray_continuation(input);
        if quirk {
            skipped += 1;
        }
        if !quirk && (got_from != from || got_to != to) {
            failures += 1;
            if failures < 20 {
                eprintln!(
                    "input {input:02x?}: convertfrom tcl {from} ours {got_from}; convertto tcl {to} ours {got_to}"
                );
            }
        }
    }
    eprintln!("{} inputs compared, {skipped} skipped", inputs.len());
    assert_eq!(
        failures,
        0,
        "{failures} of {} inputs differ from tclsh",
        inputs.len()
    );
}
