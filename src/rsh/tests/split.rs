//! Each `split` test is named after the rule it checks; the comment says whether the expected
//! result comes from rsync's man page (`--rsh`) or from its source (`main.c`, `do_cmd()`).

use std::io;

use proptest::prelude::*;

use super::*;

// ---- split: separators ------------------------------------------------------------------

#[test]
fn spaces_separate_words() {
    // Man page example: -e 'ssh -p 2234'.
    assert_eq!(words("ssh -p 2234"), ["ssh", "-p", "2234"]);
}

#[test]
fn runs_of_spaces_are_one_separator() {
    // Source: the outer loop skips every space before a word starts.
    assert_eq!(words("ssh    -p  2234"), ["ssh", "-p", "2234"]);
}

#[test]
fn leading_and_trailing_spaces_are_dropped() {
    // Source: as above; a word only starts at a non-space.
    assert_eq!(words("   ssh -v   "), ["ssh", "-v"]);
}

#[test]
fn tabs_and_other_whitespace_are_not_separators() {
    // Man page: "You must use spaces (not tabs or other whitespace)". Source: only ' ' is tested.
    assert_eq!(words("ssh\t-v"), ["ssh\t-v"]);
    assert_eq!(
        words("ssh -o\nX a\rb\x0bc\x0cd"),
        ["ssh", "-o\nX", "a\rb\x0bc\x0cd"]
    );
}

// ---- split: quotes ------------------------------------------------------------------------

#[test]
fn single_quotes_preserve_spaces() {
    // Man page: single- and/or double-quotes preserve spaces in an argument.
    assert_eq!(
        words("ssh -o 'ProxyCommand nc %h %p'"),
        ["ssh", "-o", "ProxyCommand nc %h %p"]
    );
}

#[test]
fn double_quotes_preserve_spaces() {
    // Man page example: -e 'ssh -o "ProxyCommand nohup ssh firewall nc -w1 %h %p"'.
    assert_eq!(
        words(r#"ssh -o "ProxyCommand nohup ssh firewall nc -w1 %h %p""#),
        ["ssh", "-o", "ProxyCommand nohup ssh firewall nc -w1 %h %p"]
    );
}

#[test]
fn quoted_spaces_run_is_kept_whole() {
    // Source: inside quotes a space is copied, however many there are.
    assert_eq!(words("a '  b  ' c"), ["a", "  b  ", "c"]);
}

#[test]
fn doubled_single_quote_inside_single_quotes_is_one_quote() {
    // Man page: doubling a single-quote inside a single-quoted string gives a single-quote.
    assert_eq!(words("echo 'it''s'"), ["echo", "it's"]);
    assert_eq!(words("''''"), ["'"]);
}

#[test]
fn doubled_double_quote_inside_double_quotes_is_one_quote() {
    // Man page: "likewise for double-quotes".
    assert_eq!(words(r#""say ""hi""""#), [r#"say "hi""#]);
}

#[test]
fn other_quote_is_literal_inside_quotes() {
    // Source: only the quote that opened the string can close it.
    assert_eq!(words(r#"'say "hi"' "it's""#), [r#"say "hi""#, "it's"]);
}

#[test]
fn quoted_part_joins_adjacent_text() {
    // Source: a quote opens anywhere in a word, and the word goes on after it closes.
    assert_eq!(words("a'b c'd"), ["ab cd"]);
    assert_eq!(words("-o'User=a b'"), ["-oUser=a b"]);
}

#[test]
fn adjacent_same_quoted_strings_give_a_literal_quote() {
    // Source: `'a''b'` is one string with a doubled quote, not two strings as in a shell.
    assert_eq!(words("'a''b'"), ["a'b"]);
    assert_eq!(words(r#""a""b""#), [r#"a"b"#]);
}

#[test]
fn different_quoted_strings_concatenate() {
    // Source: a closing ' followed by " closes the string, then " opens a new one.
    assert_eq!(words(r#"'a'"b""#), ["ab"]);
    assert_eq!(words(r#""a"'b'"#), ["ab"]);
}

#[test]
fn empty_quoted_argument_is_kept() {
    // Source: the word is recorded before its contents are read, so '' yields an empty word.
    assert_eq!(words("ssh '' x"), ["ssh", "", "x"]);
    assert_eq!(words(r#"ssh "" x"#), ["ssh", "", "x"]);
    assert_eq!(words("''"), [""]);
}

#[test]
fn empty_quotes_inside_a_word_add_nothing() {
    // Source: the quotes are dropped and nothing is copied.
    assert_eq!(words("a''b"), ["ab"]);
}

// ---- split: backslashes -------------------------------------------------------------------

#[test]
fn backslash_is_literal_outside_quotes() {
    // Man page: quotes (but not backslashes) preserve spaces. Source: no backslash handling.
    assert_eq!(words(r"a\ b"), [r"a\", "b"]);
    assert_eq!(words(r"C:\dir\ssh.exe"), [r"C:\dir\ssh.exe"]);
}

#[test]
fn backslash_is_literal_inside_single_quotes() {
    // Source: no backslash handling; the quote after the backslash closes the string.
    assert_eq!(words(r"'a\' b"), [r"a\", "b"]);
}

#[test]
fn backslash_does_not_escape_a_double_quote() {
    // Source: as above, inside double quotes too.
    assert_eq!(words(r#""a\" b"#), [r"a\", "b"]);
    assert_eq!(words(r#""a\\b""#), [r"a\\b"]);
}

// ---- split: errors ------------------------------------------------------------------------

#[test]
fn unterminated_single_quote_is_an_error_naming_quote_and_offset() {
    // Source: "Missing trailing-%c in remote-shell command."
    let e = split("ssh -o 'foo bar").unwrap_err();
    assert_eq!(e.kind(), RshErrorKind::UnterminatedQuote('\''));
    assert_eq!(e.offset(), Some(7));
    let msg = e.to_string();
    assert!(
        msg.starts_with("missing trailing ' in remote-shell command"),
        "{msg}"
    );
    assert!(msg.contains("byte 7"), "{msg}");
}

#[test]
fn unterminated_double_quote_is_an_error() {
    // Source: as above, for ".
    let e = split(r#"ssh "x"#).unwrap_err();
    assert_eq!(e.kind(), RshErrorKind::UnterminatedQuote('"'));
    assert_eq!(e.offset(), Some(4));
    assert!(e.to_string().contains("missing trailing \""), "{e}");
}

#[test]
fn doubled_quote_at_the_end_leaves_the_string_open() {
    // Source: `'it''` has a literal quote and no closing one.
    let e = split("x 'it''").unwrap_err();
    assert_eq!(e.kind(), RshErrorKind::UnterminatedQuote('\''));
    assert_eq!(e.offset(), Some(2));
}

#[test]
fn empty_command_is_an_error() {
    // Ours: rsync would run the host name as the program.
    for command in ["", " ", "    "] {
        let e = split(command).unwrap_err();
        assert_eq!(e.kind(), RshErrorKind::EmptyCommand, "{command:?}");
        assert!(e.to_string().contains("empty"), "{e}");
    }
}

#[test]
fn nul_byte_is_an_error() {
    // Ours: rsync's C string would silently end at the NUL.
    let e = split("ssh\0 -v").unwrap_err();
    assert_eq!((e.kind(), e.offset()), (RshErrorKind::Nul, Some(3)));
}

#[test]
fn non_utf8_bytes_pass_through() {
    assert_eq!(
        split_bytes(b"ssh -i 'k\xffy z'").unwrap(),
        [b"ssh".to_vec(), b"-i".to_vec(), b"k\xffy z".to_vec()]
    );
}

#[test]
fn utf8_words_are_kept_whole() {
    assert_eq!(words("ssh 'ü ß' é"), ["ssh", "ü ß", "é"]);
}

#[test]
fn quote_and_join_round_trip() {
    let argv = ["ssh", "", "it's", r#"say "hi""#, "a  b", r"c\d", "\t"];
    assert_eq!(words(&join(argv)), argv);
    assert_eq!(quote(""), "''");
}

#[test]
fn error_converts_to_invalid_input() {
    let e = split("'").unwrap_err();
    let msg = e.to_string();
    let io: io::Error = e.into();
    assert_eq!(io.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(io.to_string(), msg);
}

// ---- properties -----------------------------------------------------------------------------

/// Single-quotes a word the way the module docs describe, independently of `quote`.
fn single_quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', "''"))
}

proptest! {
    #[test]
    fn single_quoted_words_round_trip(
        ws in prop::collection::vec("[^\\x00]*", 1..6),
        gaps in prop::collection::vec(1usize..4, 6),
    ) {
        let mut command = String::new();
        for (w, gap) in ws.iter().zip(&gaps) {
            command.push_str(&" ".repeat(*gap));
            command.push_str(&single_quoted(w));
        }
        prop_assert_eq!(split(&command).unwrap(), ws.clone());
        prop_assert_eq!(split(&join(&ws)).unwrap(), ws);
    }

    #[test]
    fn quote_heavy_words_round_trip(ws in prop::collection::vec("['\" \\\\a\t]{0,8}", 1..5)) {
        let command: Vec<String> = ws.iter().map(|w| single_quoted(w)).collect();
        prop_assert_eq!(split(&command.join(" ")).unwrap(), ws);
    }

    #[test]
    fn split_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(ws) = split_bytes(&bytes) {
            prop_assert!(!ws.is_empty());
            prop_assert!(ws.iter().all(|w| !w.contains(&0)));
        }
    }
}
