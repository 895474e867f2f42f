//! The child transport over a real ssh to a real sshd on 127.0.0.1.

use std::time::{Duration, Instant};

use procwire::child::{Command, Topology};
use procwire::rsh::Ssh;
use procwire::stderr::Settings;

use crate::exec;
use crate::support::sshd::Sshd;
use crate::support::{SharedSink, read_stream, write_stream};

/// `ssh ... 127.0.0.1 REMOTE...` through the argv builder: port and user by the builder, the
/// rest as options.
fn ssh(sshd: &Sshd, remote: &[&str]) -> Command {
    let mut b = Ssh::new("127.0.0.1").port(sshd.port).user(&sshd.user);
    let opts = sshd.client_options();
    // client_options carries -p and -l too; leave them to the builder's port() and user()
    // so the test goes through its settings (matching duplicates would also be accepted).
    let mut words = opts.into_iter();
    while let Some(w) = words.next() {
        if w == "-p" || w == "-l" {
            words.next();
            continue;
        }
        b = b.option(w);
    }
    b.remote_command(remote.iter().copied()).command().unwrap()
}

const TOTAL: usize = 32 << 20;

#[test]
fn ssh_cat_echoes_32_mib_on_each_topology_and_warns_once() {
    let sshd = Sshd::start();
    for topology in Topology::ALL {
        let sink = SharedSink::default();
        let child = ssh(&sshd, &["cat"])
            .topology(topology)
            .stderr(Settings::new().sink(sink.clone()))
            .connect_timeout(Duration::from_secs(20))
            .spawn()
            .unwrap();
        let (mut reader, mut writer, handle) = child.split();
        let feeder = std::thread::spawn(move || {
            write_stream(&mut writer, 11, TOTAL, 65_536);
            writer.close().unwrap();
        });
        let got = read_stream(&mut reader, 11, topology.name());
        feeder.join().unwrap();
        assert_eq!(got, TOTAL, "{topology}");
        let exit = handle.wait().unwrap();
        assert!(
            exit.success(),
            "{topology}: ssh {exit}: {:?}",
            String::from_utf8_lossy(exit.stderr_tail())
        );
        // A fresh known-hosts file each time: ssh says once that it added the key, and that
        // line reaches the sink exactly once (never again from the tail).
        let forwarded = String::from_utf8(sink.bytes()).unwrap();
        assert_eq!(
            forwarded.matches("Permanently added").count(),
            1,
            "{topology}: {forwarded:?}"
        );
        assert_eq!(exit.stderr_tail(), forwarded.as_bytes(), "{topology}");
    }
}

/// With `-v`, OpenSSH's persisting master keeps the stderr it inherited (without it, 9.x points
/// the master's stdio at /dev/null): a wrapper that waits for stderr's EOF then hangs for the
/// whole ControlPersist time. `procwire exec` must end when the remote command does.
#[test]
fn a_persisting_control_master_does_not_hold_up_exec() {
    let sshd = Sshd::start();
    let control = sshd.dir().join("cm-%C");
    let control = control.to_str().unwrap();
    let client = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = sshd
            .client_options()
            .into_iter()
            .map(|w| w.into_string().unwrap())
            .collect();
        v.extend(
            ["-o", "ControlMaster=auto", "-o", "ControlPersist=60", "-o"]
                .iter()
                .map(|s| s.to_string()),
        );
        v.push(format!("ControlPath={control}"));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let mut args: Vec<String> = vec!["--stderr".into(), "quiet".into(), "--".into(), "ssh".into()];
    args.extend(client(&["-v", "127.0.0.1", "echo", "remote-done"]));
    let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let start = Instant::now();
    let out = exec(&argv);
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"remote-done\n");
    // Waiting for the master's stderr would take the 60 s ControlPersist: half of it tells
    // the two apart on a loaded machine.
    assert!(took < Duration::from_secs(30), "exec took {took:?}");
    // The master is still running, and its fd 2 is the side channel we gave ssh, not
    // /dev/null: the case this test is about really happened.
    let check = std::process::Command::new("ssh")
        .args(client(&["-O", "check", "127.0.0.1"]))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "the master persists: {said}");
    let pid: u32 = said
        .split("pid=")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {said:?}"));
    let fd2 = std::fs::read_link(format!("/proc/{pid}/fd/2")).unwrap();
    let _ = std::process::Command::new("ssh")
        .args(client(&["-O", "exit", "127.0.0.1"]))
        .output();
    assert!(
        fd2.to_string_lossy().starts_with("socket:"),
        "the master's stderr is {fd2:?}"
    );
}
