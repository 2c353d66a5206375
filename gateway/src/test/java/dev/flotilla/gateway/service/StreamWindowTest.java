package dev.flotilla.gateway.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class StreamWindowTest {
  @Test
  void opensWithTheWholeWindow() {
    assertThat(new StreamWindow(16, 8).open()).isEqualTo(16);
  }

  @Test
  void aClientThatKeepsUpGetsCreditBackInBatches() {
    StreamWindow w = new StreamWindow(16, 8);
    w.open();
    int requested = 0;
    for (int i = 1; i <= 7; i++) {
      assertThat(w.received(true)).as("message %d", i).isZero();
    }
    requested += w.received(true);
    assertThat(requested).isEqualTo(8);
    // 100 messages in steady state cost one request per 8 messages, never more than 16 ahead.
    int requests = 0;
    long granted = 16 + 8;
    for (int i = 0; i < 96; i++) {
      int n = w.received(true);
      if (n > 0) {
        requests++;
        granted += n;
      }
      assertThat(granted - (8 + i + 1)).as("outstanding").isBetween(0L, 16L);
    }
    assertThat(requests).isEqualTo(12);
  }

  @Test
  void aSlowClientStopsTheStreamAfterTheWindowAndResumesIt() {
    StreamWindow w = new StreamWindow(16, 8);
    long granted = w.open();
    for (int i = 0; i < 16; i++) {
      granted += w.received(false);
    }
    assertThat(granted).as("nothing granted past the window while not ready").isEqualTo(16);
    assertThat(w.clientReady()).isEqualTo(16);
    assertThat(w.clientReady()).as("no double credit").isZero();
  }

  @Test
  void readinessWithLittleConsumedWaitsForABatch() {
    StreamWindow w = new StreamWindow(16, 8);
    w.open();
    w.received(false);
    w.received(false);
    assertThat(w.clientReady()).isZero();
    for (int i = 0; i < 5; i++) {
      assertThat(w.received(true)).isZero();
    }
    assertThat(w.received(true)).isEqualTo(8);
  }

  @Test
  void aWindowOfOneIsOneRequestPerMessage() {
    StreamWindow w = new StreamWindow(1, 1);
    assertThat(w.open()).isEqualTo(1);
    assertThat(w.received(true)).isEqualTo(1);
    assertThat(w.received(false)).isZero();
    assertThat(w.clientReady()).isEqualTo(1);
  }

  @Test
  void rejectsABatchLargerThanTheWindow() {
    assertThatThrownBy(() -> new StreamWindow(4, 5)).isInstanceOf(IllegalArgumentException.class);
  }
}
