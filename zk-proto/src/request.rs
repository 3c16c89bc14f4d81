//! Every request a client sends after the handshake, as one enum with its opcode.

use bytes::BufMut;

use crate::auth::{AuthPacket, GetSaslRequest};
use crate::error::DecodeError;
use crate::jute::{Decode, Encode, Reader};
use crate::multi::MultiRequest;
use crate::node::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, PathRequest,
    PathWatchRequest, SetAclRequest, SetDataRequest,
};
use crate::opcode::OpCode;
use crate::reconfig::ReconfigRequest;
use crate::watch::{AddWatchRequest, SetWatches, SetWatches2, WatchesRequest};

macro_rules! requests {
    (
        with_body { $( $(#[$m:meta])* $var:ident($rec:ty) = $op:ident, )* }
        without_body { $( $(#[$n:meta])* $bare:ident = $bop:ident, )* }
    ) => {
        /// A request body and, through its variant, its opcode.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Request {
            $( $(#[$m])* $var($rec), )*
            $( $(#[$n])* $bare, )*
        }

        impl Request {
            /// The request's opcode.
            pub fn opcode(&self) -> OpCode {
                match self {
                    $( Request::$var(_) => OpCode::$op, )*
                    $( Request::$bare => OpCode::$bop, )*
                }
            }

            /// Decodes the body of a request with opcode `op` (for servers, proxies and tests).
            pub fn decode(op: OpCode, reader: &mut Reader) -> Result<Request, DecodeError> {
                Ok(match op {
                    $( OpCode::$op => Request::$var(<$rec>::decode(reader)?), )*
                    $( OpCode::$bop => Request::$bare, )*
                    other => {
                        return Err(DecodeError::UnknownValue {
                            what: "request opcode",
                            value: other.as_i32(),
                        })
                    }
                })
            }
        }

        impl Encode for Request {
            fn encoded_len(&self) -> usize {
                match self {
                    $( Request::$var(r) => r.encoded_len(), )*
                    $( Request::$bare => 0, )*
                }
            }
            fn encode<B: BufMut>(&self, buf: &mut B) {
                match self {
                    $( Request::$var(r) => r.encode(buf), )*
                    $( Request::$bare => {} )*
                }
            }
        }

        #[cfg(test)]
        impl crate::arbitrary::Arb for Request {
            fn arb() -> proptest::strategy::BoxedStrategy<Self> {
                use proptest::prelude::*;
                let all: Vec<BoxedStrategy<Request>> = vec![
                    $( <$rec>::arb().prop_map(Request::$var).boxed(), )*
                    $( Just(Request::$bare).boxed(), )*
                ];
                proptest::strategy::Union::new(all).boxed()
            }
        }
    };
}

requests! {
    with_body {
        /// create (1): reply with the path.
        Create(CreateRequest) = Create,
        /// create2 (15): reply with path and stat.
        Create2(CreateRequest) = Create2,
        /// createContainer (19).
        CreateContainer(CreateRequest) = CreateContainer,
        /// createTTL (21).
        CreateTtl(CreateTtlRequest) = CreateTtl,
        /// delete (2).
        Delete(DeleteRequest) = Delete,
        /// exists (3).
        Exists(PathWatchRequest) = Exists,
        /// getData (4).
        GetData(PathWatchRequest) = GetData,
        /// setData (5).
        SetData(SetDataRequest) = SetData,
        /// getACL (6).
        GetAcl(PathRequest) = GetAcl,
        /// setACL (7).
        SetAcl(SetAclRequest) = SetAcl,
        /// getChildren (8).
        GetChildren(PathWatchRequest) = GetChildren,
        /// sync (9).
        Sync(PathRequest) = Sync,
        /// getChildren2 (12).
        GetChildren2(PathWatchRequest) = GetChildren2,
        /// check (13): never send it outside a multi (3.8.0 never answers it).
        Check(CheckVersionRequest) = Check,
        /// multi (14).
        Multi(MultiRequest) = Multi,
        /// reconfig (16).
        Reconfig(ReconfigRequest) = Reconfig,
        /// checkWatches (17).
        CheckWatches(WatchesRequest) = CheckWatches,
        /// removeWatches (18).
        RemoveWatches(WatchesRequest) = RemoveWatches,
        /// multiRead (22).
        MultiRead(MultiRequest) = MultiRead,
        /// auth (100), sent with xid -4.
        Auth(AuthPacket) = Auth,
        /// setWatches (101).
        SetWatches(SetWatches) = SetWatches,
        /// sasl (102).
        Sasl(GetSaslRequest) = Sasl,
        /// getEphemerals (103).
        GetEphemerals(PathRequest) = GetEphemerals,
        /// getAllChildrenNumber (104).
        GetAllChildrenNumber(PathRequest) = GetAllChildrenNumber,
        /// setWatches2 (105).
        SetWatches2(SetWatches2) = SetWatches2,
        /// addWatch (106).
        AddWatch(AddWatchRequest) = AddWatch,
    }
    without_body {
        /// ping (11), sent with xid -2.
        Ping = Ping,
        /// whoAmI (107).
        WhoAmI = WhoAmI,
        /// closeSession (-11).
        CloseSession = CloseSession,
    }
}
