package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The retry decision and the backoff as pure functions: no calls, no clocks. */
class RetryPlannerTest {
  private static final Duration PLENTY = Duration.ofHours(1);

  private final RetryPolicy policy =
      RetryPolicy.builder()
          .maxAttempts(5)
          .initialBackoff(Duration.ofMillis(100))
          .multiplier(2)
          .maxBackoff(Duration.ofSeconds(1))
          .maxServerDelay(Duration.ofSeconds(30))
          .build();

  @Test
  void ceilingGrowsExponentiallyUpToTheCap() {
    RetryPlanner planner = new RetryPlanner(policy, () -> 0.5);

    assertThat(List.of(1, 2, 3, 4, 5, 6, 10_000))
        .extracting(planner::ceiling)
        .containsExactly(
            Duration.ofMillis(100),
            Duration.ofMillis(200),
            Duration.ofMillis(400),
            Duration.ofMillis(800),
            Duration.ofSeconds(1),
            Duration.ofSeconds(1),
            Duration.ofSeconds(1));
  }

  @Test
  void fullJitterStaysWithinZeroAndTheCeiling() {
    RetryPlanner planner = new RetryPlanner(policy, () -> 0.5);
    Random random = new Random(20240611);

    for (int retry = 1; retry <= 8; retry++) {
      Duration ceiling = planner.ceiling(retry);
      for (int i = 0; i < 1000; i++) {
        assertThat(planner.backoff(retry, random.nextDouble())).isBetween(Duration.ZERO, ceiling);
      }
      // The bounds themselves: the whole range is used, from nothing to (just under) the ceiling.
      assertThat(planner.backoff(retry, 0.0)).isEqualTo(Duration.ZERO);
      assertThat(planner.backoff(retry, Math.nextDown(1.0)))
          .isBetween(ceiling.minusNanos(1 + ceiling.toNanos() / 1_000_000), ceiling);
    }
  }

  @Test
  void unavailableWithoutServerDelayBacksOffWithJitter() {
    RetryPlanner planner = new RetryPlanner(policy, () -> 0.25);

    assertThat(planner.delayBeforeRetry(1, unavailable(null), PLENTY))
        .contains(Duration.ofMillis(25));
    assertThat(planner.delayBeforeRetry(3, unavailable(null), PLENTY))
        .contains(Duration.ofMillis(100));
  }

  @Test
  void serverDelayIsHonouredExactlyUpToTheCap() {
    RetryPlanner planner = new RetryPlanner(policy, () -> 0.25);

    assertThat(planner.delayBeforeRetry(1, unavailable(Duration.ofSeconds(7)), PLENTY))
        .contains(Duration.ofSeconds(7));
    assertThat(planner.delayBeforeRetry(1, rateLimited(Duration.ofSeconds(30)), PLENTY))
        .contains(Duration.ofSeconds(30));
    assertThat(planner.delayBeforeRetry(1, rateLimited(Duration.ofSeconds(31)), PLENTY)).isEmpty();
    assertThat(planner.delayBeforeRetry(1, unavailable(Duration.ofSeconds(31)), PLENTY)).isEmpty();
  }

  @Test
  void rateLimitWithoutServerDelayIsNotRetried() {
    RetryPlanner planner = new RetryPlanner(policy, () -> 0.25);

    assertThat(planner.delayBeforeRetry(1, rateLimited(null), PLENTY)).isEmpty();
  }

  @Test
  void otherFailuresAreNotRetried() {
    RetryPlanner planner = new RetryPlanner(policy, () -> 0.25);

    assertThat(
            List.<FlotillaException>of(
                new AuthenticationException("", null, null),
                new InvalidRequestException("", null, List.of(), null),
                new DeadlineExceededException("", null, null),
                new StreamAbortedException(Status.Code.ABORTED, "", null, null),
                new UnexpectedStatusException(Status.Code.INTERNAL, "", null, null)))
        .allSatisfy(failure -> assertThat(planner.delayBeforeRetry(1, failure, PLENTY)).isEmpty());
  }

  @Test
  void attemptsAreBoundedByThePolicy() {
    RetryPlanner planner = new RetryPlanner(policy, () -> 0.25);

    assertThat(planner.delayBeforeRetry(4, unavailable(null), PLENTY)).isPresent();
    assertThat(planner.delayBeforeRetry(5, unavailable(null), PLENTY)).isEmpty();
    assertThat(
            new RetryPlanner(RetryPolicy.disabled(), () -> 0.25)
                .delayBeforeRetry(1, unavailable(null), PLENTY))
        .isEmpty();
  }

  @Test
  void noRetryThatCannotStartBeforeTheDeadline() {
    RetryPlanner planner = new RetryPlanner(policy, () -> 0.25);

    assertThat(
            planner.delayBeforeRetry(1, unavailable(Duration.ofSeconds(5)), Duration.ofSeconds(5)))
        .isEmpty();
    assertThat(
            planner.delayBeforeRetry(1, unavailable(Duration.ofSeconds(5)), Duration.ofSeconds(6)))
        .isPresent();
  }

  @Test
  void policyRejectsNonsense() {
    assertThatThrownBy(() -> RetryPolicy.builder().maxAttempts(0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RetryPolicy.builder().multiplier(0.5))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RetryPolicy.builder().multiplier(Double.NaN))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RetryPolicy.builder().initialBackoff(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static ModelUnavailableException unavailable(Duration serverDelay) {
    return new ModelUnavailableException("", "r", serverDelay, null);
  }

  private static RateLimitedException rateLimited(Duration serverDelay) {
    return new RateLimitedException("", "r", serverDelay, List.of(), null);
  }
}
