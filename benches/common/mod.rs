//! Running a benchmark Guest in-process and collecting its `bench <name> <n> <ns>` lines.

#![allow(dead_code)]

use host::{Config, Guest, Outcome};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A console that keeps what the Guest prints.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One measurement reported by a benchmark Guest.
pub struct Sample {
    pub name: String,
    pub iterations: u64,
    pub ns: u64,
}

impl Sample {
    pub fn ns_per(&self) -> f64 {
        self.ns as f64 / self.iterations as f64
    }
}

/// Boot `guest` (an embedded benchmark kernel), run it to power off, and parse its results.
pub fn run_bench_guest(guest: &images::Guest, cmdline: &str) -> Vec<Sample> {
    let mut config = Config::new();
    config.cmdline = cmdline.to_string();
    run_bench_guest_with(guest, config)
}

/// [`run_bench_guest`] with a configuration of the caller's (devices, say); its console
/// output is replaced by the capture the results are parsed from.
pub fn run_bench_guest_with(guest: &images::Guest, mut config: Config) -> Vec<Sample> {
    let capture = Capture::default();
    config.console_out = Box::new(capture.clone());
    let mut g = Guest::new(guest.elf(), config).expect("benchmark guest boots");
    let outcome = g.run();
    let text = String::from_utf8_lossy(&capture.0.lock().expect("console")).into_owned();
    assert_eq!(outcome, Outcome::PowerOff, "{} did not finish: {outcome:?}\n{text}", guest.name());
    text.lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("bench ")?.split_whitespace();
            Some(Sample {
                name: w.next()?.to_string(),
                iterations: w.next()?.parse().ok()?,
                ns: w.next()?.parse().ok()?,
            })
        })
        .collect()
}

pub fn find<'a>(samples: &'a [Sample], name: &str) -> &'a Sample {
    samples.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no sample {name}"))
}
