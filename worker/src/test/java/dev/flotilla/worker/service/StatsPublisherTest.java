package dev.flotilla.worker.service;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.worker.scheduler.SchedulerSnapshot;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Reports go out at the subscriber's interval and, between them, as soon as enough capacity frees
 * up; here the interval is a minute, so any second report within the test is an early one.
 */
class StatsPublisherTest {
  private static WorkerStats load(int running, int queued) {
    return WorkerStats.newBuilder()
        .setWorkerId("w")
        .setServing(true)
        .setMaxBatchSize(64)
        .setRunningSequences(running)
        .setQueueDepth(queued)
        .build();
  }

  private static StreamObserver<WorkerStats> into(BlockingQueue<WorkerStats> reports) {
    return new StreamObserver<>() {
      @Override
      public void onNext(WorkerStats s) {
        reports.add(s);
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    };
  }

  @Test
  void aWorkerThatEmptiesReportsAtOnceAndSmallDropsWaitForTheInterval() throws Exception {
    AtomicReference<WorkerStats> state = new AtomicReference<>(load(60, 4));
    BlockingQueue<WorkerStats> reports = new LinkedBlockingQueue<>();
    try (StatsPublisher publisher =
        new StatsPublisher(() -> new StatsPublisher.Sample(state.get(), 0))) {
      publisher.subscribe(60_000, into(reports));
      WorkerStats first = reports.poll(10, TimeUnit.SECONDS);
      assertThat(first).isNotNull();
      assertThat(first.getRunningSequences() + first.getQueueDepth()).isEqualTo(64);

      // Seven fewer of 64 is less than an eighth of the batch: not worth a report.
      state.set(load(57, 0));
      assertThat(reports.poll(10 * StatsPublisher.CAPACITY_CHECK_MS, TimeUnit.MILLISECONDS))
          .isNull();

      // The other load went away: the subscriber hears it long before its next report.
      state.set(load(2, 0));
      WorkerStats early = reports.poll(10, TimeUnit.SECONDS);
      assertThat(early).as("an early report when capacity freed up").isNotNull();
      assertThat(early.getRunningSequences()).isEqualTo(2);

      // Measured against the last report sent (2 sequences), nothing more has freed up.
      state.set(load(0, 0));
      assertThat(reports.poll(10 * StatsPublisher.CAPACITY_CHECK_MS, TimeUnit.MILLISECONDS))
          .isNull();
    }
  }

  private static SchedulerSnapshot adapters(int slots, List<String> host, long hostBytes) {
    return new SchedulerSnapshot(
        0,
        0,
        90,
        100,
        16,
        4096,
        List.of("a"),
        List.of(),
        host.size(),
        host,
        8192,
        hostBytes,
        slots,
        64,
        0,
        false);
  }

  @Test
  void noAdapterCapIsReportedAsZeroAndAdaptersOffAsMinusOne() {
    assertThat(
            StatsPublisher.putScheduler(
                    WorkerStats.newBuilder(), adapters(Integer.MAX_VALUE, List.of(), 0))
                .getAdapterSlots())
        .isZero();
    assertThat(
            StatsPublisher.putScheduler(WorkerStats.newBuilder(), adapters(0, List.of(), 0))
                .getAdapterSlots())
        .isEqualTo(-1);
    assertThat(
            StatsPublisher.putScheduler(WorkerStats.newBuilder(), adapters(8, List.of(), 0))
                .getAdapterSlots())
        .isEqualTo(8);
  }

  @Test
  void reportsTheHostTierAndThePoolsBytes() {
    WorkerStats stats =
        StatsPublisher.putScheduler(
                WorkerStats.newBuilder(), adapters(Integer.MAX_VALUE, List.of("b", "c"), 12_288))
            .build();
    assertThat(stats.getResidentAdaptersList()).containsExactly("a");
    assertThat(stats.getHostAdaptersList()).containsExactly("b", "c");
    assertThat(stats.getHostAdapterBytes()).isEqualTo(12_288);
    assertThat(stats.getResidentAdapterBytes()).isEqualTo(8192);
  }
}
