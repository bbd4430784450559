//! Benchmarks live in `benches/`; see `benches/engine.rs`.
