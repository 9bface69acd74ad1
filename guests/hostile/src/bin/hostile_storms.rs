//! hostile_storms: code that makes the Host do the most work per instruction — code
//! rewriting itself in a tight loop, and storms of traps and page faults. Each must give
//! the right answer every time and finish; none may wedge the Host.
//!
//! Variants:
//! - `smc_loop`: 200,000 times, rewrite the immediate of a `movl $imm, %eax; ret` and
//!   call it: every call sees the new value;
//! - `smc_next_instruction`: a store into the very next instruction of the same block;
//! - `smc_rep_stos`: `rep stosb` overwriting the instructions right after it with NOPs;
//! - `smc_alias`: 20,000 times, rewrite the function through another virtual address of
//!   the same page (the identity map) and call it at its own;
//! - `smc_cross_page`: 20,000 times, rewrite only the second page of an instruction that
//!   straddles two pages, and call it;
//! - `remap_code`: 20,000 times, SET_PTE points one virtual page at the other of two
//!   frames holding different code, and calls it: each call runs the frame now mapped;
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
// Overwrite the 5-byte `movl` after the `rep stosb` with NOPs: %eax stays 0x90.
probe!(
    SMC_REP_STOS,
    "movl $3f, %edi",
    "movl $0x90, %eax",
    "movl $5, %ecx",
    "cld",
    "rep stosb",
    "3: movl $0x11111111, %eax",
    "1:",
    "2:"
);
probe!(READ_UNMAPPED, "1: movl 0xa0000000, %eax", "2:");

fn kmain(_boot: &'static BootInfo) -> ! {
    conform::run(
        "hostile_storms",
        "smc_loop",
        &[
            ("smc_loop", smc_loop),
            ("smc_next_instruction", smc_next_instruction),
            ("smc_rep_stos", smc_rep_stos),
            ("smc_alias", smc_alias),
            ("smc_cross_page", smc_cross_page),
            ("remap_code", remap_code),
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

fn smc_rep_stos() {
    let got = SMC_REP_STOS.call();
    check_eq!(got, 0x90, "%eax after rep stosb turned the next instruction into NOPs");
    ok!("rep stosb over the instructions that follow it takes effect");
}

fn smc_alias() {
    const ROUNDS: u32 = 20_000;
    let code = CODE.get();
    // The same bytes through the boot tables' identity map (virtual == physical).
    let alias = guest::virt_to_phys(code) as usize as *mut u8;
    say!("rewriting a function through the alias {alias:p} and calling it at {code:p}, {ROUNDS} times");
    for i in 0..ROUNDS {
        let imm = i ^ 0x5A5A_0000;
        // SAFETY: the alias maps CODE's page; the immediate is bytes 1-4.
        let got = unsafe {
            alias.add(1).cast::<u32>().write_volatile(imm);
            let f: extern "C" fn() -> u32 = core::mem::transmute(code as usize);
            f()
        };
        if got != imm {
            conform::fail(format_args!(
                "round {i}: the function returned {got:#x}, its new code says {imm:#x}"
            ));
        }
    }
    ok!("{ROUNDS} rewrites through another virtual address were each seen by the next call");
}

/// Two pages for a function whose `movl $imm32, %eax` straddles them.
#[repr(C, align(4096))]
struct TwoPages([u8; 8192]);
static TWO_PAGES: Global<TwoPages> = Global::new(TwoPages([0x90; 8192]));

fn smc_cross_page() {
    const ROUNDS: u32 = 20_000;
    // `movl $imm, %eax` at 4093: opcode and two bytes of the immediate on the first page,
    // the other two and the `ret` on the second.
    let base = TWO_PAGES.get().cast::<u8>();
    // SAFETY: TWO_PAGES is ours; every byte written is inside it.
    unsafe {
        for (i, b) in [0xB8u8, 0x34, 0x12, 0, 0, 0xC3].into_iter().enumerate() {
            base.add(4093 + i).write_volatile(b);
        }
    }
    say!("rewriting the second page of a page-straddling instruction {ROUNDS} times");
    for i in 0..ROUNDS {
        let hi = (i as u16).to_le_bytes();
        // SAFETY: as above; the function is `movl $imm, %eax; ret`, of the C ABI.
        let got = unsafe {
            base.add(4096).write_volatile(hi[0]);
            base.add(4097).write_volatile(hi[1]);
            let f: extern "C" fn() -> u32 = core::mem::transmute(base.add(4093));
            f()
        };
        let want = 0x1234 | (i & 0xFFFF) << 16;
        if got != want {
            conform::fail(format_args!(
                "round {i}: the function returned {got:#x}, its new code says {want:#x}"
            ));
        }
    }
    ok!("{ROUNDS} rewrites of the second page of a straddling instruction were each seen");
}

fn remap_code() {
    const ROUNDS: u32 = 20_000;
    const VADDR: u32 = 0x0080_0000;
    let dir = paging::init();
    let frames = [alloc_page(), alloc_page()];
    for (n, &frame) in frames.iter().enumerate() {
        // SAFETY: fresh pages of RAM in the linear map: `movl $n, %eax; ret`.
        unsafe {
            let p = guest::phys_to_virt(frame);
            for (i, b) in [0xB8, n as u8, 0, 0, 0, 0xC3].into_iter().enumerate() {
                p.add(i).write_volatile(b);
            }
        }
    }
    say!("{ROUNDS} times, map {VADDR:#x} to the other of two code pages and call it");
    for i in 0..ROUNDS {
        let n = (i % 2) as usize;
        dir.map(VADDR, frames[n], 0);
        // SAFETY: the page just mapped holds a function of the C ABI (above).
        let got = unsafe {
            let f: extern "C" fn() -> u32 = core::mem::transmute(VADDR as usize);
            f()
        };
        if got != n as u32 {
            conform::fail(format_args!("round {i}: ran the code of frame {got}, mapped frame {n}"));
        }
    }
    ok!("{ROUNDS} remappings of a code page each ran the frame mapped");
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
