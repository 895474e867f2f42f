//! Issue 11 #11: a setting given both in the program's words (or the options) and by the
//! builder is accepted only when the two agree, and what the builder accepts is what a real
//! `ssh -G` resolves. `ssh -G` prints the configuration ssh would use without connecting; `-F
//! /dev/null` keeps this machine's ssh_config out of it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::Stdio;

use super::*;

/// Runs `ssh ARGS` (ARGS must contain `-G`) and returns the first value of each key it prints.
fn ssh_g<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> BTreeMap<String, String> {
    let out = std::process::Command::new("ssh")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh -G (openssh-client, installed by .ci/run)");
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_owned()).collect();
    assert!(
        out.status.success(),
        "ssh {shown:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut map = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((k, v)) = line.split_once(' ') {
            map.entry(k.to_string()).or_insert_with(|| v.to_string());
        }
    }
    map
}

/// What `ssh -G` resolves for the builder's argv, with `-G -F /dev/null` added as options.
fn resolved(ssh: &Ssh) -> BTreeMap<String, String> {
    let argv = ssh
        .clone()
        .option("-G")
        .option("-F")
        .option("/dev/null")
        .argv()
        .unwrap_or_else(|e| panic!("{ssh:?}: argv() failed: {e}"));
    assert_eq!(argv[0], "ssh");
    ssh_g(&argv[1..])
}

#[test]
fn what_the_builder_accepts_resolves_in_ssh_g_to_the_values_it_was_given() {
    let remote = parse_remote("carol@[::1]:/srv").unwrap();
    // (builder, expected port, user, hostname; None = not given, not checked)
    let cases: Vec<(Ssh, Option<&str>, Option<&str>, &str)> = vec![
        (Ssh::new("h").port(2222), Some("2222"), None, "h"),
        (Ssh::new("alice@h"), None, Some("alice"), "h"),
        (
            Ssh::new("h").user("alice").port(22),
            Some("22"),
            Some("alice"),
            "h",
        ),
        (
            Ssh::new("h").program("ssh -p 2222").port(2222),
            Some("2222"),
            None,
            "h",
        ),
        (
            Ssh::new("h").program("ssh -oPort=2222"),
            Some("2222"),
            None,
            "h",
        ),
        (
            Ssh::new("h").program(r#"ssh -o "Port 2222""#).port(2222),
            Some("2222"),
            None,
            "h",
        ),
        (
            Ssh::new("h").program("ssh -vp2222").port(2222),
            Some("2222"),
            None,
            "h",
        ),
        (
            Ssh::new("h").program("ssh -p 022").port(22),
            Some("22"),
            None,
            "h",
        ),
        (
            Ssh::new("h").option("-p").option("2222").port(2222),
            Some("2222"),
            None,
            "h",
        ),
        (
            Ssh::new("alice@h").program("ssh -l alice"),
            None,
            Some("alice"),
            "h",
        ),
        (
            Ssh::new("h").program("ssh -o 'User=alice'").user("alice"),
            None,
            Some("alice"),
            "h",
        ),
        (
            Ssh::new("h")
                .program("ssh -4 -C -o BatchMode=yes -i /nonexistent/key")
                .user("alice")
                .port(2201),
            Some("2201"),
            Some("alice"),
            "h",
        ),
        (Ssh::new("h").program("ssh -o HostName=%h"), None, None, "h"),
        (Ssh::new("[::1]").port(2200), Some("2200"), None, "::1"),
        (
            Ssh::new("bob@[fe80::1%eth0]"),
            None,
            Some("bob"),
            "fe80::1%eth0",
        ),
        (
            Ssh::from_remote(&remote).port(2022),
            Some("2022"),
            Some("carol"),
            "::1",
        ),
        (
            Ssh::new("h").remote_command(["rsync", "--server", "."]),
            None,
            None,
            "h",
        ),
    ];
    for (ssh, port, user, hostname) in cases {
        let got = resolved(&ssh);
        let get = |k: &str| got.get(k).map(String::as_str);
        if let Some(port) = port {
            assert_eq!(get("port"), Some(port), "{ssh:?}");
        }
        if let Some(user) = user {
            assert_eq!(get("user"), Some(user), "{ssh:?}");
        }
        assert_eq!(get("hostname"), Some(hostname), "{ssh:?}");
    }
}

/// A refused case: the builder, the error kind, the builder's value and the other value as the
/// message must name them, and (where ssh would run it) the argv the old code built with the
/// key `ssh -G` resolved to the *other* value, silently dropping the builder's.
struct Refused {
    ssh: Ssh,
    kind: RshErrorKind,
    ours: &'static str,
    theirs: &'static str,
    naive: Option<(&'static [&'static str], &'static str)>,
}

fn refused_cases() -> Vec<Refused> {
    use RshErrorKind::*;
    let case = |ssh, kind, ours, theirs, naive| Refused {
        ssh,
        kind,
        ours,
        theirs,
        naive,
    };
    vec![
        // The issue's reproducer.
        case(
            Ssh::new("h").program("ssh -p 2222").port(22),
            PortConflict,
            "asks for 22,",
            "\"2222\"",
            Some((&["-p", "2222", "-p", "22", "--", "h"], "port")),
        ),
        case(
            Ssh::new("h").program("ssh -oPort=2222").port(22),
            PortConflict,
            "asks for 22,",
            "\"2222\"",
            Some((&["-oPort=2222", "-p", "22", "--", "h"], "port")),
        ),
        case(
            Ssh::new("h").program("ssh -o 'port = 2222'").port(22),
            PortConflict,
            "asks for 22,",
            "\"2222\"",
            Some((&["-o", "port = 2222", "-p", "22", "--", "h"], "port")),
        ),
        case(
            Ssh::new("h").program("ssh -vp2222").port(22),
            PortConflict,
            "asks for 22,",
            "\"2222\"",
            Some((&["-vp2222", "-p", "22", "--", "h"], "port")),
        ),
        case(
            Ssh::new("h").option("-p").option("2222").port(22),
            PortConflict,
            "asks for 22,",
            "\"2222\"",
            Some((&["-p", "2222", "-p", "22", "--", "h"], "port")),
        ),
        case(
            Ssh::new("h").program("ssh -l alice").user("bob"),
            UserConflict,
            "user() names user \"bob\"",
            "\"alice\"",
            Some((&["-l", "alice", "-l", "bob", "--", "h"], "user")),
        ),
        case(
            Ssh::new("bob@h").program("ssh -l alice"),
            UserConflict,
            "the host names user \"bob\"",
            "\"alice\"",
            Some((&["-l", "alice", "-l", "bob", "--", "h"], "user")),
        ),
        case(
            Ssh::new("h").program("ssh -oUser=alice").user("bob"),
            UserConflict,
            "\"bob\"",
            "\"alice\"",
            Some((&["-oUser=alice", "-l", "bob", "--", "h"], "user")),
        ),
        case(
            Ssh::new("h").program("ssh -o HostName=other"),
            HostConflict,
            "\"h\"",
            "\"other\"",
            Some((&["-o", "HostName=other", "--", "h"], "hostname")),
        ),
        case(
            Ssh::new("h").program("ssh other"),
            HostConflict,
            "",
            "\"other\"",
            Some((&["other", "--", "h"], "hostname")),
        ),
        case(
            Ssh::new("h").program("ssh --").user("bob"),
            HostConflict,
            "",
            "\"--\"",
            None,
        ),
        case(
            Ssh::new("h").program("ssh -o").user("bob"),
            MissingValue,
            "",
            "\"-o\"",
            None,
        ),
        case(
            Ssh::new("h").option("-vi").port(22),
            MissingValue,
            "",
            "\"-vi\"",
            None,
        ),
        case(
            Ssh::new("h")
                .program("ssh -oRemoteCommand=ls")
                .remote_command(["id"]),
            CommandConflict,
            "\"id\"",
            "\"ls\"",
            None,
        ),
        // Programs other than ssh: whole -l and (plink) -P words.
        case(
            Ssh::new("h").program("plink -P 2222").port(22),
            PortConflict,
            "asks for 22,",
            "\"2222\"",
            None,
        ),
        case(
            Ssh::new("bob@h").program("rsh -l alice"),
            UserConflict,
            "\"bob\"",
            "\"alice\"",
            None,
        ),
        case(
            Ssh::new("h").program("rsh -l").user("bob"),
            MissingValue,
            "",
            "\"-l\"",
            None,
        ),
    ]
}

#[test]
fn conflicting_settings_are_refused_naming_both_values() {
    for Refused {
        ssh,
        kind,
        ours,
        theirs,
        naive: _,
    } in refused_cases()
    {
        let e = refused(ssh.clone());
        assert_eq!(e.kind(), kind, "{ssh:?}: {e}");
        let msg = e.to_string();
        assert!(msg.contains(ours) && msg.contains(theirs), "{ssh:?}: {msg}");
        // command() refuses the same way, carrying the RshError inside the io::Error.
        let Err(io) = ssh.command() else {
            panic!("{ssh:?}: command() must refuse too");
        };
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
        let inner = RshError::of(&io);
        assert_eq!(inner, Some(&e));
    }
}

#[test]
fn what_the_conflicts_would_have_done_in_ssh_g() {
    // The premise of the refusals: ssh keeps the first value it reads, so the argv the builder
    // used to build resolves to the program's value and the builder's is silently lost.
    for case in refused_cases() {
        let Some((naive, key)) = case.naive else {
            continue;
        };
        let mut args = vec!["-G", "-F", "/dev/null"];
        args.extend(naive);
        let got = ssh_g(&args);
        let theirs = case.theirs.trim_matches('"');
        assert_eq!(got.get(key).map(String::as_str), Some(theirs), "{args:?}");
    }
}

#[test]
fn flags_and_valued_options_without_conflict_pass_through() {
    // Values are skipped as values, not read as hosts: `-i -p` is a key file named "-p".
    let argv = Ssh::new("h")
        .program("ssh -i -p -F x -vvv -oBatchMode=yes")
        .port(22)
        .argv()
        .unwrap();
    let argv: Vec<OsString> = argv;
    assert_eq!(
        argv,
        [
            "ssh",
            "-i",
            "-p",
            "-F",
            "x",
            "-vvv",
            "-oBatchMode=yes",
            "-p",
            "22",
            "--",
            "h"
        ]
    );
    // plink and other programs: only whole -l / -P words are read.
    assert!(Ssh::new("h").program("plink -P 22").port(22).argv().is_ok());
    assert!(Ssh::new("u@h").program("rsh -l u").argv().is_ok());
}
