//! Guest-virtual and guest-physical addresses of the kernel's own memory.
//!
//! The kernel is linked at PAGE_OFFSET + physical (`lguest-guest.ld`), and the Launcher
//! maps all of RAM there, so for anything the kernel owns — its code, statics, stack —
//! the physical address is the virtual one minus [`abi::PAGE_OFFSET`] (Linux's `__pa` and
//! `__va`). The Host names guest memory by physical address (lguest_data, messages, DMA
//! buffers), so these conversions sit in front of most hypercalls.

use abi::PAGE_OFFSET;

/// The guest-physical address of `p`, which must be in the PAGE_OFFSET linear map (true
/// of every static and of the kit's stack).
pub fn virt_to_phys<T: ?Sized>(p: *const T) -> u32 {
    let v = p.cast::<u8>() as usize as u32;
    debug_assert!(v >= PAGE_OFFSET, "virt_to_phys of {v:#x}, which is not in the linear map");
    v.wrapping_sub(PAGE_OFFSET)
}

/// Where guest-physical address `phys` appears in the PAGE_OFFSET linear map.
pub fn phys_to_virt(phys: u32) -> *mut u8 {
    phys.wrapping_add(PAGE_OFFSET) as usize as *mut u8
}
