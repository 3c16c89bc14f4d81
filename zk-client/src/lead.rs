//! A waiting handle's part in driving the session inline: what a [`crate::reply::Reply`], a
//! [`crate::Watch`] or a [`crate::WatchStream`] tells the runtime's [`InlineDriver`] while its
//! task waits, so that the task that is about to sleep on the session polls it on its own
//! thread (see [`InlineDriver`]). Without an inline driver (a driver task) it does nothing.

use std::sync::Arc;
use std::task::Waker;

use crate::runtime::InlineDriver;

/// One waiting handle's place among the inline driver's waiters: led (its task gets the
/// driver's wake-ups) from [`Lead::wait`] until [`Lead::resign`] or drop.
#[derive(Debug)]
pub(crate) struct Lead {
    inline: Option<Arc<dyn InlineDriver>>,
    /// The token while leading, 0 otherwise.
    token: u64,
}

impl Lead {
    pub(crate) fn new(inline: Option<Arc<dyn InlineDriver>>) -> Lead {
        Lead { inline, token: 0 }
    }

    /// Whether the session is driven inline.
    pub(crate) fn is_inline(&self) -> bool {
        self.inline.is_some()
    }

    /// The handle's task is about to sleep on the session: polls the driver now if it has work
    /// and routes its next wake-up to `waker`.
    pub(crate) fn wait(&mut self, waker: &Waker) {
        self.lead(waker, <dyn InlineDriver>::wait);
    }

    /// As [`Lead::wait`], for a watch event (see [`InlineDriver::wait_for_event`]).
    pub(crate) fn wait_for_event(&mut self, waker: &Waker) {
        self.lead(waker, <dyn InlineDriver>::wait_for_event);
    }

    fn lead(&mut self, waker: &Waker, wait: fn(&dyn InlineDriver, u64, &Waker)) {
        if let Some(inline) = &self.inline {
            if self.token == 0 {
                self.token = inline.new_token();
            }
            wait(inline.as_ref(), self.token, waker);
        }
    }

    /// The task will block (or drops its call): what was submitted goes out now.
    pub(crate) fn flush(&self) {
        if let Some(inline) = &self.inline {
            inline.flush();
        }
    }

    /// The handle waits no more (what it waited for came): the driver's wake-ups go elsewhere.
    pub(crate) fn resign(&mut self) {
        if let Some(inline) = &self.inline {
            if self.token != 0 {
                inline.resign(std::mem::take(&mut self.token));
            }
        }
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        self.resign();
    }
}
