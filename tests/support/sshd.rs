//! A real OpenSSH server on 127.0.0.1 for the tests: its own host key, an authorized key
//! generated for the run, a free port, and killed when dropped.
//!
//! Needs `/usr/sbin/sshd`, `ssh` and `ssh-keygen` (`.ci/run` installs openssh-server and
//! openssh-client). Runs as whatever user the tests run as (root in CI; then `/run/sshd`, the
//! privilege-separation directory, is created if missing).

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sshd {
    dir: PathBuf,
    pub port: u16,
    pub user: String,
    server: Child,
}

const SSHD: &str = "/usr/sbin/sshd";

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "procwire-test", "-f"])
        .arg(path));
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sshd {
    /// Starts a server and waits until it accepts connections (at most 10 s).
    pub fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server (.ci/run does)"
        );
        let dir = std::env::temp_dir().join(format!(
            "procwire-sshd-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        keygen(&dir.join("host_key"));
        keygen(&dir.join("id"));
        std::fs::copy(dir.join("id.pub"), dir.join("authorized_keys")).unwrap();
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        if rustix::process::geteuid().is_root() {
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        // Port races with other processes are retried with a new port.
        for _attempt in 0..5 {
            let port = free_port();
            let config = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\n\
                 AuthorizedKeysFile {dir}/authorized_keys\nPidFile {dir}/sshd.pid\n\
                 UsePAM no\nStrictModes no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\nAllowUsers {user}\nLogLevel ERROR\n\
                 MaxStartups 100\nMaxSessions 100\nSubsystem sftp internal-sftp\n",
                dir = dir.display()
            );
            std::fs::write(dir.join("sshd_config"), config).unwrap();
            let mut server = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(dir.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start sshd");
            let deadline = Instant::now() + Duration::from_secs(10);
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            loop {
                if let Ok(Some(_)) = server.try_wait() {
                    break; // exited: most likely the port was taken meanwhile
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Sshd {
                        dir,
                        port,
                        user,
                        server,
                    };
                }
                assert!(
                    Instant::now() < deadline,
                    "sshd did not listen on {addr} within 10 s"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("sshd could not start on a free port in 5 attempts");
    }

    /// The directory with the keys and config; tests may put their files here.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The ssh client options that reach this server non-interactively, with a fresh
    /// known-hosts file (so ssh warns once that it added the host key).
    pub fn client_options(&self) -> Vec<OsString> {
        let d = self.dir.display();
        [
            "-F".to_string(),
            "/dev/null".to_string(),
            "-i".to_string(),
            format!("{d}/id"),
            "-p".to_string(),
            self.port.to_string(),
            "-l".to_string(),
            self.user.clone(),
            "-o".to_string(),
            "BatchMode=yes".to_string(),
            "-o".to_string(),
            "StrictHostKeyChecking=no".to_string(),
            "-o".to_string(),
            format!("UserKnownHostsFile={d}/known_hosts-{}", fastrand::u64(..)),
            "-o".to_string(),
            "IdentitiesOnly=yes".to_string(),
        ]
        .into_iter()
        .map(OsString::from)
        .collect()
    }

    /// `ssh` with [`client_options`](Self::client_options), as one `-e` string for rsync (the
    /// paths have no spaces or quotes).
    pub fn rsh(&self) -> String {
        let mut words = vec!["ssh".to_string()];
        words.extend(
            self.client_options()
                .into_iter()
                .map(|w| w.into_string().unwrap()),
        );
        words.join(" ")
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
