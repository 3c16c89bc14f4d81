//! Time: the session's timeouts, firing its timers, liveness and client-side expiry, queue
//! deadlines and call deadlines.

use super::*;

impl Session {
    /// Time passed: fire every timer due at `now`. Calling it early or twice is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in Timer::ALL {
            if self.state.is_terminal() {
                return;
            }
            if self.timers.take_if_due(timer, now) {
                self.on_timer(timer, now);
            }
        }
    }

    /// A request in flight that will get no reply: its call fails with `error`, unless it
    /// already completed with RequestTimeout.
    pub(super) fn abandon(&mut self, entry: InFlight, error: CommonError) {
        match entry.id {
            Some(_) if entry.timed_out.is_some() => {
                self.outstanding = self.outstanding.saturating_sub(1);
            }
            Some(id) => self.complete(id, Err(error)),
            None => {}
        }
    }

    /// Completes with [`CommonError::RequestTimeout`] every call whose deadline passed.
    pub(super) fn expire_calls(&mut self, now: Instant) {
        let mut due = Vec::new();
        while let Some(&Reverse((deadline, id))) = self.call_deadlines.peek() {
            if deadline > now {
                self.timers.set(Timer::CallDeadline, deadline);
                break;
            }
            self.call_deadlines.pop();
            due.push(id);
        }
        if due.is_empty() {
            return;
        }
        // Sent: the reply will come and must still be matched; it is discarded then. A read
        // timeout after `timed_out`, the server is taken for stuck (see `check_liveness`: the
        // read timer, at most a read timeout from now, is never later than that check).
        for entry in &mut self.in_flight {
            if let Some(id) = entry.id.filter(|id| due.contains(id)) {
                if entry.timed_out.is_none() {
                    entry.timed_out = Some(now);
                    self.events.push_back(Event::Completed(Completion {
                        id,
                        result: Err(CommonError::RequestTimeout),
                    }));
                }
            }
        }
        // Not sent yet: they never will be. One pass over the outbox for all of them.
        let is_due = |q: &Queued| q.request.id.is_some_and(|id| due.contains(&id));
        if self.queued.iter().any(is_due) {
            let old = std::mem::take(&mut self.outbox);
            let mut offset = 0;
            let mut dropped = Vec::new();
            let queued = std::mem::take(&mut self.queued);
            for q in queued {
                let frame = &old[offset..offset + q.frame_len];
                offset += q.frame_len;
                match q.request.id.filter(|id| due.contains(id)) {
                    Some(id) => dropped.push(id),
                    None => {
                        self.outbox.extend_from_slice(frame);
                        self.queued.push_back(q);
                    }
                }
            }
            for id in dropped {
                self.complete(id, Err(CommonError::RequestTimeout));
            }
        }
        // add_auth calls waiting for their credential's reply or for a connection.
        for id in due {
            self.time_out_auth(id);
        }
    }

    /// Completes an `add_auth` call `id` with RequestTimeout if it still waits. A credential
    /// that was never presented and that no call waits for any more is withdrawn.
    pub(super) fn time_out_auth(&mut self, id: RequestId) {
        for (_, list) in self.auth_in_flight.iter_mut() {
            if let Some(index) = list.iter().position(|w| *w == id) {
                list.remove(index);
                self.complete(id, Err(CommonError::RequestTimeout));
                return;
            }
        }
        let Some(index) = self
            .credentials
            .iter()
            .position(|c| c.waiting.contains(&id))
        else {
            return;
        };
        let credential = &mut self.credentials[index];
        credential.waiting.retain(|w| *w != id);
        if !credential.presented && credential.waiting.is_empty() {
            self.credentials.remove(index);
        }
        self.complete(id, Err(CommonError::RequestTimeout));
    }

    /// Drops the deadlines of calls that completed before them, once they outnumber the calls
    /// outstanding, so the deadlines held stay bounded by [`Config::max_in_flight`].
    pub(super) fn compact_call_deadlines(&mut self) {
        if self.call_deadlines.len() <= 2 * self.outstanding + 64 {
            return;
        }
        let pending: std::collections::HashSet<RequestId> = self
            .in_flight
            .iter()
            .filter(|e| e.timed_out.is_none())
            .filter_map(|e| e.id)
            .chain(self.queued.iter().filter_map(|q| q.request.id))
            .chain(
                self.credentials
                    .iter()
                    .flat_map(|c| c.waiting.iter().copied()),
            )
            .chain(
                self.auth_in_flight
                    .iter()
                    .flat_map(|(_, l)| l.iter().copied()),
            )
            .collect();
        self.call_deadlines
            .retain(|Reverse((_, id))| pending.contains(id));
        match self.call_deadlines.peek() {
            Some(Reverse((deadline, _))) => self.timers.set(Timer::CallDeadline, *deadline),
            None => self.timers.stop(Timer::CallDeadline),
        }
    }

    pub(super) fn negotiated_or_requested(&self) -> Duration {
        self.negotiated_timeout
            .unwrap_or(self.config.session_timeout)
    }

    pub(super) fn read_timeout(&self) -> Duration {
        self.negotiated_or_requested() * 2 / 3
    }

    pub(super) fn ping_interval(&self) -> Duration {
        let half = self.read_timeout() / 2;
        // Java pings up to a second early so the ping lands well before the read timeout.
        let slack = if half > Duration::from_secs(2) {
            Duration::from_secs(1)
        } else {
            Duration::ZERO
        };
        (half - slack)
            .min(MAX_PING_INTERVAL)
            .max(Duration::from_millis(1))
    }

    pub(super) fn expiry_timeout(&self) -> Duration {
        self.negotiated_or_requested() * 4 / 3
    }

    pub(super) fn connect_timeout(&self) -> Duration {
        self.config
            .connect_timeout
            .unwrap_or_else(|| {
                (self.negotiated_or_requested() / self.hosts.len().max(1) as u32)
                    .max(crate::config::MIN_DERIVED_CONNECT_TIMEOUT)
            })
            .max(Duration::from_millis(1))
    }

    pub(super) fn queue_timeout(&self) -> Duration {
        self.config
            .queue_timeout
            .unwrap_or(self.negotiated_or_requested())
    }

    pub(super) fn on_timer(&mut self, timer: Timer, now: Instant) {
        match timer {
            Timer::Connect => {
                if matches!(self.phase, Phase::Connecting(_) | Phase::Handshaking(_)) {
                    self.connection_lost(DisconnectReason::ConnectTimeout, now);
                }
            }
            Timer::Read => self.check_liveness(now),
            Timer::Ping => {
                if self.open_for_requests() {
                    write_request(&mut self.control, Xid::PING, &Request::Ping);
                    self.stats.pings_sent += 1;
                    self.timers.set(Timer::Ping, now + self.ping_interval());
                }
            }
            Timer::Backoff => {
                if self.phase == Phase::Idle {
                    self.start_attempt(now);
                }
            }
            Timer::ClientExpiry => {
                let deadline = self.last_confirmed + self.expiry_timeout();
                if now >= deadline {
                    self.terminate(SessionEnd::Unconfirmed {
                        since: now.saturating_duration_since(self.last_confirmed),
                    });
                } else {
                    self.timers.set(Timer::ClientExpiry, deadline);
                }
            }
            Timer::Close => self.terminate(SessionEnd::Closed),
            Timer::ReadOnlyProbe => {
                if self.probe.take().is_some() {
                    // The driver never answered: count it as a failed probe.
                    self.schedule_probe(now);
                } else {
                    self.start_probe(now);
                }
            }
            Timer::QueueDeadline => self.expire_queued(now),
            Timer::CallDeadline => self.expire_calls(now),
        }
    }

    /// Drops a connection on which no complete frame arrived for a read timeout, or on which a
    /// request timed out by its deadline went unanswered for a read timeout more (a server
    /// that answers pings but not requests would otherwise hold the session forever, its
    /// unanswered requests filling [`Config::max_in_flight`]). Re-arms the read timer.
    pub(super) fn check_liveness(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Ready(_)) {
            return;
        }
        let read_timeout = self.read_timeout();
        let silent_since = self.last_frame;
        if now >= silent_since + read_timeout {
            self.connection_lost(DisconnectReason::ReadTimeout, now);
            return;
        }
        let mut deadline = silent_since + read_timeout;
        if let Some(timed_out) = self.in_flight.iter().filter_map(|e| e.timed_out).min() {
            if now >= timed_out + read_timeout {
                self.connection_lost(DisconnectReason::UnansweredRequest, now);
                return;
            }
            deadline = deadline.min(timed_out + read_timeout);
        }
        self.timers.set(Timer::Read, deadline);
    }

    pub(super) fn expire_queued(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Ready(_)) {
            return;
        }
        while let Some(front) = self.queued.front() {
            if front.request.op == OpCode::CloseSession {
                // The close is bounded by the close timer alone.
                return;
            }
            if front.deadline > now {
                self.timers.set(Timer::QueueDeadline, front.deadline);
                return;
            }
            if let Some(q) = self.queued.pop_front() {
                tracing::warn!(
                    parent: &self.span,
                    op = ?q.request.op,
                    "a request waited a queue timeout for a connection: it fails with ConnectionLoss"
                );
                self.outbox.advance(q.frame_len);
                if let Some(id) = q.request.id {
                    self.complete(id, Err(CommonError::ConnectionLoss));
                }
            }
        }
    }
}
