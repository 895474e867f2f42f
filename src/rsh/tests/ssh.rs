//! [`Ssh::argv`]: order, host forms, refusals, ports, `--`, and [`Ssh::command`].

use std::ffi::OsString;

use super::*;

// ---- Ssh::argv ----------------------------------------------------------------------------

#[test]
fn default_program_is_ssh_with_double_dash() {
    assert_eq!(argv(Ssh::new("example.org")), ["ssh", "--", "example.org"]);
}

#[test]
fn program_is_split_by_rsync_rules() {
    let ssh = Ssh::new("h").program("ssh -o 'ProxyCommand nc %h %p'");
    assert_eq!(argv(ssh), ["ssh", "-o", "ProxyCommand nc %h %p", "--", "h"]);
}

#[test]
fn program_errors_pass_through() {
    let e = Ssh::new("h").program("ssh -o 'x").argv().unwrap_err();
    assert_eq!(e.kind(), RshErrorKind::UnterminatedQuote('\''));
    assert_eq!(
        Ssh::new("h").program("  ").argv().unwrap_err().kind(),
        RshErrorKind::EmptyCommand
    );
    assert_eq!(
        Ssh::new("h").program("'' -v").argv().unwrap_err().kind(),
        RshErrorKind::EmptyProgram
    );
}

#[test]
fn argv_order_is_program_options_user_port_dashdash_host_command() {
    let ssh = Ssh::new("example.org")
        .program("ssh -o BatchMode=yes")
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
    let ssh = Ssh::new("h").program("/usr/bin/ssh -v").port(2222);
    assert_eq!(argv(ssh), ["/usr/bin/ssh", "-v", "-p", "2222", "--", "h"]);
}

#[test]
fn port_is_capital_p_for_plink() {
    let ssh = Ssh::new("h").program("plink -batch").port(2222);
    assert_eq!(argv(ssh), ["plink", "-batch", "-P", "2222", "h"]);
}

#[test]
fn port_for_another_program_is_refused() {
    let e = refused(Ssh::new("h").program("rsh").port(2222));
    assert_eq!(e.kind(), RshErrorKind::Port);
    assert!(e.to_string().contains("option()"), "{e}");
    // A wrapper named otherwise is not ssh either, as in rsync's `strcmp(t, "ssh")`.
    let e = refused(Ssh::new("h").program("ssh-wrapper").port(22));
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
    let ssh = Ssh::new("h").program("rsh").remote_command(["-l", "root"]);
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

#[test]
fn program_is_checked_by_argv_so_setters_chain() {
    // The setters record; a later program() replaces an earlier one before anything is split.
    let ssh = Ssh::new("h")
        .program("ssh -o 'x")
        .port(22)
        .program("ssh -v");
    assert_eq!(argv(ssh), ["ssh", "-v", "-p", "22", "--", "h"]);
    let Err(e) = Ssh::new("h").program("ssh 'x").command() else {
        panic!("command() must refuse an unterminated quote");
    };
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let inner = RshError::of(&e);
    assert_eq!(
        inner.map(RshError::kind),
        Some(RshErrorKind::UnterminatedQuote('\''))
    );
}

// ---- Ssh::from_remote -----------------------------------------------------------------------

#[test]
fn from_remote_takes_user_and_host() {
    let r = parse_remote("bob@example.org:/srv/x").unwrap();
    assert_eq!(
        argv(Ssh::from_remote(&r)),
        ["ssh", "-l", "bob", "--", "example.org"]
    );
    let r = parse_remote("root@[fe80::1%eth0]:").unwrap();
    assert_eq!(
        argv(Ssh::from_remote(&r).port(2222)),
        ["ssh", "-l", "root", "-p", "2222", "--", "fe80::1%eth0"]
    );
    let r = parse_remote("bob@corp@h:p").unwrap();
    assert_eq!(
        argv(Ssh::from_remote(&r)),
        ["ssh", "-l", "bob@corp", "--", "h"]
    );
}

#[test]
fn from_remote_without_user_takes_user_from_the_builder() {
    let r = parse_remote("[::1]:x").unwrap();
    assert_eq!(
        argv(Ssh::from_remote(&r).user("alice")),
        ["ssh", "-l", "alice", "--", "::1"]
    );
}

#[test]
fn from_remote_is_checked_like_new() {
    // Remote's fields are public: a hand-made one is checked by argv() as usual.
    let r = Remote {
        user: Some("alice".into()),
        host: "bob@h".into(),
        path: String::new(),
    };
    assert_eq!(
        refused(Ssh::from_remote(&r)).kind(),
        RshErrorKind::UserConflict
    );
    let r = Remote {
        user: None,
        host: "-oProxyCommand=x".into(),
        path: String::new(),
    };
    assert_eq!(refused(Ssh::from_remote(&r)).kind(), RshErrorKind::Host);
}
