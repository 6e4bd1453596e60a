//! The decision: from `SSH_ORIGINAL_COMMAND` and the node's [`Policy`] to "run this argv",
//! "answer the version" or a [`Refusal`]. Pure; the CLI does the I/O and the `exec`.

use zferry_zfs::{ObjectName, SnapshotName};

use crate::policy::Policy;
use crate::refusal::Refusal;
use crate::request::{Request, ResumeToken};
use crate::unquote::unquote;

/// What serve does with an authorized request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Run `zfs` with the request's [`Request::zfs_args`] (or answer `--version`).
    Allow(Request),
    /// A resume token names its snapshot only inside: find it out with a dry run
    /// ([`crate::token`]), then call [`authorize_resume`].
    ResolveToken(Request, ResumeToken),
}

/// Unquotes, parses and authorizes the client's command line (`None`: no command given).
pub fn decide(original_command: Option<&str>, policy: &Policy) -> Result<Verdict, Refusal> {
    let line = original_command.ok_or(Refusal::NoCommand)?;
    let argv = unquote(line)?;
    let request = Request::parse(&argv)?;
    authorize(request, policy)
}

/// Checks every name the request touches against `policy`.
pub fn authorize(request: Request, policy: &Policy) -> Result<Verdict, Refusal> {
    for name in request.names() {
        check_name(&name, policy)?;
    }
    if let Request::Receive {
        force: true,
        dataset,
        ..
    } = request.zfs_request()
        && !policy.allows_force_receive(dataset)
    {
        return Err(Refusal::ForceReceive {
            dataset: dataset.to_string(),
        });
    }
    if let Request::Preserve(step) = &request
        && !policy.allows_preserve(step.base())
    {
        return Err(Refusal::Preserve {
            dataset: step.base().to_string(),
        });
    }
    if let Request::Resume { token, .. } = request.zfs_request() {
        let token = token.clone();
        return Ok(Verdict::ResolveToken(request, token));
    }
    Ok(Verdict::Allow(request))
}

/// Finishes a [`Verdict::ResolveToken`]: `snapshot` is what the token's dry run names.
pub fn authorize_resume(
    request: Request,
    snapshot: &SnapshotName,
    policy: &Policy,
) -> Result<Request, Refusal> {
    check_name(&ObjectName::Snapshot(snapshot.clone()), policy)?;
    Ok(request)
}

fn check_name(name: &ObjectName, policy: &Policy) -> Result<(), Refusal> {
    if policy.covers(&name.dataset()) {
        Ok(())
    } else {
        Err(Refusal::Outside {
            name: name.to_string(),
            node: policy.node().to_owned(),
            policy: policy.to_string(),
        })
    }
}
