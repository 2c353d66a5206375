package dev.flotilla.gateway.route;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.worker.v1.WorkerStats;
import org.junit.jupiter.api.Test;

class WorkerRegistryTest {
  private static final String MODEL = "default/m";

  private final WorkerRegistry registry = new WorkerRegistry();

  private WorkerView view() {
    return registry.views(MODEL).get(0);
  }

  private void report(int running, int queued) {
    registry.updateStats(
        "w",
        WorkerStats.newBuilder()
            .setServing(true)
            .setMaxBatchSize(4)
            .setRunningSequences(running)
            .setQueueDepth(queued)
            .build());
  }

  @Test
  void aSlotFreedSinceTheLastReportCanBeUsedAtOnce() {
    registry.upsert(new WorkerRegistry.Endpoint("w", MODEL, "127.0.0.1:1"));
    for (int i = 0; i < 4; i++) {
      registry.dispatched("w", null);
    }
    report(4, 0); // the worker is full with this gateway's four requests
    assertThat(view().freeSlots()).isZero();

    registry.finished("w"); // one ends before the next report
    assertThat(view().load()).isEqualTo(3);
    assertThat(view().freeSlots()).isEqualTo(1);
  }

  @Test
  void otherGatewaysRequestsInTheReportStillCount() {
    registry.upsert(new WorkerRegistry.Endpoint("w", MODEL, "127.0.0.1:1"));
    registry.dispatched("w", null);
    report(3, 1); // one of ours, three from other gateways (one queued)
    assertThat(view().load()).isEqualTo(4);

    registry.finished("w");
    assertThat(view().load()).isEqualTo(3);
    registry.dispatched("w", null);
    registry.dispatched("w", null);
    assertThat(view().load()).isEqualTo(5);
    assertThat(view().freeSlots()).isZero();
  }

  @Test
  void aRequestThatEndedWhileTheReportTravelledIsNotTakenForAnotherGateways() {
    registry.upsert(new WorkerRegistry.Endpoint("w", MODEL, "127.0.0.1:1"));
    for (int i = 0; i < 4; i++) {
      registry.dispatched("w", null);
    }
    registry.finished("w");
    report(4, 0); // taken before that request ended
    assertThat(view().load()).isEqualTo(3);
    assertThat(view().freeSlots()).isEqualTo(1);
  }

  @Test
  void requestsSentAfterTheReportAddToIt() {
    registry.upsert(new WorkerRegistry.Endpoint("w", MODEL, "127.0.0.1:1"));
    report(2, 0); // other gateways' requests only
    registry.dispatched("w", null);
    assertThat(view().load()).isEqualTo(3);
    assertThat(view().freeSlots()).isEqualTo(1);
  }

  @Test
  void theReportsAdapterTiersReachTheView() {
    registry.upsert(new WorkerRegistry.Endpoint("w", MODEL, "127.0.0.1:1"));
    registry.updateStats(
        "w",
        WorkerStats.newBuilder()
            .setServing(true)
            .setMaxBatchSize(4)
            .addResidentAdapters("hot")
            .addHostAdapters("warm")
            .setAdapterSlots(0)
            .build());
    assertThat(view().hasAdapter("hot")).isTrue();
    assertThat(view().hasAdapter("warm")).isFalse();
    assertThat(view().hasAdapterInHost("warm")).isTrue();
    assertThat(view().hasFreeAdapterSlot()).as("no cap on the count").isTrue();
  }
}
