//! The instance's memory budget. Records are admitted by their predicted peak memory
//! (source bytes plus [`imgcore::estimate_memory`]) so that the renders running at once
//! never add up to more than the function's memory, whatever `MAX_CONCURRENCY` says.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Permits are KiB, so a `u32` request covers 4 TiB.
const UNIT: u64 = 1024;

/// A pool of bytes shared by the records of one instance.
#[derive(Debug)]
pub struct Budget {
    total: u64,
    sem: Arc<Semaphore>,
    in_use: AtomicU64,
    peak: AtomicU64,
}

/// Bytes held by one record until it is dropped (which may be after its task was
/// abandoned at the deadline: the lease travels with the render thread).
#[derive(Debug)]
pub struct Lease {
    permit: OwnedSemaphorePermit,
    budget: Arc<Budget>,
}

impl Budget {
    /// A budget of `total` bytes.
    pub fn new(total: u64) -> Arc<Self> {
        let units = (total / UNIT).clamp(1, u64::from(u32::MAX));
        Arc::new(Budget {
            total: units * UNIT,
            sem: Arc::new(Semaphore::new(units as usize)),
            in_use: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        })
    }

    /// The whole budget in bytes.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The most bytes ever leased at once.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::SeqCst)
    }

    /// Bytes leased now.
    pub fn in_use(&self) -> u64 {
        self.in_use.load(Ordering::SeqCst)
    }

    fn units(bytes: u64) -> u64 {
        bytes.div_ceil(UNIT).max(1)
    }

    /// Wait until `bytes` are free and lease them (first come, first served, so a large
    /// record is not starved by small ones). `None` when `bytes` exceed the whole budget:
    /// such a record can never run here.
    pub async fn lease(self: &Arc<Self>, bytes: u64) -> Option<Lease> {
        let units = Self::units(bytes);
        if units * UNIT > self.total {
            return None;
        }
        let permit = self
            .sem
            .clone()
            .acquire_many_owned(units as u32)
            .await
            .expect("the budget's semaphore is never closed");
        let now = self.in_use.fetch_add(units * UNIT, Ordering::SeqCst) + units * UNIT;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Some(Lease {
            permit,
            budget: self.clone(),
        })
    }
}

impl Lease {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.permit.num_permits() as u64 * UNIT
    }

    /// Give back what is held beyond `bytes` (after a closer estimate).
    pub fn shrink_to(&mut self, bytes: u64) {
        let keep = Budget::units(bytes) as usize;
        let held = self.permit.num_permits();
        if keep < held {
            if let Some(extra) = self.permit.split(held - keep) {
                self.budget
                    .in_use
                    .fetch_sub(extra.num_permits() as u64 * UNIT, Ordering::SeqCst);
                drop(extra);
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.budget.in_use.fetch_sub(self.bytes(), Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn leases_never_add_up_to_more_than_the_budget() {
        let b = Budget::new(10 << 20);
        assert!(
            b.lease(11 << 20).await.is_none(),
            "more than the whole budget"
        );
        let a = b.lease(6 << 20).await.unwrap();
        let b2 = b.clone();
        let waiter = tokio::spawn(async move { b2.lease(6 << 20).await.map(|l| l.bytes()) });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "admitted beyond the budget");
        drop(a);
        assert_eq!(waiter.await.unwrap(), Some(6 << 20));
        assert_eq!(b.peak(), 6 << 20);
        assert_eq!(b.in_use(), 0);
    }

    #[tokio::test]
    async fn a_lease_can_give_back_what_it_does_not_need() {
        let b = Budget::new(10 << 20);
        let mut whole = b.lease(10 << 20).await.unwrap();
        whole.shrink_to(3 << 20);
        assert_eq!(whole.bytes(), 3 << 20);
        assert_eq!(b.in_use(), 3 << 20);
        let other = b.lease(7 << 20).await.unwrap();
        assert_eq!(b.in_use(), 10 << 20);
        drop((whole, other));
        assert_eq!(b.in_use(), 0);
    }
}
