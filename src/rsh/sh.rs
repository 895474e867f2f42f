//! POSIX-shell quoting for the words a remote shell will parse: [`sh_quote`], [`sh_join`].

#[cfg(doc)]
use super::{Ssh, quote};

/// Quotes one word so that a POSIX shell (`sh -c`) reads it back as exactly that word, whatever
/// it holds: spaces, quotes, `$`, backslashes, globs, newlines, or nothing at all.
///
/// The word is put in single quotes, inside which POSIX `sh` (XCU 2.2.2) treats every byte as
/// literal, and each `'` in it becomes `'\''` (close the quote, an escaped quote, reopen). The
/// empty word becomes `''`. Every word is quoted, even one that needs no quoting, so its place
/// never changes its meaning: a quoted `if` is not a reserved word and a quoted `A=b` is not an
/// assignment, even as the first word of a command.
///
/// **What it is for.** ssh joins the words after the host with spaces and the remote user's
/// login shell parses the result (ssh(1): "the command is executed on the remote host ... by
/// the user's shell"), so a remote-command word with a space or a `$` in it arrives changed
/// unless it is quoted for that shell: `Ssh::remote_command(["cat", &sh_quote("my file")])`.
///
/// **How it differs from [`quote`].** [`quote`] follows rsync's `-e` rules, where a doubled quote
/// inside a quoted string is one literal quote: `quote("it's")` is `'it''s'`, which `sh` reads as
/// `its`. `sh_quote("it's")` is `'it'\''s'`. Use [`quote`] for the remote-shell *command*
/// (`-e`, `RSYNC_RSH`, [`Ssh::program`]), `sh_quote` for the *remote command*.
///
/// Caveats: a NUL byte cannot be carried by any argv (and [`Ssh::argv`] refuses it); a login
/// shell that is not POSIX (csh, tcsh, fish) reads single quotes differently, as rsync's and
/// git's quoting assume a POSIX remote shell too.
///
/// ```
/// use procwire::rsh::sh_quote;
///
/// assert_eq!(sh_quote("it's"), r"'it'\''s'");
/// assert_eq!(sh_quote(""), "''");
/// assert_eq!(sh_quote("$HOME/*"), "'$HOME/*'");
/// ```
pub fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// [`sh_quote`] for a word that need not be UTF-8 (`OsStr::as_bytes` gives one): `sh` reads
/// the quoted bytes back unchanged.
pub fn sh_quote_bytes(word: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(word.len() + 2);
    sh_quote_into(word, &mut out);
    out
}

fn sh_quote_into(word: &[u8], out: &mut Vec<u8>) {
    out.push(b'\'');
    for &b in word {
        if b == b'\'' {
            out.extend_from_slice(br"'\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
}

/// Quotes every word with [`sh_quote`] and joins them with single spaces: one command line that
/// a POSIX shell splits back into exactly these words.
///
/// ```
/// use procwire::rsh::sh_join;
///
/// assert_eq!(sh_join(["printf", "%s\n", "a b"]), "'printf' '%s\n' 'a b'");
/// ```
pub fn sh_join<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    super::split::join_with(words, sh_quote)
}

/// [`sh_join`] for words that need not be UTF-8.
pub fn sh_join_bytes<I, S>(words: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut out = Vec::new();
    for (n, w) in words.into_iter().enumerate() {
        if n > 0 {
            out.push(b' ');
        }
        sh_quote_into(w.as_ref(), &mut out);
    }
    out
}
