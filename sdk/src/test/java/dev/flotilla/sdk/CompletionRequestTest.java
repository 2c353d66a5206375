package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class CompletionRequestTest {

  @Test
  void generatesAUuidRequestIdOncePerRequest() {
    CompletionRequest request = CompletionRequest.builder().model("m").prompt("p").build();
    CompletionRequest other = CompletionRequest.builder().model("m").prompt("p").build();

    assertThat(UUID.fromString(request.requestId()).toString()).isEqualTo(request.requestId());
    assertThat(request.requestId()).isEqualTo(request.requestId()).isNotEqualTo(other.requestId());
  }

  @Test
  void theLastPromptKindSetWins() {
    CompletionRequest tokens =
        CompletionRequest.builder().model("m").prompt("text").promptTokenIds(List.of(1, 2)).build();
    CompletionRequest text =
        CompletionRequest.builder().model("m").promptTokenIds(List.of(1, 2)).prompt("text").build();

    assertThat(tokens.prompt()).isEmpty();
    assertThat(tokens.promptTokenIds()).containsExactly(1, 2);
    assertThat(text.prompt()).contains("text");
    assertThat(text.promptTokenIds()).isEmpty();
  }

  static Stream<Arguments> invalidRequests() {
    return Stream.<UnaryOperator<CompletionRequest.Builder>>of(
            b -> b.prompt("p"),
            b -> b.model("m"),
            b -> b.model(" ").prompt("p"),
            b -> b.model("m").prompt("p").temperature(-0.1f),
            b -> b.model("m").prompt("p").temperature(Float.NaN),
            b -> b.model("m").prompt("p").topK(-1),
            b -> b.model("m").prompt("p").topP(1.5f),
            b -> b.model("m").prompt("p").maxTokens(-1),
            b -> b.model("m").prompt("p").n(0),
            b -> b.model("m").prompt("p").n(17),
            b -> b.model("m").prompt("p").stop(""),
            b -> b.model("m").prompt("p").requestId(""),
            b -> b.model("m").prompt("p").deadline(Duration.ZERO))
        .map(Arguments::of);
  }

  @ParameterizedTest
  @MethodSource("invalidRequests")
  void rejectsInvalidFields(UnaryOperator<CompletionRequest.Builder> fill) {
    assertThatThrownBy(() -> fill.apply(CompletionRequest.builder()).build())
        .isInstanceOf(IllegalArgumentException.class);
  }
}
