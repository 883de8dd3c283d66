//! A scratch directory per test, removed on drop, with paths inside it spelled as strings for
//! command lines.

use std::path::Path;

use tempfile::TempDir;

/// A fresh, empty directory under the system temp dir.
pub struct Scratch {
    dir: TempDir,
}

impl Scratch {
    /// Creates the directory.
    pub fn new() -> Self {
        Self {
            dir: TempDir::new().expect("create the scratch dir"),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside it, as a string for command lines.
    pub fn join(&self, name: &str) -> String {
        self.path().join(name).to_string_lossy().into_owned()
    }
}
