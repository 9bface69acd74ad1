//! The system-call ABI between the demo kernel and its user programs, shared by both:
//! the kernel compiles it as `crate::uapi`, the user library (`user/ulib.rs`) includes
//! the same file.
//!
//! A system call is `int $0x80` (a gate with DPL 3, so ring 3 may use it) with the call
//! number in %eax and arguments in %ebx, %ecx and %edx, as Linux i386 did; the result
//! comes back in %eax, a negative errno (as a u32) on failure.

/// The system-call vector.
pub const SYSCALL_VECTOR: u8 = 0x80;

/// `exit(code)`: end the calling task with status `code`. Does not return.
pub const SYS_EXIT: u32 = 0;
/// `write(buf, len)`: write `len` bytes at `buf` to the console; returns how many.
pub const SYS_WRITE: u32 = 1;
/// `yield()`: let the other tasks run; returns 0 when this one runs again.
pub const SYS_YIELD: u32 = 2;
/// `sleep(ms)`: sleep at least `ms` milliseconds; returns 0.
pub const SYS_SLEEP: u32 = 3;
/// `getpid()`: the calling task's process id.
pub const SYS_GETPID: u32 = 4;
/// `read(buf, len)`: read console input into `buf`; sleeps until at least one byte has
/// arrived and returns how many (at most `len`), or 0 once input has ended.
pub const SYS_READ: u32 = 5;
/// `uptime()`: milliseconds since the kernel started.
pub const SYS_UPTIME: u32 = 6;
/// `taskinfo(slot, info)`: fill the [`TaskInfo`] at `info` with the task in slot `slot`
/// of the task table; ESRCH if the slot is empty, EINVAL past the end of the table.
pub const SYS_TASKINFO: u32 = 7;
/// `disk_size()`: sectors (of 512 bytes) on the first disk; ENODEV if there is none.
pub const SYS_DISK_SIZE: u32 = 8;
/// `disk_read(sector, buf, count)`: read `count` sectors (at most [`DISK_MAX_SECTORS`])
/// from `sector` into `buf`; returns `count`, or EIO past the end of the disk.
pub const SYS_DISK_READ: u32 = 9;
/// `disk_write(sector, buf, count)`: write `count` sectors from `buf`; returns `count`
/// once they are on the Launcher's file.
pub const SYS_DISK_WRITE: u32 = 10;
/// `ping(ip, seq)`: send one ICMP echo request with sequence number `seq` to the IPv4
/// address `ip` (its four bytes in network order, as a big-endian u32) and wait up to
/// [`PING_TIMEOUT_MS`] for the reply: the round trip in microseconds, ETIMEDOUT without
/// one, ENODEV without a network device, EADDRNOTAVAIL without `ip=` on the command line.
pub const SYS_PING: u32 = 11;

/// Sectors one `disk_read` or `disk_write` moves at most.
pub const DISK_MAX_SECTORS: u32 = 8;
/// How long `ping` waits for its reply.
pub const PING_TIMEOUT_MS: u32 = 1000;

/// What `taskinfo` says about a task.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TaskInfo {
    pub pid: u32,
    /// One of the `TASK_*` states.
    pub state: u32,
    /// Exit status (TASK_EXITED) or exception vector (TASK_KILLED).
    pub status: u32,
    pub syscalls: u32,
    pub page_faults: u32,
    pub preempted: u32,
    /// The program's name, NUL-padded.
    pub name: [u8; 16],
}

/// Waiting for the CPU, or on it.
pub const TASK_RUNNABLE: u32 = 0;
/// In `sleep`.
pub const TASK_SLEEPING: u32 = 1;
/// In `read`, waiting for console input.
pub const TASK_READING: u32 = 2;
/// Ended by `exit`.
pub const TASK_EXITED: u32 = 3;
/// Killed by the kernel for a fault.
pub const TASK_KILLED: u32 = 4;

/// No task in that slot.
pub const ESRCH: u32 = -3i32 as u32;
/// The device answered with an error (e.g. a sector past the end of the disk).
pub const EIO: u32 = -5i32 as u32;
/// A buffer a system call was given is not mapped for the caller to read (or write).
pub const EFAULT: u32 = -14i32 as u32;
/// No such device.
pub const ENODEV: u32 = -19i32 as u32;
/// An argument out of range.
pub const EINVAL: u32 = -22i32 as u32;
/// No such system call.
pub const ENOSYS: u32 = -38i32 as u32;
/// No address to send from (no `ip=` on the command line).
pub const EADDRNOTAVAIL: u32 = -99i32 as u32;
/// No answer in time.
pub const ETIMEDOUT: u32 = -110i32 as u32;
