//! Secret files: created owner-only (0600), refused when group or others can
//! read them, written atomically, read into buffers that are wiped.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

use crate::{Error, Result};

/// Reads a secret file, refusing it (on Unix) if group or others have any
/// access to it.
pub(crate) fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let mut file = File::open(path)?;
    check_permissions(path, &file)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(
        usize::try_from(file.metadata()?.len())
            .unwrap_or(0)
            .saturating_add(1),
    ));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(unix)]
fn check_permissions(path: &Path, file: &File) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata()?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::FileInsecure {
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _file: &File) -> Result<()> {
    Ok(())
}

fn open_new(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Creates a new secret file (mode 0600); refuses to overwrite.
pub(crate) fn create(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = open_new(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Replaces a secret file atomically: writes a 0600 sibling, syncs it and
/// renames it over the original, so a crash leaves either the old or the new
/// content, never a mix.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(name);
    let written = open_new(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e.into());
    }
    Ok(())
}
