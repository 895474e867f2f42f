//! Names of enum values as the command line spells them, parsed one way for every type.

use std::fmt;
use std::io;

/// A type whose values have fixed names: [`wire::Kind`](crate::wire::Kind) and
/// [`child::Topology`](crate::child::Topology). Their `FromStr` is [`parse`].
pub(crate) trait Named: Copy + 'static {
    /// What a value is called in an error ("wire kind").
    const WHAT: &'static str;
    /// Every value, in the order the names are listed in errors and help.
    const ALL: &'static [Self];
    /// The value's name.
    fn name(self) -> &'static str;
}

/// The one `FromStr` of every [`Named`] type.
pub(crate) fn parse<T: Named>(s: &str) -> Result<T, ParseNameError> {
    T::ALL
        .iter()
        .copied()
        .find(|v| v.name() == s)
        .ok_or_else(|| ParseNameError {
            what: T::WHAT,
            given: s.to_owned(),
            expected: T::ALL.iter().map(|v| v.name()).collect(),
        })
}

/// A name that is none of a type's names, from the `FromStr` of
/// [`wire::Kind`](crate::wire::Kind) and [`child::Topology`](crate::child::Topology): what was
/// given and every name that would have been accepted.
///
/// Converts into an [`io::Error`] of kind [`InvalidInput`](io::ErrorKind::InvalidInput).
///
/// ```
/// use procwire::wire::Kind;
/// let e = "fifo".parse::<Kind>().unwrap_err();
/// assert_eq!(e.given(), "fifo");
/// assert_eq!(e.expected(), ["socketpair", "pipes", "loopback"]);
/// assert_eq!(e.to_string(), r#"unknown wire kind "fifo": expected socketpair, pipes or loopback"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseNameError {
    what: &'static str,
    given: String,
    expected: Vec<&'static str>,
}

impl ParseNameError {
    /// The `ParseNameError` inside an [`io::Error`] made from one, if that is what it carries.
    pub fn of(e: &io::Error) -> Option<&ParseNameError> {
        crate::payload(e)
    }

    /// The text that was parsed.
    pub fn given(&self) -> &str {
        &self.given
    }

    /// The names that would have been accepted.
    pub fn expected(&self) -> &[&'static str] {
        &self.expected
    }
}

impl fmt::Display for ParseNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}: expected ", self.what, self.given)?;
        for (i, name) in self.expected.iter().enumerate() {
            let sep = match i {
                0 => "",
                i if i + 1 == self.expected.len() => " or ",
                _ => ", ",
            };
            write!(f, "{sep}{name}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseNameError {}

impl From<ParseNameError> for io::Error {
    fn from(e: ParseNameError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}
