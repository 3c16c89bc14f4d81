//! Submission: checking what may be sent, encoding requests into the outbox with their xids,
//! and credentials presented on every connection.

use super::*;

impl Session {
    /// Submits an operation. Its request goes on the wire in submission order; its completion
    /// arrives as an [`Event::Completed`] with the returned id, exactly once. The call's
    /// deadline is [`Config::call_timeout`] from `now`, if one is set.
    ///
    /// Fails at once (nothing is sent, no completion follows) when the arguments are invalid,
    /// the session is terminal or closing, too many requests are outstanding, or the session is
    /// disconnected and configured not to queue.
    pub fn submit<O: Operation + ?Sized>(
        &mut self,
        op: &O,
        now: Instant,
    ) -> Result<RequestId, CommonError> {
        let deadline = self.config.call_timeout.map(|t| now + t);
        self.submit_with_deadline(op, deadline, now)
    }

    /// [`Session::submit`] with a deadline of its own (`None`: no deadline, whatever the
    /// configuration says). A call not completed by `deadline` completes then with
    /// [`CommonError::RequestTimeout`]: one already sent may still be applied (its reply, when
    /// it comes, is read and discarded, and the request counts against
    /// [`Config::max_in_flight`] until then); one still waiting for a connection is dropped and
    /// never sent.
    pub fn submit_with_deadline<O: Operation + ?Sized>(
        &mut self,
        op: &O,
        deadline: Option<Instant>,
        now: Instant,
    ) -> Result<RequestId, CommonError> {
        self.submit_call(op, deadline, true, now)
    }

    /// [`Session::submit_with_deadline`] for a caller that will not receive the watch the
    /// operation may set (its watch flag): the watch is forgotten, and removed from the server,
    /// as soon as the reply sets it.
    pub fn submit_ignoring_watch<O: Operation + ?Sized>(
        &mut self,
        op: &O,
        deadline: Option<Instant>,
        now: Instant,
    ) -> Result<RequestId, CommonError> {
        self.submit_call(op, deadline, false, now)
    }

    fn submit_call<O: Operation + ?Sized>(
        &mut self,
        op: &O,
        deadline: Option<Instant>,
        watch_wanted: bool,
        now: Instant,
    ) -> Result<RequestId, CommonError> {
        self.check_accepting()?;
        let mut paths =
            Paths::with_spare(&self.config.chroot, std::mem::take(&mut self.spare_paths));
        let prepared = op.prepare(&mut paths);
        self.spare_paths = paths.into_spare();
        let id = self.submit_prepared(prepared?, watch_wanted, now)?;
        if let Some(deadline) = deadline {
            self.compact_call_deadlines();
            self.call_deadlines.push(Reverse((deadline, id)));
            let armed = self.timers.get(Timer::CallDeadline);
            if armed.is_none_or(|armed| deadline < armed) {
                self.timers.set(Timer::CallDeadline, deadline);
            }
        }
        Ok(id)
    }

    /// Closes the session: queued requests are sent, then closeSession; the state becomes
    /// [`SessionState::Closing`] and then [`SessionState::Closed`] when the server confirms,
    /// the connection ends, or the close timeout passes. A session that never had a server
    /// closes at once.
    pub fn close(&mut self, now: Instant) {
        if self.state.is_terminal() || self.is_closing() {
            return;
        }
        if self.session_id == SessionId::NONE && !matches!(self.phase, Phase::Handshaking(_)) {
            self.terminate(SessionEnd::Closed);
            return;
        }
        self.set_state(SessionState::Closing);
        self.timers
            .set(Timer::Close, now + self.config.close_timeout);
        self.enqueue_own(Request::CloseSession, now);
    }

    /// Queues a request of the session's own (no caller waits for it, nothing follows its
    /// reply).
    pub(super) fn enqueue_own(&mut self, request: Request, now: Instant) {
        self.enqueue(
            Prepared {
                request,
                after: AfterReply::Nothing,
            },
            None,
            false,
            now,
        );
    }

    /// Moves the queued requests behind the frames already bound for the ready connection:
    /// from now on they are in flight, in submission order.
    pub(super) fn promote_outbox(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        self.control.extend_from_slice(&self.outbox);
        clear_frames(&mut self.outbox);
        self.queued_sent();
    }

    /// The outbox's frames went out (to the control frames or to the driver): its requests
    /// are in flight, in submission order, and wait for no connection any more.
    pub(super) fn queued_sent(&mut self) {
        self.stats.requests_sent += self.queued.len() as u64;
        self.in_flight
            .extend(self.queued.drain(..).map(|q| q.request));
        self.timers.stop(Timer::QueueDeadline);
    }

    pub(super) fn check_accepting(&self) -> Result<(), CommonError> {
        if self.state.is_terminal() {
            return Err(self.state.terminal_error());
        }
        if self.is_closing() {
            return Err(CommonError::Closed);
        }
        Ok(())
    }

    pub(super) fn submit_prepared(
        &mut self,
        prepared: Prepared,
        watch_wanted: bool,
        now: Instant,
    ) -> Result<RequestId, CommonError> {
        if self.outstanding >= self.config.max_in_flight {
            tracing::warn!(
                parent: &self.span,
                max = self.config.max_in_flight,
                "the queue is full: a call is refused with TooManyRequests"
            );
            return Err(CommonError::TooManyRequests {
                max: self.config.max_in_flight,
            });
        }
        let connected = matches!(self.phase, Phase::Ready(_));
        if !connected && !self.config.queue_while_disconnected {
            return Err(CommonError::ConnectionLoss);
        }
        let len = 8 + zk_proto::Encode::encoded_len(&prepared.request);
        if len > self.config.max_frame_len {
            return Err(CommonError::RequestTooLarge {
                len,
                max: self.config.max_frame_len,
            });
        }
        let id = RequestId(self.next_request_id);
        self.next_request_id += 1;
        self.outstanding += 1;
        let mut prepared = prepared;
        let watch_unwanted = self.prepare_watch(&mut prepared, watch_wanted);
        if let Request::Auth(packet) = prepared.request {
            self.add_credential(packet, id);
        } else {
            self.enqueue(prepared, Some(id), watch_unwanted, now);
        }
        Ok(id)
    }

    pub(super) fn add_credential(&mut self, packet: AuthPacket, id: RequestId) {
        let index = match self
            .credentials
            .iter()
            .position(|c| c.scheme == packet.scheme && c.auth == packet.auth)
        {
            Some(i) => i,
            None => {
                self.credentials.push(Credential {
                    scheme: packet.scheme.clone(),
                    auth: packet.auth.clone(),
                    waiting: Vec::new(),
                    presented: false,
                });
                self.credentials.len() - 1
            }
        };
        if self.open_for_requests() {
            self.credentials[index].presented = true;
            // Behind every request submitted before it: call order is wire order.
            self.promote_outbox();
            let scheme = packet.scheme.clone();
            write_request(&mut self.control, Xid::AUTH, &Request::Auth(packet));
            self.auth_in_flight.push_back((scheme, vec![id]));
        } else {
            self.credentials[index].waiting.push(id);
        }
    }

    pub(super) fn next_xid(&mut self) -> Xid {
        let xid = self.next_xid;
        self.next_xid = if self.next_xid == i32::MAX {
            1
        } else {
            self.next_xid + 1
        };
        Xid(xid)
    }

    /// Queues `prepared` for call `id` (none for the session's own requests); `watch_unwanted`:
    /// the watch its reply registers is forgotten at once (nobody receives it).
    pub(super) fn enqueue(
        &mut self,
        prepared: Prepared,
        id: Option<RequestId>,
        watch_unwanted: bool,
        now: Instant,
    ) {
        let xid = self.next_xid();
        let before = self.outbox.len();
        write_request(&mut self.outbox, xid, &prepared.request);
        if tracing::enabled!(tracing::Level::TRACE) {
            self.trace_request(xid, prepared.request.opcode(), self.outbox.len() - before);
        }
        let deadline = now + self.queue_timeout();
        if self.queued.is_empty() && !matches!(self.phase, Phase::Ready(_)) {
            self.timers.set(Timer::QueueDeadline, deadline);
        }
        self.queued.push_back(Queued {
            request: InFlight {
                xid,
                op: prepared.request.opcode(),
                id,
                after: prepared.after,
                timed_out: None,
                watch_unwanted,
            },
            frame_len: self.outbox.len() - before,
            deadline,
        });
        self.recycle_path(prepared.request);
    }

    /// Keeps the path buffer of an encoded request for the next one.
    pub(super) fn recycle_path(&mut self, request: Request) {
        const MAX_SPARE: usize = 4;
        if self.spare_paths.len() >= MAX_SPARE {
            return;
        }
        let path = match request {
            Request::GetData(r)
            | Request::Exists(r)
            | Request::GetChildren(r)
            | Request::GetChildren2(r) => r.path,
            Request::SetData(r) => r.path,
            Request::Delete(r) => r.path,
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => r.path,
            _ => return,
        };
        self.spare_paths.push(path);
    }

    /// Logs a request (TRACE); out of line, so the request path carries only the level check.
    #[cold]
    #[inline(never)]
    fn trace_request(&self, xid: Xid, op: OpCode, bytes: usize) {
        tracing::trace!(parent: &self.span, xid = xid.0, op = ?op, bytes, "request");
    }
}
