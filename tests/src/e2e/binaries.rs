//! Builds the `skychat` binaries once per test process and says where they are: next to the
//! test executable, in the same target directory and profile.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The profile directory (`target/debug` or `target/release`) this test executable runs from.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("the test executable's folder");
    deps.parent().expect("the profile folder").to_path_buf()
}

/// Runs `cargo build -p skychat --bins` once, into the profile directory of this test run.
fn build(profile: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace folder");
    let target_dir = profile.parent().expect("the target folder");
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "-p",
            "skychat",
            "--bins",
            "--quiet",
            "--target-dir",
        ])
        .arg(target_dir);
    if profile.file_name().is_some_and(|n| n == "release") {
        command.arg("--release");
    }
    let status = command.status().expect("cargo runs");
    assert!(status.success(), "cargo build -p skychat --bins failed");
}

fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let profile = BUILT.get_or_init(|| {
        let profile = profile_dir();
        build(&profile);
        profile
    });
    let path = profile.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// The `skychat` binary.
pub fn skychat() -> PathBuf {
    binary("skychat")
}

/// The `skywire` binary.
pub fn skywire() -> PathBuf {
    binary("skywire")
}
