//! Running a benchmark Guest in-process and collecting its `bench <name> <n> <ns>` lines,
//! the best of several runs, and how many heap allocations the Host made while the Guest
//! ran (the hot paths — hypercalls, traps, interrupt delivery — are meant to make none).

#![allow(dead_code)]

use host::{Config, Engine, Guest, Outcome};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The system allocator, counting allocations.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed straight to the system allocator with the caller's
// arguments; the counter is only a side effect.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's promises, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's promises, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's promises, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's promises, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations (and reallocations) by the whole process so far.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

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
pub fn run_bench_guest_with(guest: &images::Guest, config: Config) -> Vec<Sample> {
    run_counting_allocations(guest, config).0
}

/// [`run_bench_guest_with`], also returning the heap allocations made while the Guest ran
/// (after boot): the CPU allocates when it decodes a block of code, and the console is a
/// growing buffer, but hypercalls, traps and interrupts should add nothing.
pub fn run_counting_allocations(guest: &images::Guest, mut config: Config) -> (Vec<Sample>, u64) {
    let capture = Capture::default();
    config.console_out = Box::new(capture.clone());
    let mut g = Guest::new(guest.elf(), config).expect("benchmark guest boots");
    let before = allocations();
    let outcome = g.run();
    let allocated = allocations() - before;
    let text = String::from_utf8_lossy(&capture.0.lock().expect("console")).into_owned();
    assert_eq!(outcome, Outcome::PowerOff, "{} did not finish: {outcome:?}\n{text}", guest.name());
    let samples = text
        .lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("bench ")?.split_whitespace();
            Some(Sample {
                name: w.next()?.to_string(),
                iterations: w.next()?.parse().ok()?,
                ns: w.next()?.parse().ok()?,
            })
        })
        .collect();
    (samples, allocated)
}

/// The best (smallest) ns per iteration of each named sample over several runs, and the
/// fewest allocations any run of ours made.
#[derive(Default)]
pub struct Best {
    ns: Vec<(String, f64)>,
    pub allocations: Option<u64>,
}

impl Best {
    /// Run `guest` `runs` times and keep the best of each sample.
    pub fn of(guest: &images::Guest, runs: usize) -> Best {
        let mut best = Best::default();
        best.add_runs(guest, runs);
        best
    }

    /// Add `runs` runs of `guest`.
    pub fn add_runs(&mut self, guest: &images::Guest, runs: usize) {
        self.add_runs_on(guest, runs, Config::new().engine);
    }

    /// Add `runs` runs of `guest` on CPU engine `engine`.
    pub fn add_runs_on(&mut self, guest: &images::Guest, runs: usize, engine: Engine) {
        for _ in 0..runs {
            let mut config = Config::new();
            config.engine = engine;
            let (samples, allocated) = run_counting_allocations(guest, config);
            self.allocations = Some(self.allocations.map_or(allocated, |a| a.min(allocated)));
            for s in &samples {
                self.add(&s.name, s.ns_per());
            }
        }
    }

    /// The best of `runs` runs on each engine, alternating between them (so that a busy
    /// spell of the machine does not fall on one engine only).
    pub fn per_engine(guest: &images::Guest, runs: usize, engines: &[Engine]) -> Vec<Best> {
        let mut best: Vec<Best> = engines.iter().map(|_| Best::default()).collect();
        for _ in 0..runs {
            for (b, &e) in best.iter_mut().zip(engines) {
                b.add_runs_on(guest, 1, e);
            }
        }
        best
    }

    /// Take in another set's samples (their allocation count stays with them).
    pub fn merge(&mut self, other: &Best) {
        for (name, ns) in &other.ns {
            self.add(name, *ns);
        }
    }

    pub fn add(&mut self, name: &str, ns: f64) {
        match self.ns.iter_mut().find(|(n, _)| n == name) {
            Some((_, b)) => *b = b.min(ns),
            None => self.ns.push((name.to_string(), ns)),
        }
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.ns.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }

    /// `get`, NaN for a sample no run reported.
    pub fn ns(&self, name: &str) -> f64 {
        self.get(name).unwrap_or(f64::NAN)
    }
}

pub fn find<'a>(samples: &'a [Sample], name: &str) -> &'a Sample {
    samples.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no sample {name}"))
}
