package dev.flotilla.api.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.v1.ChatInput;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PrefixKeysTest {
  private static String text(int chars, long seed) {
    Random r = new Random(seed);
    StringBuilder s = new StringBuilder(chars);
    while (s.length() < chars) {
      s.append((char) ('a' + r.nextInt(26)));
    }
    return s.toString();
  }

  private static int shared(PrefixKeys.Chain a, PrefixKeys.Chain b) {
    int n = 0;
    while (n < a.size() && n < b.size() && a.keys()[n] == b.keys()[n]) {
      n++;
    }
    return n;
  }

  @Test
  void aTextPromptHasAKeyPerBlockAndOneAtItsEnd() {
    PrefixKeys.Chain c = PrefixKeys.ofText("", text(4096 + 100, 1));
    assertThat(c.ends()).containsExactly(512, 1024, 1536, 2048, 2560, 3072, 3584, 4096, 4196);
    assertThat(c.length()).isEqualTo(4196);
    assertThat(c.span(8)).isEqualTo(100);
  }

  @Test
  void textPromptsShareTheKeysOfTheBlocksTheyShare() {
    String system = text(2048 + 300, 2);
    PrefixKeys.Chain a = PrefixKeys.ofText("", system + text(1000, 3));
    PrefixKeys.Chain b = PrefixKeys.ofText("", system + text(1000, 4));
    // Blocks 1-4 are all shared text; block 5 mixes shared and differing text.
    assertThat(shared(a, b)).isEqualTo(4);
    assertThat(a.keys()[4]).isNotEqualTo(b.keys()[4]);
  }

  @Test
  void theAdapterScopesEveryKey() {
    String p = text(3000, 5);
    PrefixKeys.Chain base = PrefixKeys.ofText("", p);
    PrefixKeys.Chain adapted = PrefixKeys.ofText("sql", p);
    assertThat(base.size()).isEqualTo(adapted.size());
    for (int i = 0; i < base.size(); i++) {
      assertThat(adapted.keys()).doesNotContain(base.keys()[i]);
    }
  }

  @Test
  void chatKeysEndAtEveryMessageAndShareTheSystemPromptAndEarlierTurns() {
    String system = text(1500, 6);
    String first = "{\"role\":\"system\",\"content\":\"" + system + "\"}";
    String turn1 = "{\"role\":\"user\",\"content\":\"hello, ] \\\" world\"}";
    String answer = "{\"role\":\"assistant\",\"content\":\"hi\"}";
    ChatInput a =
        ChatInput.newBuilder()
            .setMessagesJson("[" + first + ", " + turn1 + "," + answer + ",{\"role\":\"user\"}]")
            .build();
    ChatInput b =
        ChatInput.newBuilder()
            .setMessagesJson(
                " [ " + first + ",\n  " + turn1 + "," + answer + ",{\"role\":\"user\",\"x\":1} ]")
            .build();
    PrefixKeys.Chain ca = PrefixKeys.ofChat("", a);
    PrefixKeys.Chain cb = PrefixKeys.ofChat("", b);
    int systemEnd = first.length();
    // 512, 1024 and the system message's end; then one key per short message.
    assertThat(ca.ends()).startsWith(512, 1024, systemEnd, systemEnd + turn1.length()).hasSize(6);
    // Whitespace between messages is not part of them; the last user turns differ.
    assertThat(shared(ca, cb)).isEqualTo(5);
  }

  @Test
  void toolsChangeTheWholeChatChain() {
    String messages = "[{\"role\":\"system\",\"content\":\"" + text(600, 7) + "\"}]";
    PrefixKeys.Chain plain =
        PrefixKeys.ofChat("", ChatInput.newBuilder().setMessagesJson(messages).build());
    PrefixKeys.Chain tools =
        PrefixKeys.ofChat(
            "", ChatInput.newBuilder().setMessagesJson(messages).setToolsJson("[{}]").build());
    assertThat(shared(plain, tools)).isZero();
  }

  @Test
  void malformedMessagesAreHashedAsOneText() {
    PrefixKeys.Chain c =
        PrefixKeys.ofChat("", ChatInput.newBuilder().setMessagesJson("[{\"a\":1}").build());
    assertThat(c.ends()).containsExactly(8);
  }

  @Test
  void tokenIdsHaveAKeyPerHundredTwentyEightTokens() {
    TokenIds.Builder ids = TokenIds.newBuilder();
    for (int i = 0; i < 300; i++) {
      ids.addIds(i * 7919);
    }
    PrefixKeys.Chain c = PrefixKeys.ofTokens("", ids.build());
    assertThat(c.ends()).containsExactly(128, 256, 300);
    TokenIds.Builder other = ids.build().toBuilder().setIds(200, 1);
    assertThat(shared(c, PrefixKeys.ofTokens("", other.build()))).isEqualTo(1);
  }

  @Test
  void aLongPromptStopsAtTheKeyLimit() {
    PrefixKeys.Chain c = PrefixKeys.ofText("", text(PrefixKeys.TEXT_BLOCK_CHARS * 200, 8));
    assertThat(c.size()).isEqualTo(PrefixKeys.MAX_KEYS);
  }

  @Test
  void aWorkerRequestsKeysFollowItsInput() {
    WorkerGenerateRequest prompt =
        WorkerGenerateRequest.newBuilder().setAdapter("a").setPrompt("hello").build();
    assertThat(PrefixKeys.of(prompt)).isEqualTo(PrefixKeys.ofText("a", "hello"));
    assertThat(PrefixKeys.of(WorkerGenerateRequest.getDefaultInstance()).size()).isZero();
    assertThat(Arrays.stream(PrefixKeys.ofText("", "hello").keys()).distinct().count()).isOne();
  }
}
