package dev.flotilla.gateway.queue;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.crd.Priority;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class VtcQueueTest {
  private static final int MAX_PROMPT = 64;
  private static final int MAX_OUTPUT = 32;
  private static final int SLOTS = 4;

  /** One request of the simulation: its costs are drawn up front. */
  private record Req(String tenant, int prompt, int output) {}

  private static final class Running {
    final Req req;
    int left;

    Running(Req req) {
      this.req = req;
      this.left = req.output;
    }
  }

  /**
   * A model with {@link #SLOTS} sequences running at once, one token per sequence per step, serving
   * two tenants whose requests arrive at the given rates (per step).
   */
  private static final class Simulation {
    final VtcQueue<Req> queue = new VtcQueue<>();
    final Map<String, Double> service = new HashMap<>();
    final List<Running> running = new ArrayList<>();
    final Random random = new Random(42);
    final Map<String, Integer> weights;
    final Map<String, Double> rates;
    final Map<String, Double> arrivalDebt = new HashMap<>();

    Simulation(Map<String, Integer> weights, Map<String, Double> rates) {
      this.weights = weights;
      this.rates = rates;
    }

    void step() {
      for (String t : rates.keySet()) {
        double due = arrivalDebt.getOrDefault(t, 0.0) + rates.get(t);
        while (due >= 1) {
          Req r = new Req(t, 1 + random.nextInt(MAX_PROMPT), 1 + random.nextInt(MAX_OUTPUT));
          queue.enqueue(t, weights.get(t), Priority.Normal, r.prompt, r);
          due -= 1;
        }
        arrivalDebt.put(t, due);
      }
      while (running.size() < SLOTS && !queue.isEmpty()) {
        Req r = queue.poll().payload();
        service.merge(r.tenant, VtcQueue.DEFAULT_WP * r.prompt, Double::sum);
        running.add(new Running(r));
      }
      for (Running r : running) {
        r.left--;
        queue.charge(r.req.tenant, 1);
        service.merge(r.req.tenant, VtcQueue.DEFAULT_WQ, Double::sum);
      }
      running.removeIf(r -> r.left == 0);
    }

    double service(String t) {
      return service.getOrDefault(t, 0.0);
    }
  }

  @Test
  void tenLoadedTenantAndOneLoadedTenantGetServiceWithinTheVtcBound() {
    // Capacity is about SLOTS / (MAX_OUTPUT / 2) = 0.25 requests per step; both tenants ask for
    // more than half of it, so both stay backlogged, one at ten times the other's rate.
    Simulation sim =
        new Simulation(Map.of("heavy", 1, "light", 1), Map.of("heavy", 2.0, "light", 0.2));
    double bound = VtcQueue.DEFAULT_WP * MAX_PROMPT + SLOTS * VtcQueue.DEFAULT_WQ * MAX_OUTPUT;
    double worst = 0;
    int backloggedSteps = 0;
    Double baseline = null; // W_heavy - W_light when the current joint backlog began
    for (int step = 0; step < 20_000; step++) {
      double before = sim.service("heavy") - sim.service("light");
      sim.step();
      if (sim.queue.queued("heavy") > 0 && sim.queue.queued("light") > 0) {
        backloggedSteps++;
        if (baseline == null) {
          baseline = before;
        }
        double diff = sim.service("heavy") - sim.service("light");
        worst = Math.max(worst, Math.abs(diff - baseline));
      } else {
        baseline = null;
      }
    }
    assertThat(backloggedSteps).isGreaterThan(19_000);
    // Over any interval in which both stay backlogged, the weighted service they receive differs
    // by at most 2 * (wp*Lin + K*wq*M) = 2 * (64 + 4*2*32) = 640 tokens.
    assertThat(worst).isLessThanOrEqualTo(2 * bound);
    assertThat(sim.service("light")).isGreaterThan(100_000);
    // The counters themselves never drift further apart than the bound.
    assertThat(Math.abs(sim.queue.counter("heavy") - sim.queue.counter("light")))
        .isLessThanOrEqualTo(bound);
  }

  @Test
  void weightsTwoToOneGetServiceTwoToOne() {
    Simulation sim =
        new Simulation(Map.of("gold", 2, "bronze", 1), Map.of("gold", 1.0, "bronze", 1.0));
    for (int step = 0; step < 20_000; step++) {
      sim.step();
    }
    assertThat(sim.service("gold") / sim.service("bronze"))
        .isCloseTo(2.0, org.assertj.core.data.Offset.offset(0.02));
    // Weighted counters stay within the bound of each other.
    assertThat(Math.abs(sim.queue.counter("gold") - sim.queue.counter("bronze")))
        .isLessThanOrEqualTo(
            VtcQueue.DEFAULT_WP * MAX_PROMPT + SLOTS * VtcQueue.DEFAULT_WQ * MAX_OUTPUT);
  }

  @Test
  void higherBandsAreServedStrictlyFirst() {
    VtcQueue<String> q = new VtcQueue<>();
    q.enqueue("a", 1, Priority.Low, 1, "low");
    q.enqueue("b", 1, Priority.Normal, 1, "normal");
    q.enqueue("c", 1, Priority.High, 1_000_000, "high-1");
    q.enqueue("c", 1, Priority.High, 1, "high-2");
    assertThat(
            List.of(q.poll().payload(), q.poll().payload(), q.poll().payload(), q.poll().payload()))
        .containsExactly("high-1", "high-2", "normal", "low");
    assertThat(q.poll()).isNull();
  }

  @Test
  void aNewlyActiveTenantIsLiftedToTheSmallestActiveCounter() {
    VtcQueue<String> q = new VtcQueue<>(1, 2);
    for (int i = 0; i < 3; i++) {
      q.enqueue("busy", 1, Priority.Normal, 100, "busy-" + i);
    }
    q.poll();
    q.poll(); // busy's counter is now 200, one request still queued
    q.enqueue("newcomer", 1, Priority.Normal, 10, "new");
    assertThat(q.counter("newcomer")).isEqualTo(200.0);
    // Without the lift, the newcomer's zero counter would win every pick until it caught up.
    q.enqueue("newcomer", 1, Priority.Normal, 10, "new-2");
    assertThat(q.poll().payload()).isEqualTo("busy-2"); // tie at 200: the earlier request
    assertThat(q.poll().payload()).isEqualTo("new");
    assertThat(q.poll().payload()).isEqualTo("new-2");
  }

  @Test
  void aTenantReturningToAnEmptyQueueGetsNoCreditForItsIdleTime() {
    VtcQueue<String> q = new VtcQueue<>(1, 2);
    q.enqueue("a", 1, Priority.Normal, 500, "a");
    q.poll();
    q.enqueue("b", 1, Priority.Normal, 5, "b");
    assertThat(q.counter("b")).isEqualTo(500.0);
  }

  @Test
  void removedRequestsAreNotServedAndNotCounted() {
    VtcQueue<String> q = new VtcQueue<>();
    VtcQueue.Entry<String> gone = q.enqueue("a", 1, Priority.Normal, 10, "gone");
    q.enqueue("a", 1, Priority.Normal, 10, "kept");
    assertThat(q.remove(gone)).isTrue();
    assertThat(q.remove(gone)).isFalse();
    assertThat(q.size()).isEqualTo(1);
    assertThat(q.poll().payload()).isEqualTo("kept");
    assertThat(q.remove(gone)).isFalse();
    assertThat(q.isEmpty()).isTrue();
  }

  @Test
  void outputTokensAreChargedByWeight() {
    VtcQueue<String> q = new VtcQueue<>(1, 2);
    q.enqueue("w4", 4, Priority.Normal, 8, "x");
    q.poll();
    q.charge("w4", 10);
    assertThat(q.counter("w4")).isEqualTo(8 / 4.0 + 2 * 10 / 4.0);
  }
}
