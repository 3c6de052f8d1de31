//! The limits on one-time codes (docs/sync-api.md, "Limits on codes"): at most
//! [`PER_ORDER`] codes for one order and [`PER_NUMBER`] to one phone number in any
//! [`WINDOW`], whatever jobs ask for them. The provider enforces the same limits (a
//! laptop is not a trusted place); the agent keeps to them on its own so that it never
//! asks for a code it would be refused, and a run of jobs cannot flood a merchant's phone.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, timestamp};

/// Codes one order may have sent in any [`WINDOW`].
pub const PER_ORDER: u32 = 3;
/// Codes one phone number may be sent in any [`WINDOW`], over all orders.
pub const PER_NUMBER: u32 = 5;
/// The window the limits count over.
pub const WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// A code that would go over a limit: which one, and from when a code may be sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeLimit {
    Order { again_at: chrono::DateTime<chrono::Utc> },
    Number { again_at: chrono::DateTime<chrono::Utc> },
}

impl Store {
    /// Takes one code of the limits for `order_id` and the number whose keyed digest is
    /// `number`, at `now`; or says which limit it would go over (nothing taken). Counted
    /// and recorded in one write transaction: jobs asking at once cannot both take the last.
    pub fn take_code_send(
        &mut self,
        order_id: &str,
        number: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<(), CodeLimit>, StoreError> {
        let since = timestamp(now - WINDOW);
        self.write(|tx| {
            tx.execute("DELETE FROM code_sends WHERE sent_at <= ?1", [&since])?;
            // The n-th newest send in the window: once the limit is reached, a code may
            // go again when the oldest of the newest `limit` leaves the window.
            let nth = |column: &str, value: &str, limit: u32| {
                tx.query_row(
                    &format!(
                        "SELECT sent_at FROM code_sends WHERE {column} = ?1 ORDER BY sent_at DESC LIMIT 1 OFFSET ?2"
                    ),
                    params![value, limit - 1],
                    |r| r.get::<_, String>(0),
                )
                .optional()
            };
            let again = |at: String| {
                chrono::DateTime::parse_from_rfc3339(&at)
                    .map_or(now + WINDOW, |t| t.with_timezone(&chrono::Utc) + WINDOW)
            };
            if let Some(at) = nth("order_id", order_id, PER_ORDER)? {
                return Ok(Err(CodeLimit::Order { again_at: again(at) }));
            }
            if let Some(at) = nth("number", number, PER_NUMBER)? {
                return Ok(Err(CodeLimit::Number { again_at: again(at) }));
            }
            tx.execute(
                "INSERT INTO code_sends (order_id, number, sent_at) VALUES (?1, ?2, ?3)",
                params![order_id, number, timestamp(now)],
            )?;
            Ok(Ok(()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_and_a_number_are_sent_no_more_codes_than_the_limits_in_any_hour() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let t0: chrono::DateTime<chrono::Utc> = "2026-12-05T08:00:00Z".parse().unwrap();
        let minute = chrono::TimeDelta::minutes(1);
        for i in 0..PER_ORDER {
            let at = t0 + minute * i as i32;
            assert_eq!(store.take_code_send("WO-1", "n1", at).unwrap(), Ok(()));
        }
        // The fourth for the order: refused until the first leaves the window.
        let late = t0 + minute * 10;
        assert_eq!(
            store.take_code_send("WO-1", "n1", late).unwrap(),
            Err(CodeLimit::Order { again_at: t0 + WINDOW })
        );
        // Other orders to the same number: two more, then the number's limit.
        assert_eq!(store.take_code_send("WO-2", "n1", late).unwrap(), Ok(()));
        assert_eq!(store.take_code_send("WO-3", "n1", late).unwrap(), Ok(()));
        assert_eq!(
            store.take_code_send("WO-4", "n1", late).unwrap(),
            Err(CodeLimit::Number { again_at: t0 + WINDOW })
        );
        // Another number is not limited by this one.
        assert_eq!(store.take_code_send("WO-4", "n2", late).unwrap(), Ok(()));
        // An hour after the first, the order may have one more.
        let after = t0 + WINDOW + chrono::TimeDelta::seconds(1);
        assert_eq!(store.take_code_send("WO-1", "n3", after).unwrap(), Ok(()));
        assert!(store.take_code_send("WO-1", "n3", after).unwrap().is_err());
    }
}
