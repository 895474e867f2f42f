//! rsync's `-e` splitting and its inverse: [`split`], [`split_bytes`], [`quote`], [`join`].
//! The rules are in the [module documentation](super#the-splitting-rules).

use super::error::{RshError, RshErrorKind};
#[cfg(doc)]
use super::{Ssh, sh_quote};

/// Splits a remote-shell command (rsync's `-e` / `RSYNC_RSH`) into words, by rsync's rules.
///
/// See the [module documentation](super#the-splitting-rules) for the exact rules.
///
/// ```
/// use procwire::rsh::split;
///
/// assert_eq!(
///     split(r#"ssh -o "ProxyCommand nohup ssh firewall nc -w1 %h %p""#)?,
///     ["ssh", "-o", "ProxyCommand nohup ssh firewall nc -w1 %h %p"]
/// );
/// assert_eq!(split("ssh  'it''s'\tx")?, ["ssh", "it's\tx"]);
/// # Ok::<(), procwire::rsh::RshError>(())
/// ```
///
/// # Errors
///
/// [`RshErrorKind::EmptyCommand`] when there are no words, [`RshErrorKind::UnterminatedQuote`]
/// when a quote is never closed, [`RshErrorKind::Nul`] for a NUL byte.
pub fn split(command: &str) -> Result<Vec<String>, RshError> {
    Ok(split_bytes(command.as_bytes())?
        .into_iter()
        // Only ASCII quote bytes are removed and words end only at ASCII spaces, so every word
        // of valid UTF-8 is valid UTF-8; the lossy path is never taken.
        .map(|w| String::from_utf8(w).unwrap_or_else(|e| lossy(e.as_bytes())))
        .collect())
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// [`split`] for bytes that need not be UTF-8 (argv may hold any byte but NUL).
///
/// # Errors
///
/// As for [`split`].
pub fn split_bytes(command: &[u8]) -> Result<Vec<Vec<u8>>, RshError> {
    if let Some(at) = command.iter().position(|&b| b == 0) {
        return Err(RshError::new(
            RshErrorKind::Nul,
            Some(at),
            format!(
                "NUL byte at byte {at} of the remote-shell command: no program argument can \
                 carry one; remove it"
            ),
        ));
    }
    let mut words = Vec::new();
    let mut i = 0;
    while i < command.len() {
        if command[i] == b' ' {
            i += 1;
            continue;
        }
        let mut word = Vec::new();
        // The open quote and where it opened.
        let mut open: Option<(u8, usize)> = None;
        while i < command.len() {
            let c = command[i];
            match open {
                None if c == b' ' => break,
                None if c == b'\'' || c == b'"' => open = Some((c, i)),
                Some((q, _)) if c == q => {
                    if command.get(i + 1) == Some(&q) {
                        word.push(q);
                        i += 1;
                    } else {
                        open = None;
                    }
                }
                _ => word.push(c),
            }
            i += 1;
        }
        if let Some((q, at)) = open {
            let q = char::from(q);
            return Err(RshError::new(
                RshErrorKind::UnterminatedQuote(q),
                Some(at),
                format!(
                    "missing trailing {q} in remote-shell command: the {q} at byte {at} is never \
                     closed; close it, or write {q}{q} inside a {q}-quoted string for a literal {q}"
                ),
            ));
        }
        words.push(word);
    }
    if words.is_empty() {
        return Err(RshError::new(
            RshErrorKind::EmptyCommand,
            None,
            "the remote-shell command is empty or only spaces: name a program, such as \"ssh\""
                .to_string(),
        ));
    }
    Ok(words)
}

/// Quotes one word so that [`split`] gives it back unchanged: wraps it in single quotes and
/// doubles the single quotes inside. The empty word becomes `''`.
///
/// This is rsync's `-e` quoting, for building a remote-shell *command* (`-e`, `RSYNC_RSH`,
/// [`Ssh::program`]); a POSIX shell reads its output differently (`'it''s'` is `its` to `sh`).
/// For words a *remote shell* will parse (the remote command), use [`sh_quote`].
///
/// A word containing NUL cannot round-trip: [`split`] refuses NUL.
///
/// ```
/// use procwire::rsh::{quote, split};
///
/// assert_eq!(quote("it's"), "'it''s'");
/// assert_eq!(split(&quote("a b\\c"))?, ["a b\\c"]);
/// # Ok::<(), procwire::rsh::RshError>(())
/// ```
pub fn quote(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Quotes every word with [`quote`] and joins them with single spaces: the inverse of
/// [`split`], for building an `-e` / `RSYNC_RSH` value from an argv.
pub fn join<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    join_with(words, quote)
}

/// Quotes every word with `quote` and joins them with single spaces.
pub(super) fn join_with<I, S>(words: I, quote: fn(&str) -> String) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let quoted: Vec<String> = words.into_iter().map(|w| quote(w.as_ref())).collect();
    quoted.join(" ")
}
