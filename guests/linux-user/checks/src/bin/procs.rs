//! Processes: ids, `fork`, exit codes and the wait statuses every way of ending gives,
//! `wait4`/`waitpid`/`waitid` and their options, zombies, orphans, `execve` (arguments,
//! environment, close-on-exec, what happens to signal dispositions), process groups and
//! sessions, and many processes alive at once, each keeping its own memory.
//!
//! Only the parent prints, after the child it asks about has ended or told it what it
//! saw through a pipe, so the output is in the same order on every run. Ids are never
//! printed, only how they relate (the kernels number processes differently).
//!
//! Run with no arguments. (`procs exec-child ...` is how it runs itself after `execve`.)

#![no_std]
#![no_main]

use linux::check::Report;
use linux::fs::{self, F_GETFD, F_SETFD, FD_CLOEXEC, close, fcntl, pipe};
use linux::io::{recv, send};
use linux::process::{
    self, P_PID, WCONTINUED, WEXITED, WNOHANG, WNOWAIT, WUNTRACED, exit_group, fork_child, getpgid, getpgrp,
    getpid, getppid, getsid, gettid, kill, setpgid, setsid, wait_for, wait4, waitid, waitpid,
};
use linux::signal::{
    self, CLD_EXITED, CLD_KILLED, Handler, SIG_SETMASK, SIGKILL, SIGTERM, SIGUSR1, SIGUSR2, SigSet,
    sigprocmask,
};
use linux::{Bytes, Errno, arg, cbuf};

linux::entry!(main);

fn main() -> i32 {
    if arg(1) == Some(b"exec-child") {
        return exec_child();
    }
    let mut t = Report::new();
    ids(&mut t);
    exit_codes(&mut t);
    parent_and_child(&mut t);
    wait_options(&mut t);
    zombies(&mut t);
    orphans(&mut t);
    stop_and_continue(&mut t);
    exec(&mut t);
    groups_and_sessions(&mut t);
    many_address_spaces(&mut t);
    t.finish()
}

fn ids(t: &mut Report) {
    t.section("ids");
    t.ok("getpid is positive", getpid() > 0);
    t.ok("getppid differs from getpid", getppid() != getpid());
    t.same("gettid is getpid (one thread)", gettid(), getpid());
    t.same("getpgid(0) is getpgrp", getpgid(0), Ok(getpgrp()));
    t.same("getpgid(getpid()) is getpgrp", getpgid(getpid()), Ok(getpgrp()));
    t.same("getsid(0) is getsid(getpid())", getsid(0), getsid(getpid()));
    t.eq("getpgid of a pid that does not exist", getpgid(0x3fff_fff0), Err(Errno::ESRCH));
}

fn exit_codes(t: &mut Report) {
    t.section("exit codes");
    for code in [0, 1, 42, 127, 255, 256, 0x1234] {
        let pid = fork_child(|| code).expect("fork");
        t.eq(
            format_args!("child returning {code:#x} from main"),
            wait_for(pid).map(|s| s.text()),
            Ok(exited(code as u32 & 0xff)),
        );
    }
    let pid = fork_child(|| process::exit(7)).expect("fork");
    t.eq("child calling exit(7)", wait_for(pid).map(|s| s.text()), Ok(exited(7)));
    for sig in [SIGTERM, SIGUSR1, SIGKILL] {
        let pid = fork_child(|| {
            process::no_core_dumps();
            let _ = signal::raise(sig);
            99
        })
        .expect("fork");
        t.eq(
            format_args!("child raising {}", signal::signal_name(sig)),
            wait_for(pid).map(|s| s.text()),
            Ok(killed(sig)),
        );
    }
}

/// `exited N` as [`WaitStatus`](process::WaitStatus) prints it.
fn exited(code: u32) -> linux::CBuf {
    cbuf!("exited {code}")
}

fn killed(sig: u32) -> linux::CBuf {
    cbuf!("killed by {}", signal::signal_name(sig))
}

trait Text {
    fn text(self) -> linux::CBuf;
}

impl Text for process::WaitStatus {
    fn text(self) -> linux::CBuf {
        cbuf!("{self}")
    }
}

fn parent_and_child(t: &mut Report) {
    t.section("parent and child");
    let parent = getpid();
    let [rd, wr] = pipe().expect("pipe");
    let pid = fork_child(|| {
        let me = getpid() as u32;
        let _ = send(wr, &[me, getppid() as u32, getpgrp() as u32, getsid(0).unwrap_or(-1) as u32]);
        0
    })
    .expect("fork");
    close(wr).expect("close");
    let mut seen = [0u32; 4];
    t.eq("words the child sent", recv(rd, &mut seen), Ok(4));
    close(rd).expect("close");
    t.same("fork returned the child's getpid", seen[0] as i32, pid);
    t.same("the child's getppid is the parent's getpid", seen[1] as i32, parent);
    t.same("the child's process group is the parent's", seen[2] as i32, getpgrp());
    t.same("the child's session is the parent's", seen[3] as i32, getsid(0).unwrap_or(-2));
    t.ok("the child's pid is not the parent's", pid != parent);
    t.eq("wait4 for it", wait4(pid, 0).map(|(p, s)| (p == pid, s.text())), Ok((true, exited(0))));
}

fn wait_options(t: &mut Report) {
    t.section("waiting");
    t.eq("wait4(-1) with no children", wait4(-1, 0).map(|(p, _)| p), Err(Errno::ECHILD));
    t.eq("waitpid(-1) with no children", waitpid(-1, 0).map(|(p, _)| p), Err(Errno::ECHILD));

    // A child that waits for its pipe to close, so it is alive until we say.
    let [rd, wr] = pipe().expect("pipe");
    let pid = fork_child(|| {
        let _ = close(wr);
        let mut b = [0u8; 1];
        let n = fs::read(rd, &mut b).unwrap_or(99);
        n as i32 + 3
    })
    .expect("fork");
    close(rd).expect("close");
    t.eq("wait4 WNOHANG while the child runs", wait4(pid, WNOHANG).map(|(p, _)| p), Ok(0));
    t.eq("wait4 WNOHANG for any child while it runs", wait4(-1, WNOHANG).map(|(p, _)| p), Ok(0));
    t.eq("wait4 for a pid that is not a child", wait4(1, WNOHANG).map(|(p, _)| p), Err(Errno::ECHILD));
    close(wr).expect("close");
    let got = waitpid(pid, 0);
    t.eq(
        "waitpid after the pipe closed (read 0, exit 3)",
        got.map(|(p, s)| (p == pid, s.text())),
        Ok((true, exited(3))),
    );
    t.eq("wait4 again for the reaped child", wait4(pid, 0).map(|(p, _)| p), Err(Errno::ECHILD));

    // Two children, waited for in the other order than they were made.
    let a = fork_child(|| 10).expect("fork");
    let b = fork_child(|| 20).expect("fork");
    t.eq("wait4 for the second child first", wait_for(b).map(|s| s.text()), Ok(exited(20)));
    t.eq("then the first", wait_for(a).map(|s| s.text()), Ok(exited(10)));

    // Three children, waited for with -1: each one once.
    let kids = [
        fork_child(|| 31).expect("fork"),
        fork_child(|| 32).expect("fork"),
        fork_child(|| 33).expect("fork"),
    ];
    let mut codes = [0u32; 3];
    for slot in codes.iter_mut() {
        if let Ok((p, s)) = wait4(-1, 0) {
            let i = kids.iter().position(|&k| k == p).unwrap_or(0);
            *slot = s.exit_code().unwrap_or(0) + 100 * i as u32;
        }
    }
    codes.sort_unstable();
    t.eq("wait4(-1) three times: each child's code once", codes, [31, 132, 233]);
}

fn zombies(t: &mut Report) {
    t.section("zombies");
    let pid = fork_child(|| 5).expect("fork");
    // WNOWAIT: wait until it has exited, but leave it a zombie.
    let info = waitid(P_PID, pid, WEXITED | WNOWAIT);
    t.eq(
        "waitid WEXITED|WNOWAIT: (signo, code, pid is the child, status)",
        info.map(|i| (i.signo(), i.code(), i.pid() == pid, i.status())),
        Ok((signal::SIGCHLD, CLD_EXITED, true, 5)),
    );
    t.eq("kill(zombie, 0)", kill(pid, 0), Ok(()));
    let stat = cbuf!("/proc/{pid}/stat");
    let mut buf = [0u8; 512];
    let state = fs::read_file(&stat, &mut buf).ok().and_then(|n| {
        let text = &buf[..n];
        let close = text.iter().rposition(|&b| b == b')')?;
        text.get(close + 2).copied()
    });
    t.eq("its state in /proc/PID/stat", state.map(|c| c as char), Some('Z'));
    t.eq("wait4 reaps it", wait_for(pid).map(|s| s.text()), Ok(exited(5)));
    t.eq("kill(reaped pid, 0)", kill(pid, 0), Err(Errno::ESRCH));
    t.eq("/proc/PID after the reaping", fs::stat(&cbuf!("/proc/{pid}")).map(drop), Err(Errno::ENOENT));

    let pid = fork_child(|| {
        process::no_core_dumps();
        let _ = signal::raise(SIGKILL);
        0
    })
    .expect("fork");
    let info = waitid(P_PID, pid, WEXITED);
    t.eq(
        "waitid for a child killed by SIGKILL: (code, status)",
        info.map(|i| (i.code(), i.status())),
        Ok((CLD_KILLED, SIGKILL as i32)),
    );
}

fn orphans(t: &mut Report) {
    t.section("orphans");
    let [rd, wr] = pipe().expect("pipe");
    let middle = fork_child(|| {
        let me = getpid();
        let grandchild = fork_child(|| {
            // Wait (yielding) until the middle process has gone and someone else adopted
            // us; then say who our parent was before and whether it changed.
            let mut spins = 0u32;
            while getppid() == me && spins < 10_000_000 {
                process::sched_yield();
                spins += 1;
            }
            let _ = send(wr, &[u32::from(getppid() != me)]);
            0
        });
        if grandchild.is_err() { 1 } else { 0 }
    })
    .expect("fork");
    close(wr).expect("close");
    t.eq("the middle process exits", wait_for(middle).map(|s| s.text()), Ok(exited(0)));
    let mut adopted = [0u32; 1];
    t.eq("words from the orphan", recv(rd, &mut adopted), Ok(1));
    t.eq("the orphan's getppid changed when its parent exited", adopted[0], 1);
    close(rd).expect("close");
    t.eq("the orphan is not our child", wait4(-1, WNOHANG).map(|(p, _)| p), Err(Errno::ECHILD));
}

fn stop_and_continue(t: &mut Report) {
    t.section("stop and continue");
    let [rd, wr] = pipe().expect("pipe");
    let pid = fork_child(|| {
        let _ = close(wr);
        let mut b = [0u8; 1];
        let _ = fs::read(rd, &mut b);
        0
    })
    .expect("fork");
    close(rd).expect("close");
    t.eq("kill SIGSTOP", kill(pid, signal::SIGSTOP), Ok(()));
    t.eq("wait4 WUNTRACED", wait4(pid, WUNTRACED).map(|(_, s)| s.text()), Ok(cbuf!("stopped by SIGSTOP")));
    t.eq(
        "wait4 WUNTRACED|WNOHANG again (reported once)",
        wait4(pid, WUNTRACED | WNOHANG).map(|(p, _)| p),
        Ok(0),
    );
    t.eq("kill SIGCONT", kill(pid, signal::SIGCONT), Ok(()));
    t.eq("wait4 WCONTINUED", wait4(pid, WCONTINUED).map(|(_, s)| s.text()), Ok(cbuf!("continued")));
    t.eq("kill SIGTERM", kill(pid, SIGTERM), Ok(()));
    t.eq("wait4", wait_for(pid).map(|s| s.text()), Ok(killed(SIGTERM)));
    close(wr).expect("close");
}

extern "C" fn on_usr1(_: i32) {}

fn exec(t: &mut Report) {
    t.section("execve");
    t.eq(
        "execve of a path that does not exist",
        process::execve(c"/nonexistent/program", &[core::ptr::null()], &[core::ptr::null()]),
        Errno::ENOENT,
    );
    t.eq(
        "execve of a directory",
        process::execve(c"/", &[core::ptr::null()], &[core::ptr::null()]),
        Errno::EACCES,
    );

    let [rd, wr] = pipe().expect("pipe");
    let [cloexec_rd, cloexec_wr] = pipe().expect("pipe");
    fcntl(cloexec_wr, F_SETFD, FD_CLOEXEC).expect("F_SETFD");
    let parent = getpid();
    let pid = fork_child(|| {
        let _ = close(rd);
        // What exec must do to signals: a caught one goes back to default, an ignored
        // one stays ignored, the blocked mask stays.
        let _ = signal::signal(SIGUSR1, Handler::Plain(on_usr1));
        let _ = signal::signal(SIGUSR2, Handler::Ignore);
        let _ = sigprocmask(SIG_SETMASK, SigSet::of(&[SIGTERM]));
        let me = getpid();
        let (a0, a2, a3, a4) = (c"procs-renamed", cbuf!("{wr}"), cbuf!("{cloexec_wr}"), cbuf!("{me}"));
        let argv =
            [a0.as_ptr(), c"exec-child".as_ptr(), a2.as_ptr(), a3.as_ptr(), a4.as_ptr(), core::ptr::null()];
        let envp = [c"GREETING=hello from the parent".as_ptr(), c"EMPTY=".as_ptr(), core::ptr::null()];
        let err = process::execve(c"/proc/self/exe", &argv, &envp);
        linux::println!("execve /proc/self/exe failed: {err}");
        100
    })
    .expect("fork");
    close(wr).expect("close");
    close(cloexec_wr).expect("close");
    // The exec'd child prints its own lines; the pipe brings what it could not print.
    let mut words = [0u32; 2];
    let got = recv(rd, &mut words);
    t.eq("words from the exec'd child", got, Ok(2));
    t.same("its getppid is still the parent", words[0] as i32, parent);
    t.eq(
        "the close-on-exec pipe's write end was closed by exec (read gets EOF)",
        fs::read(cloexec_rd, &mut [0u8; 4]),
        Ok(0),
    );
    t.eq("exec'd child", wait_for(pid).map(|s| s.text()), Ok(exited(0)));
    close(rd).expect("close");
    close(cloexec_rd).expect("close");
}

/// `procs exec-child WFD CLOEXEC_FD PID`: the program after `execve`, checking what it
/// was given and what it kept.
fn exec_child() -> i32 {
    let mut t = Report::new();
    let num = |i| {
        arg(i).and_then(|a| core::str::from_utf8(a).ok()).and_then(|s| s.parse::<i32>().ok()).unwrap_or(-1)
    };
    let (wfd, cloexec_fd, pid_before) = (num(2), num(3), num(4));
    t.eq("exec'd: argc", linux::argc(), 5);
    t.eq("exec'd: argv[0] as given", arg(0).map(Bytes), Some(Bytes(b"procs-renamed")));
    t.eq("exec'd: argv[1]", arg(1).map(Bytes), Some(Bytes(b"exec-child")));
    t.eq("exec'd: environment entries", linux::env().count(), 2);
    t.eq("exec'd: GREETING", linux::getenv(b"GREETING").map(Bytes), Some(Bytes(b"hello from the parent")));
    t.eq("exec'd: EMPTY", linux::getenv(b"EMPTY").map(Bytes), Some(Bytes(b"")));
    t.eq("exec'd: PATH (not given)", linux::getenv(b"PATH").map(Bytes), None);
    t.same("exec'd: getpid is the pid before exec", getpid(), pid_before);
    t.eq("exec'd: the inherited pipe is open", fcntl(wfd, F_GETFD, 0), Ok(0));
    t.eq("exec'd: the close-on-exec descriptor is closed", fcntl(cloexec_fd, F_GETFD, 0), Err(Errno::EBADF));
    t.eq(
        "exec'd: SIGUSR1 (was caught) is back to default",
        signal::get_action(SIGUSR1).map(|a| a.handler),
        Ok(0),
    );
    t.eq(
        "exec'd: SIGUSR2 (was ignored) is still ignored",
        signal::get_action(SIGUSR2).map(|a| a.handler),
        Ok(1),
    );
    t.eq("exec'd: the blocked mask is kept", signal::blocked(), SigSet::of(&[SIGTERM]));
    t.eq("exec'd: AT_PAGESZ", linux::auxv(linux::start::AT_PAGESZ), Some(4096));
    let ppid = getppid() as u32;
    let code = t.finish();
    // Only now: the parent prints again once it has these.
    let _ = send(wfd, &[ppid, 0]);
    exit_group(code)
}

fn groups_and_sessions(t: &mut Report) {
    t.section("process groups and sessions");
    let [rd, wr] = pipe().expect("pipe");
    let pid = fork_child(|| {
        let me = getpid();
        let Ok([block_rd, _block_wr]) = pipe() else { return 1 };
        let mut r = [0u32; 8];
        r[0] = u32::from(setpgid(0, 0).is_ok());
        r[1] = u32::from(getpgrp() == me);
        // A group leader cannot start a session.
        r[2] = match setsid() {
            Err(e) => e.0,
            Ok(_) => 0,
        };
        // A child of ours, in our group, kills the whole group but us with kill(-pgid).
        let victim = fork_child(|| {
            let mut b = [0u8; 1];
            let _ = fs::read(block_rd, &mut b);
            0
        });
        let victim = victim.unwrap_or(-1);
        r[3] = u32::from(getpgid(victim) == Ok(me));
        // We are in the group too: the signal must not end us.
        let _ = signal::signal(SIGUSR2, Handler::Ignore);
        r[4] = u32::from(kill(-me, SIGUSR2).is_ok());
        r[5] = wait_for(victim).map(|s| s.term_signal().unwrap_or(0)).unwrap_or(0);
        // A child that is not a group leader starts a session and is alone in it.
        let leader = fork_child(|| {
            let Ok(sid) = setsid() else { return 1 };
            let me = getpid();
            if sid != me || getsid(0) != Ok(me) || getpgrp() != me {
                return 2;
            }
            match setsid() {
                Err(Errno::EPERM) => 0,
                _ => 3,
            }
        });
        r[6] = leader.and_then(wait_for).map(|s| s.exit_code().unwrap_or(99)).unwrap_or(98);
        let _ = send(wr, &r[..7]);
        0
    })
    .expect("fork");
    let mut r = [0u32; 7];
    close(wr).expect("close");
    let got = recv(rd, &mut r);
    t.eq("words from the child", got, Ok(7));
    t.eq("setpgid(0, 0) in the child", r[0], 1);
    t.eq("then getpgrp is its pid", r[1], 1);
    t.eq("setsid in a group leader", Errno(r[2]), Errno::EPERM);
    t.eq("its child is in its group", r[3], 1);
    t.eq("kill(-pgid, SIGUSR2)", r[4], 1);
    t.eq("the signal in the group's child's wait status", signal::SigName(r[5]), signal::SigName(SIGUSR2));
    t.eq("a non-leader's setsid: sid, pgrp and second setsid (0 = as expected)", r[6], 0);
    t.eq("the child", wait_for(pid).map(|s| s.text()), Ok(exited(0)));
    t.eq("getpgid(child) after it was reaped", getpgid(pid), Err(Errno::ESRCH));
    close(rd).expect("close");
}

/// Memory each child of `many_address_spaces` fills with its own number (copy-on-write
/// after the fork: one page of it per child, and a few pages more).
static mut MINE: [u32; 4096] = [0; 4096];

/// Sixteen children alive at once (seventeen address spaces: more than a Host keeps
/// shadow page tables for at a time), each writing its own number over a copy-on-write
/// buffer, then waiting for the parent's word and checking its buffer is still all its
/// own before it exits with its number.
fn many_address_spaces(t: &mut Report) {
    t.section("many address spaces");
    const KIDS: u32 = 16;
    let mut kids = [(0i32, 0i32); KIDS as usize];
    for (i, kid) in kids.iter_mut().enumerate() {
        let [go_r, go_w] = pipe().expect("pipe");
        let pid = fork_child(|| {
            close(go_w).expect("close");
            let me = i as u32 + 1;
            let buf = &raw mut MINE;
            // SAFETY: this process is the only one that sees its copy of MINE.
            unsafe { (*buf).iter_mut().enumerate().for_each(|(j, w)| *w = me * 0x1_0000 + j as u32) };
            let mut word = [0u32];
            if recv(go_r, &mut word) != Ok(1) {
                return 200;
            }
            // SAFETY: as above.
            let intact = unsafe { (*buf).iter().enumerate().all(|(j, &w)| w == me * 0x1_0000 + j as u32) };
            if intact { me as i32 } else { 100 + me as i32 }
        })
        .expect("fork");
        close(go_r).expect("close");
        *kid = (pid, go_w);
    }
    let parents = &raw const MINE;
    // SAFETY: the parent's own copy, which nothing writes.
    let parent_intact = unsafe { (*parents).iter().all(|&w| w == 0) };
    let mut codes = [0u32; KIDS as usize];
    for (code, &(pid, go_w)) in codes.iter_mut().zip(&kids).rev() {
        send(go_w, &[1]).expect("send");
        close(go_w).expect("close");
        *code = wait_for(pid).ok().and_then(|s| s.exit_code()).unwrap_or(0);
    }
    let want: [u32; KIDS as usize] = core::array::from_fn(|i| i as u32 + 1);
    t.eq("each of 16 live children found only its own numbers", codes, want);
    t.ok("the parent's copy stayed as it was", parent_intact);
}
