//! The receiver's fencing check (pure): a served receive must not let an old master overwrite
//! a dataset fenced at a newer epoch, even if that sender skips its own check. Serve reads the
//! target's `zferry:epoch` with [`epoch_get_args`] before it runs the receive.

use zferry_repl::{EPOCH_PROPERTY, Epoch, EpochRefusal, check_receive};
use zferry_zfs::DatasetName;

use crate::refusal::Refusal;

/// `zfs get -H -p -o value zferry:epoch <target>` (after the program).
pub fn epoch_get_args(target: &DatasetName) -> Vec<String> {
    [
        "get",
        "-H",
        "-p",
        "-o",
        "value",
        EPOCH_PROPERTY,
        target.as_str(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The target's epoch from that command's result: a target that does not exist yet is at 0;
/// any other failure refuses (the receive cannot be checked).
pub fn target_epoch(
    target: &DatasetName,
    success: bool,
    stdout: &str,
    stderr: &str,
) -> Result<Epoch, Refusal> {
    let unreadable = |reason: String| Refusal::EpochUnreadable {
        dataset: target.to_string(),
        reason,
    };
    if success {
        return Epoch::from_property(stdout.trim()).map_err(|e| unreadable(e.to_string()));
    }
    let missing = format!("cannot open '{target}': dataset does not exist");
    if stderr.trim() == missing {
        return Ok(Epoch(0));
    }
    let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    Err(unreadable(format!("`zfs get` failed: {}", first.trim())))
}

/// Whether a stream at `stream` (`None`: the request carries no epoch) may be received into
/// a target at `own`. A fenced target (above 0) accepts streams only from a sender at least
/// as new that says so.
pub fn check_stream(
    target: &DatasetName,
    stream: Option<Epoch>,
    own: Epoch,
) -> Result<(), Refusal> {
    match check_receive(stream.unwrap_or_default(), own) {
        Ok(()) => Ok(()),
        Err(EpochRefusal::TargetNewer { .. } | EpochRefusal::NoWinner { .. }) => {
            Err(Refusal::Fenced {
                dataset: target.to_string(),
                stream,
                own,
            })
        }
    }
}

/// Refuses a receive into `target` when it lies in a dataset subtree this node is master of
/// (`mastered`: service name and this node's dataset of one of its jobs).
pub fn check_not_master(
    target: &DatasetName,
    mastered: &[(String, DatasetName)],
) -> Result<(), Refusal> {
    match mastered
        .iter()
        .find(|(_, root)| root == target || root.is_ancestor_of(target))
    {
        Some((service, _)) => Err(Refusal::ServiceMaster {
            dataset: target.to_string(),
            service: service.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ds() -> DatasetName {
        "tank/nfs".parse().unwrap()
    }

    #[test]
    fn reads_the_targets_epoch_or_zero_when_it_does_not_exist() {
        assert_eq!(
            epoch_get_args(&ds()),
            ["get", "-H", "-p", "-o", "value", "zferry:epoch", "tank/nfs"]
        );
        assert_eq!(target_epoch(&ds(), true, "-\n", ""), Ok(Epoch(0)));
        assert_eq!(target_epoch(&ds(), true, "5\n", ""), Ok(Epoch(5)));
        let missing = "cannot open 'tank/nfs': dataset does not exist\n";
        assert_eq!(target_epoch(&ds(), false, "", missing), Ok(Epoch(0)));
        for (ok, out, err) in [
            (true, "five\n", ""),
            (false, "", "cannot open 'tank/nfs': permission denied\n"),
            (
                false,
                "",
                "cannot open 'tank/other': dataset does not exist\n",
            ),
        ] {
            let refusal = target_epoch(&ds(), ok, out, err).unwrap_err();
            assert!(
                matches!(refusal, Refusal::EpochUnreadable { .. }),
                "{refusal}"
            );
            assert!(refusal.to_string().contains("tank/nfs"), "{refusal}");
        }
    }

    #[test]
    fn an_older_stream_or_one_without_epoch_is_refused_by_a_fenced_target() {
        assert_eq!(check_stream(&ds(), Some(Epoch(2)), Epoch(2)), Ok(()));
        assert_eq!(check_stream(&ds(), Some(Epoch(3)), Epoch(2)), Ok(()));
        assert_eq!(check_stream(&ds(), None, Epoch(0)), Ok(()));
        assert_eq!(check_stream(&ds(), Some(Epoch(1)), Epoch(0)), Ok(()));
        let old = check_stream(&ds(), Some(Epoch(1)), Epoch(2)).unwrap_err();
        let text = old.to_string();
        assert!(
            text.contains("tank/nfs") && text.contains("epoch 1") && text.contains("epoch 2"),
            "{text}"
        );
        let unaware = check_stream(&ds(), None, Epoch(2)).unwrap_err();
        assert!(
            unaware.to_string().contains("carries no epoch"),
            "{unaware}"
        );
    }

    #[test]
    fn a_master_receives_nothing_into_its_service_datasets() {
        let mastered = vec![("nfs".to_owned(), ds())];
        let child: DatasetName = "tank/nfs/sub".parse().unwrap();
        let other: DatasetName = "tank/other".parse().unwrap();
        let err = check_not_master(&child, &mastered).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("this node is the master of service `nfs`: tank/nfs/sub"),
            "{err}"
        );
        assert!(check_not_master(&other, &mastered).is_ok());
        assert!(check_not_master(&ds(), &[]).is_ok());
    }
}
