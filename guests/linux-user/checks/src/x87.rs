//! Running x87 code and printing what it left, for `fpconst` and `fptrig`: the
//! [`x87!`] macro runs a computation (Intel syntax) with integer operands from [`K`]
//! and [`show`] prints the result's exact bits.

use linux::println;

/// Integer operands, by index: `dword ptr [{k} + 4*i]`.
pub static K: [i32; 12] = [0, 1, 2, 3, 4, 5, 7, 10, 22, -1, 1_000_000, 1_000_000_000];

/// What one computation left: the 80-bit value, it rounded to a double, it times 1e9
/// rounded to an integer, and the status word right after the computation.
pub struct Result {
    pub ext: [u8; 10],
    pub double: u64,
    pub nano: i64,
    pub status: u16,
}

/// Run x87 code (Intel syntax) that leaves one value in st(0), starting from a clear
/// exception state; collect the [`Result`] and leave the stack empty.
#[macro_export]
macro_rules! x87 {
    ($($code:literal),* $(,)?) => {{
        let mut ext = [0u8; 10];
        let mut double = 0u64;
        let mut nano = 0i64;
        let mut status = 0u16;
        // SAFETY: the code reads only K and writes only the four outputs; it starts and
        // ends with an empty x87 stack (every st register is declared clobbered).
        unsafe {
            core::arch::asm!(
                "fnclex",
                $($code,)*
                "fnstsw word ptr [{s}]",
                "fst qword ptr [{d}]",
                "fld st(0)",
                "fimul dword ptr [{k} + 44]",
                "fistp qword ptr [{n}]",
                "fstp tbyte ptr [{e}]",
                k = in(reg) $crate::x87::K.as_ptr(),
                d = in(reg) &raw mut double,
                n = in(reg) &raw mut nano,
                e = in(reg) ext.as_mut_ptr(),
                s = in(reg) &raw mut status,
                out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
            );
        }
        $crate::x87::Result { ext, double, nano, status }
    }};
}

pub fn show(name: &str, r: Result) {
    let sign_exp = u16::from_le_bytes([r.ext[8], r.ext[9]]);
    let mantissa =
        u64::from_le_bytes([r.ext[0], r.ext[1], r.ext[2], r.ext[3], r.ext[4], r.ext[5], r.ext[6], r.ext[7]]);
    let (sign, whole, frac) = if r.nano == i64::MIN {
        ("", 0, 0) // out of range: fistp stored the integer indefinite
    } else {
        (
            if r.nano < 0 { "-" } else { "" },
            r.nano.unsigned_abs() / 1_000_000_000,
            r.nano.unsigned_abs() % 1_000_000_000,
        )
    };
    let decimal = if r.nano == i64::MIN {
        linux::cbuf!("(not a number in range)")
    } else {
        linux::cbuf!("{sign}{whole}.{frac:09}")
    };
    // The exception flags: IE, DE, ZE, OE, UE, PE (bits 0 to 5).
    println!(
        "{name}: {sign_exp:04x}:{mantissa:016x} double {:016x} = {decimal} flags {:02x}",
        r.double,
        r.status & 0x3f
    );
}
