//! Well-known constants computed with the x87, printed as exact bits: the 80-bit value
//! the FPU ended with, the same rounded to a double, and rounded to 9 decimals through
//! `fistp`, with the exception flags the computation raised.
//!
//! This is the one program allowed floating point, and it uses it only here, in
//! assembly: the load-constant instructions (`fldpi`, `fldl2e`, ...), arithmetic with
//! integer operands (`fidiv`, `fimul`, ... from a table, so no operand order is in
//! doubt), `fsqrt`, the transcendental instructions (`fsin`, `fcos`, `fptan`, `fpatan`,
//! `fyl2x`, `fyl2xp1`, `f2xm1`, `fscale`), invalid operations and division by
//! zero (masked: NaN and infinity), and a computation at double precision (`fldcw`).
//! In a Guest whose CPU has no FPU, the kernel's math emulator does all this, and gives
//! the real processor's bits for all of it — unlike for `fprem` and for `fsin`, `fcos`
//! and `fptan` of arguments it must reduce first, which `fptrig` has.
//!
//! Run with no arguments.

#![no_std]
#![no_main]

use core::arch::asm;
use linux::println;

#[path = "../x87.rs"]
mod x87;
use x87::show;

linux::entry!(main);

fn main() -> i32 {
    let mut cw = 0u16;
    // SAFETY: stores the control word, nothing else.
    unsafe { asm!("fnstcw word ptr [{p}]", p = in(reg) &raw mut cw) };
    println!("initial control word: {cw:04x}");

    show("pi (fldpi)", x87!("fldpi"));
    show("pi (4 atan 1, fpatan)", x87!("fld1", "fld1", "fpatan", "fimul dword ptr [{k} + 16]"));
    show(
        "e (f2xm1, fscale)",
        x87!(
            "fldl2e",
            "fisub dword ptr [{k} + 4]",
            "f2xm1",
            "fiadd dword ptr [{k} + 4]",
            "fild dword ptr [{k} + 4]",
            "fxch st(1)",
            "fscale",
            "fstp st(1)",
        ),
    );
    show("log2 e (fldl2e)", x87!("fldl2e"));
    show("log2 10 (fldl2t)", x87!("fldl2t"));
    show("log10 2 (fldlg2)", x87!("fldlg2"));
    show("ln 2 (fldln2)", x87!("fldln2"));
    show("ln 10 (fyl2x)", x87!("fldln2", "fild dword ptr [{k} + 28]", "fyl2x"));
    show("log2 3 (fyl2x)", x87!("fld1", "fild dword ptr [{k} + 12]", "fyl2x"));
    show("log2 1.25 (fyl2xp1)", x87!("fld1", "fld1", "fidiv dword ptr [{k} + 16]", "fyl2xp1"));
    show("sqrt 2 (fsqrt)", x87!("fild dword ptr [{k} + 8]", "fsqrt"));
    show("sqrt 2 - 1 (f2xm1 of 1/2)", x87!("fld1", "fidiv dword ptr [{k} + 8]", "f2xm1"));
    show(
        "golden ratio",
        x87!("fild dword ptr [{k} + 20]", "fsqrt", "fiadd dword ptr [{k} + 4]", "fidiv dword ptr [{k} + 8]"),
    );
    show("1/3", x87!("fld1", "fidiv dword ptr [{k} + 12]"));
    show("22/7", x87!("fild dword ptr [{k} + 32]", "fidiv dword ptr [{k} + 24]"));
    show("sin 1 (fsin)", x87!("fld1", "fsin"));
    show("cos 1 (fcos)", x87!("fld1", "fcos"));
    show("tan 1/2 (fptan)", x87!("fld1", "fidiv dword ptr [{k} + 8]", "fptan", "fstp st(0)"));
    show("atan 2 (fpatan)", x87!("fild dword ptr [{k} + 8]", "fld1", "fpatan"));
    show("pi * 1e6 rounded (frndint)", x87!("fldpi", "fimul dword ptr [{k} + 40]", "frndint"));
    show("sqrt -1 (invalid)", x87!("fild dword ptr [{k} + 36]", "fsqrt"));
    show("1/0 (divide by zero)", x87!("fld1", "fidiv dword ptr [{k} + 0]"));

    // At double precision (PC = 10), 1/3 is rounded to 53 bits even in the register.
    let double_cw = (cw & !0x0300) | 0x0200;
    // SAFETY: loads a control word; the original is restored right after.
    unsafe { asm!("fldcw word ptr [{p}]", p = in(reg) &raw const double_cw) };
    show("1/3 at double precision", x87!("fld1", "fidiv dword ptr [{k} + 12]"));
    show("pi * pi at double precision", x87!("fldpi", "fldpi", "fmulp st(1), st"));
    // SAFETY: as above.
    unsafe { asm!("fldcw word ptr [{p}]", p = in(reg) &raw const cw) };
    show("pi * pi", x87!("fldpi", "fldpi", "fmulp st(1), st"));
    0
}
