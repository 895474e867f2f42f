//! The `--json` and `--svg` files: checked before measuring, written whole at the end.
//!
//! A file is written to a temporary name beside it and renamed over it ([rename(2)] is atomic
//! within a directory), so an interrupted or failed run leaves the old file as it was, never
//! a truncated one. Nothing is created until the end: Ctrl-C leaves no stray file either.
//!
//! [rename(2)]: https://man7.org/linux/man-pages/man2/rename.2.html

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An output file that has been checked and will be written by [`Output::commit`].
#[derive(Debug)]
pub struct Output {
    path: PathBuf,
}

impl Output {
    /// Checks now, before any measuring, that `path` can be written: not a directory, and its
    /// directory takes a new file (one is created and removed again).
    pub fn check(path: &Path) -> Result<Output, String> {
        let fail = |e: &dyn std::fmt::Display| {
            format!("cannot write {}: {e}; choose another path", path.display())
        };
        if path.is_dir() {
            return Err(fail(&"it is a directory"));
        }
        let out = Output {
            path: path.to_path_buf(),
        };
        let tmp = out.temporary();
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| fail(&e))?;
        fs::remove_file(&tmp).map_err(|e| fail(&e))?;
        Ok(out)
    }

    /// `.NAME.procwire-PID.tmp` beside the file.
    fn temporary(&self) -> PathBuf {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = format!(".{name}.procwire-{}.tmp", std::process::id());
        self.path.with_file_name(tmp)
    }

    /// Writes `bytes` to the temporary file, flushes it to disk and renames it over the file.
    pub fn commit(&self, bytes: &[u8]) -> Result<(), String> {
        let tmp = self.temporary();
        let fail = |e: std::io::Error| {
            let _ = fs::remove_file(&tmp);
            format!("could not write {}: {e}", self.path.display())
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(fail)?;
        file.write_all(bytes).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checked_file_is_untouched_until_commit_and_then_replaced_whole() {
        let dir = std::env::temp_dir().join(format!("procwire-output-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.json");
        fs::write(&path, "{\"old\":1}\n").unwrap();
        let out = Output::check(&path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"old\":1}\n");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no stray file");
        out.commit(b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no stray file");
        let err = Output::check(&dir).unwrap_err();
        assert!(err.contains("it is a directory"), "{err}");
        let err = Output::check(&dir.join("no/such/dir/x.svg")).unwrap_err();
        assert!(err.starts_with("cannot write "), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
