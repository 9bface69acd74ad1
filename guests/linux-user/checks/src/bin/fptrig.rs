//! The x87 computations the bundled 2.6.23 kernel's math emulator gets wrong, checked on
//! 2.6.23 under QEMU with `no387`: `fprem`, and `fsin`/`fcos`/`fptan` of arguments they
//! reduce modulo pi/2 first (sin 3 comes out -0.3798 instead of 0.1411, 3 rem 2 as
//! 2.125, tan 1 one unit off in the last place). A Guest whose CPU has no FPU runs them
//! in that emulator, so this program is not among those compared with the Guest by
//! default (`run=fptrig` runs it); natively it shows the real processor's answers.
//! (QEMU's own x87 is no oracle either: it computes `fsin`, `fcos` and `fptan` in
//! double precision.)
//!
//! Run with no arguments.

#![no_std]
#![no_main]

#[path = "../x87.rs"]
mod x87;
use x87::show;

linux::entry!(main);

fn main() -> i32 {
    show("tan 1 (fptan)", x87!("fld1", "fptan", "fstp st(0)"));
    show("sin pi (fsin of fldpi)", x87!("fldpi", "fsin"));
    show("sin 3 (fsin)", x87!("fild dword ptr [{k} + 12]", "fsin"));
    show("cos 3 (fcos)", x87!("fild dword ptr [{k} + 12]", "fcos"));
    show("pi rem 1 (fprem)", x87!("fld1", "fldpi", "fprem", "fstp st(1)"));
    show(
        "3 rem 2 (fprem)",
        x87!("fild dword ptr [{k} + 8]", "fild dword ptr [{k} + 12]", "fprem", "fstp st(1)"),
    );
    show(
        "3 rem 2 (fprem1)",
        x87!("fild dword ptr [{k} + 8]", "fild dword ptr [{k} + 12]", "fprem1", "fstp st(1)"),
    );
    0
}
