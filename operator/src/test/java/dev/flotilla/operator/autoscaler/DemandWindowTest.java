package dev.flotilla.operator.autoscaler;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class DemandWindowTest {
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private static final Duration STABLE = Duration.ofSeconds(60);
  private static final Duration PANIC = Duration.ofSeconds(6);
  private static final Duration EXPIRY = Duration.ofSeconds(30);

  @Test
  void averagesPerGatewayOverEachWindowAndSumsGateways() {
    DemandWindow w = new DemandWindow();
    for (int s = 0; s < 60; s++) {
      w.record("gw-a", T0.plusSeconds(s), s < 50 ? 0 : 12, 0);
      w.record("gw-b", T0.plusSeconds(s), 4, 0);
    }
    DemandSnapshot snap = w.snapshot(T0.plusSeconds(59), STABLE, PANIC, EXPIRY);
    assertThat(snap.reporting()).isTrue();
    assertThat(snap.stableConcurrency()).isEqualTo(12.0 * 10 / 60 + 4);
    assertThat(snap.panicConcurrency()).isEqualTo(12 + 4);
    assertThat(snap.latestConcurrency()).isEqualTo(16);
  }

  @Test
  void silentGatewaysExpireAndHeldRequestsComeFromTheLatestReports() {
    DemandWindow w = new DemandWindow();
    w.record("gone", T0, 50, 3);
    w.record("alive", T0.plusSeconds(40), 2, 1);
    DemandSnapshot snap = w.snapshot(T0.plusSeconds(41), STABLE, PANIC, EXPIRY);
    assertThat(snap.latestConcurrency()).isEqualTo(2);
    assertThat(snap.held()).isEqualTo(1);
    assertThat(w.snapshot(T0.plusSeconds(100), STABLE, PANIC, EXPIRY))
        .isEqualTo(DemandSnapshot.NONE);
    assertThat(w.isEmpty()).isTrue();
  }
}
