//! Background work at a bounded share of the machine. A long job (the
//! retention purge's verification walk and deletions) works in steps and,
//! after each, pauses for as long as the step took times `(1 - share) /
//! share`: at a share of 10% it works 10 ms, rests 90 ms. Calls being
//! served meanwhile meet it in at most one step at a time, and most of them
//! not at all.

use std::time::{Duration, Instant};

/// Paces a job to `share` of wall time (see the module).
#[derive(Debug)]
pub struct Pacer {
    /// Rest per unit of work: `(1 - share) / share`.
    rest: f64,
    since: Instant,
    rested: Duration,
}

impl Pacer {
    /// A pacer that lets the job work `share_percent` of the time (1..=100;
    /// 100 never pauses; 0 counts as 1).
    pub fn new(share_percent: u8) -> Self {
        let share = f64::from(share_percent.clamp(1, 100)) / 100.0;
        Self { rest: (1.0 - share) / share, since: Instant::now(), rested: Duration::ZERO }
    }

    /// After a step: rests in proportion to how long the step took.
    pub async fn pause(&mut self) {
        let worked = self.since.elapsed();
        self.rest_after(worked).await;
    }

    /// After a step that worked `worked` (the rest of the time since the
    /// last pause it waited for its turn, which is no work): rests in
    /// proportion.
    pub async fn rest_after(&mut self, worked: Duration) {
        let rest = worked.mul_f64(self.rest);
        if !rest.is_zero() {
            tokio::time::sleep(rest).await;
            self.rested += rest;
        }
        self.since = Instant::now();
    }

    /// How long the job has rested so far.
    pub fn rested(&self) -> Duration {
        self.rested
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_step_is_followed_by_its_share_of_rest() {
        let mut pacer = Pacer::new(20);
        pacer.since = Instant::now() - Duration::from_millis(10);
        pacer.pause().await;
        // 10 ms of work at a 20% share: 40 ms of rest.
        let rested = pacer.rested().as_secs_f64();
        assert!((rested - 0.040).abs() < 0.002, "rested {rested} s");
        let mut full = Pacer::new(100);
        full.since = Instant::now() - Duration::from_millis(10);
        full.pause().await;
        assert_eq!(full.rested(), Duration::ZERO);
        assert_eq!(Pacer::new(0).rest, 99.0);
    }
}
