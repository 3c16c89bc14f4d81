//! Received bytes: framing, matching replies to requests in flight, completions, watch
//! notifications and auth replies.

use super::*;

impl Session {
    /// Bytes arrived on `conn`.
    pub fn handle_data(&mut self, conn: ConnectionId, data: &[u8], now: Instant) {
        match self.phase {
            Phase::Handshaking(c) | Phase::Ready(c) if c == conn => {}
            _ => return,
        }
        if self.recv.capacity() - self.recv.len() < data.len() {
            // Grow in large steps: replies are sliced out of this buffer without copying, so
            // while the application holds them the old buffer cannot be reused.
            self.recv.reserve(data.len().max(RECV_CHUNK));
        }
        self.recv.extend_from_slice(data);
        self.stats.bytes_received += data.len() as u64;
        self.process_received(conn, now);
    }

    pub(super) fn process_received(&mut self, conn: ConnectionId, now: Instant) {
        loop {
            if self.phase.connection() != Some(conn) || self.state.is_terminal() {
                return;
            }
            if self.skipping > 0 {
                let n = self.skipping.min(self.recv.len());
                self.recv.advance(n);
                self.skipping -= n;
                if self.skipping > 0 {
                    return;
                }
                // The oversized reply is complete.
                self.last_frame = now;
            }
            match self.frames.decode(&mut self.recv) {
                Ok(Some(frame)) => {
                    self.last_frame = now;
                    self.handle_frame(frame, now);
                }
                Ok(None) => return,
                Err(FrameError::TooLarge { len, max }) => {
                    if !self.skip_oversized_reply(len, max, now) {
                        return;
                    }
                }
                Err(e) => {
                    self.protocol_violation(e.to_string(), now);
                    return;
                }
            }
        }
    }

    /// A reply over the frame limit fails the request it answers and is skipped, so the
    /// connection survives and nothing is re-sent in a loop. Returns false when more bytes are
    /// needed to read its header.
    pub(super) fn skip_oversized_reply(&mut self, len: usize, max: usize, now: Instant) -> bool {
        const PREFIX: usize = 4;
        const HEADER: usize = zk_proto::header::REPLY_HEADER_LEN;
        if !matches!(self.phase, Phase::Ready(_)) || len < HEADER {
            self.protocol_violation(format!("frame of {len} bytes over the limit of {max}"), now);
            return false;
        }
        if self.recv.len() < PREFIX + HEADER {
            return false;
        }
        let header_bytes = Bytes::copy_from_slice(&self.recv[PREFIX..PREFIX + HEADER]);
        let Ok(header) = ReplyHeader::decode(&mut Reader::new(header_bytes)) else {
            self.protocol_violation("unreadable reply header".into(), now);
            return false;
        };
        if header.xid.0 < 0 {
            self.protocol_violation(format!("special frame of {len} bytes over the limit"), now);
            return false;
        }
        let Some(entry) = self.pop_reply_entry(header.xid, now) else {
            return false;
        };
        self.last_confirmed = now;
        self.recv.advance(PREFIX + HEADER);
        self.skipping = len - HEADER;
        self.note_zxid(header.zxid);
        self.finish(entry, Err(CommonError::ReplyTooLarge { len, max }), now);
        true
    }

    pub(super) fn handle_frame(&mut self, frame: Bytes, now: Instant) {
        match self.phase {
            Phase::Handshaking(_) => self.handle_connect_response(frame, now),
            Phase::Ready(_) => self.handle_reply(frame, now),
            _ => {}
        }
    }

    pub(super) fn handle_reply(&mut self, frame: Bytes, now: Instant) {
        let reply = match RawReply::parse(frame) {
            Ok(r) => r,
            Err(e) => {
                self.protocol_violation(format!("bad reply header: {e}"), now);
                return;
            }
        };
        match reply.header.xid {
            Xid::NOTIFICATION => self.handle_notification(reply.body, now),
            Xid::PING => self.last_confirmed = now,
            Xid::AUTH => {
                self.last_confirmed = now;
                self.handle_auth_reply(reply.header.err, now);
            }
            xid => {
                let Some(entry) = self.pop_reply_entry(xid, now) else {
                    return;
                };
                self.stats.replies_received += 1;
                self.last_confirmed = now;
                self.note_zxid(reply.header.zxid);
                if tracing::enabled!(tracing::Level::TRACE) {
                    self.trace_reply(&entry, &reply.header);
                }
                let result = match reply.response(entry.op) {
                    Ok(Ok(mut response)) => {
                        self.strip_chroot(&mut response);
                        Ok(response)
                    }
                    Ok(Err(code)) => Err(CommonError::Server(code)),
                    Err(e) => Err(CommonError::MalformedReply(e)),
                };
                let watching = matches!(entry.after, AfterReply::Watch { .. });
                self.finish(entry, result, now);
                if watching {
                    self.after_watch_reply(now);
                }
            }
        }
    }

    /// Takes the oldest request in flight, which `xid` must answer; anything else is a protocol
    /// violation that drops the connection.
    pub(super) fn pop_reply_entry(&mut self, xid: Xid, now: Instant) -> Option<InFlight> {
        match self.in_flight.front() {
            Some(front) if front.xid == xid => self.in_flight.pop_front(),
            Some(front) => {
                let expected = front.xid;
                self.protocol_violation(
                    format!("xid out of order: got {xid}, expected {expected}"),
                    now,
                );
                None
            }
            None => {
                self.protocol_violation(format!("reply with xid {xid} but nothing in flight"), now);
                None
            }
        }
    }

    pub(super) fn note_zxid(&mut self, zxid: Zxid) {
        if zxid.0 > 0 {
            self.last_zxid_seen = zxid;
        }
    }

    pub(super) fn finish(
        &mut self,
        entry: InFlight,
        result: Result<Response, CommonError>,
        now: Instant,
    ) {
        match &entry.after {
            AfterReply::Nothing => {}
            AfterReply::Watch { .. } => self.watch_reply(&entry, &result, now),
            AfterReply::RemoveWatches { path, watcher_type } => {
                self.removal_reply(path, *watcher_type, &result, now)
            }
            AfterReply::Sasl => self.sasl_reply(&result, now),
        }
        match entry.id {
            Some(id) if entry.timed_out.is_some() => {
                // Its caller already has RequestTimeout: nobody receives what the reply set.
                self.outstanding = self.outstanding.saturating_sub(1);
                self.forget_watch(id.watch_id(), now);
            }
            Some(id) => {
                self.complete(id, result);
                if entry.watch_unwanted {
                    self.forget_watch(id.watch_id(), now);
                }
            }
            None => {}
        }
        if entry.op == OpCode::CloseSession {
            self.terminate(SessionEnd::Closed);
        }
    }

    pub(super) fn complete(&mut self, id: RequestId, result: Result<Response, CommonError>) {
        self.outstanding = self.outstanding.saturating_sub(1);
        // Calls are mostly answered in the order of their deadlines: the deadline goes with the
        // call, so no timer wake-up comes for it (compaction clears the others).
        if let Some(Reverse((_, first))) = self.call_deadlines.peek() {
            if *first == id {
                self.call_deadlines.pop();
                match self.call_deadlines.peek() {
                    Some(Reverse((deadline, _))) => self.timers.set(Timer::CallDeadline, *deadline),
                    None => self.timers.stop(Timer::CallDeadline),
                }
            }
        }
        self.events
            .push_back(Event::Completed(Completion { id, result }));
    }

    pub(super) fn handle_notification(&mut self, body: Bytes, now: Instant) {
        let event = match WatcherEvent::decode(&mut Reader::new(body)) {
            Ok(e) => e,
            Err(e) => {
                self.protocol_violation(format!("bad notification: {e}"), now);
                return;
            }
        };
        self.stats.watch_notifications += 1;
        tracing::trace!(
            parent: &self.connection_span,
            event = ?event.event_type,
            path = %event.path,
            "watch notification"
        );
        // Only a server that holds the session sends its watch events.
        self.last_confirmed = now;
        if event.event_type == EventType::None {
            return;
        }
        self.deliver_node_event(event.event_type, &event.path, now);
    }

    pub(super) fn handle_auth_reply(&mut self, err: ErrorCode, now: Instant) {
        let Some((scheme, waiting)) = self.auth_in_flight.pop_front() else {
            self.protocol_violation("an auth reply with no credential sent".into(), now);
            return;
        };
        if err == ErrorCode::AuthFailed {
            for id in waiting {
                self.complete(id, Err(CommonError::AuthFailed));
            }
            self.terminate(SessionEnd::AuthFailed { scheme });
            return;
        }
        tracing::debug!(parent: &self.connection_span, scheme = %scheme, err = %err, "credential answered");
        let result = if err.is_ok() {
            Ok(Response::Empty)
        } else {
            Err(CommonError::Server(err))
        };
        for id in waiting {
            self.complete(id, result.clone());
        }
    }

    pub(super) fn client_path(&self, server_path: &str) -> String {
        self.config
            .chroot
            .to_client(server_path)
            .unwrap_or(server_path)
            .to_owned()
    }

    pub(super) fn strip_chroot(&self, response: &mut Response) {
        let chroot = &self.config.chroot;
        if !chroot.is_some() {
            return;
        }
        let strip = |p: &mut String| *p = chroot.strip_owned(std::mem::take(p));
        match response {
            Response::Create(r) => strip(&mut r.path),
            Response::Create2(r) => strip(&mut r.path),
            Response::Sync(r) => strip(&mut r.path),
            Response::GetEphemerals(r) => {
                // The server matches the prefix as a string: under chroot `/app`, the prefix
                // `/` also finds `/apple/x`, which is outside the client's namespace.
                r.ephemerals.retain(|p| chroot.to_client(p).is_some());
                r.ephemerals.iter_mut().for_each(strip);
            }
            Response::Multi(r) => {
                for result in &mut r.results {
                    if let zk_proto::MultiResult::Create { path, .. } = result {
                        strip(path);
                    }
                }
            }
            _ => {}
        }
    }

    /// Logs a reply (TRACE); out of line, so the request path carries only the level check.
    #[cold]
    #[inline(never)]
    fn trace_reply(&self, entry: &InFlight, header: &zk_proto::ReplyHeader) {
        tracing::trace!(
            parent: &self.connection_span,
            xid = entry.xid.0,
            op = ?entry.op,
            err = header.err.as_i32(),
            zxid = header.zxid.0,
            "reply"
        );
    }
}
