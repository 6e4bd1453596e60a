//! The HA role controller's functional core (mission M1, M2, M4, M11).
//!
//! "Replication follows the service": the node running the HA service is master, snapshots
//! and sends; the others are standbys that only receive. Everything here is pure; the daemon
//! and `ha run-once` run the placement commands and feed their output in.
//! - [`observation`]: one look at where the service runs ([`View`]), time-stamped on a
//!   monotonic clock ([`Tick`]) so wall-clock jumps cannot fake a confirmation.
//! - [`placement`]: parsers for each placement source's real output (Proxmox, Pacemaker,
//!   DRBD, command) and for cluster quorum.
//! - [`role`]: [`decide`] — `Master | Standby | Unknown(reason)` from a history of
//!   observations: N agreeing, spaced, fresh, quorate, and not in a transition.
//! - [`epoch`]: the fencing epoch carried by every replicated dataset; an old master can never
//!   overwrite a newer one. It lives in `zferry_repl::epoch`, next to the replication engine
//!   that enforces it, and is re-exported here.
//! - [`sim`]: a virtual-time cluster simulator; scenario scripts → decision logs (golden files
//!   in `tests/scenarios/`).

pub mod observation;
pub mod placement;
pub mod role;
pub mod sim;

pub use observation::{Observation, Quorum, Tick, View};
pub use placement::{PlacementError, Reading, validate_node_name};
pub use role::{Role, Rules, Unknown, decide};
pub use zferry_repl::epoch;
pub use zferry_repl::epoch::{
    EPOCH_PROPERTY, Epoch, EpochRefusal, SendVerdict, check_receive, check_send, next_master_epoch,
    send_verdict,
};
