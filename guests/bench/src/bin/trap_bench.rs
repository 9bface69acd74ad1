//! trap_bench: what the Guest pays for the CPU-virtualization paths of issue 4, measured
//! from inside with the TSC, each beside a plain hypercall round trip for scale:
//!
//! - `kernel_trap`: `int3` in the kernel, reflected to its handler and back (lguest_iret);
//! - `kernel_page_fault`: a kernel read of an unmapped page, reflected (after the Host
//!   checked the Guest's tables) to a handler that skips the instruction;
//! - `syscall`: user → kernel → user through the DPL-3 gate `int $0x80`;
//! - `user_page_fault`: the same fault from user mode, handled and returned from;
//! - `irq_latency`: from the clock's deadline to the first instruction of the handler,
//!   with the Guest spinning (`irq_latency`) or halted (`irq_latency_halt`);
//! - `context_switch`: two user tasks in separate address spaces handing the CPU to each
//!   other with a yield system call (system call + NEW_PGTABLE + register swap).
#![no_std]
#![no_main]

use bench::{measure, report};
use conform::{USER_STACK_TOP, UserSpace, probe, user_prog};
use guest::clock::{self, CLOCK_VECTOR, now_ns};
use guest::idt::{Gate, SYSCALL_VECTOR};
use guest::paging::{self, PageDir};
use guest::traps::{self, TrapFrame};
use guest::{BootInfo, Global, irq, usermode};

guest::entry!(kmain);

const N: u32 = 100_000;
const IRQS: u32 = 2_000;

probe!(INT3, "1: int3", "2:");
probe!(KERNEL_PF, "1: movl 0xA0000000, %eax", "2:");

// N system calls (vector 0x80, %eax = 1: nothing), then exit (%eax = 0).
user_prog!(
    SYSCALLS,
    "movl $100000, %esi",
    "1: movl $1, %eax",
    "int $0x80",
    "decl %esi",
    "jnz 1b",
    "2: movl $0, %eax",
    "int $0x80",
);
// N reads of an unmapped page (a 5-byte instruction the kernel skips), then exit.
user_prog!(
    USER_FAULTS,
    "movl $100000, %esi",
    "1: movl 0x00a00000, %eax",
    "decl %esi",
    "jnz 1b",
    "2: movl $0, %eax",
    "int $0x80",
);
// Yield for ever.
user_prog!(YIELD, "1: movl $2, %eax", "int $0x80", "jmp 1b", "2:");

fn kmain(_boot: &'static BootInfo) -> ! {
    paging::init();
    measure("sync_hcall", N, |_| guest::flush_async());

    traps::set_handler(3, Gate::TRAP, |_| {});
    measure("kernel_trap", N, |_| {
        INT3.call();
    });

    traps::set_handler(14, Gate::TRAP, skip_fault);
    measure("kernel_page_fault", N, |_| {
        KERNEL_PF.call();
    });

    traps::set_handler(SYSCALL_VECTOR, Gate::SYSCALL, on_syscall);
    time_user("syscall", &SYSCALLS);
    time_user("user_page_fault", &USER_FAULTS);

    traps::set_handler(CLOCK_VECTOR, Gate::INTERRUPT, on_clock);
    irq_latency("irq_latency", false);
    irq_latency("irq_latency_halt", true);

    context_switch();
    guest::power_off()
}

/// #PF handler: skip the faulting 5-byte `movl addr, %eax`.
fn skip_fault(frame: &mut TrapFrame) {
    frame.eip += 5;
}

/// The tasks of the context-switch benchmark: address space and saved registers.
struct Tasks {
    pgdir: [PageDir; 2],
    frame: [TrapFrame; 2],
    current: usize,
    switches: u32,
}

static TASKS: Global<Tasks> = Global::new(Tasks {
    pgdir: [PageDir(0), PageDir(0)],
    frame: [TrapFrame::ZERO, TrapFrame::ZERO],
    current: 0,
    switches: 0,
});

fn on_syscall(frame: &mut TrapFrame) {
    match frame.eax {
        0 => usermode::exit(0),
        1 => {}
        2 => {
            // SAFETY: only this handler touches TASKS while user mode runs.
            let t = unsafe { &mut *TASKS.get() };
            t.switches += 1;
            if t.switches == N {
                usermode::exit(0);
            }
            t.frame[t.current] = *frame;
            t.current ^= 1;
            t.pgdir[t.current].switch_to();
            *frame = t.frame[t.current];
        }
        n => guest::crash_fmt(format_args!("trap_bench: system call {n}")),
    }
}

fn time_user(name: &str, prog: &'static conform::UserProg) {
    let space = UserSpace::new(prog);
    let start = now_ns();
    space.run();
    report(name, N, now_ns() - start);
    paging::kernel().switch_to();
}

/// When the clock was due (TSC ns) and when its handler ran.
static CLOCK: Global<(u64, u64)> = Global::new((0, 0));

fn on_clock(_frame: &mut TrapFrame) {
    let now = now_ns();
    // SAFETY: written here with interrupts off, read by irq_latency with them off.
    unsafe { (*CLOCK.get()).1 = now };
}

fn irq_latency(name: &str, halting: bool) {
    const DELTA: u32 = 10_000;
    let mut total = 0;
    irq::enable();
    for _ in 0..IRQS {
        irq::without_interrupts(|| {
            // SAFETY: interrupts are off; the handler is the only other user.
            unsafe { *CLOCK.get() = (now_ns() + u64::from(DELTA), 0) };
            clock::set_clockevent(DELTA);
        });
        loop {
            // SAFETY: as above.
            let (due, ran) = irq::without_interrupts(|| unsafe { *CLOCK.get() });
            if ran != 0 {
                total += ran.saturating_sub(due);
                break;
            }
            if halting {
                guest::halt();
            }
        }
    }
    irq::disable();
    report(name, IRQS, total);
}

fn context_switch() {
    let a = UserSpace::new(&YIELD);
    let b = UserSpace::new(&YIELD);
    // SAFETY: user mode is not running yet.
    unsafe {
        let t = &mut *TASKS.get();
        t.pgdir = [a.pgdir, b.pgdir];
        t.frame[1] = usermode::user_frame(conform::USER_CODE, USER_STACK_TOP);
        t.current = 0;
    }
    a.pgdir.switch_to();
    let start = now_ns();
    a.run();
    report("context_switch", N, now_ns() - start);
    paging::kernel().switch_to();
}
