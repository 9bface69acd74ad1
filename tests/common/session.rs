//! A Launcher running in the background with a console the test talks to: input written
//! to its standard input (a pipe, or a pseudo-terminal), output collected as it comes and
//! waited for with a timeout — never slept for.

use super::Run;
use std::cell::Cell;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any one wait may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Standard output collected so far, and a signal for each new piece and for its end.
#[derive(Default)]
struct Output {
    text: Mutex<Text>,
    grew: Condvar,
}

#[derive(Default)]
struct Text {
    text: String,
    /// The Launcher's side is closed: nothing more will come, so a wait can fail at once.
    ended: bool,
}

pub struct Session {
    child: Child,
    input: Option<Box<dyn Write + Send>>,
    stdout: Arc<Output>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    /// Where the lines [`Session::wait_for_line`] has not yet read start in the output.
    unread: Cell<usize>,
}

impl Session {
    /// Start `cmd` with its standard input a pipe the test writes to.
    pub fn piped(mut cmd: Command) -> Session {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = cmd.stderr(Stdio::piped()).spawn().expect("start lguest");
        let input = child.stdin.take().expect("stdin");
        let out = child.stdout.take().expect("stdout");
        Session::collect(child, Some(Box::new(input)), out)
    }

    /// Start `cmd` with `stdin` as its standard input and nothing to write to.
    pub fn with_stdin(mut cmd: Command, stdin: impl Into<Stdio>) -> Session {
        cmd.stdin(stdin).stdout(Stdio::piped());
        let mut child = cmd.stderr(Stdio::piped()).spawn().expect("start lguest");
        let out = child.stdout.take().expect("stdout");
        Session::collect(child, None, out)
    }

    /// Collect the output of an already started `child` from `out` (its stdout, or a
    /// terminal's master side), and its stderr; `input` reaches its standard input.
    pub fn collect(
        mut child: Child,
        input: Option<Box<dyn Write + Send>>,
        mut out: impl Read + Send + 'static,
    ) -> Session {
        let stdout = Arc::new(Output::default());
        let stderr = Arc::new(Mutex::new(String::new()));
        let so = stdout.clone();
        let out_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends at end of file, or EIO from a terminal whose other side is all closed.
            while let Ok(n @ 1..) = out.read(&mut buf) {
                so.text.lock().unwrap().text.push_str(&String::from_utf8_lossy(&buf[..n]));
                so.grew.notify_all();
            }
            so.text.lock().unwrap().ended = true;
            so.grew.notify_all();
        });
        let (mut err, se) = (child.stderr.take().expect("stderr"), stderr.clone());
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            se.lock().unwrap().push_str(&s);
        });
        Session { child, input, stdout, stderr, readers: vec![out_reader, err_reader], unread: Cell::new(0) }
    }

    /// The Launcher's process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Everything so far, for failure messages.
    pub fn output(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.stdout.text.lock().unwrap().text,
            self.stderr.lock().unwrap()
        )
    }

    /// The standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.text.lock().unwrap().text.clone()
    }

    /// Type (or pipe) `bytes` at the console.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        let input = self.input.as_mut().expect("a console to write to");
        input.write_all(bytes.as_ref()).expect("write to the console");
        input.flush().expect("flush the console");
    }

    /// End the input (the pipe's write side closes).
    pub fn close_input(&mut self) {
        self.input = None;
    }

    /// Wait until `found` finds what it looks for in the output; panics, saying `what` was
    /// wanted, once the output has ended without it or after [`TIMEOUT`].
    fn wait_until<T>(&self, what: &str, mut found: impl FnMut(&Text) -> Option<T>) -> T {
        let end = Instant::now() + TIMEOUT;
        let mut text = self.stdout.text.lock().unwrap();
        loop {
            if let Some(t) = found(&text) {
                return t;
            }
            let left = end.saturating_duration_since(Instant::now());
            if text.ended || left.is_zero() {
                let how = if text.ended { "the output ended" } else { "timed out" };
                drop(text);
                panic!("{how} without {what}\n{}", self.output());
            }
            text = self.stdout.grew.wait_timeout(text, left).unwrap().0;
        }
    }

    /// Wait until the output holds `needle` at least `times` times.
    pub fn wait_for_n(&self, needle: &str, times: usize) {
        let what = format!("{times} x {needle:?}");
        self.wait_until(&what, |t| (t.text.matches(needle).count() >= times).then_some(()));
    }

    /// Wait until the output holds `needle`.
    pub fn wait_for(&self, needle: &str) {
        self.wait_for_n(needle, 1);
    }

    /// Wait for a whole line of output containing `needle`, and return it (without its line
    /// ending). Lines are read in order, as from a pipe: each call looks only at the lines
    /// after those earlier calls read, so a progress line already passed is not found again.
    pub fn wait_for_line(&self, needle: &str) -> String {
        let what = format!("a line with {needle:?}");
        self.wait_until(&what, |t| {
            let mut at = self.unread.get();
            let mut found = None;
            while found.is_none() {
                let rest = &t.text[at..];
                // A line is whole once its newline has come, or the output has ended.
                let len = match rest.find('\n') {
                    Some(i) => i + 1,
                    None if t.ended && !rest.is_empty() => rest.len(),
                    None => break,
                };
                let line = rest[..len].trim_end_matches('\n');
                let line = line.strip_suffix('\r').unwrap_or(line);
                if line.contains(needle) {
                    found = Some(line.to_string());
                }
                at += len;
            }
            self.unread.set(at);
            found
        })
    }

    /// User and system CPU seconds the Launcher has used so far (from /proc).
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("read /proc/PID/stat");
        // Fields after the command name (which is in parentheses): utime is the 12th, stime
        // the 13th, in clock ticks.
        let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        ticks as f64 / hz
    }

    /// Send SIGINT, SIGTERM... to the Launcher.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Wait for the Launcher to end (killing it after [`TIMEOUT`]); its status and output.
    pub fn finish(self) -> Run {
        self.finish_within(TIMEOUT).0
    }

    /// End the input and wait for the Launcher to end, at most `limit` (then kill it and
    /// fail); its status and output, and how long it took.
    pub fn finish_within(mut self, limit: Duration) -> (Run, Duration) {
        self.input = None;
        let start = Instant::now();
        let pid = self.pid();
        let (done, watchdog) = channel::<()>();
        let dog = std::thread::spawn(move || {
            let timed_out = watchdog.recv_timeout(limit) == Err(RecvTimeoutError::Timeout);
            if timed_out {
                // SAFETY: kill(2) on our child, which has not been reaped (we are waiting).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            timed_out
        });
        let status = self.child.wait().expect("wait for lguest");
        let took = start.elapsed();
        let _ = done.send(());
        let timed_out = dog.join().unwrap_or(true);
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        assert!(!timed_out, "the Launcher did not end within {limit:?}\n{}", self.output());
        let run = Run {
            status: status.code().unwrap_or(-1),
            stdout: self.stdout(),
            stderr: self.stderr.lock().unwrap().clone(),
        };
        (run, took)
    }
}

/// A Session dropped before it is finished (a test that failed, or one that leaves its
/// Launcher running) kills its Launcher rather than leaving it behind.
impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
