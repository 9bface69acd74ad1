//! The scheduler: round-robin over the tasks, preempted by the clock.
//!
//! It is a loop in the kernel ([`run`]): pick the next runnable task, switch to its
//! address space (`LHCALL_NEW_PGTABLE`), and run it in user mode with
//! `usermode::run` until a trap handler stops it with [`stop`] — because the clock
//! ticked and another task is waiting, or it made a system call that gives up the CPU
//! (yield, sleep, exit, or a `read` with no input yet), or it faulted. The handler saves
//! the task's registers (the trap frame) in its [`Task`] and abandons user mode;
//! `usermode::run` returns, and the loop picks again. With nothing runnable it HALTs
//! until the next interrupt — with the clock stopped if no task is asleep, so that a
//! shell waiting for a keystroke costs nothing. Each time round, the loop also answers
//! the network (`devices::poll_net`).
//!
//! The clock is the Host's one-shot timer, re-armed on every tick (`LHCALL_SET_CLOCKEVENT`
//! every [`TICK_MS`]), so it doubles as the time base for `sleep` ("jiffies").
//!
//! Who touches the task table: the loop between runs of user code, and the trap handlers
//! of the task on the CPU while the loop is inside `usermode::run` — never both. All of
//! them run with interrupts off (the kernel's gates are interrupt gates), and the
//! interrupts that can arrive in the kernel (during a HALT: the clock, console input, a
//! network frame) only count a tick or end the HALT.

use crate::devices;
use crate::task::{End, Fault, Pid, State, Task};
use crate::uapi::{self, TaskInfo};
use crate::user::Program;
use core::sync::atomic::{AtomicU32, Ordering};
use guest::clock::{self, CLOCK_VECTOR};
use guest::idt::Gate;
use guest::paging;
use guest::traps::{self, TrapFrame};
use guest::{Global, console, irq, println, usermode};

/// Milliseconds between clock ticks: the time slice, and the resolution of `sleep`.
pub const TICK_MS: u32 = 1;
/// At most this many tasks.
pub const MAX_TASKS: usize = 8;

/// Clock ticks since [`run`] started.
static TICKS: AtomicU32 = AtomicU32::new(0);
/// When the next tick is due (`clock::now_ns`). Only [`run`] and [`on_clock`] use it.
static NEXT_TICK_NS: Global<u64> = Global::new(0);

struct Sched {
    tasks: [Option<Task>; MAX_TASKS],
    /// The slot of the task on the CPU, or last on it.
    current: usize,
    /// The slot whose address space is loaded, if any.
    loaded: Option<usize>,
    /// Times the CPU went from one task to another.
    context_switches: u32,
    /// Times the kernel HALTed because nothing was runnable.
    halts: u32,
}

static SCHED: Global<Sched> = Global::new(Sched {
    tasks: [const { None }; MAX_TASKS],
    // So that the first pick, which starts after the current slot, is slot 0.
    current: MAX_TASKS - 1,
    loaded: None,
    context_switches: 0,
    halts: 0,
});

/// Use the task table. Not re-entrant: `f` must not call anything that uses it.
fn with<R>(f: impl FnOnce(&mut Sched) -> R) -> R {
    // SAFETY: one CPU, and (see the module comment) the loop and the handlers take turns,
    // each with interrupts off, so this is the only reference while `f` runs.
    f(unsafe { &mut *SCHED.get() })
}

/// Clock ticks so far.
pub fn ticks() -> u32 {
    TICKS.load(Ordering::Relaxed)
}

/// Have the clock interrupt come to [`on_clock`].
pub fn init() {
    traps::set_handler(CLOCK_VECTOR, Gate::INTERRUPT, on_clock);
}

/// Make a task for `program`; it runs once [`run`] is called.
pub fn spawn(program: &Program) -> Result<Pid, &'static str> {
    let slot = with(|s| s.tasks.iter().position(Option::is_none)).ok_or("too many tasks")?;
    let pid = slot as Pid + 1;
    let task = Task::new(pid, program)?;
    println!(
        "demo: task {pid} ({}): {} pages of program, entry {:#x}; its page tables went to the Host in one FLUSH_ASYNC",
        task.name,
        task.program_pages(),
        task.frame.eip
    );
    with(|s| s.tasks[slot] = Some(task));
    Ok(pid)
}

/// Run the tasks until every one has ended.
pub fn run() {
    // SAFETY: the clock is not armed yet, so its handler cannot be using it.
    unsafe { *NEXT_TICK_NS.get() = clock::now_ns() };
    arm_tick();
    loop {
        devices::poll_net();
        match with(Sched::pick_next) {
            Pick::Task(slot, frame) => {
                // Returns when a handler calls `stop`.
                usermode::run(&frame);
                with(|s| s.after_run(slot));
            }
            Pick::Idle => {
                // HALT with interrupts off cannot miss the tick: the Host wakes us when
                // one is pending and delivers it at once, turning interrupts on (as
                // 2.6.23 did). The loop runs with them off, so off they go again.
                // Only a sleeper needs the clock; the others wait for an interrupt.
                let clock_needed = with(|s| {
                    s.halts += 1;
                    s.tasks.iter().flatten().any(|t| matches!(t.state, State::Sleeping { .. }))
                });
                if !clock_needed {
                    clock::cancel_clockevent();
                }
                guest::halt();
                irq::disable();
                if !clock_needed {
                    arm_tick();
                }
            }
            Pick::AllEnded => break,
        }
    }
    clock::cancel_clockevent();
}

/// Why a task left the CPU.
pub enum Stop {
    /// The clock ticked and another task was waiting.
    Preempted,
    /// It called `yield`.
    Yielded,
    /// It called `sleep(ms)`.
    Sleep(u32),
    /// It called `read` and there was no input yet.
    WaitInput,
    /// It called `exit(status)`.
    Exit(u32),
    /// It faulted and the kernel could not fix it.
    Killed(Fault),
}

/// Take the CPU from the task whose trap `frame` is: save its registers, note why, and
/// go back to the scheduler loop. For trap handlers of traps from user mode.
pub fn stop(frame: &TrapFrame, why: Stop) -> ! {
    with(|s| {
        let task = s.current_task();
        task.frame = *frame;
        match why {
            Stop::Preempted => task.counters.preempted += 1,
            Stop::Yielded => {}
            // The tick now under way is partly gone: one more makes it at least `ms`.
            Stop::Sleep(ms) => {
                task.state = State::Sleeping { until: ticks().saturating_add(ms.div_ceil(TICK_MS) + 1) }
            }
            Stop::WaitInput => task.state = State::Reading,
            Stop::Exit(status) => task.state = State::Ended(End::Exited(status)),
            Stop::Killed(fault) => task.state = State::Ended(End::Killed(fault)),
        }
    });
    usermode::exit(0)
}

/// The task on the CPU. For its trap handlers; `f` must not call [`stop`].
pub fn with_current<R>(f: impl FnOnce(&mut Task) -> R) -> R {
    with(|s| f(s.current_task()))
}

/// The clock: count the tick, arm the next one, and take the CPU from a task in user mode
/// if another is waiting for it.
fn on_clock(frame: &mut TrapFrame) {
    TICKS.fetch_add(1, Ordering::Relaxed);
    arm_tick();
    if frame.from_user() && with(|s| s.others_ready()) {
        stop(frame, Stop::Preempted);
    }
}

/// Arm the clock for the next tick. Ticks keep to a fixed schedule, however late each
/// handler runs; but if the last one came a whole tick late (the Host was busy, or the
/// clock was stopped), the schedule starts again from now rather than sending the missed
/// ticks in a burst. For the kernel's own code that borrowed the clock (`ping`), too.
pub fn arm_tick() {
    const TICK_NS: u64 = TICK_MS as u64 * 1_000_000;
    // SAFETY: used only here, always with interrupts off (by `run` before the clock is
    // armed, by the loop and system calls, and by the clock handler), so never twice at
    // once.
    let next = unsafe { &mut *NEXT_TICK_NS.get() };
    let now = clock::now_ns();
    *next += TICK_NS;
    if *next <= now {
        *next = now + TICK_NS;
    }
    clock::set_clockevent((*next - now) as u32);
}

enum Pick {
    Task(usize, TrapFrame),
    Idle,
    AllEnded,
}

impl Sched {
    fn current_task(&mut self) -> &mut Task {
        self.tasks[self.current].as_mut().expect("a trap from user mode with no task on the CPU")
    }

    /// Whether `task` can run now, waking it if its sleep is over or its input came.
    fn ready(task: &mut Task) -> bool {
        let wake = match task.state {
            State::Sleeping { until } => ticks() >= until,
            // It makes its `read` again, and this time it returns.
            State::Reading => console::input_ready() || console::input_ended(),
            _ => false,
        };
        if wake {
            task.state = State::Runnable;
        }
        task.state == State::Runnable
    }

    /// Whether a task other than the current one can run.
    fn others_ready(&mut self) -> bool {
        let current = self.current;
        self.tasks.iter_mut().enumerate().any(|(i, t)| i != current && t.as_mut().is_some_and(Sched::ready))
    }

    /// The next task to run after the current one, round-robin, with its address space
    /// loaded.
    fn pick_next(&mut self) -> Pick {
        let next = (1..=MAX_TASKS)
            .map(|n| (self.current + n) % MAX_TASKS)
            .find(|&i| self.tasks[i].as_mut().is_some_and(Sched::ready));
        let Some(slot) = next else {
            let all_ended = self.tasks.iter().flatten().all(|t| matches!(t.state, State::Ended(_)));
            return if all_ended { Pick::AllEnded } else { Pick::Idle };
        };
        let task = self.tasks[slot].as_ref().expect("picked a task");
        if self.loaded != Some(slot) {
            task.pgdir.switch_to();
            self.context_switches += 1;
            self.loaded = Some(slot);
        }
        self.current = slot;
        Pick::Task(slot, task.frame)
    }

    /// The task in `slot` has left the CPU: if it ended, say how and give back its memory.
    fn after_run(&mut self, slot: usize) {
        let task = self.tasks[slot].as_mut().expect("the task that ran");
        let State::Ended(end) = task.state else { return };
        let (pid, name) = (task.pid, task.name);
        match end {
            End::Exited(status) => println!("demo: task {pid} ({name}) exited with status {status}"),
            End::Killed(fault) => println!("demo: task {pid} ({name}) killed: {fault}"),
        }
        // Its address space is the loaded one, and may not be while it is taken apart.
        paging::kernel().switch_to();
        self.loaded = None;
        task.release();
    }
}

/// Print what happened: totals, then one line per task.
pub fn summary(elapsed_ms: u64) {
    with(|s| {
        let tasks = || s.tasks.iter().flatten();
        let syscalls: u32 = tasks().map(|t| t.counters.syscalls).sum();
        let faults: u32 = tasks().map(|t| t.counters.page_faults).sum();
        println!(
            "demo: summary: {} tasks in {elapsed_ms} ms: {} timer ticks, {} context switches, {syscalls} system calls, {faults} page faults handled, {} idle halts",
            tasks().count(),
            ticks(),
            s.context_switches,
            s.halts
        );
        println!("demo:   pid  task       preempted  syscalls  faults  ended");
        for t in tasks() {
            let c = t.counters;
            let (pid, name) = (t.pid, t.name);
            let (pre, sys, pf) = (c.preempted, c.syscalls, c.page_faults);
            match t.state {
                State::Ended(End::Exited(status)) => {
                    println!(
                        "demo:   {pid:>3}  {name:<9}  {pre:>9}  {sys:>8}  {pf:>6}  exited with status {status}"
                    )
                }
                State::Ended(End::Killed(f)) => {
                    println!("demo:   {pid:>3}  {name:<9}  {pre:>9}  {sys:>8}  {pf:>6}  killed: {f}")
                }
                _ => println!("demo:   {pid:>3}  {name:<9}  {pre:>9}  {sys:>8}  {pf:>6}  still running"),
            }
        }
    });
}

/// What `taskinfo` says about the task in `slot`: None for an empty slot, or past the end.
pub fn task_info(slot: usize) -> Option<Option<TaskInfo>> {
    with(|s| {
        let task = s.tasks.get(slot)?.as_ref();
        Some(task.map(|t| {
            let (state, status) = match t.state {
                State::Runnable => (uapi::TASK_RUNNABLE, 0),
                State::Sleeping { .. } => (uapi::TASK_SLEEPING, 0),
                State::Reading => (uapi::TASK_READING, 0),
                State::Ended(End::Exited(status)) => (uapi::TASK_EXITED, status),
                State::Ended(End::Killed(f)) => (uapi::TASK_KILLED, f.vector),
            };
            let mut name = [0u8; 16];
            let len = t.name.len().min(name.len());
            name[..len].copy_from_slice(&t.name.as_bytes()[..len]);
            let c = t.counters;
            TaskInfo {
                pid: t.pid,
                state,
                status,
                syscalls: c.syscalls,
                page_faults: c.page_faults,
                preempted: c.preempted,
                name,
            }
        }))
    })
}
