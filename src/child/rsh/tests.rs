//! Each `split` test is named after the rule it checks; the comment says whether the expected
//! result comes from rsync's man page (`--rsh`) or from its source (`main.c`, `do_cmd()`).

use std::ffi::OsString;
use std::io;

use proptest::prelude::*;

use super::*;

fn words(command: &str) -> Vec<String> {
    match split(command) {
        Ok(w) => w,
        Err(e) => panic!("split({command:?}) failed: {e}"),
    }
}

fn argv(ssh: Ssh) -> Vec<String> {
    match ssh.argv() {
        Ok(a) => a
            .into_iter()
            .map(|w| w.into_string().expect("test argv is UTF-8"))
            .collect(),
        Err(e) => panic!("argv() failed: {e}"),
    }
}

fn refused(ssh: Ssh) -> RshError {
    match ssh.argv() {
        Ok(a) => panic!("argv() should have failed, gave {a:?}"),
        Err(e) => e,
    }
}

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

// ---- Ssh::argv ----------------------------------------------------------------------------

#[test]
fn default_program_is_ssh_with_double_dash() {
    assert_eq!(argv(Ssh::new("example.org")), ["ssh", "--", "example.org"]);
}

#[test]
fn program_is_split_by_rsync_rules() {
    let ssh = Ssh::new("h")
        .program("ssh -o 'ProxyCommand nc %h %p'")
        .unwrap();
    assert_eq!(argv(ssh), ["ssh", "-o", "ProxyCommand nc %h %p", "--", "h"]);
}

#[test]
fn program_errors_pass_through() {
    let e = Ssh::new("h").program("ssh -o 'x").unwrap_err();
    assert_eq!(e.kind(), RshErrorKind::UnterminatedQuote('\''));
    assert_eq!(
        Ssh::new("h").program("  ").unwrap_err().kind(),
        RshErrorKind::EmptyCommand
    );
    assert_eq!(
        Ssh::new("h").program("'' -v").unwrap_err().kind(),
        RshErrorKind::EmptyProgram
    );
}

#[test]
fn argv_order_is_program_options_user_port_dashdash_host_command() {
    let ssh = Ssh::new("example.org")
        .program("ssh -o BatchMode=yes")
        .unwrap()
        .option("-oStrictHostKeyChecking=no")
        .option("-i")
        .option("key")
        .user("alice")
        .port(2222)
        .remote_command(["rsync", "--server", "-vlogDtpre.iLsfxC", ".", "dir"]);
    assert_eq!(
        argv(ssh),
        [
            "ssh",
            "-o",
            "BatchMode=yes",
            "-oStrictHostKeyChecking=no",
            "-i",
            "key",
            "-l",
            "alice",
            "-p",
            "2222",
            "--",
            "example.org",
            "rsync",
            "--server",
            "-vlogDtpre.iLsfxC",
            ".",
            "dir",
        ]
    );
}

#[test]
fn user_in_host_becomes_dash_l() {
    assert_eq!(
        argv(Ssh::new("bob@example.org")),
        ["ssh", "-l", "bob", "--", "example.org"]
    );
}

#[test]
fn user_splits_at_the_last_at_sign() {
    // rsync 3.x and ssh both use strrchr(host, '@').
    assert_eq!(
        argv(Ssh::new("bob@corp@example.org")),
        ["ssh", "-l", "bob@corp", "--", "example.org"]
    );
}

#[test]
fn same_user_in_host_and_user_is_accepted() {
    assert_eq!(
        argv(Ssh::new("bob@h").user("bob")),
        ["ssh", "-l", "bob", "--", "h"]
    );
}

#[test]
fn different_users_in_host_and_user_are_refused() {
    let e = refused(Ssh::new("bob@h").user("alice"));
    assert_eq!(e.kind(), RshErrorKind::UserConflict);
    assert!(e.to_string().contains("\"bob\"") && e.to_string().contains("\"alice\""));
}

#[test]
fn bracketed_ipv6_is_unbracketed() {
    assert_eq!(argv(Ssh::new("[::1]")), ["ssh", "--", "::1"]);
    assert_eq!(
        argv(Ssh::new("[2001:db8::7]")),
        ["ssh", "--", "2001:db8::7"]
    );
}

#[test]
fn bracketed_ipv6_zone_is_kept() {
    assert_eq!(
        argv(Ssh::new("[fe80::1%eth0]")),
        ["ssh", "--", "fe80::1%eth0"]
    );
    assert_eq!(
        argv(Ssh::new("root@[fe80::1%eth0]").port(22)),
        ["ssh", "-l", "root", "-p", "22", "--", "fe80::1%eth0"]
    );
}

#[test]
fn bare_ipv6_with_zone_passes_unchanged() {
    assert_eq!(
        argv(Ssh::new("fe80::1%eth0")),
        ["ssh", "--", "fe80::1%eth0"]
    );
    assert_eq!(argv(Ssh::new("u@::1")), ["ssh", "-l", "u", "--", "::1"]);
}

#[test]
fn malformed_brackets_are_refused() {
    for (host, at) in [
        ("[fe80::1", 0),
        ("[]", 1),
        ("[example.org]", 1),
        ("[::1]:22", 5),
        ("[::1%]", 4),
        ("u@[::1", 2),
        ("ho[st", 2),
        ("host]", 4),
    ] {
        let e = refused(Ssh::new(host));
        assert_eq!(e.kind(), RshErrorKind::Host, "{host:?}");
        assert_eq!(e.offset(), Some(at), "{host:?}: {e}");
    }
}

#[test]
fn colon_in_a_host_name_is_refused() {
    let e = refused(Ssh::new("example.org:/srv"));
    assert_eq!(e.kind(), RshErrorKind::Host);
    assert!(e.to_string().contains("parse_remote"), "{e}");
    assert_eq!(refused(Ssh::new("fe80::1%")).kind(), RshErrorKind::Host);
}

#[test]
fn host_beginning_with_dash_is_refused() {
    for host in [
        "-oProxyCommand=touch /tmp/x",
        "-oProxyCommand=x",
        "u@-x",
        "[-::1]",
    ] {
        let e = refused(Ssh::new(host));
        assert_eq!(e.kind(), RshErrorKind::Host, "{host:?}");
    }
    assert!(
        refused(Ssh::new("-oProxyCommand=x"))
            .to_string()
            .contains("begins with '-'")
    );
}

#[test]
fn user_beginning_with_dash_is_refused() {
    let e = refused(Ssh::new("-oProxyCommand=x@host"));
    assert_eq!((e.kind(), e.offset()), (RshErrorKind::User, Some(0)));
    let e = refused(Ssh::new("host").user("-oProxyCommand=x"));
    assert_eq!(e.kind(), RshErrorKind::User);
}

#[test]
fn empty_host_or_user_is_refused() {
    assert_eq!(refused(Ssh::new("")).kind(), RshErrorKind::Host);
    assert_eq!(refused(Ssh::new("bob@")).kind(), RshErrorKind::Host);
    assert_eq!(refused(Ssh::new("@host")).kind(), RshErrorKind::User);
    assert_eq!(refused(Ssh::new("h").user("")).kind(), RshErrorKind::User);
}

#[test]
fn whitespace_and_control_characters_are_refused() {
    for (host, at) in [
        ("ex ample", 2),
        ("host\n", 4),
        ("ho\tst", 2),
        ("h\0", 1),
        ("a\u{85}b", 1),
    ] {
        let e = refused(Ssh::new(host));
        assert_eq!(
            (e.kind(), e.offset()),
            (RshErrorKind::Host, Some(at)),
            "{host:?}"
        );
    }
    let e = refused(Ssh::new("h").user("a b"));
    assert_eq!((e.kind(), e.offset()), (RshErrorKind::User, Some(1)));
}

#[test]
fn port_is_dash_p_for_ssh_by_file_name() {
    let ssh = Ssh::new("h").program("/usr/bin/ssh -v").unwrap().port(2222);
    assert_eq!(argv(ssh), ["/usr/bin/ssh", "-v", "-p", "2222", "--", "h"]);
}

#[test]
fn port_is_capital_p_for_plink() {
    let ssh = Ssh::new("h").program("plink -batch").unwrap().port(2222);
    assert_eq!(argv(ssh), ["plink", "-batch", "-P", "2222", "h"]);
}

#[test]
fn port_for_another_program_is_refused() {
    let e = refused(Ssh::new("h").program("rsh").unwrap().port(2222));
    assert_eq!(e.kind(), RshErrorKind::Port);
    assert!(e.to_string().contains("option()"), "{e}");
    // A wrapper named otherwise is not ssh either, as in rsync's `strcmp(t, "ssh")`.
    let e = refused(Ssh::new("h").program("ssh-wrapper").unwrap().port(22));
    assert_eq!(e.kind(), RshErrorKind::Port);
}

#[test]
fn port_zero_is_refused() {
    assert_eq!(refused(Ssh::new("h").port(0)).kind(), RshErrorKind::Port);
}

#[test]
fn non_ssh_program_gets_no_double_dash() {
    let ssh = Ssh::new("u@h")
        .program("rsh")
        .unwrap()
        .remote_command(["rsync", "--server"]);
    assert_eq!(argv(ssh), ["rsh", "-l", "u", "h", "rsync", "--server"]);
}

#[test]
fn dash_first_remote_word_is_protected_for_ssh() {
    let ssh = Ssh::new("h").remote_command(["-oProxyCommand=x"]);
    assert_eq!(argv(ssh), ["ssh", "--", "h", "-oProxyCommand=x"]);
}

#[test]
fn dash_first_remote_word_is_refused_without_double_dash() {
    let ssh = Ssh::new("h")
        .program("rsh")
        .unwrap()
        .remote_command(["-l", "root"]);
    assert_eq!(refused(ssh).kind(), RshErrorKind::RemoteCommand);
}

#[test]
fn nul_in_option_or_remote_word_is_refused() {
    let e = refused(Ssh::new("h").option("-i").option("k\0ey"));
    assert_eq!((e.kind(), e.offset()), (RshErrorKind::Nul, Some(1)));
    let e = refused(Ssh::new("h").remote_command(["ls", "a\0"]));
    assert_eq!(e.kind(), RshErrorKind::Nul);
}

#[test]
fn non_utf8_options_and_program_pass_through() {
    use std::os::unix::ffi::OsStringExt;
    let ssh = Ssh::new("h")
        .program_bytes(b"/opt/\xff/ssh")
        .unwrap()
        .option(OsString::from_vec(b"-F\xfe".to_vec()))
        .remote_command([OsString::from_vec(b"cat \xfd".to_vec())]);
    let got = ssh.argv().unwrap();
    let want: Vec<OsString> = [&b"/opt/\xff/ssh"[..], b"-F\xfe", b"--", b"h", b"cat \xfd"]
        .iter()
        .map(|b| OsString::from_vec(b.to_vec()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn command_carries_the_argv() {
    let cmd = Ssh::new("u@h").port(22).command().unwrap();
    assert_eq!(cmd.get_program(), "ssh");
    let args: Vec<_> = cmd.get_args().collect();
    assert_eq!(args, ["-l", "u", "-p", "22", "--", "h"]);
    assert!(Ssh::new("-x").command().is_err());
}

// ---- parse_remote ---------------------------------------------------------------------------

fn remote(spec: &str) -> (Option<String>, String, String) {
    match parse_remote(spec) {
        Ok(r) => (r.user, r.host, r.path),
        Err(e) => panic!("parse_remote({spec:?}) failed: {e}"),
    }
}

#[test]
fn remote_spec_forms() {
    let s = |x: &str| x.to_string();
    assert_eq!(remote("host:path"), (None, s("host"), s("path")));
    assert_eq!(remote("u@host:/a/b"), (Some(s("u")), s("host"), s("/a/b")));
    assert_eq!(remote("host:"), (None, s("host"), s("")));
    assert_eq!(remote("host:a:b"), (None, s("host"), s("a:b")));
    assert_eq!(remote("[::1]:/x"), (None, s("::1"), s("/x")));
    assert_eq!(
        remote("u@[fe80::1%eth0]:x y"),
        (Some(s("u")), s("fe80::1%eth0"), s("x y"))
    );
}

#[test]
fn remote_spec_refusals() {
    for (spec, kind) in [
        ("/local/a:b", RshErrorKind::Spec),
        ("dir/a:b", RshErrorKind::Spec),
        ("host", RshErrorKind::Spec),
        ("[::1]", RshErrorKind::Spec),
        ("[::1/x]:p", RshErrorKind::Spec),
        ("host::module", RshErrorKind::Spec),
        (":path", RshErrorKind::Host),
        ("-oProxyCommand=x:p", RshErrorKind::Host),
        ("-x@h:p", RshErrorKind::User),
        ("[nope]:p", RshErrorKind::Host),
    ] {
        match parse_remote(spec) {
            Ok(r) => panic!("parse_remote({spec:?}) should fail, gave {r:?}"),
            Err(e) => assert_eq!(e.kind(), kind, "{spec:?}: {e}"),
        }
    }
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
