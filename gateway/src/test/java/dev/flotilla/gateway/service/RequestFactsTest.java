package dev.flotilla.gateway.service;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.SamplingParams;
import org.junit.jupiter.api.Test;

/** What a request reserves against its tenant's token budget. */
class RequestFactsTest {
  private static RequestFacts facts(int n) {
    GenerateRequest r =
        GenerateRequest.newBuilder()
            .setPrompt("hello")
            .setSampling(SamplingParams.newBuilder().setMaxTokens(10).setN(n))
            .build();
    return new RequestFacts("id", null, r, null, 0, null, 7, 10, null);
  }

  @Test
  void thePromptIsReservedOnceAndMaxTokensForEachChoice() {
    assertThat(facts(0).reservedTokens()).isEqualTo(17);
    assertThat(facts(1).reservedTokens()).isEqualTo(17);
    assertThat(facts(4).reservedTokens()).isEqualTo(47);
  }
}
