//! Injected randomness: exchanges never call the OS directly, so tests can replay them byte for byte.

/// A source of random bytes for confounders, nonces and subkeys.
pub trait Rng {
    /// Fills `buf` with random bytes.
    fn fill_bytes(&mut self, buf: &mut [u8]);

    /// A random `u32`.
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_be_bytes(b)
    }
}

/// The operating system's random source (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        // The OS random source failing is unrecoverable: no key material may be produced without it.
        getrandom::fill(buf).expect("the operating system's random source failed");
    }
}

/// A deterministic generator for tests: a counter mixed through SHA-256, never for production keys.
#[derive(Debug, Clone)]
pub struct TestRng {
    counter: u64,
    seed: u64,
}

impl TestRng {
    /// A generator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self { counter: 0, seed }
    }
}

impl Rng for TestRng {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        use sha2::{Digest, Sha256};
        for chunk in buf.chunks_mut(32) {
            let mut h = Sha256::new();
            h.update(self.seed.to_be_bytes());
            h.update(self.counter.to_be_bytes());
            self.counter += 1;
            let out = h.finalize();
            chunk.copy_from_slice(&out[..chunk.len()]);
        }
    }
}
