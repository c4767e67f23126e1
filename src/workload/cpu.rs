//! `cpu`: deterministic CPU-bound work — SHA-256 over a buffer, `rounds` times, each round
//! hashing the previous digest back into the buffer so the compiler cannot skip any of it.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{
    ItemError, ItemResult, Nature, ParamDef, ParamType, Params, Runner, Workload, WorkloadKind,
};
use crate::error::SpecError;

const PARAMS: &[ParamDef] = &[
    ParamDef::new(
        "rounds",
        ParamType::Int,
        Some("1000"),
        "SHA-256 passes over the buffer per item",
    ),
    ParamDef::new(
        "bytes",
        ParamType::Size,
        Some("1KiB"),
        "buffer hashed in each pass",
    ),
];

/// The `cpu` kind, to register under its name.
pub fn kind() -> WorkloadKind {
    WorkloadKind::new(
        "cpu",
        "CPU-bound: hashes a buffer with SHA-256 `rounds` times per item",
        PARAMS,
        |p| Ok(Arc::new(Cpu::from_params(p)?)),
    )
}

#[derive(Debug, Clone, Copy)]
pub struct Cpu {
    rounds: u64,
    bytes: usize,
}

impl Cpu {
    pub fn from_params(p: &Params) -> Result<Self, SpecError> {
        let rounds = p.u64("rounds")?;
        let bytes = p.u64("bytes")?;
        if bytes == 0 || bytes > 64 << 20 {
            return Err(p.invalid(
                "bytes",
                format!("must be between 1 byte and 64MiB, got {bytes}"),
            ));
        }
        Ok(Cpu {
            rounds,
            bytes: bytes as usize,
        })
    }
}

impl Workload for Cpu {
    fn runner(&self) -> Result<Box<dyn Runner>, ItemError> {
        Ok(Box::new(CpuRunner {
            rounds: self.rounds,
            buffer: vec![0u8; self.bytes],
        }))
    }

    fn nature(&self) -> Nature {
        Nature::CpuBound
    }
}

struct CpuRunner {
    rounds: u64,
    buffer: Vec<u8>,
}

impl CpuRunner {
    /// The final digest of item `item`; public to tests through `run`'s determinism.
    fn digest(&mut self, item: u64) -> [u8; 32] {
        let seed = item.to_le_bytes();
        for (i, byte) in self.buffer.iter_mut().enumerate() {
            *byte = seed[i % 8] ^ (i as u8);
        }
        let mut digest = [0u8; 32];
        for _ in 0..self.rounds {
            digest = Sha256::digest(&self.buffer).into();
            let n = digest.len().min(self.buffer.len());
            self.buffer[..n].copy_from_slice(&digest[..n]);
        }
        digest
    }
}

impl Runner for CpuRunner {
    fn run(&mut self, item: u64) -> ItemResult {
        std::hint::black_box(self.digest(item));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_deterministic_per_item() {
        let mut a = CpuRunner {
            rounds: 10,
            buffer: vec![0; 100],
        };
        let mut b = CpuRunner {
            rounds: 10,
            buffer: vec![0; 100],
        };
        assert_eq!(a.digest(3), b.digest(3));
        assert_ne!(a.digest(3), a.digest(4));
    }

    #[test]
    fn more_rounds_change_the_digest() {
        let mut a = CpuRunner {
            rounds: 1,
            buffer: vec![0; 64],
        };
        let mut b = CpuRunner {
            rounds: 2,
            buffer: vec![0; 64],
        };
        assert_ne!(a.digest(1), b.digest(1));
    }
}
