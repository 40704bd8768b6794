//! The shell around a quorum member: the election and quorum ports, the
//! epoch files, and carrying out what [`Peer`] asks for. The core task owns
//! this next to the engine and calls into it for every quorum input.

use super::election_links::{ElectionLinks, LinkSettings};
use super::quorum_links::{LinkEvent, LinkId, ListenerHandle, Outbound, QuorumLinks};
use crate::config::ZooCfg;
use crate::engine::{Engine, EngineConfig, Now};
use crate::fourletter::BufferSizes;
use crate::proto::quorum::{PacketType, QuorumPacket};
use crate::quorum::messages::LeaderMsg;
use crate::quorum::peer::{Epochs, Peer, PeerConfig};
use crate::quorum::wire;
use crate::storage::{read_epoch, write_epoch, DataDirs, EpochFile, StorageError};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{self, UnboundedReceiver};

/// 3.8 waits this long for better votes once a quorum agrees. 3.8 fixes
/// it at 200 ms; zkd reads `fastleader.finalizeWait` (ms) and defaults
/// lower, since any leader a quorum elects is safe and the wait only
/// picks a better-placed one; it is most of a failover's time.
pub const DEFAULT_FINALIZE_WAIT_MS: u64 = 50;

/// One input from the quorum ports.
pub(crate) enum QuorumInput {
    Election(u64, Bytes),
    Link(LinkEvent),
}

pub(crate) struct Ensemble {
    pub peer: Peer,
    election: ElectionLinks,
    election_rx: UnboundedReceiver<(u64, Bytes)>,
    pub links: QuorumLinks,
    link_rx: UnboundedReceiver<LinkEvent>,
    _listener: ListenerHandle,
    quorum_addrs: HashMap<u64, Vec<(String, u16)>>,
    /// Links we opened to a leader (the others were accepted from learners).
    to_leader: HashSet<LinkId>,
    pub dirs: DataDirs,
    connect_timeout: Duration,
    /// When this member last started serving (leader uptime for mntr).
    pub serving_since: Option<std::time::Instant>,
    /// The last proposal encoded: a leader sends each one to every
    /// follower in a row, so one encoding serves them all.
    last_encoded: Option<(i64, Bytes)>,
    /// Sizes of the proposals this leader sent (mntr's *_proposal_size).
    pub proposal_sizes: BufferSizes,
}

/// acceptedEpoch and currentEpoch from dataDir; missing files start from
/// the epoch of the last logged zxid, as 3.8 does (and writes them).
fn load_epochs(dirs: &DataDirs, last_zxid: i64) -> Result<Epochs, StorageError> {
    let snap = dirs.snap_dir();
    let logged = crate::quorum::messages::epoch_of(last_zxid);
    let current = match read_epoch(&snap, EpochFile::Current)? {
        Some(e) => e,
        None => {
            write_epoch(&snap, EpochFile::Current, logged)?;
            logged
        }
    };
    let accepted = match read_epoch(&snap, EpochFile::Accepted)? {
        Some(e) => e,
        None => {
            write_epoch(&snap, EpochFile::Accepted, logged)?;
            logged
        }
    };
    if current > accepted {
        return Err(StorageError::invalid(
            &snap,
            format!(
                "currentEpoch {current} is ahead of acceptedEpoch {accepted}; one of the two files was edited or damaged"
            ),
        ));
    }
    Ok(Epochs { accepted, current })
}

fn resolve(addrs: &[(String, u16)]) -> Vec<SocketAddr> {
    addrs
        .iter()
        .flat_map(|(h, p)| (h.as_str(), *p).to_socket_addrs().into_iter().flatten())
        .collect()
}

impl Ensemble {
    /// Binds the election and quorum ports of server `my_id`.
    pub async fn start(
        cfg: &ZooCfg,
        my_id: u64,
        engine_cfg: EngineConfig,
        engine: &Engine,
    ) -> Result<Ensemble, super::StartError> {
        let dirs = DataDirs::from_config(cfg);
        let epochs = load_epochs(&dirs, engine.tree().last_zxid)?;
        let settings = LinkSettings::from_config(cfg, my_id).await?;
        let connect_timeout = settings.connect_timeout;
        let (election, election_rx) = ElectionLinks::start(
            my_id,
            settings.listen,
            settings.my_addr_string,
            settings.peers,
            settings.connect_timeout,
        )
        .await?;
        let me = cfg.servers.get(&my_id).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no server.{my_id} line"),
            )
        })?;
        let mut quorum_listen = resolve(&[(me.host.clone(), me.quorum_port)])
            .into_iter()
            .next()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("server.{my_id}: cannot resolve {}", me.host),
                )
            })?;
        if cfg.quorum_listen_on_all_ips {
            quorum_listen.set_ip(if quorum_listen.is_ipv4() {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            });
        }
        let (link_tx, link_rx) = mpsc::unbounded_channel();
        let tree_options = crate::tree::TreeOptions {
            extended_types: cfg.extended_types_enabled,
        };
        let links = QuorumLinks::with_tree_options(
            link_tx,
            cfg.jute_max_buffer as usize + 1024,
            tree_options,
        );
        let listener = links.listen(quorum_listen).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot bind quorum port {quorum_listen}: {e}"),
            )
        })?;
        let quorum_addrs = cfg
            .servers
            .values()
            .map(|s| {
                let addrs = s.addrs().into_iter().map(|a| (a.host, a.quorum_port));
                (s.id, addrs.collect())
            })
            .collect();
        let peer = Peer::new(
            PeerConfig {
                my_id,
                servers: cfg.servers.values().cloned().collect(),
                tick_ms: cfg.tick_time_ms as u64,
                init_limit: cfg.init_limit,
                sync_limit: cfg.sync_limit,
                engine: engine_cfg,
                finalize_wait_ms: cfg
                    .system_property("fastleader.finalizeWait")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(DEFAULT_FINALIZE_WAIT_MS),
                max_notification_interval_ms: cfg
                    .system_property("fastleader.maxNotificationInterval")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(60_000),
            },
            epochs,
            engine,
        );
        tracing::info!(
            my_id,
            %quorum_listen,
            election = %election.local_addr(),
            accepted_epoch = epochs.accepted,
            current_epoch = epochs.current,
            "quorum member"
        );
        Ok(Ensemble {
            peer,
            election,
            election_rx,
            links,
            link_rx,
            _listener: listener,
            quorum_addrs,
            to_leader: HashSet::new(),
            dirs,
            connect_timeout,
            serving_since: None,
            last_encoded: None,
            proposal_sizes: BufferSizes::default(),
        })
    }

    /// The next input from the peer ports.
    pub async fn recv(&mut self) -> QuorumInput {
        tokio::select! {
            Some((from, body)) = self.election_rx.recv() => QuorumInput::Election(from, body),
            Some(event) = self.link_rx.recv() => QuorumInput::Link(event),
            else => std::future::pending().await,
        }
    }

    /// An input already waiting, if any: the core takes a burst of them per
    /// wake-up, so that one round of outputs (one log append, one flush per
    /// link) answers many packets.
    pub fn try_recv(&mut self) -> Option<QuorumInput> {
        if let Ok(event) = self.link_rx.try_recv() {
            return Some(QuorumInput::Link(event));
        }
        self.election_rx
            .try_recv()
            .ok()
            .map(|(from, body)| QuorumInput::Election(from, body))
    }

    /// Feeds one input to the peer.
    pub fn handle(&mut self, engine: &mut Engine, input: QuorumInput, now: Now) {
        match input {
            QuorumInput::Election(from, body) => {
                self.peer.election_message(engine, from, &body, now)
            }
            QuorumInput::Link(event) => self.link_event(engine, event, now),
        }
    }

    fn link_event(&mut self, engine: &mut Engine, event: LinkEvent, now: Now) {
        match event {
            LinkEvent::Accepted { link, remote } => {
                tracing::debug!(link, %remote, "learner connection");
                self.peer.link_accepted(link, now);
            }
            LinkEvent::Connected { link } => self.peer.link_up(engine, link, now),
            LinkEvent::ConnectFailed { link, error } => {
                self.to_leader.remove(&link);
                self.peer.link_closed(engine, link, &error, now);
            }
            LinkEvent::Closed { link, reason } => {
                self.to_leader.remove(&link);
                self.peer.link_closed(engine, link, &reason, now);
            }
            LinkEvent::Snapshot {
                link,
                zxid,
                tree,
                sessions,
            } => {
                let msg = LeaderMsg::Snap {
                    zxid,
                    tree: Arc::new(*tree),
                    sessions,
                };
                self.peer.from_leader(engine, link, msg, now);
            }
            LinkEvent::Packet { link, packet } => {
                if self.to_leader.contains(&link) {
                    match wire::leader_msg(&packet) {
                        Ok(Some(msg)) => self.peer.from_leader(engine, link, msg, now),
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(link, "bad packet from the leader: {e}");
                            self.links.close(link);
                        }
                    }
                } else {
                    match wire::learner_msg(&packet) {
                        Ok(Some(msg)) => self.peer.from_learner(engine, link, msg, now),
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(link, "bad packet from a learner: {e}");
                            self.links.close(link);
                        }
                    }
                }
            }
        }
    }

    pub fn send_election(&self, to: u64, body: Bytes) {
        self.election.send(to, body);
    }

    pub fn connect_leader(&mut self, sid: u64) {
        let addrs = self
            .quorum_addrs
            .get(&sid)
            .map(|a| resolve(a))
            .unwrap_or_default();
        let link = self.links.connect(addrs, self.connect_timeout);
        self.to_leader.insert(link);
    }

    pub fn send_to_learner(&mut self, link: LinkId, msg: LeaderMsg) {
        match msg {
            LeaderMsg::Proposal(ref p) | LeaderMsg::Inform(ref p) => {
                let zxid = p.zxid();
                let data = match &self.last_encoded {
                    Some((z, data)) if *z == zxid => data.clone(),
                    _ => {
                        let data = wire::txn_data(p);
                        self.proposal_sizes.record(data.len() as i32);
                        self.last_encoded = Some((zxid, data.clone()));
                        data
                    }
                };
                let kind = if matches!(msg, LeaderMsg::Proposal(_)) {
                    PacketType::Proposal
                } else {
                    PacketType::Inform
                };
                let packet = QuorumPacket::new(kind, zxid, Some(data));
                self.links.send(link, Outbound::Packet(packet));
            }
            LeaderMsg::Snap {
                zxid,
                tree,
                sessions,
            } => self.links.send(
                link,
                Outbound::Snapshot {
                    zxid,
                    tree: Box::new(tree.snapshot_copy()),
                    sessions,
                },
            ),
            other => {
                if let Some(packet) = wire::leader_packet(&other) {
                    self.links.send(link, Outbound::Packet(packet));
                }
            }
        }
    }

    pub fn save_epoch(&self, which: EpochFile, epoch: i64) -> Result<(), StorageError> {
        write_epoch(&self.dirs.snap_dir(), which, epoch)
    }

    pub fn shutdown(&self) {
        self.election.shutdown();
    }
}
