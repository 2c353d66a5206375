package dev.flotilla.local.validation;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Go's {@code %v} and {@code %q}, which kube-apiserver's messages are written with. */
class GoTextTest {
  @Test
  void floatsPrintShortestWithAnExponentFromAMillion() {
    assertThat(GoText.float64(1)).isEqualTo("1");
    assertThat(GoText.float64(-0.5)).isEqualTo("-0.5");
    assertThat(GoText.float64(0.001)).isEqualTo("0.001");
    assertThat(GoText.float64(0.0001)).isEqualTo("0.0001");
    assertThat(GoText.float64(0.00001)).isEqualTo("1e-05");
    assertThat(GoText.float64(100000)).isEqualTo("100000");
    assertThat(GoText.float64(999999.5)).isEqualTo("999999.5");
    assertThat(GoText.float64(1_000_000)).isEqualTo("1e+06");
    assertThat(GoText.float64(1_048_576)).isEqualTo("1.048576e+06");
    assertThat(GoText.float64(1.5e300)).isEqualTo("1.5e+300");
  }

  @Test
  void stringsQuoteLikeStrconv() {
    assertThat(GoText.quote("plain")).isEqualTo("\"plain\"");
    assertThat(GoText.quote("a\"b\\c")).isEqualTo("\"a\\\"b\\\\c\"");
    assertThat(GoText.quote("tab\tnew\n")).isEqualTo("\"tab\\tnew\\n\"");
    assertThat(GoText.quote("\u0001")).isEqualTo("\"\\x01\"");
    assertThat(GoText.quote("grüße ✓")).isEqualTo("\"grüße ✓\"");
    assertThat(GoText.quote("\u200b")).isEqualTo("\"\\u200b\"");
  }
}
