//! One request's trip through the state machine (submit, transmit, feed the 1 KiB getData
//! reply, poll the completion, turn it into the typed result), alone and 256 at a time.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use zk_session::ops::{GetData, Operation};
use zk_session::testing::ConnectedSession;

fn one_request(c: &mut Criterion) {
    let mut s = ConnectedSession::new(1024);
    let op = GetData::new("/app/config/node-0001");
    let mut out = Vec::with_capacity(64 * 1024);
    let mut group = c.benchmark_group("session");
    group.throughput(Throughput::Elements(1));
    group.bench_function("get_data_1KiB_one_at_a_time", |b| {
        b.iter(|| {
            let now = s.now;
            s.session.submit(black_box(&op), now).unwrap();
            out.clear();
            s.session.poll_transmit(now, &mut out);
            black_box(&out);
            s.answer_next();
            let done = s.next_completion().unwrap();
            black_box(op.complete(done.result).unwrap());
        })
    });
    group.finish();
}

fn pipelined(c: &mut Criterion) {
    const DEPTH: u64 = 256;
    let mut s = ConnectedSession::new(1024);
    let op = GetData::new("/app/config/node-0001");
    let mut out = Vec::with_capacity(1 << 20);
    let mut group = c.benchmark_group("session");
    group.throughput(Throughput::Elements(DEPTH));
    group.bench_function("get_data_1KiB_256_pipelined", |b| {
        b.iter_batched(
            || (),
            |_| {
                let now = s.now;
                for _ in 0..DEPTH {
                    s.session.submit(black_box(&op), now).unwrap();
                }
                out.clear();
                s.session.poll_transmit(now, &mut out);
                black_box(&out);
                for _ in 0..DEPTH {
                    s.answer_next();
                }
                for _ in 0..DEPTH {
                    let done = s.next_completion().unwrap();
                    black_box(op.complete(done.result).unwrap());
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, one_request, pipelined);
criterion_main!(benches);
