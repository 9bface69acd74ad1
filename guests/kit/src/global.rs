//! [`Global`]: a mutable static for a machine with one CPU.

use core::cell::UnsafeCell;

/// A `static` the Guest changes in place. The Guest has a single CPU, so the only
/// concurrency is an interrupt arriving between two instructions; code that touches a
/// `Global` an interrupt handler also uses must turn interrupts off around it
/// ([`crate::irq::save_fl`]).
#[repr(transparent)]
pub struct Global<T>(UnsafeCell<T>);

// SAFETY: there is one CPU and no threads; every access goes through the raw pointer from
// `get`, and dereferencing it is `unsafe`, which is where the caller shows that no other
// access (an interrupted one included) overlaps.
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    pub const fn new(value: T) -> Self {
        Global(UnsafeCell::new(value))
    }

    /// A pointer to the value. Reading or writing through it is up to the caller.
    pub const fn get(&self) -> *mut T {
        self.0.get()
    }
}
