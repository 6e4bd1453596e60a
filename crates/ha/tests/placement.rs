//! Placement parsers on their fixtures (tests/fixtures/placement): real Pacemaker captures
//! (capture-pacemaker.sh), hand-written Proxmox and DRBD outputs (their headers say so), and
//! error cases.

use zferry_ha::placement::command::{CommandError, parse_command_output};
use zferry_ha::placement::drbd::{DrbdError, DrbdRole, parse_drbd_status};
use zferry_ha::placement::pacemaker::{PacemakerError, ResourceKind, parse_locate};
use zferry_ha::placement::proxmox::{
    GuestStatus, ProxmoxError, guest_placement, parse_ha_status, parse_resources,
};
use zferry_ha::placement::quorum::{QuorumError, parse_crm_mon_quorum, parse_pvecm_status};
use zferry_ha::placement::{NodeNameError, PlacementError, Reading};
use zferry_ha::{Quorum, View};

/// A fixture's body: its `#` header lines dropped.
fn fixture(text: &str) -> String {
    let mut body = String::new();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        body.push_str(l);
        body.push('\n');
    }
    body
}

macro_rules! fx {
    ($path:literal) => {
        fixture(include_str!(concat!("fixtures/placement/", $path)))
    };
}

fn nowhere(quorum: Quorum) -> View {
    View {
        node: None,
        quorum,
        transition: None,
    }
}

fn moving(node: Option<&str>, quorum: Quorum, word: &str) -> View {
    View {
        node: node.map(str::to_owned),
        quorum,
        transition: Some(word.to_owned()),
    }
}

// ---------------------------------------------------------------- Proxmox /cluster/resources

#[test]
fn resources_running_ha_guest_is_settled_on_its_node() {
    let json = fx!("proxmox/resources-vm.txt");
    let g = parse_resources(&json, 103).unwrap();
    assert_eq!(g.node, "pve1");
    assert_eq!(g.status, GuestStatus::Running);
    assert_eq!(g.hastate.as_deref(), Some("started"));
    assert_eq!(g.view(Quorum::Quorate), View::on("pve1", Quorum::Quorate));
    // The quorum is the caller's (pvecm status): passed through unchanged.
    assert_eq!(g.view(Quorum::Lost), View::on("pve1", Quorum::Lost));
}

#[test]
fn resources_transitions_and_non_transitions() {
    let json = fx!("proxmox/resources-vm.txt");
    let view = |vmid| parse_resources(&json, vmid).unwrap().view(Quorum::Quorate);
    // HA migrate (with its migrate lock): a transition, the source node kept as evidence.
    assert_eq!(view(100), moving(Some("pve1"), Quorum::Quorate, "migrate"));
    // Stopped: runs nowhere.
    assert_eq!(view(101), nowhere(Quorum::Quorate));
    // A backup lock is no placement transition.
    let backup = parse_resources(&json, 104).unwrap();
    assert_eq!(backup.lock.as_deref(), Some("backup"));
    assert_eq!(
        backup.view(Quorum::Quorate),
        View::on("pve2", Quorum::Quorate)
    );
    // Node offline, HA fencing: the fence state wins over the unknown status.
    let fenced = parse_resources(&json, 105).unwrap();
    assert_eq!(fenced.status, GuestStatus::Unknown);
    assert_eq!(
        fenced.view(Quorum::Quorate),
        moving(Some("pve3"), Quorum::Quorate, "fence")
    );
    // Not HA-managed: no hastate, the status alone decides.
    let plain = parse_resources(&json, 106).unwrap();
    assert_eq!(plain.hastate, None);
    assert_eq!(
        plain.view(Quorum::Quorate),
        View::on("pve2", Quorum::Quorate)
    );
}

#[test]
fn resources_public_sample_of_the_snapshot_parser_reads_the_same() {
    let json = fixture(include_str!(
        "../../snap/tests/fixtures/pvesh_resources_vm.txt"
    ));
    let g = parse_resources(&json, 100).unwrap();
    assert_eq!(
        g.view(Quorum::Quorate),
        View::on("pve-node3", Quorum::Quorate)
    );
    assert_eq!(g.lock, None);
}

fn one_guest(fields: &str) -> String {
    format!(r#"[{{"type":"qemu","vmid":100,"node":"pve1",{fields}}}]"#)
}

#[test]
fn resources_each_transition_word() {
    for h in [
        "migrate",
        "relocate",
        "fence",
        "recovery",
        "freeze",
        "error",
        "request_stop",
    ] {
        let json = one_guest(&format!(r#""status":"running","hastate":"{h}""#));
        let v = parse_resources(&json, 100).unwrap().view(Quorum::Quorate);
        assert_eq!(v, moving(Some("pve1"), Quorum::Quorate, h), "hastate {h}");
    }
    for h in ["started", "ignored"] {
        let json = one_guest(&format!(r#""status":"running","hastate":"{h}""#));
        let v = parse_resources(&json, 100).unwrap().view(Quorum::Quorate);
        assert_eq!(v, View::on("pve1", Quorum::Quorate), "hastate {h}");
    }
    // Running while HA wants it stopped: about to stop.
    for h in ["stopped", "disabled"] {
        let json = one_guest(&format!(r#""status":"running","hastate":"{h}""#));
        let v = parse_resources(&json, 100).unwrap().view(Quorum::Quorate);
        assert_eq!(v, moving(Some("pve1"), Quorum::Quorate, "stopping"));
    }
    // A migrate lock alone (a non-HA live migration) is a transition; other locks are not.
    let json = one_guest(r#""status":"running","lock":"migrate""#);
    let v = parse_resources(&json, 100).unwrap().view(Quorum::Quorate);
    assert_eq!(v, moving(Some("pve1"), Quorum::Quorate, "migrate"));
    for lock in [
        "backup",
        "snapshot",
        "snapshot-delete",
        "rollback",
        "clone",
        "",
    ] {
        let json = one_guest(&format!(r#""status":"running","lock":"{lock}""#));
        let v = parse_resources(&json, 100).unwrap().view(Quorum::Quorate);
        assert_eq!(v, View::on("pve1", Quorum::Quorate), "lock {lock:?}");
    }
    // Unknown status without an HA state: the node is offline.
    let json = one_guest(r#""status":"unknown""#);
    let v = parse_resources(&json, 100).unwrap().view(Quorum::Quorate);
    assert_eq!(v, moving(Some("pve1"), Quorum::Quorate, "status-unknown"));
}

#[test]
fn resources_errors_name_what_is_wrong() {
    let json = fx!("proxmox/resources-vm.txt");
    let e = parse_resources(&json, 999).unwrap_err();
    assert!(matches!(e, ProxmoxError::NoSuchGuest { vmid: 999 }), "{e}");
    assert!(e.to_string().contains("999"));
    let e = parse_resources("[{", 100).unwrap_err();
    assert!(matches!(e, ProxmoxError::Resources(_)), "{e}");
    let e = parse_resources(r#"{"data":[]}"#, 100).unwrap_err();
    assert!(matches!(e, ProxmoxError::Resources(_)), "{e}");
    let e = parse_resources(&one_guest(r#""status":"paused""#), 100).unwrap_err();
    assert!(
        matches!(&e, ProxmoxError::UnknownStatus { status, .. } if status == "paused"),
        "{e}"
    );
    let e =
        parse_resources(&one_guest(r#""status":"running","hastate":"dancing""#), 100).unwrap_err();
    assert!(
        matches!(&e, ProxmoxError::UnknownHaState { hastate, .. } if hastate == "dancing"),
        "{e}"
    );
    let twice = r#"[{"type":"qemu","vmid":100,"node":"a","status":"running"},
        {"type":"lxc","vmid":100,"node":"b","status":"running"}]"#;
    let e = parse_resources(twice, 100).unwrap_err();
    assert!(
        matches!(e, ProxmoxError::DuplicateGuest { count: 2, .. }),
        "{e}"
    );
    let e = parse_resources(
        r#"[{"type":"qemu","vmid":100,"node":"p v e","status":"running"}]"#,
        100,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            ProxmoxError::GuestNode {
                source: NodeNameError::Whitespace(_),
                ..
            }
        ),
        "{e}"
    );
    // Missing node: the JSON parser refuses it.
    let e = parse_resources(r#"[{"type":"qemu","vmid":100,"status":"running"}]"#, 100).unwrap_err();
    assert!(matches!(e, ProxmoxError::Resources(_)), "{e}");
}

#[test]
fn resources_already_parsed_list_is_accepted() {
    let json = fx!("proxmox/resources-vm.txt");
    let guests = zferry_snap::guest::parse_guests(&json).unwrap();
    assert_eq!(guests.len(), 6);
    assert_eq!(guest_placement(&guests, 103).unwrap().node, "pve1");
    assert!(guest_placement(&guests, 1).is_err());
}

// ---------------------------------------------------------------- Proxmox HA status

#[test]
fn ha_status_services_and_quorum() {
    let st = parse_ha_status(&fx!("proxmox/ha-status-current.txt")).unwrap();
    assert!(st.quorate);
    assert_eq!(st.quorum(), Quorum::Quorate);
    assert_eq!(st.quorum_node, "pve1");
    assert_eq!(st.master.as_deref(), Some("pve2"));
    assert_eq!(st.services.len(), 3);
    assert_eq!(
        st.view("ct:103").unwrap(),
        View::on("pve1", Quorum::Quorate)
    );
    // A bare id finds the one service with it.
    assert_eq!(st.view("103").unwrap(), View::on("pve1", Quorum::Quorate));
    assert_eq!(
        st.view("vm:100").unwrap(),
        moving(Some("pve1"), Quorum::Quorate, "migrate")
    );
    let disabled = st.service("vm:101").unwrap();
    assert_eq!(disabled.crm_state.as_deref(), Some("stopped"));
    assert_eq!(disabled.request_state.as_deref(), Some("disabled"));
    assert_eq!(st.view("vm:101").unwrap(), nowhere(Quorum::Quorate));
}

#[test]
fn ha_status_without_quorum() {
    let st = parse_ha_status(&fx!("proxmox/ha-status-no-quorum.txt")).unwrap();
    assert!(!st.quorate);
    assert_eq!(st.view("ct:103").unwrap(), View::on("pve1", Quorum::Lost));
    assert_eq!(
        st.view("vm:105").unwrap(),
        moving(Some("pve3"), Quorum::Lost, "fence")
    );
}

fn ha(services: &str) -> String {
    format!(
        r#"[{{"id":"quorum","type":"quorum","node":"pve1","status":"OK","quorate":true}}{services}]"#
    )
}

fn svc(sid: &str, node: &str, state: &str) -> String {
    format!(
        r#",{{"id":"service:{sid}","type":"service","sid":"{sid}","node":"{node}","state":"{state}"}}"#
    )
}

#[test]
fn ha_status_each_state() {
    for s in [
        "starting",
        "stopping",
        "migrate",
        "relocate",
        "fence",
        "recovery",
        "freeze",
        "error",
        "request_stop",
        "clearing error flag",
    ] {
        let st = parse_ha_status(&ha(&svc("ct:103", "pve2", s))).unwrap();
        assert_eq!(
            st.view("ct:103").unwrap(),
            moving(Some("pve2"), Quorum::Quorate, s),
            "{s}"
        );
    }
    for s in ["queued", "ignored", "deleting", "not found"] {
        let st = parse_ha_status(&ha(&svc("ct:103", "pve2", s))).unwrap();
        assert_eq!(
            st.view("ct:103").unwrap(),
            moving(None, Quorum::Quorate, s),
            "{s}"
        );
    }
    let st = parse_ha_status(&ha(&svc("ct:103", "pve2", "stopped"))).unwrap();
    assert_eq!(st.view("ct:103").unwrap(), nowhere(Quorum::Quorate));
}

#[test]
fn ha_status_errors() {
    let e = parse_ha_status(&ha(&svc("ct:103", "pve2", "wandering")))
        .unwrap()
        .view("ct:103")
        .unwrap_err();
    assert!(
        matches!(&e, ProxmoxError::UnknownServiceState { state, .. } if state == "wandering"),
        "{e}"
    );
    let st = parse_ha_status(&fx!("proxmox/ha-status-current.txt")).unwrap();
    let e = st.view("ct:999").unwrap_err();
    assert!(matches!(e, ProxmoxError::NoSuchService { .. }), "{e}");
    let both = format!(
        "{}{}",
        svc("ct:103", "pve1", "started"),
        svc("vm:103", "pve2", "started")
    );
    let e = parse_ha_status(&ha(&both))
        .unwrap()
        .view("103")
        .unwrap_err();
    assert!(
        matches!(&e, ProxmoxError::AmbiguousService { matches, .. } if matches.len() == 2),
        "{e}"
    );
    // Started, but no node: refused rather than read as "nowhere".
    let nodeless = r#",{"id":"service:ct:103","type":"service","sid":"ct:103","state":"started"}"#;
    let e = parse_ha_status(&ha(nodeless))
        .unwrap()
        .view("ct:103")
        .unwrap_err();
    assert!(matches!(e, ProxmoxError::ServiceWithoutNode { .. }), "{e}");
    let e = parse_ha_status(&ha(&svc("ct:103", "pve 2", "started")))
        .unwrap()
        .view("ct:103")
        .unwrap_err();
    assert!(matches!(e, ProxmoxError::ServiceNode { .. }), "{e}");
    // No quorum entry, two, or a bad quorate value.
    let e = parse_ha_status(&format!("[{}]", &svc("ct:103", "pve1", "started")[1..])).unwrap_err();
    assert!(matches!(e, ProxmoxError::HaNoQuorum), "{e}");
    let q = r#"{"id":"quorum","type":"quorum","node":"pve1","quorate":1}"#;
    let e = parse_ha_status(&format!("[{q},{q}]")).unwrap_err();
    assert!(matches!(e, ProxmoxError::HaManyQuorum(2)), "{e}");
    let e = parse_ha_status(r#"[{"id":"quorum","type":"quorum","node":"pve1","quorate":"yes"}]"#)
        .unwrap_err();
    assert!(matches!(e, ProxmoxError::HaEntry { index: 0, .. }), "{e}");
    let e = parse_ha_status(r#"[{"id":"quorum","type":"quorum","node":"pve1"}]"#).unwrap_err();
    assert!(matches!(e, ProxmoxError::HaEntry { .. }), "{e}");
    let e = parse_ha_status(&ha(r#",{"id":"x","type":"weather","node":"pve1"}"#)).unwrap_err();
    assert!(e.to_string().contains("weather"), "{e}");
    let e = parse_ha_status(&ha(
        r#",{"id":"service:ct:1","type":"service","node":"pve1","state":"started"}"#,
    ))
    .unwrap_err();
    assert!(e.to_string().contains("without sid"), "{e}");
    let e = parse_ha_status("not json").unwrap_err();
    assert!(matches!(e, ProxmoxError::HaJson(_)), "{e}");
}

// ---------------------------------------------------------------- pvecm status

#[test]
fn pvecm_status_quorate_and_not() {
    assert_eq!(
        parse_pvecm_status(&fx!("proxmox/pvecm-status-quorate.txt")).unwrap(),
        Quorum::Quorate
    );
    assert_eq!(
        parse_pvecm_status(&fx!("proxmox/pvecm-status-no-quorum.txt")).unwrap(),
        Quorum::Lost
    );
    // Real corosync 3.1.7 captures of the part of `pvecm status` that carries the quorum.
    assert_eq!(
        parse_pvecm_status(&fx!("corosync/quorumtool-quorate.txt")).unwrap(),
        Quorum::Quorate
    );
    assert_eq!(
        parse_pvecm_status(&fx!("corosync/quorumtool-no-quorum.txt")).unwrap(),
        Quorum::Lost
    );
    // Only the quorum information section (corosync without votequorum): still read.
    assert_eq!(
        parse_pvecm_status("Quorum information\n------------------\nQuorate:          Yes\n")
            .unwrap(),
        Quorum::Quorate
    );
}

#[test]
fn pvecm_status_errors() {
    let e = parse_pvecm_status("").unwrap_err();
    assert!(matches!(e, QuorumError::NoQuorateLine), "{e}");
    let quorate = fx!("proxmox/pvecm-status-quorate.txt");
    let e =
        parse_pvecm_status(&quorate.replace("Quorate:          Yes", "Quorate:          Maybe"))
            .unwrap_err();
    assert!(
        matches!(&e, QuorumError::UnknownQuorate(v) if v == "Maybe"),
        "{e}"
    );
    // The votequorum flags disagree with the Quorate line.
    let e = parse_pvecm_status(&quorate.replace("Flags:            Quorate", "Flags:            "))
        .unwrap_err();
    assert!(matches!(e, QuorumError::Inconsistent { .. }), "{e}");
    let e = parse_pvecm_status(&format!("{quorate}Quorate:          No\n")).unwrap_err();
    assert!(matches!(e, QuorumError::ManyQuorateLines(2)), "{e}");
}

// ---------------------------------------------------------------- Pacemaker

#[test]
fn pacemaker_locate_real_captures() {
    let loc = |file: &str, rsc: &str| {
        let path = format!(
            "{}/tests/fixtures/placement/pacemaker/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        parse_locate(&fixture(&std::fs::read_to_string(path).unwrap()), rsc)
    };
    let p = ResourceKind::Primitive;
    let q = Quorum::Quorate;
    let running = loc("locate-running-node1.txt", "nfs-server").unwrap();
    assert_eq!(running.nodes.len(), 1);
    assert_eq!(running.view(p, q), View::on("node1", q));
    assert_eq!(
        loc("locate-stopped.txt", "nfs-server").unwrap().view(p, q),
        nowhere(q)
    );
    assert_eq!(
        loc("locate-two-nodes.txt", "nfs-server")
            .unwrap()
            .view(p, q),
        moving(None, q, "multiple-active")
    );
    assert_eq!(
        loc("locate-migrating-partial.txt", "nfs-server")
            .unwrap()
            .view(p, q),
        moving(None, q, "multiple-active")
    );
    assert_eq!(
        loc("locate-no-quorum.txt", "nfs-server")
            .unwrap()
            .view(p, Quorum::Lost),
        View::on("node1", Quorum::Lost)
    );
    let promoted = loc("locate-promoted-node1.txt", "drbd-r0-clone").unwrap();
    assert_eq!(promoted.nodes.iter().filter(|l| l.promoted).count(), 1);
    assert_eq!(
        promoted.view(ResourceKind::Promotable, q),
        View::on("node1", q)
    );
    // Read as a primitive, a clone on two nodes is not one placement.
    assert_eq!(promoted.view(p, q), moving(None, q, "multiple-active"));
    // Unpromoted only: a promotable clone runs nowhere as primary.
    let unpromoted = loc("locate-unpromoted-only.txt", "drbd-r0-clone").unwrap();
    assert_eq!(unpromoted.view(ResourceKind::Promotable, q), nowhere(q));
    let e = loc("locate-no-such-resource.txt", "no-such-rsc").unwrap_err();
    assert!(
        matches!(&e, PacemakerError::NoSuchResource { resource } if resource == "no-such-rsc"),
        "{e}"
    );
    // The answer must be about the resource asked for.
    let e = loc("locate-running-node1.txt", "other").unwrap_err();
    assert!(matches!(e, PacemakerError::OtherResource { .. }), "{e}");
}

const LOCATE_HEAD: &str =
    r#"<pacemaker-result api-version="2.25" request="crm_resource --locate -r r --output-as=xml">"#;

fn locate_xml(nodes: &str, status: &str) -> String {
    format!("{LOCATE_HEAD}\n{nodes}\n{status}\n</pacemaker-result>\n")
}

#[test]
fn pacemaker_locate_errors() {
    let ok = r#"<status code="0" message="OK"/>"#;
    let e = parse_locate("<pacemaker-result>", "r").unwrap_err();
    assert!(matches!(e, PacemakerError::Xml(_)), "{e}");
    let e = parse_locate("<other/>", "r").unwrap_err();
    assert!(matches!(e, PacemakerError::Shape(_)), "{e}");
    let e = parse_locate(&locate_xml(r#"<nodes resource="r"/>"#, ""), "r").unwrap_err();
    assert!(e.to_string().contains("no <status>"), "{e}");
    let e = parse_locate(&locate_xml("", ok), "r").unwrap_err();
    assert!(e.to_string().contains("no <nodes>"), "{e}");
    let e = parse_locate(
        &locate_xml(r#"<nodes resource="r"><node>a b</node></nodes>"#, ok),
        "r",
    )
    .unwrap_err();
    assert!(matches!(e, PacemakerError::Node { .. }), "{e}");
    let e = parse_locate(
        &locate_xml(r#"<nodes resource="r"><node></node></nodes>"#, ok),
        "r",
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            PacemakerError::Node {
                source: NodeNameError::Empty,
                ..
            }
        ),
        "{e}"
    );
    let e = parse_locate(
        &locate_xml(
            r#"<nodes resource="r"><node state="sleepy">n1</node></nodes>"#,
            ok,
        ),
        "r",
    )
    .unwrap_err();
    assert!(
        matches!(&e, PacemakerError::UnknownState { state, .. } if state == "sleepy"),
        "{e}"
    );
    let e = parse_locate(
        &locate_xml(r#"<nodes resource="r"><host>n1</host></nodes>"#, ok),
        "r",
    )
    .unwrap_err();
    assert!(matches!(e, PacemakerError::Shape(_)), "{e}");
    // Another failure than "no such object": code, message and error texts reported.
    let failed = r#"<status code="102" message="Not connected"><errors><error>crm_resource: Could not connect to the CIB</error></errors></status>"#;
    let e = parse_locate(&locate_xml("", failed), "r").unwrap_err();
    assert!(matches!(e, PacemakerError::Failed { code: 102, .. }), "{e}");
    assert!(e.to_string().contains("Could not connect"), "{e}");
    // Older spelling of the promoted role.
    let old = parse_locate(
        &locate_xml(
            r#"<nodes resource="r"><node state="Master">n1</node><node>n2</node></nodes>"#,
            ok,
        ),
        "r",
    )
    .unwrap();
    assert_eq!(
        old.view(ResourceKind::Promotable, Quorum::Quorate),
        View::on("n1", Quorum::Quorate)
    );
    let two = parse_locate(
        &locate_xml(
            r#"<nodes resource="r"><node state="promoted">n1</node><node state="promoted">n2</node></nodes>"#,
            ok,
        ),
        "r",
    )
    .unwrap();
    assert_eq!(
        two.view(ResourceKind::Promotable, Quorum::Quorate),
        moving(None, Quorum::Quorate, "multiple-promoted")
    );
}

#[test]
fn crm_mon_quorum_real_captures_and_errors() {
    assert_eq!(
        parse_crm_mon_quorum(&fx!("pacemaker/crm_mon-quorate.txt")).unwrap(),
        Quorum::Quorate
    );
    assert_eq!(
        parse_crm_mon_quorum(&fx!("pacemaker/crm_mon-no-quorum.txt")).unwrap(),
        Quorum::Lost
    );
    let doc = |dc: &str| {
        format!(
            "<pacemaker-result api-version=\"2.25\"><summary>{dc}</summary><status code=\"0\" message=\"OK\"/></pacemaker-result>"
        )
    };
    assert_eq!(
        parse_crm_mon_quorum(&doc(r#"<current_dc present="false"/>"#)).unwrap(),
        Quorum::Lost
    );
    let e = parse_crm_mon_quorum(&doc(r#"<current_dc present="true"/>"#)).unwrap_err();
    assert!(e.to_string().contains("with_quorum"), "{e}");
    let e =
        parse_crm_mon_quorum(&doc(r#"<current_dc present="true" with_quorum="1"/>"#)).unwrap_err();
    assert!(
        matches!(&e, QuorumError::CrmMonAttribute { value, .. } if value == "1"),
        "{e}"
    );
    let e = parse_crm_mon_quorum(&doc("")).unwrap_err();
    assert!(e.to_string().contains("current_dc"), "{e}");
    let e = parse_crm_mon_quorum("").unwrap_err();
    assert!(
        matches!(e, QuorumError::CrmMon(PacemakerError::Xml(_))),
        "{e}"
    );
    let failed =
        "<pacemaker-result><status code=\"102\" message=\"Not connected\"/></pacemaker-result>";
    let e = parse_crm_mon_quorum(failed).unwrap_err();
    assert!(
        matches!(
            e,
            QuorumError::CrmMon(PacemakerError::Failed { code: 102, .. })
        ),
        "{e}"
    );
}

// ---------------------------------------------------------------- DRBD

#[test]
fn drbd_primary_local_peer_dual_none_isolated() {
    let r = parse_drbd_status(&fx!("drbd/status-r0-primary-local.txt"), "r0").unwrap();
    assert_eq!(r.role, DrbdRole::Primary);
    assert_eq!(r.connections.len(), 2);
    assert_eq!(r.view("pve1"), View::on("pve1", Quorum::Quorate));

    let r = parse_drbd_status(&fx!("drbd/status-r0-primary-peer.txt"), "r0").unwrap();
    assert_eq!(r.view("pve1"), View::on("pve2", Quorum::Quorate));

    let r = parse_drbd_status(&fx!("drbd/status-r0-dual-primary.txt"), "r0").unwrap();
    assert_eq!(r.primaries("pve1"), ["pve1", "pve2"]);
    assert_eq!(
        r.view("pve1"),
        moving(None, Quorum::Quorate, "dual-primary")
    );

    let r = parse_drbd_status(&fx!("drbd/status-r0-no-primary.txt"), "r0").unwrap();
    assert_eq!(r.view("pve1"), nowhere(Quorum::Quorate));

    let r = parse_drbd_status(&fx!("drbd/status-r0-isolated.txt"), "r0").unwrap();
    assert_eq!(
        r.view("pve1"),
        moving(None, Quorum::Lost, "peer-role-unknown")
    );
}

#[test]
fn drbd_quorum_absent_is_not_applicable() {
    let json = r#"[{"name":"r0","role":"Primary","devices":[{"volume":0,"disk-state":"UpToDate"}],
        "connections":[{"peer-node-id":1,"name":"pve2","connection-state":"Connected","peer-role":"Secondary"}]}]"#;
    let r = parse_drbd_status(json, "r0").unwrap();
    assert_eq!(r.view("pve1"), View::on("pve1", Quorum::NotApplicable));
    // One of two volumes without quorum: lost.
    let json = r#"[{"name":"r0","role":"Primary","devices":[{"volume":0,"quorum":true},{"volume":1,"quorum":false}]}]"#;
    assert_eq!(
        parse_drbd_status(json, "r0").unwrap().quorum(),
        Quorum::Lost
    );
}

#[test]
fn drbd_errors() {
    let text = fx!("drbd/status-r0-primary-local.txt");
    let e = parse_drbd_status(&text, "r1").unwrap_err();
    assert!(
        matches!(&e, DrbdError::NoSuchResource(r) if r == "r1"),
        "{e}"
    );
    let e = parse_drbd_status(&text.replace("\"Secondary\"", "\"Tertiary\""), "r0").unwrap_err();
    assert!(matches!(e, DrbdError::Json(_)), "{e}");
    let e = parse_drbd_status(&text.replace("\"pve2\"", "\"\""), "r0").unwrap_err();
    assert!(
        matches!(
            e,
            DrbdError::PeerName {
                peer_node_id: 1,
                ..
            }
        ),
        "{e}"
    );
    let e = parse_drbd_status("{}", "r0").unwrap_err();
    assert!(matches!(e, DrbdError::Json(_)), "{e}");
    let e = parse_drbd_status(
        r#"[{"name":"r0","role":"Primary"},{"name":"r0","role":"Secondary"}]"#,
        "r0",
    )
    .unwrap_err();
    assert!(
        matches!(e, DrbdError::DuplicateResource { count: 2, .. }),
        "{e}"
    );
    let r = parse_drbd_status(&text, "r0").unwrap();
    assert!(r.check_local("pve1").is_ok());
    assert!(matches!(
        r.check_local("pve2"),
        Err(DrbdError::PeerIsLocal { .. })
    ));
    assert!(matches!(r.check_local(""), Err(DrbdError::LocalName(_))));
}

// ---------------------------------------------------------------- command

#[test]
fn command_line_and_json_forms() {
    let a = parse_command_output(&fx!("command/line-node.txt")).unwrap();
    assert_eq!(a.view(), View::on("pve1", Quorum::NotApplicable));
    let a = parse_command_output(&fx!("command/line-empty.txt")).unwrap();
    assert_eq!(a.view(), nowhere(Quorum::NotApplicable));
    assert_eq!(parse_command_output("").unwrap().node, None);
    let a = parse_command_output(&fx!("command/json-full.txt")).unwrap();
    assert_eq!(a.view(), moving(Some("pve2"), Quorum::Quorate, "migrate"));
    let a = parse_command_output(&fx!("command/json-nowhere.txt")).unwrap();
    assert_eq!(a.view(), nowhere(Quorum::Lost));
    let a = parse_command_output(r#"  {"node":"pve1","transition":null}  "#).unwrap();
    assert_eq!(a.view(), View::on("pve1", Quorum::NotApplicable));
}

#[test]
fn command_errors() {
    let e = parse_command_output("pve1\npve2\n").unwrap_err();
    assert!(matches!(e, CommandError::ManyLines(2)), "{e}");
    let e = parse_command_output("pve 1").unwrap_err();
    assert!(
        matches!(e, CommandError::Node(NodeNameError::Whitespace(_))),
        "{e}"
    );
    let e = parse_command_output("pve\u{1b}1").unwrap_err();
    assert!(
        matches!(e, CommandError::Node(NodeNameError::Control(_))),
        "{e}"
    );
    let e = parse_command_output(r#"{"node":"pve1","quorum":true}"#).unwrap_err();
    assert!(e.to_string().contains("quorum"), "{e}");
    let e = parse_command_output(r#"{"quorate":true}"#).unwrap_err();
    assert!(matches!(e, CommandError::MissingNode), "{e}");
    let e = parse_command_output(r#"{"node":""}"#).unwrap_err();
    assert!(matches!(e, CommandError::Node(NodeNameError::Empty)), "{e}");
    let e = parse_command_output(r#"{"node":"pve1","quorate":"yes"}"#).unwrap_err();
    assert!(matches!(e, CommandError::Json(_)), "{e}");
    let e = parse_command_output(r#"{"node":"pve1","transition":"half done"}"#).unwrap_err();
    assert!(matches!(e, CommandError::Transition(_)), "{e}");
    let e = parse_command_output(r#"{"node":"pve1""#).unwrap_err();
    assert!(matches!(e, CommandError::Json(_)), "{e}");
}

// ---------------------------------------------------------------- Reading

#[test]
fn readings_map_to_views() {
    let guest = parse_resources(&fx!("proxmox/resources-vm.txt"), 103).unwrap();
    let r = Reading::Proxmox {
        guest,
        quorum: parse_pvecm_status(&fx!("proxmox/pvecm-status-no-quorum.txt")).unwrap(),
    };
    assert_eq!(r.source(), "proxmox");
    assert_eq!(r.view(), View::on("pve1", Quorum::Lost));

    let st = parse_ha_status(&fx!("proxmox/ha-status-current.txt")).unwrap();
    let r = Reading::ProxmoxHa {
        service: st.service("vm:100").unwrap().clone(),
        quorum: st.quorum(),
    };
    assert_eq!(r.view(), moving(Some("pve1"), Quorum::Quorate, "migrate"));

    let r = Reading::Pacemaker {
        location: parse_locate(&fx!("pacemaker/locate-promoted-node1.txt"), "drbd-r0-clone")
            .unwrap(),
        kind: ResourceKind::Promotable,
        quorum: parse_crm_mon_quorum(&fx!("pacemaker/crm_mon-quorate.txt")).unwrap(),
    };
    assert_eq!(r.source(), "pacemaker");
    assert_eq!(r.view(), View::on("node1", Quorum::Quorate));

    let r = Reading::Drbd {
        resource: parse_drbd_status(&fx!("drbd/status-r0-primary-peer.txt"), "r0").unwrap(),
        local: "pve1".into(),
    };
    assert_eq!(r.view(), View::on("pve2", Quorum::Quorate));

    let r = Reading::Command(parse_command_output("pve3\n").unwrap());
    assert_eq!(r.source(), "command");
    assert_eq!(r.view(), View::on("pve3", Quorum::NotApplicable));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["source"], "command");

    // Every parser's error converts to the one placement error.
    let e: PlacementError = parse_command_output("a b").unwrap_err().into();
    assert!(e.to_string().contains("whitespace"), "{e}");
    let e: PlacementError = parse_pvecm_status("").unwrap_err().into();
    assert!(matches!(e, PlacementError::Quorum(_)));
}
