package dev.flotilla.worker.service;

import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.worker.runtime.WorkerHolder;
import dev.flotilla.worker.runtime.WorkerRuntime;
import dev.flotilla.worker.scheduler.SchedulerSnapshot;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** Streams {@link WorkerStats} to each subscriber at its interval until it cancels. */
public final class StatsPublisher implements AutoCloseable {
    private final WorkerHolder holder;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "flotilla-stats");
        t.setDaemon(true);
        return t;
    });

    public StatsPublisher(WorkerHolder holder) {
        this.holder = holder;
    }

    /** Sends a snapshot now and then every {@code intervalMs}. */
    public void subscribe(int intervalMs, StreamObserver<WorkerStats> observer) {
        Subscription sub = new Subscription(observer);
        ScheduledFuture<?> task = timer.scheduleAtFixedRate(sub::send, 0, intervalMs, TimeUnit.MILLISECONDS);
        sub.task.set(task);
        if (observer instanceof ServerCallStreamObserver<WorkerStats> call) {
            call.setOnCancelHandler(() -> task.cancel(false));
        }
    }

    /** The current state as one message (tokens/s left at 0). */
    public WorkerStats current() {
        WorkerStats.Builder b = WorkerStats.newBuilder().setWorkerId(holder.workerId()).setModel(holder.modelName())
                .setServing(holder.serving()).setDraining(holder.state() == WorkerHolder.State.DRAINING)
                .setTimestampMs(System.currentTimeMillis());
        holder.runtime().map(WorkerRuntime::scheduler).ifPresent(s -> {
            SchedulerSnapshot snap = s.snapshot();
            b.setQueueDepth(snap.queueDepth()).setRunningSequences(snap.running()).setFreeKvBlocks(snap.freeKvBlocks())
                    .setTotalKvBlocks(snap.totalKvBlocks()).setKvBlockSize(snap.kvBlockSize())
                    .addAllResidentAdapters(snap.residentAdapters()).addAllLoadingAdapters(snap.loadingAdapters())
                    .setAdapterSlots(snap.adapterSlots()).setMaxBatchSize(snap.maxBatchSize())
                    .setDraining(snap.draining() || holder.state() == WorkerHolder.State.DRAINING);
        });
        return b.build();
    }

    private long tokensGenerated() {
        return holder.runtime().map(r -> r.scheduler().snapshot().tokensGenerated()).orElse(0L);
    }

    private final class Subscription {
        final StreamObserver<WorkerStats> observer;
        final AtomicReference<ScheduledFuture<?>> task = new AtomicReference<>();
        long lastTokens = -1;
        long lastNanos;

        Subscription(StreamObserver<WorkerStats> observer) {
            this.observer = observer;
        }

        void send() {
            long now = System.nanoTime();
            long tokens = tokensGenerated();
            double rate = lastTokens < 0 || now == lastNanos ? 0 : (tokens - lastTokens) * 1e9 / (now - lastNanos);
            lastTokens = tokens;
            lastNanos = now;
            try {
                observer.onNext(current().toBuilder().setTokensPerSecond(rate).build());
            } catch (RuntimeException e) {
                ScheduledFuture<?> t = task.get();
                if (t != null) {
                    t.cancel(false);
                }
            }
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
