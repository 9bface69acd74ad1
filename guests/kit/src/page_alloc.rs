//! Physical pages for page tables and user memory: a bump allocator over free RAM with a
//! free list in front of it.
//!
//! Free RAM starts at the end of the kernel image (`_end` in `lguest-guest.ld`) and, until
//! the kernel runs on its own page tables, ends at `BootInfo::usable_end`, where the
//! Launcher's boot data begins. [`crate::paging::init`] hands the rest of RAM over once
//! the boot page tables are no longer in use. Freed pages are kept in a list threaded
//! through their first word. Every page comes back zeroed.

use crate::{Global, boot, crash, irq, phys_to_virt, virt_to_phys};
use abi::PAGE_SIZE;

struct Pages {
    /// Next never-used page (guest-physical), 0 before the first allocation.
    next: u32,
    /// End of the never-used range.
    end: u32,
    /// First freed page, 0 if none.
    free: u32,
}

static PAGES: Global<Pages> = Global::new(Pages { next: 0, end: 0, free: 0 });

unsafe extern "C" {
    /// End of the kernel image, page aligned (lguest-guest.ld).
    static _end: u8;
}

fn with_pages<R>(f: impl FnOnce(&mut Pages) -> R) -> R {
    irq::without_interrupts(|| {
        // SAFETY: interrupts are off and there is one CPU: this is the only access.
        let pages = unsafe { &mut *PAGES.get() };
        if pages.next == 0 {
            pages.next = virt_to_phys(&raw const _end);
            pages.end = boot::info().usable_end & !(PAGE_SIZE - 1);
        }
        f(pages)
    })
}

/// A zeroed page of RAM, by guest-physical address (reach it with [`phys_to_virt`]).
/// Running out of memory crashes the Guest.
pub fn alloc_page() -> u32 {
    let phys = with_pages(|p| {
        if p.free != 0 {
            let page = p.free;
            // SAFETY: a freed page is RAM in the linear map whose first word links on.
            p.free = unsafe { phys_to_virt(page).cast::<u32>().read() };
            Some(page)
        } else if p.next < p.end {
            p.next += PAGE_SIZE;
            Some(p.next - PAGE_SIZE)
        } else {
            None
        }
    });
    let Some(phys) = phys else { crash("page_alloc: out of memory") };
    // SAFETY: the page is RAM in the linear map and now ours alone.
    unsafe { core::ptr::write_bytes(phys_to_virt(phys), 0, PAGE_SIZE as usize) };
    phys
}

/// Give back a page [`alloc_page`] returned; nothing may use it any more.
pub fn free_page(phys: u32) {
    with_pages(|p| {
        // SAFETY: the caller gives the page up; its first word now links the free list.
        unsafe { phys_to_virt(phys).cast::<u32>().write(p.free) };
        p.free = phys;
    });
}

/// Let the allocator use RAM up to `end` (guest-physical), past `usable_end`.
pub(crate) fn extend_to(end: u32) {
    with_pages(|p| {
        if end > p.end {
            p.end = end & !(PAGE_SIZE - 1);
        }
    });
}
