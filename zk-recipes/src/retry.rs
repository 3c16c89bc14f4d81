//! Retrying calls after a ConnectionLoss, for the calls that are safe to send twice: reads,
//! writes conditioned on a version, and writes the caller explicitly marks as safe to repeat.
//! An unconditional write (a plain `set_data`, `create`, `delete`) is not [`Idempotent`], so
//! [`retry`] does not accept it: a blind retry has to be spelled [`Blind`].
//!
//! The client never retries by itself: a ConnectionLoss means the request may or may not have
//! been applied, and only the caller knows whether applying it twice is harmless.
//!
//! ```compile_fail
//! # async fn blind(client: zk_tokio::Client) {
//! // An unconditional write is not `Idempotent`: this does not compile.
//! let set = zk_tokio::ops::SetData::new("/config", &b"v2"[..]);
//! let _ = zk_recipes::retry(&client, zk_recipes::RetryPolicy::default(), set).await;
//! # }
//! ```
//!
//! ```
//! # async fn blind(client: zk_tokio::Client) {
//! // Spelled out, it does.
//! let set = zk_recipes::Blind(zk_tokio::ops::SetData::new("/config", &b"v2"[..]));
//! let _ = zk_recipes::retry(&client, zk_recipes::RetryPolicy::default(), set).await;
//! # }
//! ```

use zk_client::ops::{
    Delete, ErrorKind, Exists, GetAcl, GetAllChildrenNumber, GetChildren, GetData, MultiRead,
    OpError, Operation, Paths, Prepared, SetData, Sync,
};
use zk_client::proto::Response;
use zk_client::CommonError;

use crate::client::Zk;

/// An operation whose second application changes nothing the first did not (or fails
/// harmlessly): safe to send again after a ConnectionLoss.
pub trait Idempotent: Operation + Clone + Send + 'static {}

impl Idempotent for GetData {}
impl Idempotent for Exists {}
impl Idempotent for GetChildren {}
impl Idempotent for GetAcl {}
impl Idempotent for GetAllChildrenNumber {}
impl Idempotent for MultiRead {}
impl Idempotent for Sync {}

/// A write applied only at an expected version: if a first attempt was applied, a second one
/// fails with BadVersion (or NoNode for a delete) instead of applying twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conditional<O>(O);

impl Conditional<SetData> {
    /// `set_data`, which must carry an expected version; `None` for one without.
    pub fn set_data(op: SetData) -> Option<Conditional<SetData>> {
        op.version.is_some().then_some(Conditional(op))
    }
}

impl Conditional<Delete> {
    /// `delete`, which must carry an expected version; `None` for one without.
    pub fn delete(op: Delete) -> Option<Conditional<Delete>> {
        op.version.is_some().then_some(Conditional(op))
    }
}

/// Any operation, retried on the caller's explicit word that applying it twice is harmless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blind<O>(pub O);

macro_rules! delegate_operation {
    ($wrapper:ident < $op:ident >) => {
        impl<$op: Operation> Operation for $wrapper<$op> {
            type Output = $op::Output;
            type Error = $op::Error;

            fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
                self.0.prepare(paths)
            }

            fn complete(
                &self,
                result: Result<Response, CommonError>,
            ) -> Result<Self::Output, Self::Error> {
                self.0.complete(result)
            }

            fn fail(&self, failure: CommonError) -> Self::Error {
                self.0.fail(failure)
            }
        }
    };
}

delegate_operation!(Conditional<O>);
delegate_operation!(Blind<O>);

impl Idempotent for Conditional<SetData> {}
impl Idempotent for Conditional<Delete> {}
impl<O: Operation + Clone + Send + 'static> Idempotent for Blind<O> {}

/// How often [`retry`] sends a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (at least one is made).
    pub attempts: u32,
}

impl Default for RetryPolicy {
    /// Three attempts. Each waits for the session's next connection (within the queue
    /// timeout), so no delay is needed between them.
    fn default() -> RetryPolicy {
        RetryPolicy { attempts: 3 }
    }
}

/// Sends `op`, and again after each ConnectionLoss, up to `policy.attempts` times; any other
/// outcome is returned at once.
///
/// # Example
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use zk_recipes::{retry, Conditional, RetryPolicy};
/// use zk_tokio::{ops::{GetData, SetData}, CreateMode};
///
/// client.create("/config", &b"v1"[..], CreateMode::Persistent).await?;
/// let (_, stat) = retry(&client, RetryPolicy::default(), GetData::new("/config")).await?;
/// // A write is retried only when conditioned on the version it read:
/// let set = Conditional::set_data(SetData::new("/config", &b"v2"[..]).version(stat.version))
///     .expect("versioned");
/// retry(&client, RetryPolicy::default(), set).await?;
/// // `retry(&client, policy, SetData::new("/config", ..))` does not compile: wrap it in `Blind`
/// // to retry an unconditional write on purpose.
/// # Ok(()) });
/// ```
pub async fn retry<C, O, K>(zk: &C, policy: RetryPolicy, op: O) -> Result<O::Output, O::Error>
where
    C: Zk,
    O: Idempotent<Error = OpError<K>>,
    O::Output: Send,
    K: Clone + Into<ErrorKind> + Send + 'static,
{
    let mut attempt = 1;
    loop {
        match zk.call(op.clone()).await {
            Err(e)
                if e.common() == Some(CommonError::ConnectionLoss) && attempt < policy.attempts =>
            {
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}
