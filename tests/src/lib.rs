//! Shared helpers for tempora's end-to-end tests.

use std::path::PathBuf;

/// Path of the `tempora` binary built for this test run.
pub fn tempora_bin() -> PathBuf {
    // tests/ is a workspace member; the binary lives in the shared target directory.
    let mut dir = std::env::current_exe().expect("test executable path");
    dir.pop(); // deps/
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("tempora")
}
