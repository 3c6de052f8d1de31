//! Work orders pulled from the provider, kept until they are carried out or expire. The
//! signed document is sealed (it holds full numbers); the rest is for listing.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, StoreError, now};

/// A pulled order as listed.
#[derive(Debug, Clone, Serialize)]
pub struct PulledOrder {
    pub id: String,
    pub technician: String,
    pub operation: String,
    pub serial: Option<String>,
    pub valid_until: String,
    pub key_id: String,
    pub pulled_at: String,
}

impl Store {
    /// Keeps a pulled order (replacing an earlier copy of the same id).
    pub fn save_pulled(&mut self, o: &PulledOrder, sealed: &[u8]) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO orders (id, technician, operation, serial, valid_until, key_id, document, pulled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![o.id, o.technician, o.operation, o.serial, o.valid_until, o.key_id, sealed, now()],
            )
            .map(drop)
        })
    }

    /// Forgets orders whose validity ran out before `now`, unless a job still needs them
    /// (one running or interrupted, which a resume reads the order from).
    pub fn forget_expired_orders(&mut self, now: &str) -> Result<usize, StoreError> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM orders WHERE valid_until < ?1
                 AND id NOT IN (SELECT order_id FROM jobs WHERE state IN ('running', 'interrupted'))",
                [now],
            )
        })
    }

    /// Every pulled order, soonest to expire first.
    pub fn pulled_orders(&self) -> Result<Vec<PulledOrder>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, technician, operation, serial, valid_until, key_id, pulled_at FROM orders ORDER BY valid_until, id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(PulledOrder {
                    id: r.get(0)?,
                    technician: r.get(1)?,
                    operation: r.get(2)?,
                    serial: r.get(3)?,
                    valid_until: r.get(4)?,
                    key_id: r.get(5)?,
                    pulled_at: r.get(6)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The sealed document of pulled order `id`.
    pub fn pulled_document(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .query_row("SELECT document FROM orders WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    /// The job that carried out (or is carrying out) order `id`, if any.
    pub fn job_of_order(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT id FROM jobs WHERE order_id = ?1 AND state IN ('running', 'interrupted', 'done') LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }
}
