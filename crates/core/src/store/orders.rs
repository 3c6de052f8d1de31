//! Work orders pulled from the provider, kept until they are carried out or expire. The
//! signed document is sealed (it holds full numbers); the rest is for listing.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, StoreError, now};

/// Why a key statement was not kept.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Older than the one held: a rollback.
    #[error("{}", crate::tr!("authority-rollback", version = *.offered, held = *.held))]
    Rollback { offered: u32, held: u32 },
    /// The same version as the one held, with other content.
    #[error("{}", crate::tr!("authority-version-differs", version = *.0))]
    Differs(u32),
}

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
    /// Keeps a pulled order, replacing an earlier copy of the same id unless a job began
    /// on that copy (a job is carried on with the order it began with).
    pub fn save_pulled(&mut self, o: &PulledOrder, sealed: &[u8]) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("DELETE FROM orders_refused WHERE id = ?1", [&o.id])?;
            tx.execute(
                "INSERT INTO orders (id, technician, operation, serial, valid_until, key_id, document, pulled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(id) DO UPDATE SET technician = excluded.technician, operation = excluded.operation,
                   serial = excluded.serial, valid_until = excluded.valid_until, key_id = excluded.key_id,
                   document = excluded.document, pulled_at = excluded.pulled_at
                 WHERE orders.id NOT IN (SELECT order_id FROM jobs WHERE state IN ('running', 'interrupted', 'done'))",
                params![
                    o.id,
                    o.technician,
                    o.operation,
                    o.serial,
                    o.valid_until,
                    o.key_id,
                    sealed,
                    now()
                ],
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
        let conn = self.conn();
        let mut stmt = conn
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
        self.conn()
            .query_row("SELECT document FROM orders WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    /// Keeps root `root_key_id`'s key statement, unless the one held is newer (that would
    /// be a rollback: refused) or the same version with other bytes (refused too).
    pub fn save_statement(&mut self, root_key_id: &str, version: u32, statement: &[u8]) -> Result<(), StatementError> {
        let held: Option<(u32, Vec<u8>)> = self
            .conn()
            .query_row(
                "SELECT version, statement FROM key_statements WHERE root_key_id = ?1",
                [root_key_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        match held {
            Some((v, _)) if v > version => {
                return Err(StatementError::Rollback {
                    offered: version,
                    held: v,
                });
            }
            Some((v, bytes)) if v == version && bytes != statement => return Err(StatementError::Differs(version)),
            Some((v, _)) if v == version => return Ok(()),
            _ => {}
        }
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO key_statements (root_key_id, version, statement, pulled_at) VALUES (?1, ?2, ?3, ?4)",
                params![root_key_id, version, statement, now()],
            )
            .map(drop)
        })?;
        Ok(())
    }

    /// Remembers that the provider served order `id` and it was not kept, and why.
    pub fn save_refused_order(&mut self, id: &str, reason: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO orders_refused (id, reason, refused_at) VALUES (?1, ?2, ?3)",
                params![id, reason, now()],
            )
            .map(drop)
        })
    }

    /// Why order `id` was not kept when it was last served, if it was not.
    pub fn refused_order(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row("SELECT reason FROM orders_refused WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    /// Every key statement kept, as signed.
    pub fn statements(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT statement FROM key_statements ORDER BY root_key_id")
            .map_err(self.err())?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The job that carried out (or is carrying out) order `id`, if any.
    pub fn job_of_order(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .prepare_cached(
                "SELECT id FROM jobs WHERE order_id = ?1 AND state IN ('running', 'interrupted', 'done') LIMIT 1",
            )
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(self.err())
    }
}
