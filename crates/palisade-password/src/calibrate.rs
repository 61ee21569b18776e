//! Choosing Argon2id parameters that take a target time on this machine.

use std::time::{Duration, Instant};

use argon2::{Algorithm, Version};

use crate::hasher::{Memory, argon2_tag};
use crate::{Error, Params, ParamsBuilder, Result};

/// Parameters chosen by [`calibrate`] and the time one hash took with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calibration {
    /// The chosen parameters.
    pub params: Params,
    /// The time of one hash with them, as measured.
    pub measured: Duration,
}

/// Picks Argon2id parameters for one lane that take about `target` per hash
/// on this machine, within `max_memory_kib`.
///
/// Memory is the stronger defence, so the whole ceiling is used first and
/// passes are added until the target is reached (RFC 9106 section 4's
/// procedure); if even one pass over the ceiling is slower than the target,
/// memory is scaled down with one pass. Check the result with
/// [`Params::meets_owasp`].
///
/// # Errors
/// [`Error::ParamInvalid`] when the ceiling is below 8 KiB or above
/// [`Params::MAX_M_COST`], or the target is zero.
pub fn calibrate(target: Duration, max_memory_kib: u32) -> Result<Calibration> {
    if target.is_zero() {
        return Err(Error::ParamInvalid {
            name: "target",
            requirement: "must be more than zero",
        });
    }
    let ceiling = ParamsBuilder::new()
        .m_cost(max_memory_kib)
        .t_cost(1)
        .build()?;
    let mut memory = Memory::default();
    // The fastest of two runs: the first also pays for page faults.
    let one_pass = time(ceiling, &mut memory)?.min(time(ceiling, &mut memory)?);
    if one_pass > target {
        let scaled = u128::from(max_memory_kib) * target.as_nanos() / one_pass.as_nanos().max(1);
        let m = u32::try_from(scaled).unwrap_or(max_memory_kib).max(8);
        let params = ParamsBuilder::new().m_cost(m).t_cost(1).build()?;
        let measured = time(params, &mut memory)?;
        return Ok(Calibration { params, measured });
    }
    let passes = target.as_nanos() / one_pass.as_nanos().max(1);
    let mut t = u32::try_from(passes)
        .unwrap_or(Params::MAX_T_COST)
        .clamp(1, Params::MAX_T_COST);
    loop {
        let params = ParamsBuilder::new()
            .m_cost(max_memory_kib)
            .t_cost(t)
            .build()?;
        let measured = time(params, &mut memory)?;
        if measured <= target || t == 1 {
            return Ok(Calibration { params, measured });
        }
        t -= 1;
    }
}

fn time(params: Params, memory: &mut Memory) -> Result<Duration> {
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let start = Instant::now();
    argon2_tag(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        None,
        &[],
        b"calibration password",
        b"calibration salt",
        &mut out,
        memory,
    )?;
    Ok(start.elapsed())
}
