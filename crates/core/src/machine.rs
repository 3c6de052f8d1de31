//! What this process may use of the machine: its cores, read once, which bound the archives
//! written at once (`backup`) and the allocator's arenas (`fewer_arenas`).

use std::sync::LazyLock;

/// The cores this process may use (a cgroup's quota counted), or 2 when that cannot be told.
pub fn cores() -> usize {
    static CORES: LazyLock<usize> =
        LazyLock::new(|| std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get));
    *CORES
}

/// Sets the process up for many jobs at once, before its first thread. Jobs are threads, and
/// glibc's allocator gives threads up to eight arenas per core, each keeping the memory its
/// threads freed: 64 jobs held 5–10 MB more that way (docs/performance.md). Jobs mostly
/// wait on their lines, so as many arenas as cores serve them.
pub fn fewer_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let most = i32::try_from(cores()).unwrap_or(i32::MAX);
        // SAFETY: mallopt only sets one of the allocator's tunables; called before the
        // process starts a thread, so none has an arena yet.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, most) };
    }
}
