//! Virtual interrupts, as `conform_irqs` checks them: held off while `irq_enabled` is 0,
//! while blocked, and inside the no-interrupt window, each time through 2 ms of
//! hypercalls (every one a chance for the Host to deliver), and delivered once allowed.

mod common;
mod conform;
use conform::passes;

fn irqs(variant: &str) -> String {
    passes("conform_irqs", variant)
}

#[test]
fn the_clock_interrupt_arrives_at_vector_32_with_if_in_the_pushed_eflags() {
    irqs("delivery");
}

#[test]
fn an_interrupt_is_held_off_while_irq_enabled_is_0_and_delivered_by_the_next_hypercall() {
    irqs("disabled");
}

#[test]
fn a_blocked_interrupt_is_held_off_and_delivered_by_the_next_hypercall_after_unblocking() {
    irqs("blocked");
}

#[test]
fn an_interrupt_is_held_off_inside_the_noirq_window_and_delivered_after_it() {
    irqs("noirq");
}

#[test]
fn halt_with_interrupts_disabled_still_wakes_and_delivers_the_clock() {
    irqs("halt_disabled");
}

#[test]
fn a_pending_interrupt_is_delivered_right_after_the_write_that_allows_it() {
    for variant in ["delivery", "disabled", "blocked"] {
        let line = irqs(variant);
        assert!(line.contains("delivered right after the write"), "{line}");
    }
}
