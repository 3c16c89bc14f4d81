//! What the mutex and the leader latch share: a queue of ephemeral-sequential nodes under a
//! path, ordered by sequence number, where each member watches only the one before it.

use std::future::Future;
use std::task::Poll;

use bytes::Bytes;
use zk_client::ops::{Create, CreateError, Created, Error, ErrorKind, GetChildren};
use zk_client::proto::{CreateMode, Zxid};

use crate::client::{outcome_unknown, reconnected, Fire, Fired, Zk};
use crate::nodes::{ensure_path, Parents};
use crate::protected::{create_marked, find_marked, PROTECTED_PREFIX};

/// A member's node in a queue.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// The node's path.
    pub path: String,
    /// The node's name (the last component of the path).
    pub name: String,
    /// The node's creation zxid: the member's fencing token.
    pub czxid: Zxid,
}

impl Member {
    /// The member whose node was just created (or found).
    fn of(node: Created) -> Member {
        let name = node.path.rsplit('/').next().unwrap_or_default().to_owned();
        Member {
            path: node.path,
            name,
            czxid: node.stat.czxid,
        }
    }
}

/// Joins the queue at `dir` with a protected ephemeral-sequential node `marker` + `prefix`,
/// creating `dir` (and its parents, as containers) when missing.
pub(crate) async fn join<C: Zk>(
    zk: &C,
    dir: &str,
    prefix: &str,
    marker: &str,
    data: Bytes,
) -> Result<Member, Error> {
    let mut missing_parent = 0;
    loop {
        let created = create_marked(
            zk,
            dir,
            marker,
            prefix,
            data.clone(),
            CreateMode::EphemeralSequential,
        )
        .await;
        match created {
            Ok(protected) => return Ok(Member::of(protected.into_node())),
            Err(e) if *e.kind() == ErrorKind::NoNode && missing_parent < 8 => {
                // The queue's path is missing (or a container reaped meanwhile).
                missing_parent += 1;
                ensure_path(zk, dir, Parents::Container).await?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// [`join`], with the queue listed right after the create: both requests are sent at once,
/// and the server answers a session's requests in order, so the listing includes the new
/// member (one round trip instead of two). The listing is `None` when the create did not
/// succeed at once (a missing path, an unknown outcome): [`join`] then does it step by step.
pub(crate) async fn join_and_list<C: Zk>(
    zk: &C,
    dir: &str,
    prefix: &str,
    marker: &str,
    data: Bytes,
) -> Result<(Member, Option<Vec<String>>), Error> {
    let path = child(dir, &format!("{marker}{prefix}"));
    let create = zk.call(Create::new(path, data.clone()).mode(CreateMode::EphemeralSequential));
    let listing = zk.call(GetChildren::new(dir));
    match create.await {
        Ok(node) => {
            let listed = listing.await.ok().map(|(children, _)| in_order(children));
            Ok((Member::of(node), listed))
        }
        Err(e) if outcome_unknown(e.common()) => {
            drop(listing);
            // The create may have been applied: find it before creating again.
            match find_marked(zk, dir, marker).await? {
                Some(node) => Ok((Member::of(node), None)),
                None => Ok((join(zk, dir, prefix, marker, data).await?, None)),
            }
        }
        Err(e) if *e.kind() == CreateError::NoNode => {
            drop(listing);
            Ok((join(zk, dir, prefix, marker, data).await?, None))
        }
        Err(e) => Err(e.into()),
    }
}

/// The members' names at `dir` in queue order: by sequence number (the last 10 digits).
pub(crate) async fn members<C: Zk>(zk: &C, dir: &str) -> Result<Vec<String>, Error> {
    loop {
        match zk.call(GetChildren::new(dir)).await {
            Ok((children, _)) => return Ok(in_order(children)),
            Err(e) if outcome_unknown(e.common()) => {
                reconnected(zk).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Which of a waiter's two watches fired.
pub(crate) enum Woke {
    /// Its own node's.
    Own,
    /// The blocker's, with what fired it, and the member's own watch, still armed: a member
    /// whose turn has come keeps it until its node is deleted, which fires it (dropped armed,
    /// the client would have to ask the server to remove it).
    Blocker(Fire, Fired),
}

/// The first of a waiter's two watches to fire, its own node's looked at first: the server
/// sends notifications in the order of the changes, so a deletion of the member's node that
/// came before its blocker's is seen before the blocker's.
pub(crate) fn first_fired(
    own: Fired,
    blocker: Fired,
) -> impl Future<Output = Woke> + Send + 'static {
    let (mut own, mut blocker) = (Some(own), blocker);
    std::future::poll_fn(move |cx| {
        let Some(armed) = own.as_mut() else {
            return Poll::Pending; // Polled after completion.
        };
        if armed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Woke::Own);
        }
        match (blocker.as_mut().poll(cx), own.take()) {
            (Poll::Ready(fire), Some(own)) => Poll::Ready(Woke::Blocker(fire, own)),
            (_, taken) => {
                own = taken;
                Poll::Pending
            }
        }
    })
}

/// The path of `name` under `dir`.
pub(crate) fn child(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Queue members' names in order: sequential nodes (protected or not) by their sequence
/// number; other children are no members.
pub(crate) fn in_order(children: Vec<String>) -> Vec<String> {
    let mut members: Vec<(i64, String)> = children
        .into_iter()
        .filter(|c| c.starts_with(PROTECTED_PREFIX) || c.len() >= 10)
        .filter_map(|c| Some((sequence(&c)?, c)))
        .collect();
    members.sort();
    members.into_iter().map(|(_, c)| c).collect()
}

/// The sequence number a sequential node's name ends with.
pub(crate) fn sequence(name: &str) -> Option<i64> {
    let digits = name.get(name.len().checked_sub(10)?..)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_ordered_by_sequence_whatever_their_marker() {
        let children = vec![
            "_c_bbbb-lock-0000000012".to_owned(),
            "_c_aaaa-lock-0000000003".to_owned(),
            "config".to_owned(),
            "lock-0000000007".to_owned(),
        ];
        assert_eq!(
            in_order(children),
            [
                "_c_aaaa-lock-0000000003",
                "lock-0000000007",
                "_c_bbbb-lock-0000000012"
            ]
        );
        assert_eq!(sequence("x-0000000042"), Some(42));
        assert_eq!(sequence("short"), None);
    }
}
