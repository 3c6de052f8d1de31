//! What this process may use of the machine: its cores, read once, which bound the archives
//! written at once (`backup`) and how the allocator serves many jobs (`allocator_for_jobs`).

use std::sync::LazyLock;

/// The cores this process may use (a cgroup's quota counted), or 2 when that cannot be told.
pub fn cores() -> usize {
    static CORES: LazyLock<usize> =
        LazyLock::new(|| std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get));
    *CORES
}

/// Lowers the calling thread to the lowest priority, for work that can wait for a core with
/// nothing else to do (a backup's keys, derived while its log is on the line). On Linux the
/// thread is put in the idle class (`SCHED_IDLE`): a depot's 64 such threads at nice 19
/// still weighed together as much as one thread of normal priority, and took a quarter of
/// the agent's processor while the jobs' checks and the terminals' answers had none to
/// spare. Elsewhere the thread keeps the priority it has.
pub fn idle_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: both calls change the calling thread's scheduling only (pid 0 is the calling
    // thread on Linux), and lowering it needs no privilege.
    unsafe {
        let none = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &raw const none) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19);
        }
    }
}

/// Sets the allocator up for many jobs at once, before the process's first thread. Jobs are
/// threads, and by default glibc's allocator
/// - gives threads up to eight arenas per core, each keeping the memory its threads freed:
///   64 jobs held 5–10 MB more that way. Jobs mostly wait on their lines, so as many arenas
///   as cores serve them;
/// - raises the size from which a block is mapped apart (and given back to the system when
///   freed) to the largest such block freed so far. After a depot's first archive, every
///   job's log and compressor came from the heap instead, where the small allocations of
///   the jobs still running pinned them: 64 jobs peaked at 52–64 MB, 29 MB of it heap.
///   Kept at its starting 128 KB, they peak at 39–41 MB (docs/performance.md).
pub fn allocator_for_jobs() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let most = i32::try_from(cores()).unwrap_or(i32::MAX);
        // SAFETY: mallopt only sets the allocator's tunables; called before the process
        // starts a thread, so none has an arena yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, most);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_at_idle_priority_is_in_the_idle_class_and_no_other_thread_is() {
        // SAFETY: sched_getscheduler only reads the calling thread's class.
        let class = || unsafe { libc::sched_getscheduler(0) };
        let lowered = std::thread::spawn(move || {
            super::idle_priority();
            class()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, libc::SCHED_IDLE);
        assert_eq!(class(), libc::SCHED_OTHER, "the caller's own thread keeps its class");
    }
}
