//! The queue node's storage: one fixed ring per channel ([`ring`]).

pub mod ring;
