//! Host specs: rsync's `[user@]host:path` ([`parse_remote`]) and the host and user checks
//! every [`Ssh`](super::Ssh) argv goes through.

use std::net::Ipv6Addr;

#[cfg(doc)]
use super::Ssh;
use super::error::{RshError, RshErrorKind};

/// A user, host and path from an rsync remote-shell spec (see [`parse_remote`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Remote {
    /// The user before `@`, if any.
    pub user: Option<String>,
    /// The host, with IPv6 brackets removed (a `%zone` is kept).
    pub host: String,
    /// Everything after the `:` that ends the host; may be empty (the remote home directory).
    pub path: String,
}

/// Parses an rsync remote-shell spec: `[user@]host:path` or `[user@][v6addr]:path`.
///
/// The host ends at the first `:` outside brackets, as in rsync's `parse_hostspec()`; a `/`
/// before that `:` makes the argument a local path, as in rsync. An IPv6 address must be
/// bracketed here (a bare one would end at its first `:`). Host and user are checked with the
/// same rules as [`Ssh::argv`], so a spec that parses is safe to hand to [`Ssh`].
///
/// ```
/// use procwire::rsh::parse_remote;
///
/// let r = parse_remote("root@[fe80::1%eth0]:/srv/data")?;
/// assert_eq!((r.user.as_deref(), &*r.host, &*r.path), (Some("root"), "fe80::1%eth0", "/srv/data"));
/// # Ok::<(), procwire::rsh::RshError>(())
/// ```
///
/// # Errors
///
/// [`RshErrorKind::Spec`] when there is no `:` after the host, when a `/` comes first (a local
/// path), or for rsync-daemon syntax (`host::module`); [`RshErrorKind::Host`] and
/// [`RshErrorKind::User`] as for [`Ssh::argv`].
pub fn parse_remote(spec: &str) -> Result<Remote, RshError> {
    let bytes = spec.as_bytes();
    let mut i = 0;
    let colon = loop {
        match bytes.get(i) {
            None => {
                return Err(RshError::new(
                    RshErrorKind::Spec,
                    None,
                    format!(
                        "{spec:?} has no ':' after the host: a remote-shell spec is \
                         [user@]host:path (use host: for the remote home directory)"
                    ),
                ));
            }
            Some(b':') => break i,
            Some(b'/') => {
                return Err(RshError::new(
                    RshErrorKind::Spec,
                    Some(i),
                    format!(
                        "{spec:?} has a '/' at byte {i} before any ':', so rsync reads it as a \
                         local path; write [user@]host:path for a remote one"
                    ),
                ));
            }
            // Skip an address in brackets: its ':'s do not end the host.
            Some(b'[') => match bytes[i..].iter().position(|&b| b == b']' || b == b'/') {
                Some(n) if bytes[i + n] == b']' => i += n + 1,
                _ => {
                    return Err(RshError::new(
                        RshErrorKind::Spec,
                        Some(i),
                        format!(
                            "the '[' at byte {i} of {spec:?} is not closed by ']' before the \
                             path: write [v6addr]:path"
                        ),
                    ));
                }
            },
            Some(_) => i += 1,
        }
    };
    let (user, host) = parse_host(&spec[..colon])?;
    let path = &spec[colon + 1..];
    if path.starts_with(':') {
        return Err(RshError::new(
            RshErrorKind::Spec,
            Some(colon),
            format!(
                "{spec:?} uses '::' at byte {colon}, rsync's syntax for a daemon module, not a \
                 remote shell; write host:path"
            ),
        ));
    }
    Ok(Remote {
        user,
        host,
        path: path.to_string(),
    })
}

/// Splits `s` into an optional user and the host without brackets, refusing what ssh would
/// misread. Offsets in errors are into `s`.
pub(super) fn parse_host(s: &str) -> Result<(Option<String>, String), RshError> {
    let host_err = |at: Option<usize>, why: String| Err(RshError::new(RshErrorKind::Host, at, why));
    if s.is_empty() {
        return host_err(None, "the host is empty: name a host".to_string());
    }
    if let Some((at, c)) = s.char_indices().find(|&(_, c)| bad_char(c)) {
        return host_err(
            Some(at),
            format!(
                "the host {s:?} has {c:?} at byte {at}: hosts and users cannot contain \
                 whitespace or control characters"
            ),
        );
    }
    // The user ends at the last '@' before any '[' (an address in brackets has no '@').
    let before_bracket = &s[..s.find('[').unwrap_or(s.len())];
    let (user, start) = match before_bracket.rfind('@') {
        Some(at) => {
            check_user(&s[..at], 0, s)?;
            (Some(s[..at].to_string()), at + 1)
        }
        None => (None, 0),
    };
    let host = &s[start..];
    if host.is_empty() {
        return host_err(
            Some(start),
            format!(
                "{s:?} has no host after the '@' at byte {}: name a host",
                start - 1
            ),
        );
    }
    if let Some(inner) = host.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return host_err(
                Some(start),
                format!(
                    "the '[' at byte {start} of {s:?} is never closed: write [v6addr] or \
                     [v6addr%zone]"
                ),
            );
        };
        let after = start + 1 + close + 1;
        if after != s.len() {
            return host_err(
                Some(after),
                format!(
                    "{s:?} goes on after the ']' at byte {}: give a port with port(), and parse \
                     host:path specs with parse_remote()",
                    after - 1
                ),
            );
        }
        let inner = &inner[..close];
        check_v6(inner, start + 1, s, true)?;
        return Ok((user, inner.to_string()));
    }
    if let Some(at) = host.find(['[', ']']) {
        return host_err(
            Some(start + at),
            format!(
                "{s:?} has a stray {:?} at byte {}: brackets go around a whole IPv6 address, \
                 as in user@[fe80::1%eth0]",
                &host[at..=at],
                start + at
            ),
        );
    }
    if host.starts_with('-') {
        return host_err(
            Some(start),
            format!(
                "the host {host:?} begins with '-' (byte {start} of {s:?}), so ssh would read it \
                 as an option: refusing it; check where the host name came from"
            ),
        );
    }
    if host.contains(':') {
        check_v6(host, start, s, false)?;
    }
    Ok((user, host.to_string()))
}

/// Checks an IPv6 literal with an optional `%zone`; `at` is its offset in `whole`.
fn check_v6(v6: &str, at: usize, whole: &str, bracketed: bool) -> Result<(), RshError> {
    let (addr, zone) = match v6.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (v6, None),
    };
    if addr.parse::<Ipv6Addr>().is_err() {
        let why = if bracketed {
            format!(
                "{addr:?} (byte {at} of {whole:?}) is not an IPv6 address: only IPv6 addresses \
                 go in brackets"
            )
        } else {
            format!(
                "{whole:?} has a ':' but {addr:?} (byte {at}) is not an IPv6 address: ssh has no \
                 host:port or host:path syntax; give a port with port(), parse host:path specs \
                 with parse_remote()"
            )
        };
        return Err(RshError::new(RshErrorKind::Host, Some(at), why));
    }
    if zone == Some("") {
        let pct = at + addr.len();
        return Err(RshError::new(
            RshErrorKind::Host,
            Some(pct),
            format!(
                "the '%' at byte {pct} of {whole:?} has no zone after it: write %eth0 (or the \
                 interface index), or drop the '%'"
            ),
        ));
    }
    Ok(())
}

/// Checks a user name; `at` is its offset in `whole`, for the error.
pub(super) fn check_user(user: &str, at: usize, whole: &str) -> Result<(), RshError> {
    let why = if user.is_empty() {
        format!("{whole:?} has an empty user before '@': name a user or drop the '@'")
    } else if user.starts_with('-') {
        format!(
            "the user {user:?} begins with '-' (byte {at} of {whole:?}), so the remote shell \
             would read it as an option: refusing it; check where the user name came from"
        )
    } else if let Some((i, c)) = user.char_indices().find(|&(_, c)| bad_char(c)) {
        return Err(RshError::new(
            RshErrorKind::User,
            Some(at + i),
            format!(
                "the user {user:?} has {c:?} at byte {}: users cannot contain whitespace or \
                 control characters",
                at + i
            ),
        ));
    } else {
        return Ok(());
    };
    Err(RshError::new(RshErrorKind::User, Some(at), why))
}

fn bad_char(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}
