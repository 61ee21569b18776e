//! Argon2id cost parameters.

use crate::{Error, Result};

/// Argon2id cost parameters: memory, passes, lanes and tag length.
///
/// Always valid: build one with [`ParamsBuilder`] or take [`Params::default()`],
/// OWASP's first recommendation (19 MiB, 2 passes, 1 lane, 32-byte tag).
///
/// With the `serde` feature it reads and writes
/// `{"m_cost":19456,"t_cost":2,"p_cost":1,"output_len":32}`; reading checks
/// the values as [`ParamsBuilder::build`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "RawParams"))]
pub struct Params {
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
    output_len: usize,
}

/// OWASP Password Storage Cheat Sheet's equivalent Argon2id settings for one
/// lane, as (memory KiB, passes): any one of them is an acceptable minimum.
const OWASP_MINIMA: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

impl Params {
    /// Default memory cost in KiB (19 MiB, OWASP's first row).
    pub const DEFAULT_M_COST: u32 = 19_456;
    /// Default number of passes.
    pub const DEFAULT_T_COST: u32 = 2;
    /// Default number of lanes.
    pub const DEFAULT_P_COST: u32 = 1;
    /// Default tag length in bytes.
    pub const DEFAULT_OUTPUT_LEN: usize = 32;
    /// Largest memory cost accepted, in KiB (4 GiB).
    pub const MAX_M_COST: u32 = 4 * 1024 * 1024;
    /// Largest number of passes accepted.
    pub const MAX_T_COST: u32 = 1_000;
    /// Largest number of lanes accepted.
    pub const MAX_P_COST: u32 = 64;

    /// Memory cost in KiB.
    pub const fn m_cost(&self) -> u32 {
        self.m_cost
    }

    /// Number of passes over memory.
    pub const fn t_cost(&self) -> u32 {
        self.t_cost
    }

    /// Number of lanes.
    pub const fn p_cost(&self) -> u32 {
        self.p_cost
    }

    /// Tag length in bytes.
    pub const fn output_len(&self) -> usize {
        self.output_len
    }

    /// Whether these parameters reach one of the OWASP Password Storage Cheat
    /// Sheet's equivalent Argon2id minimums (m=47104 KiB t=1 … m=7168 KiB t=5).
    pub fn meets_owasp(&self) -> bool {
        OWASP_MINIMA
            .iter()
            .any(|&(m, t)| self.m_cost >= m && self.t_cost >= t)
    }

    /// Memory one hash with these parameters holds, in KiB (Argon2 rounds the
    /// memory down to a multiple of 4 blocks per lane).
    pub fn memory_kib(&self) -> u64 {
        let per_lane = self.m_cost / (4 * self.p_cost) * 4;
        u64::from(per_lane) * u64::from(self.p_cost)
    }

    /// Parameters read from a stored hash, checked against the same bounds.
    pub(crate) fn from_stored(m: u32, t: u32, p: u32, output_len: usize) -> Result<Self> {
        ParamsBuilder::new()
            .m_cost(m)
            .t_cost(t)
            .p_cost(p)
            .output_len(output_len)
            .build()
    }
}

impl Default for Params {
    fn default() -> Self {
        Self {
            m_cost: Self::DEFAULT_M_COST,
            t_cost: Self::DEFAULT_T_COST,
            p_cost: Self::DEFAULT_P_COST,
            output_len: Self::DEFAULT_OUTPUT_LEN,
        }
    }
}

/// Fallible builder of [`Params`]; unset values keep their defaults.
///
/// ```
/// use palisade_password::ParamsBuilder;
///
/// let params = ParamsBuilder::new().m_cost(65_536).t_cost(3).build()?;
/// assert_eq!(params.m_cost(), 65_536);
/// assert!(params.meets_owasp());
/// assert!(ParamsBuilder::new().t_cost(0).build().is_err());
/// # Ok::<(), palisade_password::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct ParamsBuilder {
    params: Params,
}

impl ParamsBuilder {
    /// Starts from the defaults.
    pub fn new() -> Self {
        Self {
            params: Params::default(),
        }
    }

    /// Memory cost in KiB: at least 8 per lane, at most [`Params::MAX_M_COST`].
    pub fn m_cost(mut self, kib: u32) -> Self {
        self.params.m_cost = kib;
        self
    }

    /// Passes over memory: 1 to [`Params::MAX_T_COST`].
    pub fn t_cost(mut self, passes: u32) -> Self {
        self.params.t_cost = passes;
        self
    }

    /// Lanes: 1 to [`Params::MAX_P_COST`].
    pub fn p_cost(mut self, lanes: u32) -> Self {
        self.params.p_cost = lanes;
        self
    }

    /// Tag length: 16 to 64 bytes.
    pub fn output_len(mut self, bytes: usize) -> Self {
        self.params.output_len = bytes;
        self
    }

    /// Checks and returns the parameters.
    ///
    /// # Errors
    /// [`Error::ParamInvalid`] naming the first parameter out of range.
    pub fn build(self) -> Result<Params> {
        let p = self.params;
        let invalid = |name, requirement| Err(Error::ParamInvalid { name, requirement });
        if !(1..=Params::MAX_P_COST).contains(&p.p_cost) {
            return invalid("p_cost", "must be between 1 and 64 lanes");
        }
        if p.m_cost < 8 * p.p_cost {
            return invalid("m_cost", "must be at least 8 KiB per lane");
        }
        if p.m_cost > Params::MAX_M_COST {
            return invalid("m_cost", "must be at most 4194304 KiB (4 GiB)");
        }
        if !(1..=Params::MAX_T_COST).contains(&p.t_cost) {
            return invalid("t_cost", "must be between 1 and 1000 passes");
        }
        if !(16..=64).contains(&p.output_len) {
            return invalid("output_len", "must be between 16 and 64 bytes");
        }
        Ok(p)
    }
}

impl Default for ParamsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_owasp_first_row() {
        let p = Params::default();
        assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19_456, 2, 1));
        assert!(p.meets_owasp());
        assert_eq!(ParamsBuilder::new().build().unwrap(), p);
    }

    #[test]
    fn owasp_table() {
        let at = |m, t| ParamsBuilder::new().m_cost(m).t_cost(t).build().unwrap();
        assert!(at(47_104, 1).meets_owasp());
        assert!(!at(47_103, 1).meets_owasp());
        assert!(at(7_168, 5).meets_owasp());
        assert!(!at(7_168, 4).meets_owasp());
        assert!(!at(19_455, 2).meets_owasp());
    }

    #[test]
    fn builder_rejects_each_bound() {
        let name = |b: ParamsBuilder| match b.build() {
            Err(Error::ParamInvalid { name, .. }) => name,
            other => panic!("expected an error, got {other:?}"),
        };
        assert_eq!(name(ParamsBuilder::new().p_cost(0)), "p_cost");
        assert_eq!(name(ParamsBuilder::new().p_cost(65)), "p_cost");
        assert_eq!(name(ParamsBuilder::new().m_cost(15).p_cost(2)), "m_cost");
        assert_eq!(
            name(ParamsBuilder::new().m_cost(Params::MAX_M_COST + 1)),
            "m_cost"
        );
        assert_eq!(name(ParamsBuilder::new().t_cost(0)), "t_cost");
        assert_eq!(name(ParamsBuilder::new().output_len(15)), "output_len");
        assert_eq!(name(ParamsBuilder::new().output_len(65)), "output_len");
        assert!(ParamsBuilder::new().m_cost(16).p_cost(2).build().is_ok());
    }
}

/// The serialized form of [`Params`], checked by [`ParamsBuilder`] on the way in.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParams {
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
    output_len: usize,
}

#[cfg(feature = "serde")]
impl TryFrom<RawParams> for Params {
    type Error = Error;

    fn try_from(raw: RawParams) -> Result<Self> {
        ParamsBuilder::new()
            .m_cost(raw.m_cost)
            .t_cost(raw.t_cost)
            .p_cost(raw.p_cost)
            .output_len(raw.output_len)
            .build()
    }
}
