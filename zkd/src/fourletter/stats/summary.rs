//! The building blocks of [`super::ServerStats`]: 3.8's `AvgMinMaxCounter`,
//! its percentile variant, and `BufferStats`, with the same reset values and
//! the same arithmetic, so the numbers print identically.

use crate::fourletter::java;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Count, sum, min and max of a stream of values (`AvgMinMaxCounter`).
/// Lock-free so that connection tasks can record without a lock.
#[derive(Debug)]
pub struct AvgMinMax {
    total: AtomicI64,
    count: AtomicU64,
    min: AtomicI64,
    max: AtomicI64,
}

impl Default for AvgMinMax {
    fn default() -> Self {
        AvgMinMax {
            total: AtomicI64::new(0),
            count: AtomicU64::new(0),
            min: AtomicI64::new(i64::MAX),
            max: AtomicI64::new(i64::MIN),
        }
    }
}

impl AvgMinMax {
    pub fn add(&self, value: i64) {
        self.total.fetch_add(value, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.min.fetch_min(value, Relaxed);
        self.max.fetch_max(value, Relaxed);
    }

    pub fn reset(&self) {
        self.count.store(0, Relaxed);
        self.total.store(0, Relaxed);
        self.min.store(i64::MAX, Relaxed);
        self.max.store(i64::MIN, Relaxed);
    }

    /// Average rounded to four places as 3.8 does; 0.0 when empty.
    pub fn avg(&self) -> f64 {
        java::average_4dp(self.total.load(Relaxed), self.count.load(Relaxed))
    }

    /// Smallest value, 0 when empty.
    pub fn min(&self) -> i64 {
        match self.min.load(Relaxed) {
            i64::MAX => 0,
            v => v,
        }
    }

    /// Largest value, 0 when empty.
    pub fn max(&self) -> i64 {
        match self.max.load(Relaxed) {
            i64::MIN => 0,
            v => v,
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    pub fn total(&self) -> i64 {
        self.total.load(Relaxed)
    }
}

/// 3.8's reservoir size for percentile summaries.
const RESERVOIR_SIZE: usize = 4096;

/// A uniform sample of at most 4096 values (Vitter's algorithm R, as in
/// 3.8's `ResettableUniformReservoir`) for p50/p95/p99/p999. The random
/// source is a fixed-seed SplitMix64, so results are reproducible in tests.
#[derive(Debug)]
struct Reservoir {
    seen: u64,
    values: Vec<i64>,
    rng: u64,
}

impl Reservoir {
    const SEED: u64 = 0x5eed_2d8f_1b4c_a3e7;

    fn new() -> Reservoir {
        Reservoir {
            seen: 0,
            values: Vec::new(),
            rng: Self::SEED,
        }
    }

    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn update(&mut self, value: i64) {
        self.seen += 1;
        if self.values.len() < RESERVOIR_SIZE {
            self.values.push(value);
            return;
        }
        let slot = self.next_random() % self.seen;
        if let Some(v) = self.values.get_mut(slot as usize) {
            *v = value;
        }
    }

    /// p50, p95, p99, p999 by the Dropwizard `UniformSnapshot` rule
    /// (interpolated between neighbours), rounded with `Math.round`.
    fn percentiles(&self) -> [i64; 4] {
        let mut sorted = self.values.clone();
        sorted.sort_unstable();
        [0.5, 0.95, 0.99, 0.999].map(|q| java::round_to_long(quantile(&sorted, q)))
    }
}

fn quantile(sorted: &[i64], q: f64) -> f64 {
    let Some(&first) = sorted.first() else {
        return 0.0;
    };
    let pos = q * (sorted.len() as f64 + 1.0);
    let index = pos as usize;
    if index < 1 {
        return first as f64;
    }
    if index >= sorted.len() {
        return sorted[sorted.len() - 1] as f64;
    }
    let lower = sorted[index - 1] as f64;
    let upper = sorted[index] as f64;
    lower + (pos - pos.floor()) * (upper - lower)
}

/// What one summary prints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SummaryValues {
    pub avg: f64,
    pub min: i64,
    pub max: i64,
    pub count: u64,
    pub sum: i64,
    /// p50, p95, p99, p999 for summaries that keep them.
    pub percentiles: Option<[i64; 4]>,
}

/// One summary: [`AvgMinMax`], plus a reservoir when it reports percentiles.
#[derive(Debug)]
pub struct SummaryCell {
    counts: AvgMinMax,
    reservoir: Option<Mutex<Reservoir>>,
}

impl SummaryCell {
    pub fn new(with_percentiles: bool) -> SummaryCell {
        SummaryCell {
            counts: AvgMinMax::default(),
            reservoir: with_percentiles.then(|| Mutex::new(Reservoir::new())),
        }
    }

    pub fn add(&self, value: i64) {
        self.counts.add(value);
        if let Some(r) = &self.reservoir {
            lock(r).update(value);
        }
    }

    pub fn reset(&self) {
        self.counts.reset();
        if let Some(r) = &self.reservoir {
            *lock(r) = Reservoir::new();
        }
    }

    pub fn values(&self) -> SummaryValues {
        SummaryValues {
            avg: self.counts.avg(),
            min: self.counts.min(),
            max: self.counts.max(),
            count: self.counts.count(),
            sum: self.counts.total(),
            percentiles: self.reservoir.as_ref().map(|r| lock(r).percentiles()),
        }
    }
}

/// A poisoned lock only means another thread panicked mid-update of a
/// statistic; the numbers are still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Last, smallest and largest size seen (3.8's `BufferStats`), -1 before
/// the first value. Used for client response sizes and, on a leader, for
/// proposal sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferSizes {
    pub last: i32,
    pub min: i32,
    pub max: i32,
}

impl Default for BufferSizes {
    fn default() -> Self {
        BufferSizes {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

impl BufferSizes {
    pub fn record(&mut self, size: i32) {
        self.last = size;
        if self.min == -1 || size < self.min {
            self.min = size;
        }
        if size > self.max {
            self.max = size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_counter_reads_zero() {
        let c = AvgMinMax::default();
        assert_eq!(
            (c.avg(), c.min(), c.max(), c.count(), c.total()),
            (0.0, 0, 0, 0, 0)
        );
    }

    #[test]
    fn counter_tracks_and_resets() {
        let c = AvgMinMax::default();
        for v in [72, 77, 72] {
            c.add(v);
        }
        assert_eq!(
            (c.avg(), c.min(), c.max(), c.count(), c.total()),
            (73.6667, 72, 77, 3, 221)
        );
        c.reset();
        assert_eq!((c.min(), c.max(), c.count()), (0, 0, 0));
    }

    #[test]
    fn percentiles_interpolate_like_dropwizard() {
        let cell = SummaryCell::new(true);
        assert_eq!(cell.values().percentiles, Some([0, 0, 0, 0]));
        for v in 1..=10 {
            cell.add(v);
        }
        // pos = q * 11: p50 -> 5.5 -> 5 + 0.5 * (6 - 5) = 5.5 -> 6.
        assert_eq!(cell.values().percentiles, Some([6, 10, 10, 10]));
        cell.add(1000);
        let v = cell.values();
        assert_eq!((v.count, v.max, v.sum), (11, 1000, 1055));
        cell.reset();
        assert_eq!(cell.values().percentiles, Some([0, 0, 0, 0]));
        assert_eq!(SummaryCell::new(false).values().percentiles, None);
    }

    #[test]
    fn single_value_is_every_percentile() {
        let cell = SummaryCell::new(true);
        cell.add(2);
        assert_eq!(cell.values().percentiles, Some([2, 2, 2, 2]));
    }

    #[test]
    fn reservoir_stays_bounded_and_representative() {
        let mut r = Reservoir::new();
        for v in 0..100_000 {
            r.update(v);
        }
        assert_eq!(r.values.len(), RESERVOIR_SIZE);
        let [p50, p95, _, _] = r.percentiles();
        assert!((45_000..55_000).contains(&p50), "p50 {p50}");
        assert!((92_000..98_000).contains(&p95), "p95 {p95}");
    }

    #[test]
    fn buffer_sizes_start_at_minus_one() {
        let mut b = BufferSizes::default();
        assert_eq!(
            b,
            BufferSizes {
                last: -1,
                min: -1,
                max: -1
            }
        );
        b.record(93);
        b.record(16);
        b.record(23);
        assert_eq!(
            b,
            BufferSizes {
                last: 23,
                min: 16,
                max: 93
            }
        );
    }
}
