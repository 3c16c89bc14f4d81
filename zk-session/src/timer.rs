//! The session's timers: a fixed table with one optional deadline per kind; the next deadline is
//! its minimum.

use std::time::Instant;

/// Every timer the session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The current connection attempt (TCP connect and handshake) must finish by then.
    Connect,
    /// A complete frame must arrive by then, or the connection is dead (2/3 of the timeout).
    Read,
    /// Send a ping if nothing was sent by then.
    Ping,
    /// Start the next connection attempt.
    Backoff,
    /// Declare the session expired when no server has confirmed it by then.
    ClientExpiry,
    /// Give up waiting for the closeSession reply.
    Close,
    /// Probe for a read-write server while connected read-only.
    ReadOnlyProbe,
    /// Fail the oldest request still waiting for a connection.
    QueueDeadline,
    /// Fail the calls whose own deadline passed with RequestTimeout.
    CallDeadline,
}

const TIMER_COUNT: usize = 9;

impl Timer {
    /// Every timer, in the order [`crate::Session::handle_timeout`] fires them.
    pub(crate) const ALL: [Timer; TIMER_COUNT] = [
        Timer::Connect,
        Timer::Read,
        Timer::Ping,
        Timer::Backoff,
        Timer::ClientExpiry,
        Timer::Close,
        Timer::ReadOnlyProbe,
        Timer::QueueDeadline,
        Timer::CallDeadline,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// One optional deadline per [`Timer`].
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; TIMER_COUNT],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer.index()] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer.index()] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer.index()]
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; TIMER_COUNT];
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Whether `timer` is due at `now`; a due timer is stopped.
    pub(crate) fn take_if_due(&mut self, timer: Timer, now: Instant) -> bool {
        let slot = &mut self.deadlines[timer.index()];
        match *slot {
            Some(at) if at <= now => {
                *slot = None;
                true
            }
            _ => false,
        }
    }
}
