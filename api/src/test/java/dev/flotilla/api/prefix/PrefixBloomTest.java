package dev.flotilla.api.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.worker.v1.PrefixFilter;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PrefixBloomTest {
  @Test
  void everyAddedKeyTestsPositiveAndOthersRarely() {
    SplittableRandom r = new SplittableRandom(11);
    long[] keys = new long[2000];
    for (int i = 0; i < keys.length; i++) {
      keys[i] = r.nextLong();
    }
    PrefixFilter filter = PrefixBloom.build(keys, keys.length);
    assertThat(filter.getKeys()).isEqualTo(2000);
    assertThat(filter.getBits().size()).isEqualTo(2504); // 10 bits a key, whole 64-bit words
    PrefixBloom bloom = PrefixBloom.of(filter);
    for (long k : keys) {
      assertThat(bloom.mightContain(k)).isTrue();
    }
    int falsePositives = 0;
    for (int i = 0; i < 100_000; i++) {
      if (bloom.mightContain(r.nextLong())) {
        falsePositives++;
      }
    }
    // 10 bits and 7 probes per key: about 0.8%.
    assertThat(falsePositives).isBetween(100, 2000);
  }

  @Test
  void anEmptyOrMalformedFilterHoldsNothing() {
    assertThat(PrefixBloom.build(new long[] {1}, 0)).isEqualTo(PrefixFilter.getDefaultInstance());
    assertThat(PrefixBloom.of(PrefixFilter.getDefaultInstance()).mightContain(1)).isFalse();
    PrefixFilter odd =
        PrefixBloom.build(new long[] {1}, 1).toBuilder()
            .setBits(com.google.protobuf.ByteString.copyFrom(new byte[] {-1, -1, -1}))
            .build();
    assertThat(PrefixBloom.of(odd).mightContain(1)).isFalse();
  }
}
