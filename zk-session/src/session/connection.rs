//! The connection life cycle: attempts, the handshake and what a ConnectResponse may grant,
//! losing a connection, probing for a read-write server, and ending the session.

use super::*;

impl Session {
    /// The transport of `conn` is open, to `peer` when the driver knows the address (it is
    /// logged with the connection): the handshake starts.
    pub fn handle_connected(&mut self, conn: ConnectionId, peer: Option<SocketAddr>, now: Instant) {
        if self.phase.connection() == Some(conn) && self.phase != Phase::Connecting(conn) {
            // Reported twice: the transport is already in use.
            return;
        }
        if self.phase != Phase::Connecting(conn) {
            self.disown(conn);
            return;
        }
        self.phase = Phase::Handshaking(conn);
        if let Some(peer) = peer {
            self.connection_span
                .record("addr", tracing::field::display(peer));
        }
        self.handshake_session_id = if self.seen_read_write_server {
            self.session_id
        } else {
            SessionId::NONE
        };
        let password = if self.handshake_session_id == SessionId::NONE {
            Bytes::from_static(&EMPTY_PASSWORD)
        } else {
            self.password.clone()
        };
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.last_zxid_seen,
            timeout_ms: self.config.session_timeout.as_millis() as i32,
            session_id: self.handshake_session_id,
            password,
            read_only: self.config.read_only_allowed,
        };
        self.control.clear();
        write_connect_request(&mut self.control, &request);
        self.recv.clear();
        self.skipping = 0;
        tracing::debug!(
            parent: &self.connection_span,
            session_id = %request.session_id,
            last_zxid_seen = %request.last_zxid_seen,
            "connected: sending the handshake"
        );
        let _ = now;
    }

    /// Replaces the host list (the ensemble changed: a reconfiguration, or the application's
    /// own list), as the Java client's `updateServerList` does, so that clients spread over
    /// the new ensemble while moving as few connections as that needs:
    /// - the current server stays in a list that grew from `S` to `N` hosts: the session moves
    ///   to one of the new hosts with probability `1 - S/N`, and stays otherwise;
    /// - it stays in a list of the same size or smaller: the session stays;
    /// - it left the list: the session moves, to the new hosts first when the list grew, and
    ///   otherwise to old and new hosts with the probabilities that even out the load.
    ///
    /// Moving drops the connection (requests in flight fail with ConnectionLoss, their
    /// outcome unknown, as on any lost connection; [`DisconnectReason::Rebalanced`]); the
    /// session goes on on the next server. Returns whether the session moves. The order of
    /// the new list is shuffled with the session's seed.
    pub fn update_hosts(
        &mut self,
        hosts: Vec<HostAddr>,
        now: Instant,
    ) -> Result<bool, ConfigError> {
        if hosts.is_empty() {
            return Err(ConfigError::NoHosts);
        }
        let mut shuffled: Vec<HostAddr> = Vec::with_capacity(hosts.len());
        for host in hosts {
            if !shuffled.contains(&host) {
                shuffled.push(host);
            }
        }
        self.rng.shuffle(&mut shuffled);
        let previous = self.hosts.all().to_vec();
        let current = self.hosts.get(self.hosts.current_index()).clone();
        let kept = shuffled.contains(&current);
        let (old, new): (Vec<HostAddr>, Vec<HostAddr>) =
            shuffled.iter().cloned().partition(|h| previous.contains(h));
        let (s, n) = (previous.len() as f64, shuffled.len() as f64);
        let p_new = if n > s {
            if !kept || self.rng.unit() <= 1.0 - s / n {
                Some(1.0)
            } else {
                None
            }
        } else if kept {
            None
        } else {
            let num_old = old.len() as f64;
            let p_old = if s - num_old <= 0.0 {
                1.0
            } else {
                num_old * (s - n) / (n * (s - num_old))
            };
            Some(1.0 - p_old)
        };
        self.refusal_probe = None;
        self.last_disconnect_host = None;
        let Some(p_new) = p_new else {
            let at = shuffled.iter().position(|h| *h == current).unwrap_or(0);
            tracing::info!(
                parent: &self.span,
                hosts = shuffled.len(),
                "host list updated: staying on {current}"
            );
            // The next attempt, should this connection end, follows the current server.
            self.hosts = HostList::ordered(shuffled, at + 1);
            return Ok(false);
        };
        // The attempts' order: each draws a new host with probability `p_new`, an old one
        // otherwise, until one kind runs out.
        let (mut old, mut new) = (old.into_iter(), new.into_iter());
        let (mut old_left, mut new_left) = (old.len(), new.len());
        let mut order = Vec::with_capacity(old_left + new_left);
        while old_left + new_left > 0 {
            let take_new = self.rng.unit() <= p_new;
            let next = if new_left > 0 && (take_new || old_left == 0) {
                new_left -= 1;
                new.next()
            } else {
                old_left -= 1;
                old.next()
            };
            order.extend(next);
        }
        tracing::info!(
            parent: &self.span,
            hosts = order.len(),
            from = %current,
            "host list updated: moving to {}",
            order.first().map_or(String::new(), ToString::to_string)
        );
        // The connection goes first (it is the old list's), then the next attempt (after the
        // usual jittered back-off) takes the new order.
        if self.phase.connection().is_some() {
            self.connection_lost(DisconnectReason::Rebalanced, now);
        }
        self.hosts = HostList::ordered(order, 0);
        Ok(true)
    }

    /// The transport of `conn` was closed by the peer, or failed for a reason the driver
    /// cannot tell ([`Session::handle_failed`] reports one it can).
    pub fn handle_closed(&mut self, conn: ConnectionId, now: Instant) {
        if self.phase.connection() == Some(conn) {
            let reason = match self.phase {
                Phase::Handshaking(_) => DisconnectReason::ClosedDuringHandshake,
                _ => DisconnectReason::TransportClosed,
            };
            self.connection_lost(reason, now);
        }
    }

    /// The transport of `conn` could not be opened, or failed, because of `cause` (a name
    /// that did not resolve, a refused connection, a TLS error): reported as
    /// [`DisconnectReason::TransportFailed`] and in [`Session::host_failures`].
    pub fn handle_failed(&mut self, conn: ConnectionId, cause: impl Into<String>, now: Instant) {
        if self.phase.connection() == Some(conn) {
            self.connection_lost(DisconnectReason::TransportFailed(cause.into()), now);
        }
    }

    /// The answer of probe `probe`: what the server said about itself.
    pub fn handle_probe_result(&mut self, probe: ProbeId, answer: Answer, now: Instant) {
        if self.state.is_terminal() {
            return;
        }
        if let Some((asked, host_index)) = self.refusal_probe {
            if asked == probe {
                self.refusal_probe = None;
                if answer == Answer::ReadOnly {
                    self.refused_as_read_only(host_index);
                }
                return;
            }
        }
        let read_write = answer == Answer::ReadWrite;
        let Some((current, host_index)) = self.probe else {
            return;
        };
        if current != probe {
            return;
        }
        self.probe = None;
        if read_write && self.state == SessionState::ConnectedReadOnly {
            // Lost first, so that the read-only host is the one it is recorded for.
            self.connection_lost(DisconnectReason::ReadWriteServerFound, now);
            self.hosts.prefer(host_index);
            // Go straight to the read-write server.
            self.timers.stop(Timer::Backoff);
            self.start_attempt(now);
        } else {
            self.schedule_probe(now);
        }
    }

    pub(super) fn handle_connect_response(&mut self, frame: Bytes, now: Instant) {
        let response = match ConnectResponse::decode(&mut Reader::new(frame)) {
            Ok(r) => r,
            Err(e) => {
                self.protocol_violation(format!("bad ConnectResponse: {e}"), now);
                return;
            }
        };
        if response.protocol_version != 0 {
            // Every server since 3.0 answers version 0; anything else is not a ConnectResponse
            // (a notification or a reply sent before the handshake would otherwise be read as
            // one, its negative fields as an expiry).
            self.protocol_violation(
                format!(
                    "ConnectResponse with protocol version {}",
                    response.protocol_version
                ),
                now,
            );
            return;
        }
        if response.is_expired() {
            self.terminate(SessionEnd::ExpiredByServer);
            return;
        }
        if response.session_id == SessionId::NONE {
            // Id 0 asks for a new session: taking it would make the next reconnect do so.
            self.protocol_violation("ConnectResponse granting session id 0".into(), now);
            return;
        }
        if response.read_only && !self.config.read_only_allowed {
            self.protocol_violation(
                "read-only session granted to a client that does not allow one".into(),
                now,
            );
            return;
        }
        if self.handshake_session_id != SessionId::NONE
            && response.session_id != self.handshake_session_id
        {
            // Never continue silently with a session other than the one asked for.
            self.terminate(SessionEnd::Replaced {
                presented: self.handshake_session_id,
                granted: response.session_id,
            });
            return;
        }
        let Phase::Handshaking(conn) = self.phase else {
            return;
        };
        self.phase = Phase::Ready(conn);
        self.session_id = response.session_id;
        self.password = response.password;
        self.negotiated_timeout = Some(Duration::from_millis(response.timeout_ms as u64));
        if !response.read_only {
            self.seen_read_write_server = true;
        }
        self.ready_since = Some(now);
        self.host_failures.clear();
        self.stats.connections += 1;
        self.span
            .record("session_id", tracing::field::display(self.session_id));
        tracing::info!(
            parent: &self.connection_span,
            session_id = %self.session_id,
            host = %self.hosts.get(self.hosts.current_index()),
            negotiated_timeout_ms = response.timeout_ms,
            read_only = response.read_only,
            "session established"
        );
        if !self.credentials.is_empty() {
            tracing::debug!(
                parent: &self.connection_span,
                credentials = self.credentials.len(),
                "presenting credentials again"
            );
        }
        self.last_confirmed = now;
        self.timers.stop(Timer::Connect);
        self.timers.stop(Timer::Backoff);
        self.timers.stop(Timer::QueueDeadline);
        self.timers
            .set(Timer::Read, self.last_frame + self.read_timeout());
        self.timers.set(Timer::Ping, now + self.ping_interval());
        if self.config.client_side_expiry {
            self.timers.set(
                Timer::ClientExpiry,
                self.last_confirmed + self.expiry_timeout(),
            );
        }

        // SASL first, when configured: the connection opens once it completes.
        if self.start_sasl(response.read_only) {
            return;
        }
        self.open_connection(response.read_only, now);
    }

    /// The connection is ready for requests (the handshake granted the session, SASL
    /// completed): credentials first, then watches, then the queued requests (in
    /// `poll_transmit`), and the state says connected.
    pub(super) fn open_connection(&mut self, read_only: bool, now: Instant) {
        for credential in &mut self.credentials {
            credential.presented = true;
            let packet = AuthPacket {
                auth_type: 0,
                scheme: credential.scheme.clone(),
                auth: credential.auth.clone(),
            };
            write_request(&mut self.control, Xid::AUTH, &Request::Auth(packet));
            self.auth_in_flight.push_back((
                credential.scheme.clone(),
                std::mem::take(&mut credential.waiting),
            ));
        }
        // A new connection holds no watch but those re-registered here.
        self.watches.reregistered();
        if !self.watches.is_empty() {
            // Batches also stay within the configured frame limit, which bounds every request
            // the client sends.
            let batch_bytes = SET_WATCHES_BATCH_BYTES.min(
                self.config
                    .max_frame_len
                    .saturating_sub(SET_WATCHES_OVERHEAD),
            );
            let requests = self
                .watches
                .reregistration_requests(self.last_zxid_seen, batch_bytes);
            tracing::debug!(
                parent: &self.connection_span,
                watches = self.watches.len(),
                frames = requests.len(),
                "re-registering watches"
            );
            for request in requests {
                let xid = self.next_xid();
                write_request(&mut self.control, xid, &request);
                self.in_flight.push_back(InFlight {
                    xid,
                    op: request.opcode(),
                    id: None,
                    after: AfterReply::Nothing,
                    timed_out: None,
                    watch_unwanted: false,
                });
            }
            for watch in self.watches.persistent_ids() {
                self.events.push_back(Event::Watch {
                    watch,
                    notice: WatchNotice::PossiblyMissedEvents,
                });
            }
        }
        if !self.is_closing() {
            self.set_state(if read_only {
                SessionState::ConnectedReadOnly
            } else {
                SessionState::Connected
            });
        }
        // After the state change: probing only runs in ConnectedReadOnly.
        if read_only {
            self.read_only_probe_delay = self.config.read_only_probe.0;
            self.schedule_probe(now);
        } else {
            self.timers.stop(Timer::ReadOnlyProbe);
            self.probe = None;
        }
    }

    /// The server at `host_index` closed a handshake without answering: ask it whether it is
    /// read-only (a read-only server closes the handshakes of clients that do not allow
    /// read-only sessions), so that the refusal is reported as such rather than as a bare
    /// close. A probe still unanswered is abandoned (its answer will be ignored).
    fn ask_why_refused(&mut self, host_index: usize) {
        if self.config.read_only_allowed || self.is_closing() || self.state.is_terminal() {
            return;
        }
        let probe = ProbeId(self.next_probe_id);
        self.next_probe_id += 1;
        self.refusal_probe = Some((probe, host_index));
        tracing::debug!(
            parent: &self.connection_span,
            "asking the server whether it is read-only"
        );
        self.actions.push_back(Action::Probe {
            probe,
            host: self.hosts.get(host_index).clone(),
        });
    }

    /// The server at `host_index`, which closed a handshake, says it is read-only: the refusal
    /// becomes [`DisconnectReason::ReadOnlyServer`] where it was recorded as a bare close.
    fn refused_as_read_only(&mut self, host_index: usize) {
        let host = self.hosts.get(host_index).clone();
        tracing::warn!(
            parent: &self.span,
            host = %host,
            "the server is read-only and refuses sessions that do not allow read-only mode \
             (Config::read_only_allowed)"
        );
        let closed = DisconnectReason::ClosedDuringHandshake;
        if let Some(failure) = self
            .host_failures
            .iter_mut()
            .find(|f| f.host == host && f.reason == closed)
        {
            failure.reason = DisconnectReason::ReadOnlyServer;
        }
        if self.last_disconnect.as_ref() == Some(&closed)
            && self.last_disconnect_host == Some(host_index)
        {
            self.last_disconnect = Some(DisconnectReason::ReadOnlyServer);
        }
    }

    /// Why the last connection to the host at `host_index` failed, since the last established
    /// connection.
    fn host_failure(&self, host_index: usize) -> Option<&DisconnectReason> {
        let host = self.hosts.get(host_index);
        self.host_failures
            .iter()
            .find(|f| f.host == *host)
            .map(|f| &f.reason)
    }

    pub(super) fn schedule_probe(&mut self, now: Instant) {
        if self.state != SessionState::ConnectedReadOnly || self.hosts.len() < 2 {
            return;
        }
        self.timers
            .set(Timer::ReadOnlyProbe, now + self.read_only_probe_delay);
        self.read_only_probe_delay =
            (self.read_only_probe_delay * 2).min(self.config.read_only_probe.1);
    }

    pub(super) fn start_probe(&mut self, now: Instant) {
        if self.state != SessionState::ConnectedReadOnly || self.hosts.len() < 2 {
            return;
        }
        let current = self.hosts.current_index();
        self.probe_cursor = (self.probe_cursor + 1) % self.hosts.len();
        if self.probe_cursor == current {
            self.probe_cursor = (self.probe_cursor + 1) % self.hosts.len();
        }
        let probe = ProbeId(self.next_probe_id);
        self.next_probe_id += 1;
        self.probe = Some((probe, self.probe_cursor));
        tracing::debug!(
            parent: &self.span,
            host = %self.hosts.get(self.probe_cursor),
            "probing for a read-write server"
        );
        self.actions.push_back(Action::Probe {
            probe,
            host: self.hosts.get(self.probe_cursor).clone(),
        });
        // Bound the wait for the driver's answer.
        self.timers
            .set(Timer::ReadOnlyProbe, now + self.connect_timeout());
    }

    pub(super) fn start_attempt(&mut self, now: Instant) {
        let conn = ConnectionId(self.next_connection_id);
        self.next_connection_id += 1;
        self.stats.connection_attempts += 1;
        let host = self.hosts.next().1.clone();
        // WARN, as the session's span: see `Session::new`.
        self.connection_span = tracing::span!(
            parent: &self.span,
            tracing::Level::WARN,
            "zk_connection",
            conn = conn.0,
            host = %host,
            addr = tracing::field::Empty
        );
        tracing::debug!(parent: &self.connection_span, "connecting");
        self.actions.push_back(Action::Connect { conn, host });
        self.phase = Phase::Connecting(conn);
        self.timers
            .set(Timer::Connect, now + self.connect_timeout());
    }

    /// Records why the connection to the current host ended (leaving a read-only server for a
    /// read-write one is no failure).
    fn note_host_failure(&mut self, reason: DisconnectReason) {
        if matches!(
            reason,
            DisconnectReason::ReadWriteServerFound | DisconnectReason::Rebalanced
        ) {
            return;
        }
        let host = self.hosts.get(self.hosts.current_index());
        match self.host_failures.iter_mut().find(|f| f.host == *host) {
            Some(failure) => failure.reason = reason,
            None => self.host_failures.push(HostFailure {
                host: host.clone(),
                reason,
            }),
        }
    }

    /// Tells the driver to close a transport the session no longer wants.
    pub(super) fn disown(&mut self, conn: ConnectionId) {
        self.actions.push_back(Action::Disconnect { conn });
    }

    pub(super) fn protocol_violation(&mut self, what: String, now: Instant) {
        self.connection_lost(DisconnectReason::ProtocolViolation(what), now);
    }

    pub(super) fn connection_lost(&mut self, reason: DisconnectReason, now: Instant) {
        let mut reason = reason;
        // An exchange runs on one connection: the next starts its own.
        self.sasl = None;
        if let Some(conn) = self.phase.connection() {
            self.disown(conn);
            let host_index = self.hosts.current_index();
            let before = self.host_failure(host_index).cloned();
            if reason == DisconnectReason::ClosedDuringHandshake
                && before == Some(DisconnectReason::ReadOnlyServer)
            {
                // A host known to be read-only closes handshakes for that reason.
                reason = DisconnectReason::ReadOnlyServer;
            }
            let what = match self.phase {
                Phase::Handshaking(_) => "connection lost during the handshake",
                _ => "connection attempt failed",
            };
            if reason == DisconnectReason::ReadWriteServerFound {
                tracing::info!(
                    parent: &self.connection_span,
                    "leaving a read-only server for a read-write one"
                );
            } else if matches!(self.phase, Phase::Ready(_)) {
                tracing::warn!(
                    parent: &self.connection_span,
                    reason = %reason,
                    silent_ms = now.saturating_duration_since(self.last_frame).as_millis() as u64,
                    "connection lost"
                );
            } else {
                tracing::warn!(parent: &self.connection_span, reason = %reason, "{what}");
            }
            self.note_host_failure(reason.clone());
            self.stats.disconnects.count(&reason);
            self.last_disconnect = Some(reason.clone());
            self.last_disconnect_host = Some(host_index);
            // Asked once per run of refusals, so a server that keeps closing handshakes (for
            // too many connections, say) is not probed on every attempt.
            if reason == DisconnectReason::ClosedDuringHandshake
                && before != Some(DisconnectReason::ClosedDuringHandshake)
            {
                self.ask_why_refused(host_index);
            }
        }
        if let Some(since) = self.ready_since.take() {
            // Only a connection that lasted resets the back-off: one that a server drops right
            // after every handshake must not be retried at full speed.
            if now.saturating_duration_since(since) >= self.read_timeout() {
                self.hosts.connected();
            }
        }
        self.phase = Phase::Idle;
        self.events.push_back(Event::ConnectionLost(reason));
        self.recv.clear();
        self.control.clear();
        self.skipping = 0;
        for t in [
            Timer::Read,
            Timer::Ping,
            Timer::Connect,
            Timer::ReadOnlyProbe,
        ] {
            self.timers.stop(t);
        }
        self.probe = None;

        let mut close_was_sent = false;
        for entry in std::mem::take(&mut self.in_flight) {
            close_was_sent |= entry.op == OpCode::CloseSession;
            self.abandon(entry, CommonError::ConnectionLoss);
        }
        for (_, waiting) in std::mem::take(&mut self.auth_in_flight) {
            for id in waiting {
                self.complete(id, Err(CommonError::ConnectionLoss));
            }
        }
        if close_was_sent || (self.is_closing() && self.session_id == SessionId::NONE) {
            // Closed, or closing a session the server never granted: a new connection would
            // only create one to close it.
            self.terminate(SessionEnd::Closed);
            return;
        }
        if self.state.is_connected() {
            self.set_state(SessionState::Disconnected);
        }
        if !self.config.queue_while_disconnected {
            clear_frames(&mut self.outbox);
            for q in std::mem::take(&mut self.queued) {
                if let Some(id) = q.request.id {
                    self.complete(id, Err(CommonError::ConnectionLoss));
                }
            }
            if self.is_closing() {
                // The close was not sent yet: it goes out on the next connection (bounded by
                // the close timer), or the server keeps the session and its ephemeral nodes
                // until it expires.
                self.enqueue_own(Request::CloseSession, now);
            }
        } else {
            self.expire_queued(now);
        }
        let mut delay = Duration::from_nanos(
            self.rng.below(
                self.config
                    .backoff
                    .max_jitter
                    .as_nanos()
                    .min(u64::MAX as u128) as u64,
            ),
        );
        if self.hosts.completed_pass() {
            delay += self.config.backoff.pass_delay;
        }
        self.timers.set(Timer::Backoff, now + delay);
    }

    /// Whether `close` was called and the session has not ended yet.
    pub(super) fn is_closing(&self) -> bool {
        self.state == SessionState::Closing
    }

    pub(super) fn terminate(&mut self, end: SessionEnd) {
        if self.state.is_terminal() {
            return;
        }
        if let Some(conn) = self.phase.connection() {
            self.disown(conn);
        }
        self.phase = Phase::Idle;
        let state = end.state();
        match &end {
            SessionEnd::Closed => tracing::info!(parent: &self.span, "session closed"),
            other => tracing::warn!(parent: &self.span, end = %other, "session ended"),
        }
        self.end = Some(end);
        let error = state.terminal_error();
        for entry in std::mem::take(&mut self.in_flight) {
            self.abandon(entry, error.clone());
        }
        self.call_deadlines.clear();
        self.ready_since = None;
        for q in std::mem::take(&mut self.queued) {
            if let Some(id) = q.request.id {
                self.complete(id, Err(error.clone()));
            }
        }
        for (_, waiting) in std::mem::take(&mut self.auth_in_flight) {
            for id in waiting {
                self.complete(id, Err(error.clone()));
            }
        }
        let waiting: Vec<RequestId> = self
            .credentials
            .iter_mut()
            .flat_map(|c| std::mem::take(&mut c.waiting))
            .collect();
        for id in waiting {
            self.complete(id, Err(error.clone()));
        }
        for watch in self.watches.drain() {
            self.events.push_back(Event::Watch {
                watch,
                notice: WatchNotice::SessionEnded(state),
            });
        }
        self.outbox = BytesMut::new();
        self.control = BytesMut::new();
        self.recv = BytesMut::new();
        self.skipping = 0;
        self.probe = None;
        self.refusal_probe = None;
        self.timers.stop_all();
        self.set_state(state);
    }

    pub(super) fn set_state(&mut self, state: SessionState) {
        if self.state != state {
            tracing::info!(parent: &self.span, from = ?self.state, to = ?state, "session state");
            self.state = state;
            self.events.push_back(Event::State(state));
        }
    }
}
