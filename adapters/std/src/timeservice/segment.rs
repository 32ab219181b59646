//! The two files of a time service, found or created, and mapped.
//!
//! A file is created whole before anyone can open it: written under a temporary name,
//! then hard-linked to its path, which fails if another process got there first (then
//! that one is used). A reader therefore never sees a half-initialised segment, and two
//! daemons starting at once agree on one file.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::layout::{check_identity, LayoutError, LAYOUT_VERSION, SEGMENT_BYTES};
use crate::sys::SharedMap;

/// The HLC segment's path: the time segment's with `.hlc` appended.
pub fn hlc_path(time_path: &Path) -> PathBuf {
    let mut p = time_path.as_os_str().to_owned();
    p.push(".hlc");
    PathBuf::from(p)
}

/// Opens `path` for reading and writing, creating it first (`mode`, with the words
/// `init`: magic, version, size) if it does not exist.
pub(crate) fn open_or_create(path: &Path, mode: u32, init: &[(usize, u64)]) -> io::Result<File> {
    // Bounded: each round either opens the file or lost a race to a creator, whose
    // file the next round opens.
    for _ in 0..8 {
        match OpenOptions::new().read(true).write(true).open(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => return other,
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("tempora");
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let created = write_new(&tmp, mode, init).and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match created {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "the segment kept disappearing while being opened",
    ))
}

fn write_new(tmp: &Path, mode: u32, init: &[(usize, u64)]) -> io::Result<()> {
    let _ = std::fs::remove_file(tmp); // left over by a crashed run of this pid
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)?;
    file.set_len(SEGMENT_BYTES as u64)?;
    // Exactly `mode`, whatever the umask.
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    let map = SharedMap::map(&file, SEGMENT_BYTES, true)?;
    for &(i, v) in init {
        if let Some(w) = map.word(i) {
            w.store(v, std::sync::atomic::Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Whether `path` still names the file open as `file` (not unlinked or replaced since).
pub(crate) fn still_names(path: &Path, file: &File) -> io::Result<bool> {
    let (a, b) = (std::fs::metadata(path)?, file.metadata()?);
    Ok(a.dev() == b.dev() && a.ino() == b.ino())
}

/// Checks a mapped segment's magic, version and size.
pub(crate) fn check(map: &SharedMap, magic: u64) -> Result<(), LayoutError> {
    use super::layout::word;
    check_identity(
        map.load(word::MAGIC),
        magic,
        map.load(word::VERSION),
        map.load(word::SIZE),
    )
}

/// The words a new segment starts with.
pub(crate) fn identity(magic: u64) -> [(usize, u64); 3] {
    use super::layout::word;
    [
        (word::MAGIC, magic),
        (word::VERSION, LAYOUT_VERSION),
        (word::SIZE, SEGMENT_BYTES as u64),
    ]
}
