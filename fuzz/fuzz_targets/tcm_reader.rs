//! Fuzzes the `.tcm` reader (dht dumps): the check and its invariants are
//! `swarm_fuzz_checks::tcm_reader`, which the corpus-replay test also runs on stable Rust.
#![no_main]

#[global_allocator]
static ALLOC: swarm_fuzz_checks::CappedAlloc = swarm_fuzz_checks::CappedAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| swarm_fuzz_checks::tcm_reader(data));
