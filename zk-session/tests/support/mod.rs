//! The scripted fake server of zk-session's tests: `zk_session::testing` (feature `testing`).

#![allow(unused_imports)]

pub use zk_session::testing::{config, connected, get_data_reply, ms, secs, ClientFrame, Sim};
