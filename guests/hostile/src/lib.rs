//! Guests that attack the Host: each binary tries one family of escapes or ways to starve
//! it, one attack per variant (the first word of the command line), and the root test
//! `tests/hostile.rs` checks how each ends. An attack must end in Sudden Death (the Host
//! kills the Guest with one line saying what it did) or be contained: the Guest keeps
//! running, sees only what the ABI allows, and the Host stays responsive.
//!
//! The binaries share the conformance Guests' conventions (`conform`): a variant says
//! what it is about to do, then prints `conform: <variant>: ok <what it saw>` and powers
//! off if the attack was contained, or is killed by the Host; if the Host lets it do
//! something it must not, it CRASHes saying so. Attacks that never end (spinning,
//! timer storms) print progress lines and wait for the test to stop the Launcher.
//!
//! - `hostile_mmu`: page tables naming memory outside RAM, the reserved top 4 MiB;
//! - `hostile_segments`: ring-0 and conforming descriptors, segments reaching the reserved
//!   region, far jumps and calls to odd selectors, crafted IRET and RETF frames;
//! - `hostile_stack`: SET_STACK on unmapped, read-only or unusable stacks, a stack at the
//!   very top of the segment limit;
//! - `hostile_time`: timer storms, spinning with interrupts off, HALT that cannot wake;
//! - `hostile_ring`: floods of the async hypercall ring, valid and invalid;
//! - `hostile_dma`: DMA bound over the Guest's own page tables, `lguest_data`, the device
//!   page and its code, huge counts and too many bindings;
//! - `hostile_storms`: self-modifying code, trap and page-fault storms.
#![no_std]

use guest::abi::{LguestDma, PAGE_SIZE};
use guest::idt::Gate;
use guest::{Global, traps};

pub use misbehave::{beyond_ram, raw_hcall};

/// The IRQ the DMA variants bind their console buffers with.
pub const INPUT_IRQ: u32 = 1;

static INPUT_DMA: Global<LguestDma> = Global::new(LguestDma { used_len: 0, addr: [0; 16], len: [0; 16] });

/// Bind one console input buffer (key 0) covering guest-physical `[phys, phys+len)`,
/// split at page boundaries, so the next input the Launcher reads is written there.
/// [`wait_for_input`] waits for it.
pub fn bind_console_input_at(phys: u32, len: u32) {
    // The IRQ that says input arrived: nothing to do but wake from HALT.
    traps::set_handler(guest::abi::FIRST_EXTERNAL_VECTOR + INPUT_IRQ as u8, Gate::INTERRUPT, |_| {});
    let dma = INPUT_DMA.get();
    let (mut at, mut left, mut i) = (phys, len, 0);
    // SAFETY: INPUT_DMA is ours, and nothing is bound to it yet.
    unsafe {
        while left > 0 && i < 16 {
            let n = left.min(PAGE_SIZE - at % PAGE_SIZE);
            (*dma).addr[i] = at;
            (*dma).len[i] = n as u16;
            (at, left, i) = (at + n, left - n, i + 1);
        }
        if !guest::dma::bind_dma(guest::abi::LGUEST_CONSOLE_DMA_KEY, dma, 1, INPUT_IRQ) {
            guest::crash("hostile: the Host had no room for one console binding");
        }
    }
}

/// HALT until the Launcher has written input into the buffer bound by
/// [`bind_console_input_at`]; returns how many bytes it wrote.
pub fn wait_for_input() -> u32 {
    let dma = INPUT_DMA.get();
    guest::irq::enable();
    loop {
        // SAFETY: the Host writes used_len; we only read it.
        let used = unsafe { (&raw const (*dma).used_len).read_volatile() };
        if used != 0 {
            return used;
        }
        guest::halt();
    }
}
