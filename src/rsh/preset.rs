//! What the program's own words and the caller's options already set, read with the program's
//! option grammar, so [`Ssh::argv`](super::Ssh::argv) can refuse a builder setting they
//! contradict instead of letting the remote shell silently keep one of the two.
//!
//! For ssh the grammar is OpenSSH's `getopt(3)` string (ssh.c, read in OpenSSH 9.2): clustered
//! flags (`-vp2222`), a value either glued to its letter or in the next word, and `-o` config
//! lines read as readconf.c does (keyword case-insensitive, optionally quoted, then spaces and at
//! most one `=`). For plink and every other program only whole words are read: `-l USER`, and
//! for plink `-P PORT`.

use std::borrow::Cow;

use super::error::{RshError, RshErrorKind};

/// The ssh options that take a value, from OpenSSH's getopt string
/// `1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:PQ:R:S:TVw:W:XYy` of OpenSSH 9.2, with
/// `-P` taking a value as in later releases (`-P tag`; 9.2 still takes `-P` as an obsolete flag,
/// and reading it as taking a value only ever refuses more). Every other letter is a flag; an unknown one makes ssh print its usage
/// and fail, which is loud enough.
const SSH_VALUE_OPTIONS: &[u8] = b"bceilmopBDEFIJLOPQRSwW";

/// Which remote shell the program is, by its file name (rsync's test).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Program {
    Ssh,
    Plink,
    Other,
}

/// One value the words set, and how it was written there (for messages).
#[derive(Debug)]
pub(super) struct Setting {
    pub(super) value: String,
    pub(super) written: String,
}

/// Everything the words set that a builder setting can collide with.
#[derive(Debug, Default)]
pub(super) struct Preset {
    pub(super) port: Vec<Setting>,
    pub(super) user: Vec<Setting>,
    pub(super) host_name: Vec<Setting>,
    pub(super) remote_command: Vec<Setting>,
}

fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

impl Preset {
    /// Reads `words`: the program's words after its name, then the options.
    pub(super) fn scan(program: Program, words: &[&[u8]]) -> Result<Preset, RshError> {
        let mut preset = Preset::default();
        let mut i = 0;
        while i < words.len() {
            let (word, next) = (words[i], words.get(i + 1).copied());
            let found = match program {
                Program::Ssh => ssh_option(word, next)?,
                Program::Plink | Program::Other => other_option(program, word, next)?,
            };
            if let Some((letter, value, used_next)) = found {
                let written = if used_next {
                    format!("{} {}", text(word), text(value))
                } else {
                    text(word).into_owned()
                };
                preset.record(letter, value, written);
                i += usize::from(used_next);
            }
            i += 1;
        }
        Ok(preset)
    }

    fn record(&mut self, letter: u8, value: &[u8], written: String) {
        let (list, value) = match letter {
            b'p' => (&mut self.port, value),
            b'l' => (&mut self.user, value),
            b'o' => {
                let (keyword, value) = config_line(value);
                let list = match keyword.to_ascii_lowercase().as_slice() {
                    b"port" => &mut self.port,
                    b"user" => &mut self.user,
                    b"hostname" => &mut self.host_name,
                    b"remotecommand" => &mut self.remote_command,
                    _ => return,
                };
                (list, value)
            }
            _ => return,
        };
        list.push(Setting {
            value: text(value).into_owned(),
            written,
        });
    }
}

/// An option that takes a value: its letter, the value, and whether the value was the next word.
type Found<'a> = Option<(u8, &'a [u8], bool)>;

/// Reads one word by ssh's getopt rules; `next` is the word after it.
fn ssh_option<'a>(word: &'a [u8], next: Option<&'a [u8]>) -> Result<Found<'a>, RshError> {
    if word == b"--" {
        return Err(RshError::new(
            RshErrorKind::HostConflict,
            None,
            "the program or options contain \"--\", which ends ssh's options: the builder's \
             -l, -p and \"--\" would then be read as the host and the remote command; remove it \
             (the builder adds its own \"--\" before the host)"
                .to_string(),
        ));
    }
    let Some(letters) = word.strip_prefix(b"-").filter(|l| !l.is_empty()) else {
        return Err(RshError::new(
            RshErrorKind::HostConflict,
            None,
            format!(
                "the program or options contain {:?}, which is not an option, so ssh would take \
                 it as the host and the builder's host as a remote command: give the host to \
                 Ssh::new() only, and the remote command to remote_command()",
                text(word)
            ),
        ));
    };
    let Some(at) = letters.iter().position(|l| SSH_VALUE_OPTIONS.contains(l)) else {
        return Ok(None);
    };
    let glued = &letters[at + 1..];
    Ok(Some(if !glued.is_empty() {
        (letters[at], glued, false)
    } else {
        (letters[at], next.ok_or_else(|| missing(word))?, true)
    }))
}

/// Reads one word of a program whose grammar is unknown: only a whole `-l` (and `-P` for
/// plink) word is read, with the next word as its value.
fn other_option<'a>(
    program: Program,
    word: &'a [u8],
    next: Option<&'a [u8]>,
) -> Result<Found<'a>, RshError> {
    let letter = match word {
        b"-l" => b'l',
        b"-P" if program == Program::Plink => b'p',
        _ => return Ok(None),
    };
    Ok(Some((letter, next.ok_or_else(|| missing(word))?, true)))
}

fn missing(word: &[u8]) -> RshError {
    RshError::new(
        RshErrorKind::MissingValue,
        None,
        format!(
            "the program or options end with {:?}, an option that takes a value, so the remote \
             shell would take the builder's next word as that value: give the option its value",
            text(word)
        ),
    )
}

/// Splits an ssh config line (`-o` value) into its keyword and first argument, as readconf.c
/// does: leading whitespace skipped, the keyword optionally in double quotes and ended by
/// whitespace or `=`, then whitespace and at most one `=`.
fn config_line(line: &[u8]) -> (&[u8], &[u8]) {
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let skip = |s: &'_ [u8]| -> usize { s.iter().take_while(|b| space(b)).count() };
    // One token: quoted up to its closing quote, or up to whitespace (and `=` for a keyword).
    let token = |s: &[u8], stop_at_eq: bool| -> (usize, usize, usize) {
        if s.first() == Some(&b'"') {
            let end = s[1..]
                .iter()
                .position(|&b| b == b'"')
                .map_or(s.len(), |n| n + 1);
            (1, end, (end + 1).min(s.len()))
        } else {
            let end = s
                .iter()
                .position(|b| space(b) || (stop_at_eq && *b == b'='))
                .unwrap_or(s.len());
            (0, end, end)
        }
    };
    let line = &line[skip(line)..];
    let (start, end, rest) = token(line, true);
    let keyword = &line[start..end];
    let mut after = &line[rest..];
    after = &after[skip(after)..];
    if let Some(a) = after.strip_prefix(b"=") {
        after = &a[skip(a)..];
    }
    let (start, end, _) = token(after, false);
    (keyword, &after[start..end])
}

#[cfg(test)]
mod tests {
    use super::config_line;

    #[test]
    fn config_lines_are_read_like_readconf() {
        for (line, keyword, value) in [
            ("Port=2222", "Port", "2222"),
            ("Port 2222", "Port", "2222"),
            ("  port = 2222 # comment", "port", "2222"),
            ("PORT= 2222", "PORT", "2222"),
            ("\"Port\" 2222", "Port", "2222"),
            ("User=\"a b\"", "User", "a b"),
            ("Port", "Port", ""),
        ] {
            let (k, v) = config_line(line.as_bytes());
            assert_eq!((k, v), (keyword.as_bytes(), value.as_bytes()), "{line:?}");
        }
    }
}
