//! hostile_storms: code that makes the Host do the most work per instruction — code
//! rewriting itself in a tight loop, and storms of traps and page faults. Each must give
//! the right answer every time and finish; none may wedge the Host.
//!
//! Variants:
//! - `smc_loop`: 200,000 times, rewrite the immediate of a `movl $imm, %eax; ret` and
//!   call it: every call sees the new value;
//! - `smc_next_instruction`: a store into the very next instruction of the same block;
//! - `trap_storm`: 200,000 `int3` through a handler that counts them;
//! - `page_fault_storm`: 100,000 reads of an unmapped page, each reflected to a handler
//!   that skips the read;
//! - `demand_fault_storm`: 20,000 times, FLUSH_TLB and touch a user page, so the Host
//!   fills its shadow again each time.
#![no_std]
#![no_main]

use conform::{check, check_eq, check_frame, ok, probe, record_traps, say, trap_of};
use core::sync::atomic::{AtomicU32, Ordering};
use guest::idt::Gate;
use guest::page_alloc::alloc_page;
use guest::paging::{self, pte};
use guest::{BootInfo, Global, traps};

guest::entry!(kmain);

// Store 0x42 into the immediate of the next instruction, then run it; %eax gets it.
probe!(SMC_NEXT, "xorl %eax, %eax", "movb $0x42, 3f+1", "3: movb $0, %al", "1:", "2:");
probe!(READ_UNMAPPED, "1: movl 0xa0000000, %eax", "2:");

fn kmain(_boot: &'static BootInfo) -> ! {
    conform::run(
        "hostile_storms",
        "smc_loop",
        &[
            ("smc_loop", smc_loop),
            ("smc_next_instruction", smc_next_instruction),
            ("trap_storm", trap_storm),
            ("page_fault_storm", page_fault_storm),
            ("demand_fault_storm", demand_fault_storm),
        ],
    )
}

/// `movl $imm32, %eax; ret`, in data we rewrite and call.
#[repr(C, align(16))]
struct Code([u8; 8]);
static CODE: Global<Code> = Global::new(Code([0xB8, 0, 0, 0, 0, 0xC3, 0x90, 0x90]));

fn smc_loop() {
    const ROUNDS: u32 = 200_000;
    say!("rewriting and calling a function {ROUNDS} times");
    let code = CODE.get();
    let mut sum: u32 = 0;
    for i in 0..ROUNDS {
        let imm = i.wrapping_mul(0x9E37_79B9);
        // SAFETY: CODE is ours; the immediate is bytes 1-4; volatile so every round
        // really stores before the call.
        let got = unsafe {
            (&raw mut (*code).0).cast::<u8>().add(1).cast::<u32>().write_volatile(imm);
            let f: extern "C" fn() -> u32 = core::mem::transmute(code as usize);
            f()
        };
        if got != imm {
            conform::fail(format_args!(
                "round {i}: the function returned {got:#x}, its new code says {imm:#x}"
            ));
        }
        sum = sum.wrapping_add(got);
    }
    ok!("{ROUNDS} rewritten calls each returned their new immediate (sum {sum:#x})");
}

fn smc_next_instruction() {
    let got = SMC_NEXT.call();
    check_eq!(got, 0x42, "%al after storing into the next instruction");
    ok!("a store into the next instruction of the same block takes effect");
}

static TRAPS: AtomicU32 = AtomicU32::new(0);

fn trap_storm() {
    const ROUNDS: u32 = 200_000;
    traps::set_handler(3, Gate::TRAP, |_| {
        TRAPS.fetch_add(1, Ordering::Relaxed);
    });
    say!("{ROUNDS} int3 traps");
    for _ in 0..ROUNDS {
        // SAFETY: int3 traps to the handler above, which returns past it.
        unsafe { core::arch::asm!("int3", options(att_syntax, nomem, nostack)) };
    }
    let n = TRAPS.load(Ordering::Relaxed);
    check_eq!(n, ROUNDS, "traps counted");
    ok!("{n} int3 traps were each delivered once");
}

fn page_fault_storm() {
    const ROUNDS: u32 = 100_000;
    record_traps(Gate::TRAP);
    say!("{ROUNDS} page faults on an unmapped page");
    for _ in 0..ROUNDS {
        let seen = trap_of(&READ_UNMAPPED);
        check_frame(&seen, 14, 0, READ_UNMAPPED.fault);
    }
    ok!("{ROUNDS} page faults were each reflected with error code 0");
}

fn demand_fault_storm() {
    const ROUNDS: u32 = 20_000;
    const VADDR: u32 = 0x0040_0000;
    let dir = paging::init();
    dir.map(VADDR, alloc_page(), pte::RW | pte::US);
    say!("{ROUNDS} times FLUSH_TLB and touch {VADDR:#x}");
    for i in 0..ROUNDS {
        paging::flush_tlb(false);
        // SAFETY: mapped above.
        unsafe { (VADDR as usize as *mut u32).write_volatile(i) };
        // SAFETY: as above.
        let v = unsafe { (VADDR as usize as *const u32).read_volatile() };
        check!(v == i, "round {i}: read back {v}");
    }
    ok!("{ROUNDS} flushes each refilled the mapping on the next touch");
}
