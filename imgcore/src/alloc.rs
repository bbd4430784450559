//! Allocator settings for processes that render many images.

/// Keep large freed buffers for reuse instead of returning them to the kernel.
///
/// glibc's `malloc` serves big requests (decode buffers, resize temporaries) with fresh
/// `mmap`s and gives them back on `free`, so every image pays again for zero-filled page
/// faults: about a fifth of the CPU time of a batch of 6 MP JPEGs (see `BENCHMARKS.md`).
/// This sets glibc's mmap threshold to its largest value (32 MiB) and stops it trimming the
/// heap, so freed buffers are reused by the next image. It also keeps one arena for all
/// threads: with one arena per thread, a buffer freed by one rayon worker cannot be reused
/// by another, which cost 5.5 MB of peak RSS on a three-size render of a 12 MP JPEG (36.5
/// → 30.9 MB); the allocations here are few and large, so the shared lock costs nothing
/// measurable. The process keeps its peak heap until it exits.
///
/// Call once, early, from a binary. It changes the whole process, which is why the library
/// never calls it itself. Does nothing on targets other than Linux with glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes malloc's tuning parameters; it is safe to call at any
        // time, from any thread. A refused value (returns 0) leaves glibc's default in place.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
            libc::mallopt(libc::M_TOP_PAD, 16 << 20);
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}
