//! Which zoo.cfg keys exist, and how ZooKeeper reads their values.
//!
//! ZooKeeper 3.8 reads some keys itself (QuorumPeerConfig) and turns every
//! other key `k` into the Java system property `zookeeper.k`, which the
//! server's components read. So a key is one of:
//! - modelled: a [`super::ZooCfg`] field;
//! - known but unmodelled: a documented 3.8 setting zkd passes through in
//!   `extra` without a warning;
//! - unknown: kept in `extra`, with a warning (likely a typo).
//!
//! Keys that ZooKeeper reads as `zookeeper.*` system properties may also be
//! written with that prefix (`zookeeper.snapCount=...`): zkd reads both
//! spellings, though Java ZooKeeper would ignore the prefixed one.

/// How a modelled key may be spelt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spelling {
    /// Read by QuorumPeerConfig under exactly this name.
    Exact,
    /// A `zookeeper.<name>` system property; the prefix is optional.
    Prefixable,
}

use Spelling::{Exact, Prefixable};

/// Every key that maps to a `ZooCfg` field (server.N lines aside).
const MODELLED: &[(&str, Spelling)] = &[
    ("tickTime", Exact),
    ("initLimit", Exact),
    ("syncLimit", Exact),
    ("connectToLearnerMasterLimit", Exact),
    ("dataDir", Exact),
    ("dataLogDir", Exact),
    ("clientPort", Exact),
    ("clientPortAddress", Exact),
    ("secureClientPort", Exact),
    ("secureClientPortAddress", Exact),
    ("clientPortListenBacklog", Exact),
    ("observerMasterPort", Exact),
    ("maxClientCnxns", Exact),
    ("minSessionTimeout", Exact),
    ("maxSessionTimeout", Exact),
    ("localSessionsEnabled", Exact),
    ("localSessionsUpgradingEnabled", Exact),
    ("electionAlg", Exact),
    ("quorumListenOnAllIPs", Exact),
    ("peerType", Exact),
    ("syncEnabled", Exact),
    ("dynamicConfigFile", Exact),
    ("autopurge.snapRetainCount", Exact),
    ("autopurge.purgeInterval", Exact),
    ("standaloneEnabled", Exact),
    ("reconfigEnabled", Exact),
    ("multiAddress.enabled", Exact),
    ("jute.maxbuffer", Exact),
    ("znode.container.checkIntervalMs", Exact),
    ("znode.container.maxPerMinute", Exact),
    ("znode.container.maxNeverUsedIntervalMs", Exact),
    ("globalOutstandingLimit", Prefixable),
    ("maxCnxns", Prefixable),
    ("snapCount", Prefixable),
    ("snapSizeLimitInKb", Prefixable),
    ("txnLogSizeLimitInKb", Prefixable),
    ("preAllocSize", Prefixable),
    ("forceSync", Prefixable),
    ("fsync.warningthresholdms", Prefixable),
    ("4lw.commands.whitelist", Prefixable),
    ("extendedTypesEnabled", Prefixable),
    ("DigestAuthenticationProvider.superDigest", Prefixable),
    ("DigestAuthenticationProvider.enabled", Prefixable),
    ("skipACL", Prefixable),
    ("leaderServes", Prefixable),
    ("admin.enableServer", Prefixable),
    ("admin.serverAddress", Prefixable),
    ("admin.serverPort", Prefixable),
];

/// The type of a known-but-unmodelled key that QuorumPeerConfig itself
/// parses, so a bad value fails as it would in ZooKeeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    Bool,
    Int,
    Long,
    Text,
}

/// Keys QuorumPeerConfig parses itself that zkd does not model.
pub(crate) const KNOWN_NATIVE: &[(&str, ValueType)] = &[
    ("sslQuorum", ValueType::Bool),
    ("portUnification", ValueType::Bool),
    ("sslQuorumReloadCertFiles", ValueType::Bool),
    ("quorum.auth.enableSasl", ValueType::Bool),
    ("quorum.auth.serverRequireSasl", ValueType::Bool),
    ("quorum.auth.learnerRequireSasl", ValueType::Bool),
    ("quorum.auth.learner.saslLoginContext", ValueType::Text),
    ("quorum.auth.server.saslLoginContext", ValueType::Text),
    ("quorum.auth.kerberos.servicePrincipal", ValueType::Text),
    ("quorum.cnxn.threads.size", ValueType::Int),
    ("jvm.pause.info-threshold.ms", ValueType::Long),
    ("jvm.pause.warn-threshold.ms", ValueType::Long),
    ("jvm.pause.sleep.time.ms", ValueType::Long),
    ("jvm.pause.monitor", ValueType::Bool),
    ("metricsProvider.className", ValueType::Text),
    ("multiAddress.reachabilityCheckTimeoutMs", ValueType::Int),
    ("multiAddress.reachabilityCheckEnabled", ValueType::Bool),
    ("version", ValueType::Text),
];

/// Documented or read-by-3.8 system-property keys (without the `zookeeper.`
/// prefix), including the documented spellings that differ from the
/// property actually read (e.g. `connectionMaxTokens`).
const KNOWN_SYSPROP: &[&str] = &[
    "DigestAuthenticationProvider.digestAlg",
    "SASLAuthenticationProvider.superPassword",
    "X509AuthenticationProvider.superUser",
    "admin.commandURL",
    "admin.forceHttps",
    "admin.httpVersion",
    "admin.idleTimeout",
    "admin.portUnification",
    "advancedFlowControlEnabled",
    "allowSaslFailedClients",
    "audit.enable",
    "audit.impl.class",
    "bitHashCacheSize",
    "client.portUnification",
    "client.secure",
    "clientCnxnSocket",
    "clientTcpKeepAlive",
    "closeSessionTxn.enabled",
    "cnxTimeout",
    "commitLogCount",
    "commitProcessor.maxCommitBatchSize",
    "commitProcessor.maxReadBatchSize",
    "commitProcessor.numWorkerThreads",
    "commitProcessor.shutdownTimeout",
    "connectionDecreaseRatio",
    "connectionDropDecrease",
    "connectionDropIncrease",
    "connectionFreezeTime",
    "connectionMaxTokens",
    "connectionTokenFillCount",
    "connectionTokenFillTime",
    "connection_throttle_decrease_ratio",
    "connection_throttle_drop_decrease",
    "connection_throttle_drop_increase",
    "connection_throttle_fill_count",
    "connection_throttle_fill_time",
    "connection_throttle_freeze_time",
    "connection_throttle_global_session_weight",
    "connection_throttle_local_session_weight",
    "connection_throttle_renew_session_weight",
    "connection_throttle_tokens",
    "connection_throttle_weight_enabled",
    "datadir.autocreate",
    "db.autocreate",
    "digest.enabled",
    "electionPortBindRetry",
    "emulate353TTLNodes",
    "enableEagerACLCheck",
    "enforce.auth.enabled",
    "enforce.auth.schemes",
    "enforceQuota",
    "ensembleAuthName",
    "fastleader.finalizeWait",
    "fastleader.maxNotificationInterval",
    "fastleader.minNotificationInterval",
    "flushDelay",
    "follower.nodelay",
    "follower.skipLearnerRequestToNextProcessor",
    "forceSnapshotSync",
    "forward_learner_requests_to_commit_processor_disabled",
    "intBufferStartingSizeBytes",
    "jute.maxbuffer.extrasize",
    "kerberos.canonicalizeHostNames",
    "kerberos.removeHostFromPrincipal",
    "kerberos.removeRealmFromPrincipal",
    "largeRequestMaxBytes",
    "largeRequestThreshold",
    "leader.ackLoggingFrequency",
    "leader.closeSocketAsync",
    "leader.maxConcurrentDiffSyncs",
    "leader.maxConcurrentSnapSyncs",
    "leader.maxTimeToWaitForEpoch",
    "leader.nodelay",
    "leaderConnectDelayDuringRetryMs",
    "learner.asyncSending",
    "learner.closeSocketAsync",
    "maxBatchSize",
    "maxConcurrentDiffSyncs",
    "maxConcurrentSnapSyncs",
    "maxGetChildrenResponseCacheSize",
    "maxInProcessingDeadWatchers",
    "maxResponseCacheSize",
    "maxTimeToWaitForEpoch",
    "maxWriteQueuePollTime",
    "messageTracker.BufferSize",
    "messageTracker.Enabled",
    "netty.advancedFlowControl.enabled",
    "netty.server.earlyDropSecureConnectionHandshakes",
    "netty.server.outstandingHandshake.limit",
    "nio.directBufferBytes",
    "nio.numSelectorThreads",
    "nio.numWorkerThreads",
    "nio.sessionlessCnxnTimeout",
    "nio.shutdownTimeout",
    "observer.election.DelayMs",
    "observer.reconnectDelayMs",
    "observer.syncEnabled",
    "observerMaster.sizeLimit",
    "outstandingHandshake.limit",
    "pathStats.delay",
    "pathStats.enabled",
    "pathStats.initialDelay",
    "pathStats.maxDepth",
    "pathStats.sampleRate",
    "pathStats.slotCapacity",
    "pathStats.slotDuration",
    "pathStats.topPathMax",
    "quorumCnxnTimeoutMs",
    "readonlymode.enabled",
    "request.timeout",
    "requestStaleConnectionCheck",
    "requestStaleLatencyCheck",
    "requestThrottleDropStale",
    "requestThrottleLimit",
    "requestThrottleStallTime",
    "request_stale_connection_check",
    "request_stale_latency_check",
    "request_throttle_drop_stale",
    "request_throttle_max_requests",
    "request_throttle_stall_time",
    "request_throttler.shutdownTimeout",
    "requireKerberosConfig",
    "sessionRequireClientSASLAuth",
    "serverCnxnFactory",
    "snapshot.compression.method",
    "snapshot.trust.empty",
    "snapshotSizeFactor",
    "superUser",
    "tcpKeepAlive",
    "throttledOpWaitTime",
    "throttled_op_wait_time",
    "watchManagerName",
    "watcherCleanIntervalInSeconds",
    "watcherCleanThreadsNum",
    "watcherCleanThreshold",
    // zkd's own: the log filter a SIGHUP reload applies.
    "zkd.logLevel",
];

/// Families of known keys (TLS, auth providers, metrics provider options).
const KNOWN_PREFIXES: &[&str] = &["ssl.", "authProvider.", "metricsProvider."];

const SYSPROP_PREFIX: &str = "zookeeper.";

/// What a key in zoo.cfg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// A `ZooCfg` field, by canonical name.
    Modelled(&'static str),
    /// `server.N`.
    Server,
    /// A ZooKeeper feature zkd refuses rather than silently ignore, because
    /// ignoring it would change who counts towards a quorum. The text says why.
    Unsupported(&'static str),
    /// A known setting zkd passes through, with its value type when
    /// QuorumPeerConfig checks it.
    KnownOther(ValueType),
    /// Not a ZooKeeper 3.8 setting as far as zkd knows.
    Unknown,
}

/// Classifies a (trimmed) key as written in the file.
pub(crate) fn classify(key: &str) -> KeyKind {
    if key.starts_with("server.") {
        return KeyKind::Server;
    }
    // ZooKeeper's own test is a bare prefix match, so `groupFoo` counts too.
    if key.starts_with("group") || key.starts_with("weight") {
        return KeyKind::Unsupported(
            "hierarchical quorums (group.N/weight.N) are not supported by zkd; use majority quorums",
        );
    }
    if key == "oraclePath" {
        return KeyKind::Unsupported(
            "the quorum oracle (oraclePath) is not supported by zkd; use 3 or more servers",
        );
    }
    if let Some(&(name, _)) = MODELLED.iter().find(|(name, _)| *name == key) {
        return KeyKind::Modelled(name);
    }
    if let Some(&(_, ty)) = KNOWN_NATIVE.iter().find(|(name, _)| *name == key) {
        return KeyKind::KnownOther(ty);
    }
    let bare = key.strip_prefix(SYSPROP_PREFIX);
    if let Some(bare) = bare {
        if let Some(&(name, _)) = MODELLED
            .iter()
            .find(|(name, spelling)| *spelling == Prefixable && *name == bare)
        {
            return KeyKind::Modelled(name);
        }
    }
    let bare = bare.unwrap_or(key);
    if KNOWN_SYSPROP.contains(&bare) || KNOWN_PREFIXES.iter().any(|p| bare.starts_with(p)) {
        return KeyKind::KnownOther(ValueType::Text);
    }
    KeyKind::Unknown
}

/// `Long.parseLong`: optional sign, then decimal digits only.
pub(crate) fn parse_java_int(s: &str) -> Result<i64, ()> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    s.parse::<i64>().map_err(|_| ())
}

/// `Long.decode`, which `Integer.getInteger`/`Long.getLong` use for system
/// properties: optional sign, then `0x`/`0X`/`#` for hex, a leading `0` for
/// octal, else decimal.
pub(crate) fn parse_java_decode(s: &str) -> Result<i64, ()> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, h)
        } else if let Some(h) = body.strip_prefix('#') {
            (16, h)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(());
    }
    let magnitude = i128::from_str_radix(digits, radix).map_err(|_| ())?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| ())
}

/// QuorumPeerConfig's `parseBoolean`: `true`/`false`, any case.
pub(crate) fn parse_true_false(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The `yes`/`no` switches (`forceSync`, `skipACL`, `leaderServes`), any case.
pub(crate) fn parse_yes_no(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify("tickTime"), KeyKind::Modelled("tickTime"));
        assert_eq!(
            classify("zookeeper.snapCount"),
            KeyKind::Modelled("snapCount")
        );
        assert_eq!(classify("zookeeper.tickTime"), KeyKind::Unknown);
        assert_eq!(classify("zookeeper.jute.maxbuffer"), KeyKind::Unknown);
        assert_eq!(classify("server.1"), KeyKind::Server);
        assert!(matches!(classify("group.1"), KeyKind::Unsupported(_)));
        assert!(matches!(classify("weight.2"), KeyKind::Unsupported(_)));
        assert!(matches!(classify("oraclePath"), KeyKind::Unsupported(_)));
        assert_eq!(classify("sslQuorum"), KeyKind::KnownOther(ValueType::Bool));
        assert_eq!(
            classify("metricsProvider.httpPort"),
            KeyKind::KnownOther(ValueType::Text)
        );
        assert_eq!(
            classify("zookeeper.ssl.keyStore.location"),
            KeyKind::KnownOther(ValueType::Text)
        );
        assert_eq!(
            classify("maxResponseCacheSize"),
            KeyKind::KnownOther(ValueType::Text)
        );
        assert_eq!(classify("tickTme"), KeyKind::Unknown);
    }

    #[test]
    fn java_int_is_strict_decimal() {
        assert_eq!(parse_java_int("42"), Ok(42));
        assert_eq!(parse_java_int("+7"), Ok(7));
        assert_eq!(parse_java_int("-3"), Ok(-3));
        assert_eq!(parse_java_int("010"), Ok(10));
        for bad in [
            "",
            "+",
            "0x10",
            "1_000",
            " 1",
            "1.0",
            "99999999999999999999",
        ] {
            assert_eq!(parse_java_int(bad), Err(()), "{bad:?}");
        }
    }

    #[test]
    fn java_decode_knows_hex_octal_and_hash() {
        assert_eq!(parse_java_decode("0xfffff"), Ok(0xfffff));
        assert_eq!(parse_java_decode("0X10"), Ok(16));
        assert_eq!(parse_java_decode("#10"), Ok(16));
        assert_eq!(parse_java_decode("010"), Ok(8));
        assert_eq!(parse_java_decode("0"), Ok(0));
        assert_eq!(parse_java_decode("-0x10"), Ok(-16));
        for bad in ["", "0x", "08", "1e3", "--1", "0x-1"] {
            assert_eq!(parse_java_decode(bad), Err(()), "{bad:?}");
        }
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_true_false("TRUE"), Some(true));
        assert_eq!(parse_true_false("False"), Some(false));
        assert_eq!(parse_true_false("yes"), None);
        assert_eq!(parse_yes_no("No"), Some(false));
        assert_eq!(parse_yes_no("true"), None);
    }
}
