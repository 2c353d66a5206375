package dev.flotilla.gateway.limit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.api.crd.Priority;
import dev.flotilla.gateway.auth.TenantInfo;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ReplicaShareTest {
  private static TenantInfo tenant(Double rps, Integer burst, Long tpm, Integer maxConcurrent) {
    return new TenantInfo("acme", List.of("*"), rps, burst, tpm, maxConcurrent, 1, Priority.Normal);
  }

  @Test
  void theWholeShareIsTheTenantsLimits() {
    assertThat(ReplicaShare.WHOLE.of(tenant(20.0, 40, 6000L, 8)))
        .isEqualTo(new ReplicaLimits(20.0, 40.0, 6000.0, 8));
  }

  @Test
  void anUnlimitedTenantStaysUnlimitedAtAnyCount() {
    assertThat(new ReplicaShare(3, 1).of(tenant(null, null, null, null)))
        .isEqualTo(new ReplicaLimits(null, null, null, null));
  }

  @Test
  void ratesAndBurstAreDividedByTheReplicas() {
    ReplicaLimits part = new ReplicaShare(4, 2).of(tenant(20.0, 40, 6000L, null));
    assertThat(part.requestsPerSecond()).isEqualTo(5.0);
    assertThat(part.burst()).isEqualTo(10.0);
    assertThat(part.tokensPerMinute()).isEqualTo(1500.0);
  }

  @Test
  void theDefaultBurstIsTheTenantsRateRoundedUpThenDivided() {
    assertThat(new ReplicaShare(2, 0).of(tenant(5.5, null, null, null)).burst()).isEqualTo(3.0);
  }

  @Test
  void aReplicaCanAlwaysAdmitOneRequestWhateverTheBurst() {
    assertThat(new ReplicaShare(3, 0).of(tenant(0.5, 1, null, null)))
        .extracting(ReplicaLimits::requestsPerSecond, ReplicaLimits::burst)
        .containsExactly(0.5 / 3, 1.0);
  }

  @ParameterizedTest(name = "max {0} over {1} replicas: {2}")
  @CsvSource({
    "9, 3, '3,3,3'",
    "10, 3, '4,3,3'",
    "11, 3, '4,4,3'",
    "64, 5, '13,13,13,13,12'",
    "3, 3, '1,1,1'",
  })
  void inFlightPartsAddUpToTheTenantsMaximum(int max, int replicas, String parts) {
    List<Integer> each =
        IntStream.range(0, replicas)
            .mapToObj(rank -> new ReplicaShare(replicas, rank).of(tenant(null, null, null, max)))
            .map(ReplicaLimits::maxConcurrent)
            .toList();
    assertThat(each).map(String::valueOf).containsExactly(parts.split(","));
    assertThat(each.stream().mapToInt(Integer::intValue).sum()).isEqualTo(max);
  }

  @Test
  void belowOneInFlightPerReplicaEachReplicaStillAdmitsOne() {
    assertThat(
            IntStream.range(0, 3)
                .mapToObj(rank -> new ReplicaShare(3, rank).of(tenant(null, null, null, 2)))
                .map(ReplicaLimits::maxConcurrent))
        .containsExactly(1, 1, 1);
  }

  @Test
  void aRankOutsideTheReplicasIsRefused() {
    assertThatThrownBy(() -> new ReplicaShare(3, 3))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("rank 3 of 3 replicas is not a replica");
    assertThatThrownBy(() -> new ReplicaShare(0, 0)).isInstanceOf(IllegalArgumentException.class);
  }
}
