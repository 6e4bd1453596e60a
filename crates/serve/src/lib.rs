//! zferry-serve: the pure core of `zferry serve --stdio`, the remote end of replication.
//!
//! An admin pins zferry's replication key to a forced command in `authorized_keys`
//! (`command="zferry serve --stdio",restrict …`). sshd then runs serve with the client's
//! command line in `SSH_ORIGINAL_COMMAND`; serve turns it back into an argv, checks it is one
//! of the few `zfs` shapes the replication engine sends and that every dataset it names lies
//! within a `[jobs.*]` endpoint of this node, and only then replaces itself with `zfs`.
//!
//! - [`unquote`]: the exact inverse of `zferry_exec::shell_join` (anything else is refused).
//! - [`request`]: the served argv shapes, parsed into typed requests with checked names.
//! - [`policy`]: the datasets this node serves, built from its config.
//! - [`authorize`]: the decision ([`decide`]); [`token`]: what a resume token's dry run names.
//! - [`fence`]: the receiver's fencing-epoch check of a receive.
//! - [`refusal`]: why a command is refused, one printable reason each.
//!
//! The CLI glue (environment, config loading, the dry run, `exec`) is `zferry`'s `serve_cmd`.

pub mod authorize;
pub mod fence;
pub mod policy;
pub mod refusal;
pub mod request;
pub mod token;
pub mod unquote;

pub use authorize::{Verdict, authorize, authorize_resume, decide};
pub use fence::{check_not_master, check_stream, epoch_get_args, target_epoch};
pub use policy::{Grant, Policy};
pub use refusal::Refusal;
pub use request::{HoldTag, List, Request, ResumeToken, Send, WireMode};
pub use token::{dry_run_args, snapshot_of_dry_run};
pub use unquote::{UnquoteError, unquote};
