//! zferry-zfs: typed names, pure argv builders and parsers for `zfs`/`zpool`, and typed errors.
//!
//! Nothing here runs a process: builders return [`ZfsCommand`] argv values, parsers take
//! captured text. The thin glue that runs them through an executor lives in [`ops`].

pub mod command;
pub mod error;
pub mod get;
pub mod list;
pub mod name;
pub mod object;
pub mod ops;
pub mod origin;
pub mod parse;
pub mod props;
pub mod snapshots_changed;
pub mod status;
pub mod zpool;

pub use command::ZfsCommand;
pub use error::{
    CommandFailure, OutputError, RetryClass, STDERR_FRAGMENTS, ZfsError, ZfsErrorKind, classify,
};
pub use get::{PropSource, PropertyValue, get_argv, parse_get};
pub use list::{LIST_COLUMNS, LIST_TIMEOUT, list_argv, parse_list};
pub use name::{BookmarkName, DatasetName, NameError, PoolName, SnapshotName};
pub use object::{ObjectName, ZfsObject};
pub use origin::{origins_argv, parse_origins};
pub use parse::ParseError;
pub use props::{Guid, ObjectType, PropNameError, PropertyName, Txg, UserPropName};
pub use status::{
    DataErrors, ErrorCounters, PoolStatus, VdevNode, parse_zpool_status, zpool_status_argv,
};
pub use zpool::{Health, PoolInfo, parse_zpool_list, zpool_list_argv};
