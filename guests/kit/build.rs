//! Put the kit's linker script where the linker finds it: every Guest kernel links with
//! `-Tlguest-guest.ld` (guests/.cargo/config.toml), and lld looks for `-T` scripts on the
//! library search path, which a dependency's build script may extend.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("lguest-guest.ld", out.join("lguest-guest.ld")).expect("copy lguest-guest.ld to OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=lguest-guest.ld");
}
