//! PRNG-driven inputs: budgets without libFuzzer (the `mmcheck check` command, mutant runs,
//! tests). Inputs are random bytes decoded through the same `Arbitrary` impls the fuzzers
//! use, so a failure's bytes are a fuzz input and a corpus file as they stand.

/// SplitMix64: small, fast, and good enough to spread bytes.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len + 8);
        while v.len() < len {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(len);
        v
    }
}

/// How much work a random run may do: it stops at whichever limit comes first.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Most inputs (sequential) or scenarios (schedule) to try.
    pub iterations: u64,
    /// Wall-clock limit, if any (for the CLI; tests use iterations only).
    pub time: Option<std::time::Duration>,
}

impl Budget {
    /// A budget of `n` iterations and no time limit.
    pub fn iterations(n: u64) -> Self {
        Budget {
            iterations: n,
            time: None,
        }
    }
}
