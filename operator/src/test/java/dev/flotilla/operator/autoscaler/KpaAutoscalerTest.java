package dev.flotilla.operator.autoscaler;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class KpaAutoscalerTest {
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  /** min 0, max 10, 8 per replica, stable 60 s, panic ×2, to zero after 5 min, cold start 2 min. */
  private static final KpaAutoscaler.Policy POLICY = policy(0, 10, null);

  private static KpaAutoscaler.Policy policy(int min, int max, Integer pinned) {
    return policy(min, max, pinned, true);
  }

  private static KpaAutoscaler.Policy policy(
      int min, int max, Integer pinned, boolean scaleToZeroEnabled) {
    return new KpaAutoscaler.Policy(
        min,
        max,
        8,
        Duration.ofSeconds(60),
        2.0,
        Duration.ofMinutes(5),
        Duration.ofMinutes(2),
        pinned,
        scaleToZeroEnabled);
  }

  /** {@link #POLICY} in a cluster where scale to zero is off. */
  private static final KpaAutoscaler.Policy NO_SCALE_TO_ZERO = policy(0, 10, null, false);

  private static DemandSnapshot demand(double stable, double panic, int held) {
    return DemandSnapshot.of(stable, panic, panic, held);
  }

  private static KpaAutoscaler.Memory demandedAgo(Duration ago) {
    return new KpaAutoscaler.Memory(T0.minus(ago), T0.minus(Duration.ofHours(1)), null, null);
  }

  static Stream<Arguments> table() {
    return Stream.of(
        // name, demand, current, ready, previous desired, memory, expected desired
        Arguments.of(
            "stable: ceil(20 / 8)", demand(20, 20, 0), 3, 3, 3, demandedAgo(Duration.ZERO), 3),
        Arguments.of(
            "stable: scales down when demand falls",
            demand(9, 9, 0),
            4,
            4,
            4,
            demandedAgo(Duration.ZERO),
            2),
        Arguments.of(
            "bounded by max", demand(400, 100, 0), 10, 10, 10, demandedAgo(Duration.ZERO), 10),
        Arguments.of(
            "no demand, idle 1 min: one stays",
            demand(0, 0, 0),
            2,
            2,
            2,
            demandedAgo(Duration.ofMinutes(1)),
            1),
        Arguments.of(
            "no demand, idle 5 min: to zero",
            demand(0, 0, 0),
            1,
            1,
            1,
            demandedAgo(Duration.ofMinutes(5)),
            0),
        Arguments.of(
            "at zero without demand stays",
            demand(0, 0, 0),
            0,
            0,
            0,
            demandedAgo(Duration.ofHours(2)),
            0),
        Arguments.of(
            "held request at zero: one at once",
            demand(0, 0, 1),
            0,
            0,
            0,
            demandedAgo(Duration.ofHours(2)),
            1),
        Arguments.of(
            "panic: 40 in the panic window, 1 ready",
            demand(8, 40, 0),
            1,
            1,
            1,
            demandedAgo(Duration.ZERO),
            5),
        Arguments.of(
            "starting replicas are not scaled away",
            demand(8, 8, 0),
            4,
            1,
            4,
            new KpaAutoscaler.Memory(T0, T0.minusSeconds(30), null, null),
            4),
        Arguments.of(
            "…unless they took longer than coldStartTimeout",
            demand(8, 8, 0),
            4,
            1,
            4,
            new KpaAutoscaler.Memory(T0, T0.minus(Duration.ofMinutes(3)), null, null),
            1),
        Arguments.of(
            "no reports (restart): keep the previous count",
            DemandSnapshot.NONE,
            3,
            3,
            3,
            demandedAgo(Duration.ofMinutes(1)),
            3),
        Arguments.of(
            "no reports, idle clock ran out: zero",
            DemandSnapshot.NONE,
            3,
            3,
            3,
            demandedAgo(Duration.ofMinutes(6)),
            0));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("table")
  void decides(
      String name,
      DemandSnapshot demand,
      int current,
      int ready,
      int previous,
      KpaAutoscaler.Memory memory,
      int expected) {
    KpaAutoscaler.Decision d =
        KpaAutoscaler.decide(
            POLICY, demand, new KpaAutoscaler.Observed(current, ready, previous), memory, T0);
    assertThat(d.desired()).as(d.reason()).isEqualTo(expected);
  }

  @Test
  void minReplicasKeepsWorkersThroughIdleness() {
    KpaAutoscaler.Decision d =
        KpaAutoscaler.decide(
            policy(2, 10, null),
            demand(0, 0, 0),
            new KpaAutoscaler.Observed(2, 2, 2),
            demandedAgo(Duration.ofHours(1)),
            T0);
    assertThat(d.desired()).isEqualTo(2);
  }

  static Stream<Arguments> scaleToZeroOff() {
    return Stream.of(
        // name, demand, current, ready, previous desired, memory
        Arguments.of(
            "idle past scaleToZeroAfter",
            demand(0, 0, 0),
            1,
            1,
            1,
            demandedAgo(Duration.ofHours(2))),
        Arguments.of(
            "at zero when the cluster turned scale to zero off",
            demand(0, 0, 0),
            0,
            0,
            0,
            demandedAgo(Duration.ofHours(2))),
        Arguments.of(
            "no reports and the idle clock ran out",
            DemandSnapshot.NONE,
            1,
            1,
            1,
            demandedAgo(Duration.ofMinutes(6))),
        Arguments.of(
            "first decision, no demand ever",
            DemandSnapshot.NONE,
            0,
            0,
            null,
            KpaAutoscaler.Memory.EMPTY));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("scaleToZeroOff")
  void withScaleToZeroOffForTheClusterOneWorkerStaysWhateverMinReplicasSays(
      String name,
      DemandSnapshot demand,
      int current,
      int ready,
      Integer previous,
      KpaAutoscaler.Memory memory) {
    KpaAutoscaler.Decision d =
        KpaAutoscaler.decide(
            NO_SCALE_TO_ZERO,
            demand,
            new KpaAutoscaler.Observed(current, ready, previous),
            memory,
            T0);
    assertThat(d.desired()).as(d.reason()).isEqualTo(1);
    assertThat(d.reason()).doesNotContain("scaling to zero", "scaleToZeroAfter");
  }

  @Test
  void withScaleToZeroOffTheReasonSaysWhyOneStays() {
    KpaAutoscaler.Decision d =
        KpaAutoscaler.decide(
            NO_SCALE_TO_ZERO,
            demand(0, 0, 0),
            new KpaAutoscaler.Observed(1, 1, 1),
            demandedAgo(Duration.ofHours(2)),
            T0);
    assertThat(d.reason())
        .isEqualTo(
            "the stable window asks for 0 replicas at 8 concurrent each;"
                + " scale to zero is off for the cluster: keeping 1");
  }

  @Test
  void withScaleToZeroOffDemandStillScalesAboveOne() {
    KpaAutoscaler.Decision d =
        KpaAutoscaler.decide(
            NO_SCALE_TO_ZERO,
            demand(20, 20, 0),
            new KpaAutoscaler.Observed(3, 3, 3),
            demandedAgo(Duration.ZERO),
            T0);
    assertThat(d.desired()).isEqualTo(3);
    assertThat(d.reason()).doesNotContain("scale to zero");
  }

  @Test
  void withScaleToZeroOffOnlyAnExplicitZeroStopsAModel() {
    KpaAutoscaler.Observed running = new KpaAutoscaler.Observed(1, 1, 1);
    KpaAutoscaler.Memory idle = demandedAgo(Duration.ofHours(2));
    assertThat(
            KpaAutoscaler.decide(policy(0, 0, null, false), demand(0, 0, 0), running, idle, T0)
                .desired())
        .as("maxReplicas 0")
        .isZero();
    assertThat(
            KpaAutoscaler.decide(policy(0, 4, 0, false), demand(0, 0, 0), running, idle, T0)
                .desired())
        .as("spec.replicas pinned to 0")
        .isZero();
  }

  @Test
  void pinnedReplicasWinWithinZeroToMax() {
    KpaAutoscaler.Decision d =
        KpaAutoscaler.decide(
            policy(1, 4, 7),
            demand(100, 100, 0),
            new KpaAutoscaler.Observed(1, 1, 1),
            KpaAutoscaler.Memory.EMPTY,
            T0);
    assertThat(d.desired()).isEqualTo(4);
    assertThat(d.reason()).contains("spec.replicas pins");
    assertThat(
            KpaAutoscaler.decide(
                    policy(1, 4, 0),
                    demand(100, 100, 0),
                    new KpaAutoscaler.Observed(1, 1, 1),
                    KpaAutoscaler.Memory.EMPTY,
                    T0)
                .desired())
        .isZero();
  }

  @Test
  void panicNeverScalesDownAndEndsAStableWindowAfterTheLastBurst() {
    KpaAutoscaler.Observed observed = new KpaAutoscaler.Observed(5, 5, 5);
    KpaAutoscaler.Decision burst =
        KpaAutoscaler.decide(
            POLICY,
            demand(8, 90, 0),
            new KpaAutoscaler.Observed(1, 1, 1),
            demandedAgo(Duration.ZERO),
            T0);
    assertThat(burst.panicking()).isTrue();
    assertThat(burst.desired()).isEqualTo(10);

    // Demand falls but not for a whole stable window: panic holds the count.
    KpaAutoscaler.Decision calm =
        KpaAutoscaler.decide(
            POLICY,
            demand(8, 8, 0),
            new KpaAutoscaler.Observed(10, 10, 10),
            burst.memory(),
            T0.plusSeconds(30));
    assertThat(calm.panicking()).isTrue();
    assertThat(calm.desired()).isEqualTo(10);

    // A stable window after the last burst: back to stable mode, down to what demand needs.
    KpaAutoscaler.Decision after =
        KpaAutoscaler.decide(
            POLICY,
            demand(8, 8, 0),
            new KpaAutoscaler.Observed(10, 10, 10),
            calm.memory(),
            T0.plusSeconds(61));
    assertThat(after.panicking()).isFalse();
    assertThat(after.desired()).isEqualTo(1);
    assertThat(observed.currentReplicas()).isEqualTo(5);
  }

  @Test
  void idleClockSurvivesARestartBecauseItComesFromStatus() {
    // Demand last seen 4 minutes before the restart; the new process has no samples and no memory.
    KpaAutoscaler.Memory fromStatus =
        new KpaAutoscaler.Memory(T0.minus(Duration.ofMinutes(4)), null, null, null);
    KpaAutoscaler.Decision justAfter =
        KpaAutoscaler.decide(
            POLICY, DemandSnapshot.NONE, new KpaAutoscaler.Observed(1, 1, 1), fromStatus, T0);
    assertThat(justAfter.desired()).isEqualTo(1);
    assertThat(justAfter.memory().lastDemandTime()).isEqualTo(T0.minus(Duration.ofMinutes(4)));
    KpaAutoscaler.Decision oneMinuteLater =
        KpaAutoscaler.decide(
            POLICY,
            DemandSnapshot.NONE,
            new KpaAutoscaler.Observed(1, 1, 1),
            justAfter.memory(),
            T0.plus(Duration.ofMinutes(1)));
    assertThat(oneMinuteLater.desired()).isZero();
  }

  @Test
  void aRestartWithoutThePreviousDecisionDoesNotRestartTheColdStartClock() {
    // One replica scaled up 4 minutes ago and never ready (its cold start ran out at 2 minutes);
    // the new process cannot read the previous desired count from status.
    KpaAutoscaler.Memory fromStatus =
        new KpaAutoscaler.Memory(
            T0.minus(Duration.ofMinutes(4)), T0.minus(Duration.ofMinutes(4)), null, null);
    KpaAutoscaler.Decision afterRestart =
        KpaAutoscaler.decide(
            POLICY, DemandSnapshot.NONE, new KpaAutoscaler.Observed(1, 0, null), fromStatus, T0);
    assertThat(afterRestart.desired()).as(afterRestart.reason()).isEqualTo(1);
    assertThat(afterRestart.memory().lastScaleTime())
        .as("nothing was scaled")
        .isEqualTo(T0.minus(Duration.ofMinutes(4)));

    KpaAutoscaler.Decision idleRanOut =
        KpaAutoscaler.decide(
            POLICY,
            DemandSnapshot.NONE,
            new KpaAutoscaler.Observed(1, 0, 1),
            afterRestart.memory(),
            T0.plus(Duration.ofSeconds(61)));
    assertThat(idleRanOut.desired()).as(idleRanOut.reason()).isZero();
  }

  @Test
  void demandMovesTheIdleClockAndAFirstDecisionStartsIt() {
    KpaAutoscaler.Decision first =
        KpaAutoscaler.decide(
            POLICY,
            DemandSnapshot.NONE,
            new KpaAutoscaler.Observed(0, 0, null),
            KpaAutoscaler.Memory.EMPTY,
            T0);
    assertThat(first.memory().lastDemandTime()).isEqualTo(T0);
    assertThat(first.desired()).isZero();
    KpaAutoscaler.Decision busy =
        KpaAutoscaler.decide(
            POLICY,
            demand(4, 4, 0),
            new KpaAutoscaler.Observed(1, 1, 1),
            first.memory(),
            T0.plusSeconds(10));
    assertThat(busy.memory().lastDemandTime()).isEqualTo(T0.plusSeconds(10));
  }
}
