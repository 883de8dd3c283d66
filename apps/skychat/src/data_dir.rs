//! The node's data directory: creating it privately, refusing a path that is not a directory,
//! holding an exclusive lock on it for the life of the process (so that two nodes never share
//! one store), and removing a run-only (ephemeral) directory however the run ends.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file inside the data directory; it holds the PID of the node that has the lock.
pub const LOCK_FILE_NAME: &str = "skychat.lock";

/// An exclusive lock on a data directory, held until dropped (or the process ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Creates `dir` (mode 0700) if missing and takes its lock. Fails with a message naming
    /// the fix when `dir` is not a directory or another process holds the lock.
    pub fn acquire(dir: &Path) -> Result<Self, String> {
        if let Ok(meta) = std::fs::metadata(dir)
            && !meta.is_dir()
        {
            return Err(format!(
                "the data directory {} exists but is not a directory: remove or rename it, or \
                 pass --data-dir <a directory> (it is created if missing)",
                dir.display()
            ));
        }
        create_private_dir(dir)
            .map_err(|e| format!("cannot create the data directory {}: {e}", dir.display()))?;
        let path = dir.join(LOCK_FILE_NAME);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = read_holder(&mut file)
                    .map_or_else(|| "unknown".to_string(), |pid| pid.to_string());
                return Err(format!(
                    "the data directory {} is in use by another skychat node (pid {holder}); \
                     stop that node first, or give this one its own --data-dir",
                    dir.display()
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", path.display()));
            }
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn read_holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A directory that lives only for this run: removed when dropped, whether the run stopped
/// cleanly or failed to start.
#[derive(Debug)]
pub struct RunOnlyDir {
    path: PathBuf,
}

impl RunOnlyDir {
    /// Takes charge of removing `path` (which need not exist yet).
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunOnlyDir {
    fn drop(&mut self) {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::warn!(
                "could not remove the ephemeral store {}: {e}",
                self.path.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_names_the_holder() {
        let scratch = tempfile::TempDir::new().unwrap();
        let dir = scratch.path().join("data");
        let first = DataDirLock::acquire(&dir).unwrap();
        let err = DataDirLock::acquire(&dir).unwrap_err();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        DataDirLock::acquire(&dir).expect("free again once the holder is gone");
    }

    #[test]
    fn a_file_in_place_of_the_dir_is_refused_with_the_fix() {
        let scratch = tempfile::TempDir::new().unwrap();
        let file = scratch.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let err = DataDirLock::acquire(&file).unwrap_err();
        assert!(err.contains("is not a directory"), "{err}");
        assert!(err.contains("--data-dir"), "{err}");
    }
}
