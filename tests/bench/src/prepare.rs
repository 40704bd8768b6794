//! Unmeasured set-up: bring every session's key space into the state its scenario starts
//! from (empty for create, every key present for the others).

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::timeout;
use zookeeper_client as zk;

use crate::layout::Layout;
use crate::OpKind;

pub fn create_options() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

pub async fn create_ignoring_exists(
    client: &zk::Client,
    path: &str,
    data: &[u8],
    op_timeout: Duration,
) -> Result<(), String> {
    let options = create_options();
    match timeout(op_timeout, client.create(path, data, &options)).await {
        Err(_) => Err(format!("create {path}: no answer within {op_timeout:?}")),
        Ok(Ok(_)) | Ok(Err(zk::Error::NodeExists)) => Ok(()),
        Ok(Err(e)) => Err(format!("create {path}: {e}")),
    }
}

/// What every session's preparation needs to know.
pub struct Plan {
    pub layout: Layout,
    pub kind: OpKind,
    pub znodes: usize,
    pub width: usize,
    pub op_timeout: Duration,
    pub payload: Arc<[u8]>,
}

pub async fn prepare_all(plan: Arc<Plan>, clients: &[zk::Client]) -> Result<(), String> {
    create_ignoring_exists(&clients[0], plan.layout.root(), &[], plan.op_timeout).await?;
    let mut pending = JoinSet::new();
    for (session, client) in clients.iter().enumerate() {
        let (client, plan) = (client.clone(), plan.clone());
        pending.spawn(async move { prepare_session(client, plan, session).await });
    }
    while let Some(joined) = pending.join_next().await {
        joined.map_err(|e| format!("prepare task panicked: {e}"))??;
    }
    Ok(())
}

async fn prepare_session(
    client: zk::Client,
    plan: Arc<Plan>,
    session: usize,
) -> Result<(), String> {
    let op_timeout = plan.op_timeout;
    let dir = plan.layout.session_dir(session);
    create_ignoring_exists(&client, &dir, &[], op_timeout).await?;
    let parents = Arc::new(plan.layout.parent_dirs(session));
    if parents.len() > 1 {
        let (c, p) = (client.clone(), parents.clone());
        pipelined(plan.width, parents.len(), move |k| {
            let (client, parents) = (c.clone(), p.clone());
            async move { create_ignoring_exists(&client, &parents[k], &[], op_timeout).await }
        })
        .await?;
    }
    let mut existing = Vec::with_capacity(parents.len());
    for parent in parents.iter() {
        let names = timeout(op_timeout, client.list_children(parent))
            .await
            .map_err(|_| format!("getChildren {parent}: no answer within {op_timeout:?}"))?
            .map_err(|e| format!("getChildren {parent}: {e}"))?;
        existing.push(names);
    }
    let paths: Vec<String> = if plan.kind == OpKind::Create {
        parents
            .iter()
            .zip(&existing)
            .flat_map(|(parent, names)| names.iter().map(move |n| format!("{parent}/{n}")))
            .collect()
    } else {
        let existing: Vec<HashSet<&str>> = existing
            .iter()
            .map(|names| names.iter().map(String::as_str).collect())
            .collect();
        (0..plan.znodes)
            .filter(|&i| !existing[plan.layout.parent_of(i)].contains(Layout::key_name(i).as_str()))
            .map(|i| plan.layout.key_path(session, i))
            .collect()
    };
    let paths = Arc::new(paths);
    let width = plan.width;
    pipelined(width, paths.len(), move |i| {
        let (client, paths, plan) = (client.clone(), paths.clone(), plan.clone());
        async move {
            let path = &paths[i];
            let answer = if plan.kind == OpKind::Create {
                timeout(op_timeout, client.delete(path, None)).await
            } else {
                timeout(
                    op_timeout,
                    client.create(path, &plan.payload, &create_options()),
                )
                .await
                .map(|r| r.map(drop))
            };
            match answer {
                Err(_) => Err(format!("prepare {path}: no answer within {op_timeout:?}")),
                Ok(Ok(())) | Ok(Err(zk::Error::NodeExists)) | Ok(Err(zk::Error::NoNode)) => Ok(()),
                Ok(Err(e)) => Err(format!("prepare {path}: {e}")),
            }
        }
    })
    .await
}

/// Runs `op(0..n)` with at most `width` calls outstanding; stops at the first error.
async fn pipelined<F, Fut>(width: usize, n: usize, op: F) -> Result<(), String>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let mut lanes = JoinSet::new();
    for _ in 0..width.max(1) {
        let (op, next, failed) = (op.clone(), next.clone(), failed.clone());
        lanes.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || failed.load(Ordering::Relaxed) {
                    return Ok(());
                }
                if let Err(e) = op(i).await {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        });
    }
    let mut first_error = None;
    while let Some(joined) = lanes.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(format!("prepare lane panicked: {e}"));
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}
