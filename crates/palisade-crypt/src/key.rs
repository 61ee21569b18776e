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
/// parent and child would then draw the same nonces under the same key.
///
/// On Linux 6.11 and later (feature `vdso`, on by default) the bytes come
/// from the kernel's vDSO `getrandom` without a system call, as glibc 2.41
/// and later do for every caller. Its state is memory the kernel hands out
/// and manages: the kernel wipes it in a forked child and reseeds it after a
/// VM is restored from a snapshot, so the guarantee above holds. Elsewhere,
/// or when the vDSO function is missing, it is the C library's `getrandom`
/// (a system call before glibc 2.41).
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    #[cfg(all(target_os = "linux", feature = "vdso"))]
    if vdso::fill(buf) {
        return Ok(());
    }
    getrandom::fill(buf).map_err(|_| Error::RandomUnavailable)
}

/// The kernel's vDSO `getrandom`, one opaque state per thread.
#[cfg(all(target_os = "linux", feature = "vdso"))]
mod vdso {
    use std::cell::RefCell;
    use std::sync::LazyLock;

    use vdso_rng::{LocalState, Pool};

    /// The process's pool of kernel-managed states; `None` when this kernel
    /// has no vDSO `getrandom` (before 6.11, or the auxiliary vector is not
    /// readable), or when the vDSO is not mapped where the kernel says.
    static POOL: LazyLock<Option<Pool>> =
        LazyLock::new(|| vdso_is_mapped().then(Pool::new).and_then(Result::ok));

    /// Whether the vDSO's ELF image is mapped at the address the auxiliary
    /// vector gives (`AT_SYSINFO_EHDR`). `vdso-rng` reads that address from
    /// the kernel and parses the image there; a process whose vDSO was
    /// unmapped (valgrind does this to the programs it runs) would fault.
    fn vdso_is_mapped() -> bool {
        /// `AT_SYSINFO_EHDR` in `<linux/auxvec.h>`.
        const AT_SYSINFO_EHDR: u64 = 33;
        let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
            return false;
        };
        let entry = |chunk: &[u8]| -> Option<(u64, u64)> {
            let (key, value) = chunk.split_first_chunk::<8>()?;
            Some((
                u64::from_ne_bytes(*key),
                u64::from_ne_bytes(value.try_into().ok()?),
            ))
        };
        let Some(ehdr) = auxv
            .chunks_exact(16)
            .filter_map(entry)
            .find_map(|(key, value)| (key == AT_SYSINFO_EHDR).then_some(value))
        else {
            return false;
        };
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
            return false;
        };
        maps.lines()
            .filter(|line| line.trim_end().ends_with("[vdso]"))
            .filter_map(|line| line.split(['-', ' ']).next())
            .any(|start| u64::from_str_radix(start, 16) == Ok(ehdr))
    }

    thread_local! {
        /// This thread's state, rented from [`POOL`] on first use and
        /// returned to it when the thread ends.
        static STATE: RefCell<Option<LocalState<'static>>> = const { RefCell::new(None) };
    }

    /// Fills `buf` through the vDSO. `false` when it is not available here
    /// (the caller then makes the system call), never a partial fill
    /// reported as done.
    pub(super) fn fill(buf: &mut [u8]) -> bool {
        let Some(pool) = POOL.as_ref() else {
            return false;
        };
        STATE
            .try_with(|cell| {
                let Ok(mut slot) = cell.try_borrow_mut() else {
                    return false;
                };
                if slot.is_none() {
                    *slot = LocalState::new(pool).ok();
                }
                let Some(state) = slot.as_mut() else {
                    return false;
                };
                let mut rest: &mut [u8] = buf;
                // The vDSO fills short only on a signal or before the
                // kernel's generator is seeded; a bounded number of tries,
                // then the system call decides.
                for _ in 0..8 {
                    if rest.is_empty() {
                        return true;
                    }
                    match state.try_fill(rest, 0) {
                        Ok(n) if n > 0 => match rest.get_mut(n..) {
                            Some(tail) => rest = tail,
                            None => return false,
                        },
                        _ => {}
                    }
                }
                rest.is_empty()
            })
            .unwrap_or(false)
    }

    /// Whether this process draws its random bytes through the vDSO.
    #[cfg(test)]
    pub(super) fn available() -> bool {
        let mut probe = [0u8; 1];
        fill(&mut probe)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use std::collections::HashSet;

    use super::fill_random;

    /// Linux's version from `/proc`, as (major, minor).
    #[cfg(all(target_os = "linux", feature = "vdso", target_arch = "x86_64"))]
    fn kernel_version() -> Option<(u32, u32)> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
        let mut parts = release.trim().split(['.', '-']);
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some((major, minor))
    }

    /// On a kernel with the vDSO function, the vDSO path is the one taken:
    /// a broken lookup would otherwise fall back to the system call unseen.
    #[cfg(all(target_os = "linux", feature = "vdso", target_arch = "x86_64"))]
    #[test]
    fn the_vdso_serves_random_bytes_on_linux_6_11_and_later() {
        let Some(version) = kernel_version() else {
            return;
        };
        assert_eq!(
            super::vdso::available(),
            version >= (6, 11),
            "kernel {version:?}: the vDSO path should be taken exactly from 6.11 on"
        );
    }

    /// Draws from many threads at once (each with its own kernel state) never
    /// repeat: a state shared or copied between threads would.
    #[test]
    fn nonces_drawn_on_several_threads_are_all_distinct() {
        let draws: Vec<[u8; 24]> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        (0..5_000)
                            .map(|_| {
                                let mut nonce = [0u8; 24];
                                fill_random(&mut nonce).unwrap();
                                nonce
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        let distinct: HashSet<_> = draws.iter().collect();
        assert_eq!(distinct.len(), draws.len());
        assert!(!distinct.contains(&[0u8; 24]));
    }

    /// Short, empty and long buffers are filled completely.
    #[test]
    fn every_length_is_filled() {
        fill_random(&mut []).unwrap();
        for len in [1usize, 7, 24, 32, 4096, 70_000] {
            let mut buf = vec![0u8; len];
            fill_random(&mut buf).unwrap();
            // The last 16 bytes all zero: 2^-128 by chance.
            let tail = &buf[len.saturating_sub(16)..];
            assert!(len < 16 || tail.iter().any(|&b| b != 0), "length {len}");
        }
    }
}
