//! The i386 layout of every shared structure, field by field. If one of these fails, a
//! Guest built against the original headers would read the wrong bytes.

use abi::boot::*;
use abi::*;
use core::mem::{align_of, size_of};

#[test]
fn lguest_data_is_1120_bytes_with_the_2_6_23_offsets() {
    assert_eq!(size_of::<LguestData>(), 1120);
    assert_eq!(LGUEST_DATA_SIZE, 1120);
    assert_eq!(OFF_IRQ_ENABLED, 0);
    assert_eq!(OFF_BLOCKED_INTERRUPTS, 4);
    assert_eq!(OFF_CR2, 8);
    assert_eq!(OFF_HCALL_STATUS, 12);
    assert_eq!(OFF_HCALLS, 76);
    assert_eq!(OFF_RESERVE_MEM, 1100);
    assert_eq!(OFF_GUESTID, 1104);
    assert_eq!(OFF_TSC_KHZ, 1108);
    assert_eq!(OFF_NOIRQ_START, 1112);
    assert_eq!(OFF_NOIRQ_END, 1116);
    assert_eq!(align_of::<LguestData>(), 4);
}

#[test]
fn hcall_ring_entry_is_four_registers_in_eax_edx_ebx_ecx_order() {
    assert_eq!(size_of::<HcallRing>(), 16);
    assert_eq!(HCALL_RING_ENTRY_SIZE, 16);
    assert_eq!(core::mem::offset_of!(HcallRing, eax), 0);
    assert_eq!(core::mem::offset_of!(HcallRing, edx), 4);
    assert_eq!(core::mem::offset_of!(HcallRing, ebx), 8);
    assert_eq!(core::mem::offset_of!(HcallRing, ecx), 12);
    assert_eq!(LHCALL_RING_SIZE, 64);
    assert_eq!(OFF_HCALLS + 64 * 16, 1100, "the ring ends where reserve_mem starts");
}

#[test]
fn lguest_dma_is_100_bytes() {
    assert_eq!(size_of::<LguestDma>(), 100);
    assert_eq!(LGUEST_DMA_SIZE, 100);
    assert_eq!(OFF_DMA_USED_LEN, 0);
    assert_eq!(OFF_DMA_ADDR, 4);
    assert_eq!(OFF_DMA_LEN, 68);
}

#[test]
fn device_descriptor_is_12_bytes() {
    assert_eq!(size_of::<LguestDeviceDesc>(), 12);
    assert_eq!(OFF_DESC_TYPE, 0);
    assert_eq!(OFF_DESC_FEATURES, 2);
    assert_eq!(OFF_DESC_STATUS, 4);
    assert_eq!(OFF_DESC_NUM_PAGES, 6);
    assert_eq!(OFF_DESC_PFN, 8);
    assert!(LGUEST_MAX_DEVICES as u32 * DEVICE_DESC_SIZE <= PAGE_SIZE);
}

#[test]
fn block_page_and_net_slot_layouts() {
    assert_eq!(size_of::<LguestBlockPage>(), 20);
    assert_eq!(OFF_BLK_TYPE, 0);
    assert_eq!(OFF_BLK_SECTOR, 4);
    assert_eq!(OFF_BLK_BYTES, 8);
    assert_eq!(OFF_BLK_RESULT, 12);
    assert_eq!(OFF_BLK_NUM_SECTORS, 16);
    assert_eq!(size_of::<LguestNet>(), 6);
}

#[test]
fn boot_info_layout() {
    assert_eq!(size_of::<BootInfo>(), 32);
    assert_eq!(OFF_BOOT_MAGIC, 0);
    assert_eq!(OFF_BOOT_VERSION, 4);
    assert_eq!(OFF_BOOT_MEM_SIZE, 8);
    assert_eq!(OFF_BOOT_USABLE_END, 12);
    assert_eq!(OFF_BOOT_CMDLINE, 16);
    assert_eq!(OFF_BOOT_CMDLINE_LEN, 20);
    assert_eq!(OFF_BOOT_DEVICE_PAGE, 24);
    assert_eq!(OFF_BOOT_PGDIR, 28);
    assert_eq!(&BOOT_MAGIC.to_le_bytes(), b"LGRS");
}

#[test]
fn constants_match_the_headers() {
    assert_eq!(LGUEST_TRAP_ENTRY, 0x1F);
    assert_eq!(LGUEST_IRQS, 32);
    assert_eq!(LG_CLOCK_MIN_DELTA, 100);
    assert_eq!(LG_CLOCK_MAX_DELTA, u32::MAX);
    assert_eq!(X86_EFLAGS_IF, 512);
    assert_eq!(LGUEST_MAX_DMA, 32);
    assert_eq!(LGUEST_MAX_DMA_SECTIONS, 16);
    assert_eq!(LGUEST_MAX_DEVICES, 16);
    assert_eq!(LGUEST_CONSOLE_DMA_KEY, 0);
    assert_eq!((LGUEST_DEVICE_T_CONSOLE, LGUEST_DEVICE_T_NET, LGUEST_DEVICE_T_BLOCK), (1, 2, 3));
    assert_eq!(
        [
            LGUEST_DEVICE_S_ACKNOWLEDGE,
            LGUEST_DEVICE_S_DRIVER,
            LGUEST_DEVICE_S_DRIVER_OK,
            LGUEST_DEVICE_S_REMOVED,
            LGUEST_DEVICE_S_REMOVED_ACK,
            LGUEST_DEVICE_S_FAILED
        ],
        [1, 2, 4, 8, 16, 128]
    );
    assert_eq!(LGUEST_NET_F_NOCSUM, 0x4000);
    assert_eq!(LGUEST_DEVICE_F_RANDOMNESS, 0x8000);
    assert_eq!(RESERVED_START, 0xFFC0_0000);
}

#[test]
fn hypercall_numbers_round_trip_and_unknown_ones_are_named() {
    let expected = [
        (0, "LHCALL_FLUSH_ASYNC"),
        (1, "LHCALL_LGUEST_INIT"),
        (2, "LHCALL_CRASH"),
        (3, "LHCALL_LOAD_GDT"),
        (4, "LHCALL_NEW_PGTABLE"),
        (5, "LHCALL_FLUSH_TLB"),
        (6, "LHCALL_LOAD_IDT_ENTRY"),
        (7, "LHCALL_SET_STACK"),
        (8, "LHCALL_TS"),
        (9, "LHCALL_SET_CLOCKEVENT"),
        (10, "LHCALL_HALT"),
        (11, "LHCALL_GET_WALLCLOCK"),
        (12, "LHCALL_BIND_DMA"),
        (13, "LHCALL_SEND_DMA"),
        (14, "LHCALL_SET_PTE"),
        (15, "LHCALL_SET_PMD"),
        (16, "LHCALL_LOAD_TLS"),
    ];
    for (n, name) in expected {
        let call = Hcall::try_from(n).expect("known call");
        assert_eq!(call as u32, n);
        assert_eq!(call.name(), name);
    }
    let err = Hcall::try_from(17).unwrap_err();
    assert_eq!(err, UnknownHcall(17));
    assert_eq!(err.to_string(), "unknown hypercall 17");
    assert!(Hcall::try_from(u32::MAX).is_err());
}

#[test]
fn guest_selectors_and_host_entries() {
    use abi::segments::*;
    assert_eq!(LGUEST_KERNEL_CS, 0x61);
    assert_eq!(LGUEST_KERNEL_DS, 0x69);
    assert_eq!(USER_CS, 0x73);
    assert_eq!(USER_DS, 0x7b);
    assert!(!guest_may_load_gdt_entry(GDT_ENTRY_TSS));
    assert!(!guest_may_load_gdt_entry(GDT_ENTRY_LGUEST_CS));
    assert!(!guest_may_load_gdt_entry(GDT_ENTRIES));
    assert!(guest_may_load_gdt_entry(GDT_ENTRY_KERNEL_CS));
}

#[test]
fn network_keys_slots_and_macs() {
    assert_eq!(LGUEST_NET_SLOTS, 682);
    assert_eq!(lguest_net_key(0x0400_1000, LGUEST_NET_LAUNCHER_SLOT), 0x0400_1000);
    assert_eq!(lguest_net_key(0x0400_1000, LGUEST_NET_GUEST_SLOT), 0x0400_1004);
    // As 2.6.23's lguest_net: the id's bytes as they lie in memory, after 02:00.
    assert_eq!(lguest_net_mac(0x1234), [2, 0, 0x34, 0x12, 0, 0]);
    assert!(!is_multicast_ether_addr(&lguest_net_mac(7)));
    assert!(is_multicast_ether_addr(&[0xff; 6]));
    assert_eq!(LGUEST_NET_F_NOCSUM & LGUEST_NET_SLOT_MASK, 0);
    assert_eq!(ETH_FRAME_LEN, 1514);
}

#[test]
fn lguest_data_of_the_2_6_23_release_is_1128_bytes_with_time_after_cr2() {
    let l = LguestDataLayout::RELEASE;
    assert_eq!(size_of::<LguestDataRelease>(), 1128);
    assert_eq!(l.size, 1128);
    assert_eq!(l.irq_enabled, 0);
    assert_eq!(l.blocked_interrupts, 4);
    assert_eq!(l.cr2, 8);
    assert_eq!(l.time, Some(12));
    assert_eq!(size_of::<Timespec>(), 8);
    assert_eq!(l.hcall_status, 20);
    assert_eq!(l.hcalls, 84);
    assert_eq!(l.reserve_mem, 1108);
    assert_eq!(l.guestid, 1112);
    assert_eq!(l.tsc_khz, 1116);
    assert_eq!(l.noirq_start, 1120);
    assert_eq!(l.noirq_end, 1124);
    assert_eq!(Revision::Release.layout(), &l);
}

#[test]
fn the_seed_layout_is_the_kits_lguest_data() {
    let l = LguestDataLayout::SEED;
    assert_eq!(l.size, 1120);
    assert_eq!(l.time, None);
    assert_eq!((l.hcall_status, l.hcalls, l.reserve_mem, l.noirq_end), (12, 76, 1100, 1116));
    assert_eq!(Revision::Seed.layout(), &l);
}

#[test]
fn hypercall_11_exists_only_in_the_seed() {
    assert!(Revision::Seed.has_hcall(Hcall::GetWallclock));
    assert!(!Revision::Release.has_hcall(Hcall::GetWallclock));
    for call in Hcall::ALL.iter().filter(|&&c| c != Hcall::GetWallclock) {
        assert!(Revision::Release.has_hcall(*call), "{call}");
    }
}

#[test]
fn linux_boot_header_offsets_are_those_of_the_2_6_23_launcher() {
    use abi::bootparam::*;
    assert_eq!(size_of::<E820Entry>(), 20);
    assert_eq!(OFF_E820_ENTRIES, 0x1e8);
    assert_eq!(OFF_E820_MAP, 0x2d0);
    assert_eq!(OFF_TYPE_OF_LOADER, 0x210);
    assert_eq!((OFF_RAMDISK_IMAGE, OFF_RAMDISK_SIZE), (0x218, 0x21c));
    assert_eq!(OFF_CMD_LINE_PTR, 0x228);
    assert_eq!(OFF_HARDWARE_SUBARCH, 0x23c);
    assert_eq!(CMDLINE_ADDR, 4096);
    let e = E820Entry { addr: 0, size: 64 << 20, r#type: E820_RAM }.to_bytes();
    assert_eq!(&e[8..12], &(64u32 << 20).to_le_bytes());
    assert_eq!(&e[16..], &1u32.to_le_bytes());
}
