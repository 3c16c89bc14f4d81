//! Round-trip property tests for every record: `decode(encode(x)) == x`, and `encoded_len` is
//! exact.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use crate::acl::{Acl, Id};
use crate::arbitrary::Arb;
use crate::auth::*;
use crate::connect::*;
use crate::event::WatcherEvent;
use crate::header::*;
use crate::jute::{Decode, Encode, Reader};
use crate::multi::*;
use crate::node::*;
use crate::reconfig::ReconfigRequest;
use crate::request::Request;
use crate::response::Response;
use crate::stat::Stat;
use crate::watch::*;

fn check<T: Arb + Encode + Decode + PartialEq + 'static>() {
    proptest!(ProptestConfig::with_cases(64), |(value in T::arb())| {
        let mut out = BytesMut::new();
        value.encode(&mut out);
        prop_assert_eq!(out.len(), value.encoded_len());
        let mut reader = Reader::new(out.freeze());
        let decoded = T::decode(&mut reader).unwrap();
        prop_assert_eq!(reader.remaining(), 0);
        prop_assert_eq!(decoded, value);
    });
}

macro_rules! round_trips {
    ($($name:ident: $ty:ty,)*) => {$(
        #[test]
        fn $name() {
            check::<$ty>();
        }
    )*};
}

round_trips! {
    id_round_trips: Id,
    acl_round_trips: Acl,
    stat_round_trips: Stat,
    request_header_round_trips: RequestHeader,
    reply_header_round_trips: ReplyHeader,
    multi_header_round_trips: MultiHeader,
    error_response_round_trips: ErrorResponse,
    connect_request_round_trips: ConnectRequest,
    connect_response_round_trips: ConnectResponse,
    create_request_round_trips: CreateRequest,
    create_ttl_request_round_trips: CreateTtlRequest,
    create_response_round_trips: CreateResponse,
    create2_response_round_trips: Create2Response,
    delete_request_round_trips: DeleteRequest,
    path_watch_request_round_trips: PathWatchRequest,
    stat_response_round_trips: StatResponse,
    get_data_response_round_trips: GetDataResponse,
    set_data_request_round_trips: SetDataRequest,
    path_request_round_trips: PathRequest,
    get_acl_response_round_trips: GetAclResponse,
    set_acl_request_round_trips: SetAclRequest,
    get_children_response_round_trips: GetChildrenResponse,
    get_children2_response_round_trips: GetChildren2Response,
    path_response_round_trips: PathResponse,
    check_version_request_round_trips: CheckVersionRequest,
    get_ephemerals_response_round_trips: GetEphemeralsResponse,
    get_all_children_number_response_round_trips: GetAllChildrenNumberResponse,
    watcher_event_round_trips: WatcherEvent,
    add_watch_request_round_trips: AddWatchRequest,
    watches_request_round_trips: WatchesRequest,
    set_watches_round_trips: SetWatches,
    set_watches2_round_trips: SetWatches2,
    auth_packet_round_trips: AuthPacket,
    get_sasl_request_round_trips: GetSaslRequest,
    set_sasl_response_round_trips: SetSaslResponse,
    client_info_round_trips: ClientInfo,
    who_am_i_response_round_trips: WhoAmIResponse,
    reconfig_request_round_trips: ReconfigRequest,
    multi_request_round_trips: MultiRequest,
    multi_response_round_trips: MultiResponse,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_request_round_trips_through_its_opcode(request in Request::arb()) {
        let mut out = BytesMut::new();
        request.encode(&mut out);
        prop_assert_eq!(out.len(), request.encoded_len());
        let mut reader = Reader::new(out.freeze());
        let decoded = Request::decode(request.opcode(), &mut reader).unwrap();
        prop_assert_eq!(reader.remaining(), 0);
        prop_assert_eq!(decoded, request);
    }

    #[test]
    fn every_response_round_trips_through_its_opcode(response in Response::arb()) {
        let mut out = BytesMut::new();
        response.encode(&mut out);
        prop_assert_eq!(out.len(), response.encoded_len());
        let mut reader = Reader::new(out.freeze());
        let decoded = Response::decode(response.opcode(), &mut reader).unwrap();
        prop_assert_eq!(decoded, response);
    }

    #[test]
    fn arbitrary_bytes_never_panic_any_decoder(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        crate::fuzz::frames(&data);
        crate::fuzz::replies(&data);
        crate::fuzz::requests(&data);
    }

    #[test]
    fn mutated_valid_frames_never_panic_any_decoder(
        response in Response::arb(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut out = BytesMut::new();
        crate::frame::write_reply(&mut out, &ReplyHeader::default(), &response);
        let mut bytes = out.to_vec();
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] = value;
        }
        crate::fuzz::frames(&bytes);
        crate::fuzz::requests(&bytes[4..]);
    }
}

#[test]
fn the_static_open_acl_is_encoded_without_allocation_of_its_own() {
    let request = CreateRequest {
        path: "/a".into(),
        data: Some(Bytes::from_static(b"x")),
        acl: std::borrow::Cow::Borrowed(Acl::OPEN_UNSAFE),
        flags: 0,
    };
    assert!(matches!(request.acl, std::borrow::Cow::Borrowed(_)));
    let mut out = BytesMut::new();
    request.encode(&mut out);
    assert_eq!(out.len(), request.encoded_len());
    // path "/a", data "x", one ACL (perms, "world", "anyone"), flags.
    assert_eq!(out.len(), 6 + 5 + 4 + 4 + 9 + 10 + 4);
}
