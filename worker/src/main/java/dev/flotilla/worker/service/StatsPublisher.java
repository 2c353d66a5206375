package dev.flotilla.worker.service;

import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.worker.runtime.WorkerHolder;
import dev.flotilla.worker.runtime.WorkerRuntime;
import dev.flotilla.worker.scheduler.SchedulerSnapshot;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * Streams {@link WorkerStats} to each subscriber at its interval until it cancels, and at once when
 * capacity frees up.
 *
 * <p>Gateways admit requests against the load of the last report, counting their own requests
 * themselves; the rest of the load (other gateways', other clients') they know only from reports.
 * When that load ends, a gateway would go on seeing the worker full until the next report and hold
 * its requests for up to an interval (up to a second by default), however many arrive meanwhile. So
 * every {@link #CAPACITY_CHECK_MS} the publisher looks at the scheduler and sends an extra report
 * to each subscriber whose last report counted at least {@code max(1, max batch / 8)} more
 * sequences than run now. Rising load is not pushed: the gateway counts its own, and a worker queue
 * absorbs what it misjudges.
 */
public final class StatsPublisher implements AutoCloseable {
  static final long CAPACITY_CHECK_MS = 20;

  private final Supplier<Sample> snapshots;
  private final HeldPrefixes heldPrefixes;
  private final Set<Subscription> subscriptions = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "flotilla-stats");
            t.setDaemon(true);
            return t;
          });

  public StatsPublisher(WorkerHolder holder) {
    this(holder, new HeldPrefixes());
  }

  private StatsPublisher(WorkerHolder holder, HeldPrefixes heldPrefixes) {
    this(() -> snapshotOf(holder, heldPrefixes), heldPrefixes);
  }

  /** The worker's state at one moment (tokens/s left at 0) and the tokens it generated so far. */
  record Sample(WorkerStats stats, long tokensGenerated) {}

  StatsPublisher(Supplier<Sample> snapshots) {
    this(snapshots, new HeldPrefixes());
  }

  private StatsPublisher(Supplier<Sample> snapshots, HeldPrefixes heldPrefixes) {
    this.snapshots = snapshots;
    this.heldPrefixes = heldPrefixes;
    timer.scheduleWithFixedDelay(
        this::reportFreedCapacity, CAPACITY_CHECK_MS, CAPACITY_CHECK_MS, TimeUnit.MILLISECONDS);
  }

  /** Sends a snapshot now and then every {@code intervalMs}, and early when capacity frees up. */
  public void subscribe(int intervalMs, StreamObserver<WorkerStats> observer) {
    Subscription sub = new Subscription(observer);
    ScheduledFuture<?> task =
        timer.scheduleAtFixedRate(sub::send, 0, intervalMs, TimeUnit.MILLISECONDS);
    sub.task.set(task);
    subscriptions.add(sub);
    if (observer instanceof ServerCallStreamObserver<WorkerStats> call) {
      call.setOnCancelHandler(sub::cancel);
    }
  }

  /** On the timer thread, like every send: a subscription's reports never race. */
  private void reportFreedCapacity() {
    if (subscriptions.isEmpty()) {
      return;
    }
    WorkerStats now = snapshots.get().stats();
    int load = now.getRunningSequences() + now.getQueueDepth();
    int enough = Math.max(1, now.getMaxBatchSize() / 8);
    for (Subscription sub : subscriptions) {
      if (sub.reportedLoad - load >= enough) {
        sub.send();
      }
    }
  }

  /** The prompt prefixes reports carry; requests record theirs when admitted. */
  public HeldPrefixes heldPrefixes() {
    return heldPrefixes;
  }

  /** The current state as one message (tokens/s left at 0). */
  public WorkerStats current() {
    return snapshots.get().stats();
  }

  private static Sample snapshotOf(WorkerHolder holder, HeldPrefixes heldPrefixes) {
    long[] tokens = {0};
    WorkerStats.Builder b =
        WorkerStats.newBuilder()
            .setWorkerId(holder.workerId())
            .setModel(holder.modelName())
            .setServing(holder.serving())
            .setDraining(holder.state() == WorkerHolder.State.DRAINING)
            .setTimestampMs(System.currentTimeMillis());
    holder
        .runtime()
        .ifPresent(
            r -> {
              b.setDevice(r.device())
                  .setWeightDtype(r.modelInfo().weightDtype())
                  .setWeightBytes(r.modelInfo().weightBytes());
              r.gpu()
                  .ifPresent(
                      g ->
                          b.setGpuName(g.name())
                              .setGpuMemoryTotalBytes(g.totalBytes())
                              .setGpuMemoryEngineBytes(g.engineBytes()));
            });
    holder
        .runtime()
        .map(WorkerRuntime::scheduler)
        .ifPresent(
            s -> {
              SchedulerSnapshot snap = s.snapshot();
              tokens[0] = snap.tokensGenerated();
              putScheduler(b, snap);
              b.setHeldPrefixes(heldPrefixes.filter())
                  .setDraining(snap.draining() || holder.state() == WorkerHolder.State.DRAINING);
            });
    return new Sample(b.build(), tokens[0]);
  }

  /** The scheduler's part of a report. */
  static WorkerStats.Builder putScheduler(WorkerStats.Builder b, SchedulerSnapshot snap) {
    return b.setQueueDepth(snap.queueDepth())
        .setRunningSequences(snap.running())
        .setFreeKvBlocks(snap.freeKvBlocks())
        .setTotalKvBlocks(snap.totalKvBlocks())
        .setKvBlockSize(snap.kvBlockSize())
        .setKvBytesPerBlock(snap.kvBytesPerBlock())
        .addAllResidentAdapters(snap.residentAdapters())
        .addAllLoadingAdapters(snap.loadingAdapters())
        .addAllHostAdapters(snap.hostAdapterNames())
        .setHostAdapterBytes(snap.adapterHostBytes())
        .setResidentAdapterBytes(snap.adapterPoolBytes())
        .setAdapterSlots(adapterSlotsOnTheWire(snap.adapterSlots()))
        .setMaxBatchSize(snap.maxBatchSize())
        .setDraining(snap.draining());
  }

  /**
   * {@code adapter_slots} as worker.proto defines it: 0 for no cap on the count (the scheduler's
   * {@link Integer#MAX_VALUE}), -1 for adapters off (the scheduler's 0), else the cap.
   */
  static int adapterSlotsOnTheWire(int schedulerSlots) {
    if (schedulerSlots == Integer.MAX_VALUE) {
      return 0;
    }
    return schedulerSlots == 0 ? -1 : schedulerSlots;
  }

  private final class Subscription {
    final StreamObserver<WorkerStats> observer;
    final AtomicReference<ScheduledFuture<?>> task = new AtomicReference<>();
    long lastTokens = -1;
    long lastNanos;

    /** Running plus queued sequences in the last report sent. */
    int reportedLoad;

    Subscription(StreamObserver<WorkerStats> observer) {
      this.observer = observer;
    }

    void send() {
      long now = System.nanoTime();
      Sample sample = snapshots.get();
      long tokens = sample.tokensGenerated();
      double rate =
          lastTokens < 0 || now == lastNanos ? 0 : (tokens - lastTokens) * 1e9 / (now - lastNanos);
      lastTokens = tokens;
      lastNanos = now;
      WorkerStats stats = sample.stats().toBuilder().setTokensPerSecond(rate).build();
      reportedLoad = stats.getRunningSequences() + stats.getQueueDepth();
      try {
        observer.onNext(stats);
      } catch (RuntimeException e) {
        cancel();
      }
    }

    void cancel() {
      subscriptions.remove(this);
      ScheduledFuture<?> t = task.get();
      if (t != null) {
        t.cancel(false);
      }
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
