//! multi (atomic writes) and multiRead (independent reads).

use bytes::Bytes;
use zk_proto::{
    CheckVersionRequest, CreateMode, CreateRequest, CreateTtlRequest, DeleteRequest, ErrorCode,
    MultiRequest, MultiResult, PathWatchRequest, Request, Response, SetDataRequest, Stat,
};

use super::errors::{MultiError, MultiReadError, OpError, Subject};
use super::node::{Create, Delete, SetData};
use super::{unexpected, Operation, Paths, Prepared};
use crate::error::CommonError;

/// One write of a [`Multi`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultiOp {
    /// Create a node.
    Create(Create),
    /// Delete a node.
    Delete(Delete),
    /// Replace a node's data.
    SetData(SetData),
    /// Require a node's data version.
    Check {
        /// The node's path.
        path: String,
        /// The required data version.
        version: i32,
    },
}

impl MultiOp {
    /// The op's kind and path, as its errors name them.
    fn subject(&self) -> (&'static str, &str) {
        match self {
            MultiOp::Create(c) => ("create", &c.path),
            MultiOp::Delete(d) => ("delete", &d.path),
            MultiOp::SetData(s) => ("set_data", &s.path),
            MultiOp::Check { path, .. } => ("check", path),
        }
    }
}

/// The result of one op of a successful [`Multi`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpResult {
    /// A node was created. The stat is present for container and TTL nodes (3.8 returns only
    /// the path for ordinary creates inside a multi).
    Created {
        /// The node's path (relative to the chroot).
        path: String,
        /// The new node's stat, when the server gave it.
        stat: Option<Stat>,
    },
    /// A node was deleted.
    Deleted,
    /// Data was replaced; the node's new stat.
    DataSet(Stat),
    /// A version check passed.
    Checked,
}

/// Several writes applied atomically: all or none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Multi {
    /// The ops, applied in order.
    pub ops: Vec<MultiOp>,
}

impl Multi {
    /// An empty transaction.
    pub fn new() -> Multi {
        Multi::default()
    }

    /// Adds a create.
    pub fn create(mut self, create: Create) -> Multi {
        self.ops.push(MultiOp::Create(create));
        self
    }

    /// Adds a delete.
    pub fn delete(mut self, delete: Delete) -> Multi {
        self.ops.push(MultiOp::Delete(delete));
        self
    }

    /// Adds a set-data.
    pub fn set_data(mut self, set_data: SetData) -> Multi {
        self.ops.push(MultiOp::SetData(set_data));
        self
    }

    /// Adds a version check.
    pub fn check(mut self, path: impl Into<String>, version: i32) -> Multi {
        self.ops.push(MultiOp::Check {
            path: path.into(),
            version,
        });
        self
    }

    fn proto_op(op: &MultiOp, paths: &mut Paths) -> Result<zk_proto::MultiOp, CommonError> {
        Ok(match op {
            MultiOp::Create(c) => {
                let path = paths.server_path(&c.path, c.mode.is_sequential())?;
                c.validate_acl()?;
                match (c.mode, c.ttl_ms()?) {
                    (_, Some(ttl)) => zk_proto::MultiOp::CreateTtl(CreateTtlRequest {
                        path,
                        data: c.wire_data(),
                        acl: c.acl.clone(),
                        flags: c.mode.flags(),
                        ttl,
                    }),
                    (CreateMode::Container, None) => {
                        zk_proto::MultiOp::CreateContainer(CreateRequest {
                            path,
                            data: c.wire_data(),
                            acl: c.acl.clone(),
                            flags: c.mode.flags(),
                        })
                    }
                    _ => zk_proto::MultiOp::Create(CreateRequest {
                        path,
                        data: c.wire_data(),
                        acl: c.acl.clone(),
                        flags: c.mode.flags(),
                    }),
                }
            }
            MultiOp::Delete(d) => zk_proto::MultiOp::Delete(DeleteRequest {
                path: paths.server_path(&d.path, false)?,
                version: d.version.unwrap_or(-1),
            }),
            MultiOp::SetData(s) => zk_proto::MultiOp::SetData(SetDataRequest {
                path: paths.server_path(&s.path, false)?,
                data: s.wire_data(),
                version: s.version.unwrap_or(-1),
            }),
            MultiOp::Check { path, version } => zk_proto::MultiOp::Check(CheckVersionRequest {
                path: paths.server_path(path, false)?,
                version: *version,
            }),
        })
    }
}

/// The failing op of a failed multi: the first result whose code is neither OK (rolled back)
/// nor RUNTIMEINCONSISTENCY (not attempted).
fn failing_op(results: &[MultiResult]) -> Option<(usize, ErrorCode)> {
    let mut first_error = None;
    for (index, r) in results.iter().enumerate() {
        if let MultiResult::Error(code) = r {
            if !matches!(code, ErrorCode::Ok | ErrorCode::RuntimeInconsistency) {
                return Some((index, *code));
            }
            first_error.get_or_insert((index, *code));
        }
    }
    first_error
}

impl Operation for Multi {
    type Output = Vec<OpResult>;
    type Error = OpError<MultiError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        let ops = self
            .ops
            .iter()
            .map(|op| Multi::proto_op(op, paths))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Prepared::plain(Request::Multi(MultiRequest { ops })))
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<Vec<OpResult>, OpError<MultiError>> {
        let results = match result {
            Ok(Response::Multi(r)) => r.results,
            Ok(_) => return Err(self.fail(unexpected())),
            Err(e) => return Err(self.error(MultiError::from_failure(e))),
        };
        if results.len() != self.ops.len() {
            return Err(self.fail(result_count_mismatch(results.len())));
        }
        if let Some((index, code)) = failing_op(&results) {
            let (operation, path) = self.ops[index].subject();
            return Err(self.error(MultiError::OpFailed {
                index,
                operation,
                path: path.to_owned(),
                code,
            }));
        }
        results
            .into_iter()
            .map(|r| match r {
                MultiResult::Create { path, stat } => Ok(OpResult::Created { path, stat }),
                MultiResult::Delete => Ok(OpResult::Deleted),
                MultiResult::SetData(stat) => Ok(OpResult::DataSet(stat)),
                MultiResult::Check => Ok(OpResult::Checked),
                other => Err(self.fail(CommonError::MalformedReply(
                    zk_proto::DecodeError::UnknownValue {
                        what: "multi result in a write transaction",
                        value: match other {
                            MultiResult::GetData(_) => 4,
                            _ => 8,
                        },
                    },
                ))),
            })
            .collect()
    }
}

/// One read of a [`MultiRead`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadOp {
    /// Read a node's data and stat.
    GetData(String),
    /// List a node's children.
    GetChildren(String),
}

/// The outcome of one read of a [`MultiRead`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadResult {
    /// Data and stat.
    Data(Bytes, Stat),
    /// Children names.
    Children(Vec<String>),
}

/// Several reads in one round trip, each succeeding or failing on its own (3.6+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRead {
    /// The reads.
    pub ops: Vec<ReadOp>,
}

impl MultiRead {
    /// No reads yet.
    pub fn new() -> MultiRead {
        MultiRead::default()
    }

    /// Adds a data read.
    pub fn get_data(mut self, path: impl Into<String>) -> MultiRead {
        self.ops.push(ReadOp::GetData(path.into()));
        self
    }

    /// Adds a children read.
    pub fn get_children(mut self, path: impl Into<String>) -> MultiRead {
        self.ops.push(ReadOp::GetChildren(path.into()));
        self
    }
}

impl Operation for MultiRead {
    type Output = Vec<Result<ReadResult, ErrorCode>>;
    type Error = OpError<MultiReadError>;

    fn fail(&self, failure: CommonError) -> Self::Error {
        self.error(failure.into())
    }

    fn prepare(&self, paths: &mut Paths) -> Result<Prepared, CommonError> {
        let ops = self
            .ops
            .iter()
            .map(|op| {
                Ok(match op {
                    ReadOp::GetData(p) => zk_proto::MultiOp::GetData(PathWatchRequest {
                        path: paths.server_path(p, false)?,
                        watch: false,
                    }),
                    ReadOp::GetChildren(p) => zk_proto::MultiOp::GetChildren(PathWatchRequest {
                        path: paths.server_path(p, false)?,
                        watch: false,
                    }),
                })
            })
            .collect::<Result<Vec<_>, CommonError>>()?;
        Ok(Prepared::plain(Request::MultiRead(MultiRequest { ops })))
    }

    fn complete(
        &self,
        result: Result<Response, CommonError>,
    ) -> Result<Self::Output, OpError<MultiReadError>> {
        match result {
            Ok(Response::Multi(r)) if r.results.len() != self.ops.len() => {
                Err(self.fail(result_count_mismatch(r.results.len())))
            }
            Ok(Response::Multi(r)) => Ok(r
                .results
                .into_iter()
                .map(|r| match r {
                    MultiResult::GetData(d) => {
                        Ok(ReadResult::Data(d.data.unwrap_or_default(), d.stat))
                    }
                    MultiResult::GetChildren(c) => Ok(ReadResult::Children(c.children)),
                    MultiResult::Error(code) => Err(code),
                    _ => Err(ErrorCode::MarshallingError),
                })
                .collect()),
            Ok(_) => Err(self.fail(unexpected())),
            Err(e) => Err(self.error(MultiReadError::from_failure(e, -1))),
        }
    }
}

/// A reply with another number of results than the transaction had ops: one result per op
/// is what the protocol promises, and results cannot be matched to ops otherwise.
fn result_count_mismatch(got: usize) -> CommonError {
    CommonError::MalformedReply(zk_proto::DecodeError::UnknownValue {
        what: "number of multi results",
        value: i32::try_from(got).unwrap_or(i32::MAX),
    })
}

subject!(Multi, "multi", none);
subject!(MultiRead, "multi_read", none);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::Chroot;

    #[test]
    fn a_reply_with_another_number_of_results_than_ops_is_malformed() {
        let multi = Multi::new().check("/a", 1).check("/b", 1);
        let one = || {
            Ok(Response::Multi(zk_proto::MultiResponse {
                results: vec![MultiResult::Delete],
            }))
        };
        assert!(matches!(
            multi.complete(one()).map_err(OpError::into_kind),
            Err(MultiError::Common(CommonError::MalformedReply(_)))
        ));
        let read = MultiRead::new().get_data("/a").get_children("/b");
        assert!(matches!(
            read.complete(one()).map_err(OpError::into_kind),
            Err(MultiReadError::Common(CommonError::MalformedReply(_)))
        ));
    }

    #[test]
    fn the_failing_op_is_the_one_with_a_real_code() {
        let results = [
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::NoNode),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ];
        assert_eq!(failing_op(&results), Some((1, ErrorCode::NoNode)));
        assert_eq!(failing_op(&[MultiResult::Delete]), None);
    }

    #[test]
    fn container_and_ttl_creates_in_a_multi_use_their_own_opcodes() {
        let multi = Multi::new()
            .create(Create::new("/c", Bytes::new()).mode(CreateMode::Container))
            .create(
                Create::new("/t", Bytes::new())
                    .mode(CreateMode::PersistentWithTtl)
                    .ttl(std::time::Duration::from_secs(5)),
            )
            .create(Create::new("/p", Bytes::new()));
        let chroot = Chroot::new("/root").unwrap();
        let prepared = multi.prepare(&mut Paths::new(&chroot)).unwrap();
        let Request::Multi(m) = prepared.request else {
            panic!("not a multi")
        };
        let codes: Vec<i32> = m.ops.iter().map(|o| o.opcode().as_i32()).collect();
        assert_eq!(codes, [19, 21, 1]);
        let zk_proto::MultiOp::Create(c) = &m.ops[2] else {
            panic!("not a create")
        };
        assert_eq!(c.path, "/root/p");
    }
}
