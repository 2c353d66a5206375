package dev.flotilla.gateway.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.v1.ToolCall;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Hermes-format tool calls come out of the text, however the text is split into chunks. */
class ToolCallTextTest {

  private static String feed(ToolCallText t, String text, int pieceLength) {
    StringBuilder content = new StringBuilder();
    for (int i = 0; i < text.length(); i += pieceLength) {
      content.append(t.add(text.substring(i, Math.min(text.length(), i + pieceLength))));
    }
    return content.append(t.finish()).toString();
  }

  @Test
  void callsAreTakenOutAndContentStays() {
    String output =
        "Let me check. <tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\"}}\n"
            + "</tool_call><tool_call>{\"name\":\"time\",\"arguments\":{}}</tool_call>";
    for (int piece : new int[] {1, 2, 3, 7, 1000}) {
      ToolCallText t = new ToolCallText();
      assertThat(feed(t, output, piece)).as("piece %d", piece).isEqualTo("Let me check. ");
      List<ToolCall> calls = t.calls();
      assertThat(calls).extracting(ToolCall::getName).containsExactly("weather", "time");
      assertThat(calls.get(0).getArgumentsJson()).isEqualTo("{\"city\":\"Oslo\"}");
      assertThat(calls.get(1).getArgumentsJson()).isEqualTo("{}");
      assertThat(calls.get(0).getId()).startsWith("call_").isNotEqualTo(calls.get(1).getId());
    }
  }

  @Test
  void textThatOnlyLooksLikeAStartIsShownOnceItCannotBe() {
    ToolCallText t = new ToolCallText();
    assertThat(t.add("a <tool")).isEqualTo("a ");
    assertThat(t.add("box> b")).isEqualTo("<toolbox> b");
    assertThat(t.finish()).isEmpty();
    assertThat(t.calls()).isEmpty();
  }

  @Test
  void blocksThatAreNotCallsAndUnfinishedCallsStayContent() {
    ToolCallText t = new ToolCallText();
    String bad = "<tool_call>{\"arguments\": {}}</tool_call>";
    assertThat(feed(t, bad + " and <tool_call>{\"name\": \"f\", \"argu", 5))
        .isEqualTo(bad + " and <tool_call>{\"name\": \"f\", \"argu");
    assertThat(t.calls()).isEmpty();
  }
}
