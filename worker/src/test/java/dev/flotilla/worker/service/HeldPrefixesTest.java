package dev.flotilla.worker.service;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.prefix.PrefixBloom;
import dev.flotilla.api.prefix.PrefixKeys;
import org.junit.jupiter.api.Test;

class HeldPrefixesTest {
  private static final PrefixKeys.Chain A = PrefixKeys.ofText("", "a".repeat(2048));
  private static final PrefixKeys.Chain B = PrefixKeys.ofText("", "b".repeat(2048));

  private static boolean[] held(HeldPrefixes h, PrefixKeys.Chain c) {
    PrefixBloom bloom = PrefixBloom.of(h.filter());
    boolean[] out = new boolean[c.size()];
    for (int i = 0; i < c.size(); i++) {
      out[i] = bloom.mightContain(c.keys()[i]);
    }
    return out;
  }

  @Test
  void promptTokensSpreadOverTheKeysByTheInputEachCovers() {
    HeldPrefixes h = new HeldPrefixes();
    h.prefilled(A, 512, 10_000);
    assertThat(h.size()).isEqualTo(4);
    assertThat(h.heldTokens()).isEqualTo(512);
    assertThat(held(h, A)).containsExactly(true, true, true, true);
  }

  @Test
  void beyondTheKvBudgetTheLongestPrefixesOfTheLeastRecentPromptGoFirst() {
    HeldPrefixes h = new HeldPrefixes();
    h.prefilled(A, 512, 768);
    h.prefilled(B, 512, 768);
    // 1,024 tokens over a 768-token budget: A's last two blocks (128 tokens each) leave.
    assertThat(h.heldTokens()).isEqualTo(768);
    assertThat(held(h, A)).containsExactly(true, true, false, false);
    assertThat(held(h, B)).containsExactly(true, true, true, true);
    // A used again is the most recent: now B gives way.
    h.prefilled(A, 512, 768);
    assertThat(held(h, A)).containsExactly(true, true, true, true);
    assertThat(held(h, B)).containsExactly(true, true, false, false);
  }

  @Test
  void theFilterIsRebuiltOnlyAfterAChange() {
    HeldPrefixes h = new HeldPrefixes();
    h.prefilled(A, 512, 10_000);
    assertThat(h.filter()).isSameAs(h.filter());
    var before = h.filter();
    h.prefilled(B, 512, 10_000);
    assertThat(h.filter()).isNotSameAs(before);
    assertThat(h.filter().getKeys()).isEqualTo(8);
  }
}
