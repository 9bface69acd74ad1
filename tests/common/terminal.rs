//! A Launcher on a pseudo-terminal, as a user at a terminal runs it: the test holds the
//! master side (what the user types and sees), the Launcher gets the slave as its
//! standard input and output.

use super::Run;
use super::session::Session;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

/// A pseudo-terminal: the test holds the master side, the Launcher gets the slave.
pub struct Pty {
    pub master: File,
    pub slave: OwnedFd,
}

pub fn openpty() -> Pty {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two new descriptors; no name, termios or size is asked for.
    let r = unsafe {
        libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null())
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are new and ours alone.
    unsafe { Pty { master: File::from_raw_fd(master), slave: OwnedFd::from_raw_fd(slave) } }
}

/// The terminal's modes. On Linux the master side answers for the slave's terminal.
pub fn termios(master: &File) -> libc::termios {
    // SAFETY: an all-zero termios is a valid value to be overwritten.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: tcgetattr writes one termios into `t`.
    let r = unsafe { libc::tcgetattr(master.as_raw_fd(), &mut t) };
    assert_eq!(r, 0, "tcgetattr: {}", std::io::Error::last_os_error());
    t
}

pub fn modes(t: &libc::termios) -> (libc::tcflag_t, libc::tcflag_t, libc::tcflag_t, libc::tcflag_t) {
    (t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag)
}

/// A Launcher on a terminal: its stdin and stdout are the pty's slave side.
pub struct OnTerminal {
    pub session: Session,
    pub master: File,
    pub original: libc::termios,
}

impl OnTerminal {
    pub fn start(mut cmd: Command) -> OnTerminal {
        let pty = openpty();
        let original = termios(&pty.master);
        assert!(original.c_lflag & libc::ICANON != 0 && original.c_lflag & libc::ECHO != 0);
        let slave = pty.slave.try_clone().expect("dup the slave");
        cmd.stdin(Stdio::from(slave)).stdout(Stdio::from(pty.slave)).stderr(Stdio::piped());
        let child = cmd.spawn().expect("start lguest");
        // The Command holds our copies of the slave: without them, reading the master
        // ends (EIO) once the Launcher is gone.
        drop(cmd);
        let reader = pty.master.try_clone().expect("dup the master");
        let writer = pty.master.try_clone().expect("dup the master");
        let session = Session::collect(child, Some(Box::new(writer)), reader);
        OnTerminal { session, master: pty.master, original }
    }

    /// Wait for the Launcher to end; its status, and whether the terminal is as it was.
    pub fn finish(self) -> (Run, bool) {
        let r = self.session.finish();
        let now = termios(&self.master);
        (r, modes(&now) == modes(&self.original) && now.c_cc == self.original.c_cc)
    }
}
