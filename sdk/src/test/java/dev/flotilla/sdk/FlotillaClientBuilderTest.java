package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class FlotillaClientBuilderTest {
  private final TestGateway gateway = TestGateway.inProcess();

  @AfterEach
  void stop() throws InterruptedException {
    gateway.close();
  }

  @Test
  void needsExactlyOneOfTargetAndChannel() {
    assertThatThrownBy(() -> FlotillaClient.builder().build())
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(
            () ->
                FlotillaClient.builder()
                    .target("localhost:9000")
                    .channel(gateway.channel())
                    .build())
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void rejectsANonPositiveDeadline() {
    assertThatThrownBy(() -> FlotillaClient.builder().deadline(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void closingLeavesAGivenChannelToItsOwner() {
    gateway.client().close();

    assertThat(gateway.channel().isShutdown()).isFalse();
  }
}
