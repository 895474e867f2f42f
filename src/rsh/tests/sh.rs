//! [`sh_quote`] and [`sh_join`] against a real POSIX `sh`: what the quoting produces, `sh -c`
//! reads back byte for byte.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Stdio;

use proptest::prelude::*;

use super::*;

/// Runs `sh -c SCRIPT` and returns its stdout.
fn sh(script: Vec<u8>) -> Vec<u8> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(OsString::from_vec(script.clone()))
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "sh -c {:?}: {}\n{}",
        String::from_utf8_lossy(&script),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// What `sh` reads each word of `line` as: `printf '%s\0' LINE`, split at the NULs.
fn sh_words(line: &[u8]) -> Vec<Vec<u8>> {
    let mut script = b"printf '%s\\0' ".to_vec();
    script.extend_from_slice(line);
    let out = sh(script);
    let mut words: Vec<Vec<u8>> = out.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
    assert_eq!(words.pop(), Some(Vec::new()), "output ends in a NUL");
    words
}

#[test]
fn sh_quote_examples() {
    assert_eq!(sh_quote("it's"), r"'it'\''s'");
    assert_eq!(sh_quote(""), "''");
    assert_eq!(sh_quote("a b"), "'a b'");
    assert_eq!(sh_quote_bytes(b"\xff'"), b"'\xff'\\'''");
    assert_eq!(sh_join(["a", "", "b c"]), "'a' '' 'b c'");
    assert_eq!(sh_join_bytes([&b"x"[..], b"y'"]), b"'x' 'y'\\'''");
}

#[test]
fn quote_and_sh_quote_differ_as_documented() {
    // rsync's -e quoting doubles the quote; a POSIX shell reads that as two strings.
    assert_eq!(sh_words(quote("it's").as_bytes()), [b"its".to_vec()]);
    assert_eq!(sh_words(sh_quote("it's").as_bytes()), [b"it's".to_vec()]);
}

#[test]
fn awkward_words_survive_sh() {
    let words: [&[u8]; 12] = [
        b"",
        b"'",
        b"''",
        b"it's",
        b"$HOME",
        b"`id`",
        b"$(id)",
        b"a\\b\\",
        b"line\nbreak",
        b"*?[a]~#;&|<>(){}!",
        b"\xff\xfe not utf-8",
        b"A=b",
    ];
    assert_eq!(sh_words(&sh_join_bytes(words)), words);
    // A reserved word or an assignment stays an ordinary word even in command position.
    assert_eq!(sh(sh_join(["printf", "%s", "if"]).into_bytes()), b"if");
    let script = format!("{} 2>/dev/null; echo $?", sh_join(["A=b"]));
    assert_eq!(sh(script.into_bytes()), b"127\n");
}

fn awkward_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        1u8..=255,
        prop::sample::select(b"'\"\\$`\n\t !*?~#&;|<>(){}[]=%\xff".to_vec()),
    ]
}

proptest! {
    // Each case runs a real sh: keep the count bounded.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sh_join_bytes_round_trips_through_sh(
        words in prop::collection::vec(prop::collection::vec(awkward_byte(), 0..12), 1..5),
    ) {
        prop_assert_eq!(sh_words(&sh_join_bytes(&words)), words);
    }

    #[test]
    fn sh_quote_round_trips_through_sh(word in "[^\\x00]{0,12}") {
        let mut script = b"printf %s ".to_vec();
        script.extend_from_slice(sh_quote(&word).as_bytes());
        prop_assert_eq!(sh(script), word.into_bytes());
    }
}
