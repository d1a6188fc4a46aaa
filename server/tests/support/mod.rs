// Each test binary uses a different part.
#![allow(dead_code)]

pub mod cluster;
pub mod cues;
