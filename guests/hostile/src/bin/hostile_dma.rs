//! hostile_dma: receive buffers (LHCALL_BIND_DMA) aimed where input must not harm the
//! Host — the Guest's own page directory, its `lguest_data`, the device page, its own
//! code — and bindings with absurd counts or too many of them. Input the Launcher writes
//! there changes only the Guest's memory: the Host's copies (shadow page tables, the GDT
//! and IDT it holds) are its own, and what it reads back is checked as always.
//!
//! The `into_*` variants bind one console buffer (key 0) and wait for the test to type
//! into it:
//! - `into_page_directory`: over the first entries of the boot page directory; the next
//!   use of a clobbered entry is Sudden Death (it names memory beyond RAM);
//! - `into_lguest_data`: over the async ring; the next hypercall drains the garbage as
//!   calls, and the first unknown one is Sudden Death;
//! - `into_device_page`: over the console's device descriptor; the Guest reads the input
//!   there and powers off;
//! - `into_own_code`: over a function the CPU has already run; the next call runs the new
//!   instructions (a Host write to code is seen like any self-modifying code).
//!
//! And without input:
//! - `huge_count`: BIND_DMA of 0xffffff descriptors (Sudden Death: far beyond RAM);
//! - `many_bindings`: 32 overlapping bindings of one array fit, the 33rd and an IRQ
//!   beyond 31 are refused, unbinding makes room again;
//! - `send_to_self`: SEND_DMA to a key only this Guest bound: nobody takes it (used_len 0).
#![no_std]
#![no_main]

use conform::{check, check_eq, ok, say};
use guest::abi::{Hcall, LguestDma, OFF_HCALL_STATUS};
use guest::dma::{bind_dma, dma_from, send_dma, unbind_dma};
use guest::{BootInfo, lguest_data, paging, phys_to_virt, virt_to_phys};
use hostile::{bind_console_input_at, raw_hcall, wait_for_input};

guest::entry!(kmain);

// A function the test overwrites with console input: `movl $1, %eax; ret` until then.
core::arch::global_asm!(
    ".pushsection .text.patchme, \"ax\"",
    ".balign 64",
    ".global hostile_patchme",
    "hostile_patchme:",
    "movl $1, %eax",
    "ret",
    ".popsection",
    options(att_syntax)
);
// SAFETY: the assembly above defines the symbol as a function of the C ABI that takes
// nothing and returns %eax.
unsafe extern "C" {
    fn hostile_patchme() -> u32;
}

fn kmain(_boot: &'static BootInfo) -> ! {
    conform::run(
        "hostile_dma",
        "many_bindings",
        &[
            ("into_page_directory", into_page_directory),
            ("into_lguest_data", into_lguest_data),
            ("into_device_page", into_device_page),
            ("into_own_code", into_own_code),
            ("huge_count", huge_count),
            ("many_bindings", many_bindings),
            ("send_to_self", send_to_self),
        ],
    )
}

fn read_phys(phys: u32) -> u32 {
    // SAFETY: guest RAM and the device pages are in the linear map.
    unsafe { phys_to_virt(phys).cast::<u32>().read_volatile() }
}

fn into_page_directory() {
    let pgdir = guest::boot::info().boot_pgdir;
    bind_console_input_at(pgdir, 16);
    say!("console input bound over page directory entries 0-3 at {pgdir:#x}; waiting");
    let n = wait_for_input();
    say!("{n} bytes of input landed; entry 0 is now {:#x}; FLUSH_TLB and read 0x100000", read_phys(pgdir));
    paging::flush_tlb(true);
    // SAFETY: identity-mapped by the boot tables, until the input clobbered the entry.
    let v = unsafe { (0x0010_0000 as *const u32).read_volatile() };
    conform::fail(format_args!("read {v:#x} through a clobbered page directory entry"));
}

fn into_lguest_data() {
    let ring = virt_to_phys(lguest_data::as_ptr()) + OFF_HCALL_STATUS;
    bind_console_input_at(ring, 1088);
    say!("console input bound over the async ring at {ring:#x}; waiting");
    wait_for_input();
    say!("input landed in the ring; making a hypercall");
    conform::fail(format_args!("the Host ignored a ring full of input"));
}

fn into_device_page() {
    let page = guest::boot::info().device_page;
    bind_console_input_at(page, 16);
    say!("console input bound over the device page at {page:#x}; waiting");
    let n = wait_for_input();
    let first = read_phys(page);
    check!(first != 0x0000_0001, "the console descriptor is unchanged after {n} bytes");
    ok!("{n} bytes of input landed in the device page, which now starts {first:#x}");
}

fn into_own_code() {
    // SAFETY: a function of the C ABI taking nothing (see the assembly above).
    let before = unsafe { hostile_patchme() };
    check_eq!(before, 1, "hostile_patchme before the input");
    let at = virt_to_phys(hostile_patchme as *const u8);
    bind_console_input_at(at, 6);
    say!("console input bound over the code of a function at {at:#x}; waiting");
    let n = wait_for_input();
    // SAFETY: the test typed `movl $2, %eax; ret`: still a function of the same type.
    let after = unsafe { hostile_patchme() };
    check_eq!(after, 2, "hostile_patchme after the input");
    ok!("after {n} bytes of input over its code, the function returns {after}");
}

static DMAS: guest::Global<[LguestDma; 4]> =
    guest::Global::new([LguestDma { used_len: 0, addr: [0; 16], len: [0; 16] }; 4]);
static BUF: guest::Global<[u8; 64]> = guest::Global::new([0; 64]);

fn huge_count() {
    let at = virt_to_phys(DMAS.get());
    say!("BIND_DMA of 0xffffff descriptors at {at:#x}");
    // SAFETY: the Host should refuse; if not, we crash below.
    unsafe { raw_hcall(Hcall::BindDma as u32, 0x1234, at, (0xFF_FFFF << 8) | 3) };
    conform::fail(format_args!("the Host bound 0xffffff descriptors"));
}

fn many_bindings() {
    const KEY: u32 = 0xBEEF;
    let dmas = DMAS.get().cast::<LguestDma>();
    // SAFETY: BUF and DMAS are ours; the bindings are removed before we return.
    unsafe {
        (*dmas, _) = dma_from(&*BUF.get());
        *dmas.add(1) = *dmas;
        for i in 0..32 {
            // Every binding overlaps the others: the same array, or the same buffer.
            check!(bind_dma(KEY + i % 2, dmas.add((i % 2) as usize), 2 - i % 2, 4), "binding {i} refused");
        }
        check!(!bind_dma(KEY, dmas, 1, 4), "a 33rd binding was accepted");
        unbind_dma(KEY, dmas);
        check!(bind_dma(KEY, dmas, 1, 4), "no room after unbinding");
        check!(!bind_dma(KEY + 7, dmas, 1, 32), "IRQ 32 was accepted");
        unbind_dma(KEY, dmas);
        unbind_dma(KEY + 1, dmas.add(1));
    }
    ok!("32 overlapping bindings fit; the 33rd and IRQ 32 are refused; unbinding makes room");
}

fn send_to_self() {
    const KEY: u32 = 0xF00D;
    let dmas = DMAS.get().cast::<LguestDma>();
    // SAFETY: BUF and DMAS are ours; DMAS[0] stays bound until we unbind it.
    let used = unsafe {
        (*dmas, _) = dma_from(&*BUF.get());
        check!(bind_dma(KEY, dmas, 1, 4), "binding refused");
        let (mut out, _) = dma_from(b"to myself");
        let used = send_dma(KEY, &mut out);
        unbind_dma(KEY, dmas);
        used
    };
    check_eq!(used, 0, "bytes taken by a send to our own key");
    ok!("a send to a key only this Guest bound is taken by nobody");
}
