package dev.flotilla.mtls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class IdentitiesTest {
  @Test
  void aWorkerIdentityNamesItsModel() {
    assertThat(Identities.worker("team-a", "tiny-llama"))
        .isEqualTo("spiffe://flotilla.dev/worker/team-a/tiny-llama");
    assertThat(Identities.workerOf("team-a/tiny-llama"))
        .isEqualTo(Identities.worker("team-a", "tiny-llama"));
    assertThatThrownBy(() -> Identities.workerOf("tiny-llama"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theFixedIdentities() {
    assertThat(Identities.GATEWAY).isEqualTo("spiffe://flotilla.dev/gateway");
    assertThat(Identities.OPERATOR).isEqualTo("spiffe://flotilla.dev/operator");
  }
}
