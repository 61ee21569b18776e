//! Secret key material and randomness.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Error, Result};

/// Length in bytes of every symmetric key in this crate.
pub(crate) const KEY_LEN: usize = 32;

/// 32 bytes of key material, wiped on drop and left out of `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// A fresh key from the operating system's random number generator.
    pub(crate) fn generate() -> Result<Self> {
        let mut key = Self([0; KEY_LEN]);
        fill_random(&mut key.0)?;
        Ok(key)
    }

    pub(crate) fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Copies a slice of exactly [`KEY_LEN`] bytes.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self(array))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    pub(crate) fn as_bytes_mut(&mut self) -> &mut [u8; KEY_LEN] {
        &mut self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey").finish_non_exhaustive()
    }
}

/// Fills `buf` from the operating system's random number generator, on
/// every call: keys, salts and every field nonce.
///
/// There is deliberately no user-space generator in between: a process that
/// forks (or a VM restored twice from one snapshot) would copy its state, and
/// parent and child would then draw the same nonces under the same key. On
/// Linux this is the C library's `getrandom`, which glibc 2.41 and later
/// serve from the vDSO (Linux 6.11 and later) without a system call, with
/// the kernel's own fork and VM-fork protection; older systems make the
/// system call.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_| Error::RandomUnavailable)
}
