//! A Launcher running in the background with a console the test talks to: input written
//! to its standard input (a pipe, or a pseudo-terminal), output collected as it comes and
//! waited for with a timeout — never slept for.

use super::Run;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any one wait may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Output collected so far, and a signal for each new piece.
#[derive(Default)]
struct Output {
    text: Mutex<String>,
    grew: Condvar,
}

pub struct Session {
    child: Child,
    input: Option<Box<dyn Write + Send>>,
    stdout: Arc<Output>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
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
                so.text.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                so.grew.notify_all();
            }
        });
        let (mut err, se) = (child.stderr.take().expect("stderr"), stderr.clone());
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            se.lock().unwrap().push_str(&s);
        });
        Session { child, input, stdout, stderr, readers: vec![out_reader, err_reader] }
    }

    /// The Launcher's process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Everything so far, for failure messages.
    pub fn output(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout.text.lock().unwrap(), self.stderr.lock().unwrap())
    }

    /// The standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.text.lock().unwrap().clone()
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

    /// Wait until the output holds `needle` at least `times` times; panics after [`TIMEOUT`].
    pub fn wait_for_n(&self, needle: &str, times: usize) {
        let end = Instant::now() + TIMEOUT;
        let mut text = self.stdout.text.lock().unwrap();
        while text.matches(needle).count() < times {
            let left = end.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {times} x {needle:?} in the output in time\n{}\n", *text);
            text = self.stdout.grew.wait_timeout(text, left).unwrap().0;
        }
    }

    /// Wait until the output holds `needle`.
    pub fn wait_for(&self, needle: &str) {
        self.wait_for_n(needle, 1);
    }

    /// Send SIGINT, SIGTERM... to the Launcher.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Wait for the Launcher to end (killing it after [`TIMEOUT`]); its status and output.
    pub fn finish(mut self) -> Run {
        self.input = None;
        let pid = self.pid();
        let (done, watchdog) = channel::<()>();
        let dog = std::thread::spawn(move || {
            let timed_out = watchdog.recv_timeout(TIMEOUT) == Err(RecvTimeoutError::Timeout);
            if timed_out {
                // SAFETY: kill(2) on our child, which has not been reaped (we are waiting).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            timed_out
        });
        let status = self.child.wait().expect("wait for lguest");
        let _ = done.send(());
        let timed_out = dog.join().unwrap_or(true);
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        assert!(!timed_out, "the Launcher did not finish in {TIMEOUT:?}\n{}", self.output());
        Run {
            status: status.code().unwrap_or(-1),
            stdout: self.stdout(),
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
