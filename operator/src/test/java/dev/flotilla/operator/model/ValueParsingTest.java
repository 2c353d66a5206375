package dev.flotilla.operator.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ValueParsingTest {
  @ParameterizedTest
  @CsvSource({
    "90s, 90000",
    "5m, 300000",
    "1h30m, 5400000",
    "1.5s, 1500",
    "250ms, 250",
    "2h, 7200000"
  })
  void goDurations(String text, long millis) {
    assertThat(GoDurations.parse(text)).isEqualTo(Duration.ofMillis(millis));
  }

  @Test
  void badDurationSaysWhatItExpected() {
    assertThatThrownBy(() -> GoDurations.parse("5 minutes"))
        .hasMessageContaining("90s, 5m or 1h30m");
  }

  @ParameterizedTest
  @CsvSource({"24Gi, 25769803776", "512Mi, 536870912", "1G, 1000000000", "1000, 1000"})
  void quantities(String text, long bytes) {
    assertThat(Quantities.bytes(text)).isEqualTo(bytes);
  }

  @ParameterizedTest
  @CsvSource({
    "40802189312, 38 GiB",
    "25769803776, 24 GiB",
    "1610612736, 1.5 GiB",
    "536870912, 512 MiB"
  })
  void humanSizesRoundUp(long bytes, String text) {
    assertThat(Quantities.human(bytes)).isEqualTo(text);
  }
}
