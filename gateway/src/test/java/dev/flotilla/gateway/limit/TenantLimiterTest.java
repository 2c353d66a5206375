package dev.flotilla.gateway.limit;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.QuotaFailure;
import com.google.rpc.RetryInfo;
import dev.flotilla.api.crd.Priority;
import dev.flotilla.gateway.auth.TenantInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class TenantLimiterTest {
  private static final long MS = 1_000_000L;
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final TenantLimiter limiter = new TenantLimiter(now::get, Duration.ofMillis(250));

  private static TenantInfo tenant(Double rps, Integer burst, Long tpm, Integer maxConcurrent) {
    return new TenantInfo("acme", List.of("*"), rps, burst, tpm, maxConcurrent, 1, Priority.Normal);
  }

  /** One step of a scenario: advance the clock, then ask for {@code tokens}. */
  record Step(long advanceMs, long tokens, TenantLimiter.Reason rejectedBy, long retryAfterMs) {
    static Step ok(long advanceMs, long tokens) {
      return new Step(advanceMs, tokens, null, 0);
    }

    static Step no(long advanceMs, long tokens, TenantLimiter.Reason reason, long retryMs) {
      return new Step(advanceMs, tokens, reason, retryMs);
    }
  }

  static Stream<Arguments> scenarios() {
    var rps = TenantLimiter.Reason.REQUESTS_PER_SECOND;
    var tpm = TenantLimiter.Reason.TOKENS_PER_MINUTE;
    return Stream.of(
        Arguments.of(
            "unlimited",
            tenant(null, null, null, null),
            List.of(Step.ok(0, 1_000_000), Step.ok(0, 1_000_000), Step.ok(0, 1))),
        Arguments.of(
            "2 rps, burst 3: three at once, then one every 500 ms",
            tenant(2.0, 3, null, null),
            List.of(
                Step.ok(0, 1),
                Step.ok(0, 1),
                Step.ok(0, 1),
                Step.no(0, 1, rps, 500),
                Step.no(400, 1, rps, 100),
                Step.ok(100, 1),
                Step.no(0, 1, rps, 500))),
        Arguments.of(
            "burst defaults to the rate rounded up",
            tenant(1.5, null, null, null),
            List.of(Step.ok(0, 1), Step.ok(0, 1), Step.no(0, 1, rps, 667))),
        Arguments.of(
            "6000 tokens/min refills 100 per second",
            tenant(null, null, 6000L, null),
            List.of(
                Step.ok(0, 5000),
                Step.no(0, 1500, tpm, 5000),
                Step.ok(5000, 1500),
                Step.no(0, 1, tpm, 10))),
        Arguments.of(
            "a reservation above the budget is clamped to it",
            tenant(null, null, 600L, null),
            List.of(Step.ok(0, 10_000), Step.no(0, 1, tpm, 100), Step.ok(60_000, 10_000))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("scenarios")
  void admitsAndRefusesWithTheComputedDelay(String name, TenantInfo t, List<Step> steps) {
    for (Step s : steps) {
      now.addAndGet(s.advanceMs * MS);
      TenantLimiter.Admission a = limiter.tryAcquire(t, s.tokens);
      if (s.rejectedBy == null) {
        assertThat(a.admitted()).as(s.toString()).isTrue();
      } else {
        assertThat(a.admitted()).as(s.toString()).isFalse();
        assertThat(a.rejection().reason()).isEqualTo(s.rejectedBy);
        assertThat(a.rejection().retryAfterNanos())
            .as(s.toString())
            .isBetween(s.retryAfterMs * MS - MS, s.retryAfterMs * MS);
      }
    }
  }

  @Test
  void settlingRefundsTheUnusedReservation() {
    TenantInfo t = tenant(null, null, 1000L, null);
    TenantLimiter.Permit p = limiter.tryAcquire(t, 900).permit();
    assertThat(limiter.tryAcquire(t, 200).admitted()).isFalse();
    p.settle(100); // used 100 of 900 reserved
    assertThat(limiter.tryAcquire(t, 850).admitted()).isTrue();
    p.settle(0); // a second settle changes nothing
    assertThat(limiter.tryAcquire(t, 100).admitted()).isFalse();
  }

  @Test
  void usingMoreThanReservedLeavesADebt() {
    TenantInfo t = tenant(null, null, 600L, null); // 10 tokens per second
    limiter.tryAcquire(t, 600).permit().settle(700);
    TenantLimiter.Admission a = limiter.tryAcquire(t, 10);
    assertThat(a.rejection().retryAfterNanos()).isEqualTo(11_000 * MS);
  }

  @Test
  void concurrencyIsReleasedBySettling() {
    TenantInfo t = tenant(null, null, null, 2);
    TenantLimiter.Permit first = limiter.tryAcquire(t, 1).permit();
    limiter.tryAcquire(t, 1);
    TenantLimiter.Admission third = limiter.tryAcquire(t, 1);
    assertThat(third.rejection().reason()).isEqualTo(TenantLimiter.Reason.MAX_CONCURRENT);
    assertThat(third.rejection().retryAfterNanos()).isEqualTo(250 * MS);
    first.settle(1);
    assertThat(limiter.inFlight("acme")).isEqualTo(1);
    assertThat(limiter.tryAcquire(t, 1).admitted()).isTrue();
  }

  @Test
  void aRejectedRequestChargesNothing() {
    TenantInfo t = tenant(1.0, 1, 100L, null);
    assertThat(limiter.tryAcquire(t, 200).admitted()).isTrue(); // clamped to 100, bucket empty
    now.addAndGet(1000 * MS); // request bucket full again, token bucket has 100/60 tokens
    assertThat(limiter.tryAcquire(t, 50).rejection().reason())
        .isEqualTo(TenantLimiter.Reason.TOKENS_PER_MINUTE);
    assertThat(limiter.tryAcquire(t, 1).admitted()).isTrue(); // the request token is still there
  }

  @Test
  void aLimitChangeKeepsTheCurrentLevelAndInFlightCount() {
    limiter.tryAcquire(tenant(null, null, 1000L, 5), 1000);
    TenantInfo raised = tenant(null, null, 2000L, 5);
    assertThat(limiter.tryAcquire(raised, 1).admitted()).isFalse();
    assertThat(limiter.inFlight("acme")).isEqualTo(1);
  }

  @Test
  void aReplicaAdmitsItsShareOfTheRate() {
    AtomicReference<ReplicaShare> share = new AtomicReference<>(new ReplicaShare(3, 0));
    TenantLimiter third = new TenantLimiter(now::get, Duration.ofMillis(250), share::get);
    TenantInfo t = tenant(30.0, 30, null, null);
    assertThat(admittedAtOnce(third, t)).as("burst 30 over 3 replicas").isEqualTo(10);
    now.addAndGet(1000 * MS);
    assertThat(admittedAtOnce(third, t)).as("30 per second over 3 replicas").isEqualTo(10);
  }

  @Test
  void aChangeInTheReplicaCountAppliesToTheNextRequest() {
    AtomicReference<ReplicaShare> share = new AtomicReference<>(ReplicaShare.WHOLE);
    TenantLimiter replica = new TenantLimiter(now::get, Duration.ofMillis(250), share::get);
    TenantInfo t = tenant(30.0, 30, null, null);
    assertThat(admittedAtOnce(replica, t)).isEqualTo(30);

    now.addAndGet(1000 * MS);
    share.set(new ReplicaShare(3, 0));
    assertThat(admittedAtOnce(replica, t))
        .as("two more replicas: the refill and the bucket are a third")
        .isEqualTo(10);

    share.set(new ReplicaShare(2, 0));
    assertThat(admittedAtOnce(replica, t)).as("a larger share grants nothing at once").isZero();
    now.addAndGet(1001 * MS); // a hair over a second: 15/s in nanoseconds is not exact

    assertThat(admittedAtOnce(replica, t)).isEqualTo(15);
  }

  @Test
  void aChangeInTheReplicaCountKeepsTheRequestsInFlight() {
    AtomicReference<ReplicaShare> share = new AtomicReference<>(ReplicaShare.WHOLE);
    TenantLimiter replica = new TenantLimiter(now::get, Duration.ofMillis(250), share::get);
    TenantInfo t = tenant(null, null, null, 6);
    List<TenantLimiter.Permit> permits =
        List.of(
            replica.tryAcquire(t, 1).permit(),
            replica.tryAcquire(t, 1).permit(),
            replica.tryAcquire(t, 1).permit());
    share.set(new ReplicaShare(3, 0));
    assertThat(replica.tryAcquire(t, 1).rejection().reason())
        .as("3 in flight, this replica's part of 6 is 2")
        .isEqualTo(TenantLimiter.Reason.MAX_CONCURRENT);
    permits.forEach(p -> p.settle(1));
    assertThat(replica.inFlight("acme")).isZero();
    assertThat(replica.tryAcquire(t, 1).admitted()).isTrue();
    assertThat(replica.tryAcquire(t, 1).admitted()).isTrue();
    assertThat(replica.tryAcquire(t, 1).admitted()).isFalse();
  }

  private static int admittedAtOnce(TenantLimiter limiter, TenantInfo t) {
    int n = 0;
    while (limiter.tryAcquire(t, 1).admitted()) {
      n++;
    }
    return n;
  }

  @Test
  void theRejectionCarriesQuotaFailureAndRetryInfo() throws Exception {
    TenantInfo t = tenant(1.0, 1, null, null);
    limiter.tryAcquire(t, 1);
    StatusRuntimeException e = limiter.tryAcquire(t, 1).rejection().toStatus();
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    com.google.rpc.Status s = StatusProto.fromThrowable(e);
    RetryInfo retry =
        s.getDetailsList().stream()
            .filter(d -> d.is(RetryInfo.class))
            .findFirst()
            .orElseThrow()
            .unpack(RetryInfo.class);
    assertThat(retry.getRetryDelay().getSeconds()).isEqualTo(1);
    QuotaFailure quota =
        s.getDetailsList().stream()
            .filter(d -> d.is(QuotaFailure.class))
            .findFirst()
            .orElseThrow()
            .unpack(QuotaFailure.class);
    assertThat(quota.getViolations(0).getSubject()).isEqualTo("tenant:acme");
  }
}
